"""`tosmon verify` checks every stored file against its recorded hash and the store's own rules,
reports damage file by file and exits 6 when it finds some; leftovers of an interrupted run are not damage."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from pytest_httpserver import HTTPServer
from werkzeug import Response

from tosmon.check import check
from tosmon.fetch.http import FetchSettings
from tosmon.models import Document
from tosmon.store.files import Store

DATA = Path(__file__).parent / "data"
DAMAGE = yaml.safe_load((DATA / "store_damage.yaml").read_text(encoding="utf-8"))
# Two nights, so that file names and their order are the same on every run of the tests.
CLOCKS = [lambda: datetime(2026, 11, 25, 4, tzinfo=UTC), lambda: datetime(2026, 11, 26, 4, tzinfo=UTC)]
PAGE = "<html><body><main><h1>Terms</h1><p>{clause}</p><p>{filler}</p></main></body></html>"


@pytest.fixture
def checked_twice(httpserver: HTTPServer, tmp_path: Path) -> tuple[Store, Document]:
    """A store after two runs in which the page changed: two versions, two raw snapshots."""
    pages = iter(["You keep your rights.", "We may train models on your content."])
    filler = "These terms govern your use of the service and of everything you upload to it. " * 4
    httpserver.expect_request("/terms").respond_with_handler(
        lambda request: _html(PAGE.format(clause=next(pages), filler=filler))
    )
    document = Document("Tunehaven", "Terms of Service", httpserver.url_for("/terms"))
    store = Store(tmp_path / "snapshots").open()
    settings = FetchSettings(timeout=2.0, retries=0)
    statuses = [check((document,), store, settings=settings, now=clock).results[0].status for clock in CLOCKS]
    assert statuses == ["new", "changed"]
    return store, document


def _html(text: str) -> Response:
    return Response(text, content_type="text/html; charset=utf-8")


def test_verify_finds_a_store_written_by_check_intact(
    checked_twice: tuple[Store, Document], tosmon: Callable[..., Any]
) -> None:
    store, _ = checked_twice
    outcome = tosmon("verify", "--snapshots", store.root)
    assert outcome.code == 0
    assert outcome.stdout == ""
    # tosmon-store.json, document.json, state.json, 2 x (raw .json + .html), 2 x (version .json + .md)
    assert outcome.stderr == f"{store.root}: 1 document, 11 files: all intact\n"


@pytest.mark.parametrize("case", DAMAGE, ids=[c["name"] for c in DAMAGE])
def test_verify_reports_damage_by_file_and_exits_6(
    checked_twice: tuple[Store, Document], tosmon: Callable[..., Any], case: dict[str, str]
) -> None:
    store, document = checked_twice
    target = sorted(store.directory(document).glob(case["file"]))[0]
    if case["action"] == "append":
        target.write_bytes(target.read_bytes() + b" tampered")
    elif case["action"] == "delete":
        target.unlink()
    elif case["action"] == "truncate":
        target.write_bytes(b"")
    else:
        target.write_text("[]", encoding="utf-8")
    outcome = tosmon("verify", "--snapshots", store.root)
    assert outcome.code == 6
    assert outcome.stdout == f"{target}: {case['problem'].format(stem=target.stem)}\n"
    assert outcome.stderr.startswith(f"Error: 1 problem in the store {store.root} (1 document, ")


def test_verify_reports_two_identical_versions_in_a_row(
    checked_twice: tuple[Store, Document], tosmon: Callable[..., Any]
) -> None:
    store, document = checked_twice
    first, second = store.versions(document)
    second.path.write_text(first.text, encoding="utf-8")
    meta = json.loads(second.path.with_suffix(".json").read_text(encoding="utf-8"))
    second.path.with_suffix(".json").write_text(json.dumps({**meta, "sha256": first.meta["sha256"]}))
    outcome = tosmon("verify", "--snapshots", store.root)
    assert outcome.code == 6
    assert outcome.stdout == (
        f"{second.path.with_suffix('.json')}: same text as the version before it (a version exists only on change)\n"
    )


def test_leftovers_of_an_interrupted_run_are_not_damage(
    checked_twice: tuple[Store, Document], tosmon: Callable[..., Any]
) -> None:
    store, document = checked_twice
    directory = store.directory(document)
    (directory / "raw" / ".2026-11-27T04-00-00Z.html.4242.tmp").write_bytes(b"<html>half")
    (directory / "raw" / "2026-11-27T04-00-00Z.html").write_bytes(b"<html>a body whose metadata never came")
    (directory / "versions" / "2026-11-27T04-00-00Z.md").write_text("a text whose metadata never came\n")
    outcome = tosmon("verify", "--snapshots", store.root)
    assert outcome.code == 0
    assert outcome.stdout == ""


def test_verify_refuses_a_folder_that_is_not_a_store(tmp_path: Path, tosmon: Callable[..., Any]) -> None:
    outcome = tosmon("verify", "--snapshots", tmp_path)
    assert outcome.code == 6
    assert outcome.stderr == f"Error: {tmp_path}: not a tosmon snapshot store (no tosmon-store.json)\n"
    assert list(tmp_path.iterdir()) == []


def test_verify_json_lists_the_damage_and_exits_6(
    checked_twice: tuple[Store, Document], tosmon: Callable[..., Any]
) -> None:
    store, document = checked_twice
    target = sorted(store.directory(document).glob("raw/*.html"))[0]
    target.write_bytes(target.read_bytes() + b" tampered")
    outcome = tosmon("verify", "--snapshots", store.root, "--json")
    assert outcome.code == 6
    data = json.loads(outcome.stdout)
    assert (data["schema_version"], data["store"], data["documents"]) == (1, str(store.root), 1)
    assert [d["path"] for d in data["damage"]] == [str(target)]
    assert outcome.stderr == ""


REBUILT = "it is rebuilt from the versions when next needed (at the document's next change at the latest)"


@pytest.mark.parametrize(
    ("index", "problem"),
    [
        (b'{"schema_version": 1, "versions": [["2026', "clause memory damaged (not the index tosmon writes)"),
        (b'{"schema_version": 9, "versions": [], "clauses": {}}', "clause memory of schema 9, expected 1"),
        (
            b'{"schema_version": 1, "versions": [["2026-11-20T04-00-00Z", "2026-11-20T04:00:00+00:00"]], '
            b'"clauses": {}}',
            "clause memory out of step with the versions (one was added before others, by a backfill or an "
            "import, or removed)",
        ),
    ],
    ids=["torn", "another schema", "out of step"],
)
def test_verify_warns_about_a_clause_memory_it_will_rebuild_and_passes(
    checked_twice: tuple[Store, Document], tosmon: Callable[..., Any], index: bytes, problem: str
) -> None:
    store, document = checked_twice
    path = store.directory(document) / "clauses.json"
    assert path.is_file()  # written at the document's first change
    path.write_bytes(index)
    evidence = {p: p.read_bytes() for p in store.directory(document).rglob("*") if p.is_file()}
    outcome = tosmon("verify", "--snapshots", store.root)
    assert (outcome.code, outcome.stdout) == (0, "")
    assert outcome.stderr == (
        f"warning: {path}: {problem}; {REBUILT}\n"
        f"{store.root}: 1 document, 11 files: all intact (1 warning above)\n"
    )
    outcome = tosmon("verify", "--snapshots", store.root, "--json")
    assert outcome.code == 0 and outcome.stderr == ""
    data = json.loads(outcome.stdout)
    assert data["damage"] == [] and data["warnings"] == [
        {"path": str(path), "problem": f"{problem}; {REBUILT}"}
    ]
    assert {p: p.read_bytes() for p in store.directory(document).rglob("*") if p.is_file()} == evidence


def test_verify_says_nothing_of_a_missing_or_lagging_clause_memory(
    checked_twice: tuple[Store, Document], tosmon: Callable[..., Any]
) -> None:
    store, document = checked_twice
    path = store.directory(document) / "clauses.json"
    first = store.versions(document)[0]
    lagging = {  # knows the first version only: the second is added when it is next read
        "schema_version": 1,
        "versions": [[first.name, first.date.isoformat()]],
        "clauses": {},
    }
    path.write_text(json.dumps(lagging), encoding="utf-8")
    assert tosmon("verify", "--snapshots", store.root).stderr.endswith("all intact\n")
    path.unlink()  # a store written before clause memory existed
    outcome = tosmon("verify", "--snapshots", store.root, "--json")
    assert (outcome.code, json.loads(outcome.stdout)["warnings"]) == (0, [])


def test_verify_finds_a_history_left_under_another_name_by_an_interrupted_rename_and_says_how_to_fix_it(
    checked_twice: tuple[Store, Document], tosmon: Callable[..., Any]
) -> None:
    store, document = checked_twice
    folder = store.directory(document)
    moved = folder.with_name("Rules")
    folder.rename(moved)  # `tosmon rename` stopped after moving the folder, before its document.json

    outcome = tosmon("verify", "--snapshots", store.root)

    assert outcome.code == 6
    assert outcome.stdout == (
        f"{moved / 'document.json'}: names 'Tunehaven/Terms of Service', whose folder is {folder}: a rename "
        f"was interrupted; move the folder back (mv {moved} {folder}) and run `tosmon rename` again\n"
    )
    moved.rename(folder)  # the fix it gives
    assert tosmon("verify", "--snapshots", store.root).code == 0
