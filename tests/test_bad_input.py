"""Bad input never escapes the store and never crashes tosmon: hostile watchlists are refused with clear
errors before anything is fetched; hostile names are mapped to safe file names; page text cannot drive
the user's terminal."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tosmon.check import check
from tosmon.fetch.http import FetchSettings
from tosmon.models import Document
from tosmon.store.files import Store

DATA = Path(__file__).parent / "data"
BAD_WATCHLISTS = yaml.safe_load((DATA / "hostile_watchlists.yaml").read_text(encoding="utf-8"))
FAST = FetchSettings(timeout=2.0, retries=0)
PAGE = (
    "<html><body><main><h1>Terms of Service</h1>"
    "<p>These terms govern your use of the service and of everything you upload to it, in every country.</p>"
    "<p>{clause}</p></main></body></html>"
)


def files_under(folder: Path) -> set[Path]:
    return {path for path in folder.rglob("*") if path.is_file()}


@pytest.mark.parametrize("case", BAD_WATCHLISTS, ids=[c["name"] for c in BAD_WATCHLISTS])
def test_hostile_watchlist_is_refused_before_anything_is_fetched(
    tmp_path: Path, tosmon: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, case: dict[str, Any]
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("watchlist.yaml").write_text(case["watchlist"], encoding="utf-8")
    outcome = tosmon("check")
    assert outcome.code == 4
    assert outcome.stderr.splitlines() == case["errors"]
    assert outcome.stdout == ""
    assert sorted(os.listdir(tmp_path)) == ["watchlist.yaml"]  # no store, no `pwned`


def test_watchlist_nested_too_deeply_is_refused(
    tmp_path: Path, tosmon: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("watchlist.yaml").write_text("services: " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    outcome = tosmon("check")
    assert outcome.code == 4
    assert outcome.stderr == "watchlist.yaml:1:110: invalid YAML: nested too deeply (over 100 levels)\n"


HOSTILE_NAMES = [
    "../../../escaped",
    "/etc/passwd",
    "a/b/../../c",
    "..",
    ".",
    ".hidden",
    "~",
    "C:\\Windows\\system32",
    "NUL\x00byte",
    "bell\x07and\x1b[31mred\x1b[0m",
    "new\nline",
    "x" * 1000,
    "条款 · Ünïcödé · شروط",
    "é" * 300,
    "-",
    " ",
]


def test_hostile_names_are_stored_under_safe_names_inside_the_store(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    httpserver.expect_request("/terms").respond_with_data(
        PAGE.format(clause="You keep your rights."), content_type="text/html"
    )
    documents = tuple(
        Document(name, other, httpserver.url_for("/terms"))
        for name, other in zip(HOSTILE_NAMES, [*HOSTILE_NAMES[1:], HOSTILE_NAMES[0]], strict=True)
    )
    outside = tmp_path / "outside"
    outside.mkdir()
    store = Store(outside / "store").open()
    before = files_under(tmp_path)
    run = check(documents, store, settings=FAST)
    assert [r.status for r in run.results] == ["new"] * len(documents)
    written = files_under(tmp_path) - before
    assert written and all(path.is_relative_to(store.root) for path in written)
    folders = {store.directory(d) for d in documents}
    assert len(folders) == len(documents)  # no two documents share a folder
    for document, folder in zip(documents, [store.directory(d) for d in documents], strict=True):
        service, name = folder.relative_to(store.root).parts
        for part in (service, name):
            assert not part.startswith(".") and "/" not in part and "\\" not in part
            assert part.isprintable() and len(part.encode()) <= 80
        described = json.loads((folder / "document.json").read_text(encoding="utf-8"))
        assert (described["service"], described["document"]) == (document.service, document.name)
    assert store.verify().damage == ()


def test_documents_whose_names_map_to_the_same_folder_are_never_mixed(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    httpserver.expect_request("/one").respond_with_data(
        PAGE.format(clause="First."), content_type="text/html"
    )
    httpserver.expect_request("/two").respond_with_data(
        PAGE.format(clause="Second."), content_type="text/html"
    )
    first = Document("Acme/Music", "Terms", httpserver.url_for("/one"))
    second = Document("Acme-Music", "Terms", httpserver.url_for("/two"))
    store = Store(tmp_path / "snapshots").open()
    run = check((first, second), store, settings=FAST)
    assert [r.status for r in run.results] == ["new", "error"]
    folder = store.root / "Acme-Music" / "Terms"
    assert run.results[1].error == (
        f"{folder}: holds 'Acme/Music' 'Terms', whose file name is the same as 'Acme-Music' 'Terms''s; "
        "rename one of them"
    )
    # The next run, in a new process, still refuses to mix them, and the first document's history is intact.
    rerun = check((second, first), Store(store.root).open(), settings=FAST)
    assert [r.status for r in rerun.results] == ["error", "unchanged"]
    assert ["First." in v.text for v in store.versions(first)] == [True]


def test_a_long_run_that_forgets_folders_still_never_mixes_two_documents(
    httpserver: HTTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store forgets what it knows of folders every so many documents (memory stays flat);
    the owner of a folder is still read back from its document.json."""
    monkeypatch.setattr("tosmon.store.files.FOLDERS_REMEMBERED", 2)
    httpserver.expect_request("/one").respond_with_data(
        PAGE.format(clause="First."), content_type="text/html"
    )
    fillers = [Document(f"Filler {i}", "Terms", httpserver.url_for("/one")) for i in range(5)]
    first = Document("Acme/Music", "Terms", httpserver.url_for("/one"))
    second = Document("Acme-Music", "Terms", httpserver.url_for("/one"))
    store = Store(tmp_path / "snapshots").open()
    settings = FetchSettings(retries=0, timeout=5, total=1, per_host=1)  # one after another, in order
    run = check((first, *fillers, second), store, settings=settings)
    assert [r.status for r in run.results] == ["new"] * 6 + ["error"]
    assert "holds 'Acme/Music' 'Terms'" in str(run.results[-1].error)
    assert len(store._folders) <= 2


def test_terminal_report_strips_control_sequences_from_page_text_and_names(
    httpserver: HTTPServer, tmp_path: Path, tosmon: Callable[..., Any]
) -> None:
    # A plain-text page: its escape sequences reach the report as they are (HTML drops control characters).
    clauses = iter(
        [
            "You keep your rights.",
            "We may \x1b[2J\x1b]0;pwned\x07train \x1b[31mmodels\x1b[0m on your content.",
        ]
    )
    intro = (
        "Terms of Service\n\nThese terms govern your use of the service and everything you upload to it.\n\n"
    )
    httpserver.expect_request("/terms").respond_with_handler(
        lambda request: Response(intro + next(clauses), content_type="text/plain; charset=utf-8")
    )
    watchlist = tmp_path / "watchlist.yaml"
    watchlist.write_text(
        f'services:\n  "Evil\\e[31mCorp":\n    Terms:\n      url: {httpserver.url_for("/terms")}\n',
        encoding="utf-8",
    )
    assert tosmon("check", "--watchlist", watchlist).code == 1
    outcome = tosmon("check", "--watchlist", watchlist)
    assert outcome.code == 2  # the new clause is flagged
    assert "\x1b" not in outcome.stdout and "\x07" not in outcome.stdout
    assert "+ We may train models on your content." in outcome.stdout
    assert "EvilCorp" in outcome.stdout and "[31m" not in outcome.stdout


def test_control_characters_of_an_html_page_are_not_recorded(httpserver: HTTPServer, tmp_path: Path) -> None:
    httpserver.expect_request("/terms").respond_with_data(
        PAGE.format(clause="We may \x1b[31mtrain\x1b[0m models\x0con it.\x07"), content_type="text/html"
    )
    document = Document("Evil", "Terms", httpserver.url_for("/terms"))
    store = Store(tmp_path / "snapshots").open()
    assert check((document,), store, settings=FAST).results[0].status == "new"
    assert store.latest_version(document).text.endswith("\nWe may [31mtrain[0m models on it.\n")


def test_json_report_escapes_control_characters(
    httpserver: HTTPServer, tmp_path: Path, tosmon: Callable[..., Any]
) -> None:
    def page(request: Request) -> Response:
        return Response(PAGE.format(clause="Beware \x1b[2J of \x07 this."), content_type="text/html")

    httpserver.expect_request("/terms").respond_with_handler(page)
    watchlist = tmp_path / "watchlist.yaml"
    watchlist.write_text(
        f'services:\n  "Evil\\e[31mCorp":\n    Terms:\n      url: {httpserver.url_for("/terms")}\n',
        encoding="utf-8",
    )
    outcome = tosmon("check", "--json", "--watchlist", watchlist)
    assert outcome.code == 1
    assert "\x1b" not in outcome.stdout and "\x07" not in outcome.stdout
    report = json.loads(outcome.stdout)
    assert report["documents"][0]["service"] == "Evil\x1b[31mCorp"  # the JSON keeps the data, escaped
