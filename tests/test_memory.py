"""Clause memory and the rendering guards, in `check` (a real server on 127.0.0.1, a clock of the
test's own) and in `import-ota-versions` (a git repository the test builds)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from rich.console import Console
from test_import_ota_versions import commit, git

from tosmon.check import check
from tosmon.check import record as record_version
from tosmon.cli.console import render_changes
from tosmon.flag.rules import load_taxonomy
from tosmon.models import CheckResult, CheckRun, Document
from tosmon.outputs.digest import digest
from tosmon.outputs.notify import render_html, render_text
from tosmon.outputs.report import result_to_json
from tosmon.store import memory
from tosmon.store.files import Store
from tosmon.store.history import record_at
from tosmon.store.memory import INDEX_FILE

CLAUSES = [
    "You keep ownership of the songs, pictures and words you upload to the service and remain responsible for them.",
    "We may suspend accounts that break these terms after telling you why and giving you time to answer us.",
    "These terms are governed by the law of the country where you live, unless that law says otherwise.",
    "You can close your account at any time from the settings page, and we then delete everything you uploaded.",
    "We send you an e-mail at least thirty days before any change to these terms takes effect for you.",
    "Refunds for paid plans are given in proportion to the days left in the period you paid for.",
    "Our support team answers questions sent through the help centre within three working days.",
    "Accounts that stay unused for three years are closed after we warn their owners twice by e-mail.",
]
AI_CLAUSE = "We may use the content you upload to train and improve our artificial intelligence models."
NIGHT = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)


def html(paragraphs: list[str]) -> str:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return f"<html><body><main><h1>Terms of Service</h1>{body}</main></body></html>"


def markdown(paragraphs: list[str]) -> str:
    return "# Terms of Service\n\n" + "\n\n".join(paragraphs) + "\n"


FULL = [*CLAUSES[:4], AI_CLAUSE, *CLAUSES[4:]]
WITHOUT_AI = [*CLAUSES[:4], *CLAUSES[4:]]


@pytest.fixture
def nightly(httpserver: HTTPServer, tmp_path: Path):
    """Serve a page at /terms and check it at a given moment; returns that night's result."""
    document = Document("Tunehaven", "Terms of Service", httpserver.url_for("/terms"))
    store = Store(tmp_path / "snapshots").open()

    def night(paragraphs: list[str] | str, when: datetime) -> CheckResult:
        httpserver.clear()
        body = paragraphs if isinstance(paragraphs, str) else html(paragraphs)
        httpserver.expect_request("/terms").respond_with_data(body, content_type="text/html; charset=utf-8")
        return check((document,), store, now=lambda: when).results[0]

    night.store = store  # type: ignore[attr-defined]
    night.document = document  # type: ignore[attr-defined]
    return night


def dropped_and_restored(root: Path) -> tuple[Store, Document, list[str]]:
    """A store whose terms lost their AI clause for a night (back the next: restored), then for
    four months (back: news, flagged), recorded as nightly checks record them; and the versions' names."""
    store = Store(root).open()
    document = Document("Tunehaven", "Terms of Service", "https://tunehaven.example/terms")
    for paragraphs, days in ((FULL, 0), (WITHOUT_AI, 1), (FULL, 2), (WITHOUT_AI, 3), (FULL, 120)):
        when = NIGHT + timedelta(days=days)
        record_version(store, document, markdown(paragraphs), date=when, taxonomy=load_taxonomy())
    return store, document, [v.name for v in store.versions(document)]


def flags_of(results: list[CheckResult]) -> list[str]:
    return [flag.clause for result in results for flag in result.flags]


def test_check_shows_a_clause_removed_by_a_broken_page_and_back_the_next_night_as_restored(nightly) -> None:
    first = nightly(FULL, NIGHT)
    assert first.status == "new"
    broken = nightly(WITHOUT_AI, NIGHT + timedelta(days=1))
    assert (broken.status, [c.kind for c in broken.changes]) == ("changed", ["removed"])
    back = nightly(FULL, NIGHT + timedelta(days=2))
    assert back.status == "changed"
    assert back.flags == ()
    assert [(c.kind, c.new.text if c.new else None, c.last_seen) for c in back.changes] == [
        ("restored", AI_CLAUSE, first.version)
    ]
    assert result_to_json(back)["changes"]["restored"] == [{"clause": AI_CLAUSE, "last_seen": first.version}]
    [recorded] = [v for v in nightly.store.versions(nightly.document) if v.name == back.version]
    assert recorded.meta["changes"] == {"restored": 1} and recorded.meta["flags"] == []


def test_reports_show_a_restored_clause_as_restored(nightly) -> None:
    nightly(FULL, NIGHT)
    nightly(WITHOUT_AI, NIGHT + timedelta(days=1))
    back = nightly(FULL, NIGHT + timedelta(days=2))
    run = CheckRun(NIGHT + timedelta(days=2), (back,))
    assert f"(restored) {AI_CLAUSE}" in render_text(run, "tosmon")
    assert "(restored)</span>" in render_html(run, "tosmon")
    recent = digest((nightly.document,), nightly.store, since=NIGHT + timedelta(days=2))
    assert [[c.kind for c in r.changes] for r in recent.results] == [["restored"]]
    console = Console(record=True, width=300, no_color=True)
    render_changes(console, back.changes)
    assert (
        console.export_text().strip()
        == f"↺ {AI_CLAUSE} (restored: carried until {back.changes[0].last_seen[:10]})"
    )


def test_check_flags_the_same_ai_clause_re_added_after_a_long_absence(nightly) -> None:
    nightly(FULL, NIGHT)
    nightly(WITHOUT_AI, NIGHT + timedelta(days=1))
    back = nightly(FULL, NIGHT + timedelta(days=90))
    assert [c.kind for c in back.changes] == ["added"]
    assert {flag.category for flag in back.flags} >= {"training"}
    assert AI_CLAUSE in flags_of([back])


def test_check_never_flags_a_page_alternating_between_partial_and_full_renderings(nightly) -> None:
    partials = [FULL[:6], FULL[:5], FULL[:4]]  # cut at a different place each time
    results = [nightly(FULL, NIGHT)]
    for n, partial in enumerate(partials):
        results.append(nightly(partial, NIGHT + timedelta(days=2 * n + 1)))
        results.append(nightly(FULL, NIGHT + timedelta(days=2 * n + 2)))
    assert flags_of(results) == []
    assert [r.status for r in results] == ["new", *["error", "unchanged"] * 3]
    assert all("partial page" in str(r.error) for r in results[1::2])
    assert all(r.recovered for r in results[2::2])
    assert len(nightly.store.versions(nightly.document)) == 1
    assert len(nightly.store.snapshots(nightly.document)) == 7  # every page kept as evidence


def test_check_reports_a_page_suddenly_holding_its_text_twice_as_a_problem_and_never_flags_it(
    nightly,
) -> None:
    nightly(FULL, NIGHT)
    doubled = nightly(FULL + FULL, NIGHT + timedelta(days=1))
    assert doubled.status == "error" and doubled.flags == ()
    assert "holds much of its text twice" in str(doubled.error)
    assert len(nightly.store.versions(nightly.document)) == 1
    block = nightly(FULL + FULL[:6], NIGHT + timedelta(days=2))  # a large block repeated
    assert block.flags == () and block.repeat
    assert nightly(FULL, NIGHT + timedelta(days=3)).recovered


def test_clause_memory_is_rebuilt_when_missing_or_damaged_and_never_touches_the_evidence(nightly) -> None:
    nightly(FULL, NIGHT)
    nightly(WITHOUT_AI, NIGHT + timedelta(days=1))
    folder = nightly.store.directory(nightly.document)
    index = folder / INDEX_FILE
    assert index.is_file()

    def evidence() -> dict[str, str]:
        return {
            str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*"))
            if p.is_file() and p.parent.name in ("raw", "versions")
        }

    before = evidence()
    index.write_bytes(b'{"schema_version": 1, "versions": [["x"')  # torn by a crash
    memory._cache.clear()  # a new process: nothing remembered but the files
    back = nightly(FULL, NIGHT + timedelta(days=2))
    assert [c.kind for c in back.changes] == ["restored"] and back.flags == ()
    assert json.loads(index.read_bytes())["schema_version"] == 1
    assert {k: v for k, v in evidence().items() if back.version not in k} == before
    assert nightly.store.verify().damage == ()

    nightly(WITHOUT_AI[:-1], NIGHT + timedelta(days=3))  # not the same broken page: not a flip-flop
    index.unlink()
    memory._cache.clear()
    again = nightly(FULL, NIGHT + timedelta(days=4))
    assert [c.kind for c in again.changes] == ["restored", "restored"] and again.flags == ()
    assert index.is_file()


def test_a_store_without_clause_memory_gains_one_on_its_next_check(nightly) -> None:
    nightly(FULL, NIGHT)
    nightly(WITHOUT_AI, NIGHT + timedelta(days=1))
    folder = nightly.store.directory(nightly.document)
    (folder / INDEX_FILE).unlink()  # a store written before clause memory existed
    memory._cache.clear()
    back = nightly(FULL, NIGHT + timedelta(days=2))
    assert [c.kind for c in back.changes] == ["restored"]
    assert len(json.loads((folder / INDEX_FILE).read_bytes())["versions"]) == 3


def test_history_json_lists_the_clauses_a_version_restored_with_the_version_that_last_carried_them(
    tosmon, tmp_path
) -> None:
    root = tmp_path / "snapshots"
    _, _, names = dropped_and_restored(root)
    outcome = tosmon("history", "Tunehaven/Terms of Service", "--snapshots", root, "--json")
    assert outcome.code == 0, outcome.stderr
    versions = json.loads(outcome.stdout)["versions"]
    assert [v["changes"]["restored"] for v in versions] == [0, 0, 1, 0, 0]
    assert [v["restored_clauses"] for v in versions] == [
        [],
        [],
        [{"clause": AI_CLAUSE, "last_seen": names[0]}],  # back the night after a broken page
        [],
        [],  # back after four months: added, and flagged
    ]
    assert versions[4]["changes"]["added"] == 1 and versions[4]["flags"]
    assert set(versions[2]) == {  # every key of before, and the new one
        *("service", "document", "variant", "url", "version", "number", "date", "source", "size"),
        *("sha256", "path", "previous", "changes", "flags", "snapshot", "restored_clauses"),
    }
    exported = [json.loads(line) for line in tosmon("export", "--snapshots", root).stdout.splitlines()]
    assert exported == versions  # export's JSON Lines are history --json's versions

    # kept beside the version when it was recorded; a version recorded before that is diffed again
    [meta] = [p for p in root.rglob("versions/*.json") if p.stem == versions[2]["version"]]
    recorded = json.loads(meta.read_text())
    assert recorded["restored_clauses"] == versions[2]["restored_clauses"]
    del recorded["restored_clauses"]
    meta.write_text(json.dumps(recorded))
    again = json.loads(tosmon("history", "Tunehaven/Terms of Service", "--snapshots", root, "--json").stdout)
    assert again["versions"] == versions


def test_diff_of_one_change_shows_a_restored_clause_as_restored_and_any_two_versions_as_they_differ(
    tosmon, tmp_path
) -> None:
    root = tmp_path / "snapshots"
    _, _, names = dropped_and_restored(root)

    def diff(*versions: str) -> tuple[int, dict]:
        outcome = tosmon("diff", "Tunehaven/Terms of Service", *versions, "--snapshots", root, "--json")
        return outcome.code, json.loads(outcome.stdout)

    code, back = diff("--to", "#3")  # the night after the broken page
    assert (code, back["added"], back["flags"]) == (1, [], [])
    assert back["restored"] == [{"clause": AI_CLAUSE, "last_seen": names[0]}]
    code, months_later = diff()  # the latest change: the clause back after four months is news
    assert months_later["added"] == [AI_CLAUSE] and months_later["restored"] == []
    assert "training" in {f["category"] for f in months_later["flags"]}
    _, asked = diff("--from", "#2", "--to", "#3")  # the same change, named
    assert asked == back
    _, across = diff("--from", "#2", "--to", "#5")  # two versions far apart: what the second adds
    assert across["added"] == [AI_CLAUSE] and across["restored"] == []
    terminal = tosmon("diff", "Tunehaven/Terms of Service", "--to", "#3", "--snapshots", root)
    assert f"↺ {AI_CLAUSE} (restored: carried until 2026-03-02)" in " ".join(terminal.stdout.split())


# -- import-ota-versions ---------------------------------------------------------------------------

TERMS = "Tunehaven/Terms of Service.md"


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    repository = tmp_path / "versions"
    repository.mkdir()
    git(repository, "init", "-q")
    return repository


def record(repository: Path, text: str, when: datetime) -> None:
    commit(repository, {TERMS: text}, when.isoformat(), "Record new changes of Tunehaven Terms of Service")


def imported(tosmon, repository: Path, snapshots: Path) -> tuple[object, list[dict]]:
    outcome = tosmon("import-ota-versions", repository, "--snapshots", snapshots)
    versions = json.loads(tosmon("history", "--snapshots", snapshots, "--json").stdout)["versions"]
    return outcome, versions


def test_import_shows_a_clause_back_the_next_day_as_restored_and_flags_one_back_after_months(
    tosmon, tmp_path, repository
) -> None:
    record(repository, markdown(FULL), NIGHT)
    record(repository, markdown(WITHOUT_AI), NIGHT + timedelta(days=1))
    record(repository, markdown(FULL), NIGHT + timedelta(days=2))
    record(repository, markdown(WITHOUT_AI), NIGHT + timedelta(days=3))
    record(repository, markdown(FULL), NIGHT + timedelta(days=120))
    outcome, versions = imported(tosmon, repository, tmp_path / "snapshots")
    assert [v["changes"]["restored"] for v in versions] == [0, 0, 1, 0, 0]
    assert [bool(v["flags"]) for v in versions] == [False, False, False, False, True]
    assert {f["clause"] for f in versions[4]["flags"]} == {AI_CLAUSE}
    assert outcome.code == 2  # flagged: the clause re-added after four months


def test_import_keeps_partial_and_doubled_records_as_evidence_only_and_never_flags_them(
    tosmon, tmp_path, repository
) -> None:
    record(repository, markdown(FULL), NIGHT)
    record(repository, markdown(FULL[:5]), NIGHT + timedelta(hours=12))  # partial
    record(repository, markdown(FULL), NIGHT + timedelta(days=1))
    record(repository, markdown(FULL) + markdown(FULL), NIGHT + timedelta(days=2))  # doubled
    record(repository, markdown(FULL), NIGHT + timedelta(days=3))
    record(repository, markdown(FULL[:6]), NIGHT + timedelta(days=4))  # partial again, cut elsewhere
    record(repository, markdown([*FULL, "Loading…"]), NIGHT + timedelta(days=5))
    snapshots = tmp_path / "snapshots"
    outcome, versions = imported(tosmon, repository, snapshots)
    assert outcome.code == 1, outcome.stderr  # changed (the last record), nothing flagged
    assert [v["date"][:10] for v in versions] == ["2026-03-02", "2026-03-07"]
    assert all(v["flags"] == [] for v in versions)
    broken = [line for line in outcome.stderr.splitlines() if "not recorded, a broken page" in line]
    assert len(broken) == 3
    assert "partial page" in broken[0] and "twice" in broken[1]
    assert "3 broken records kept as evidence only" in outcome.stderr
    raw = sorted((snapshots / "Tunehaven" / "Terms-of-Service" / "raw").glob("*.md"))
    assert len(raw) == 7  # every record kept as evidence, citing its commit
    again = tosmon("import-ota-versions", repository, "--snapshots", snapshots)
    assert "0 versions recorded" in again.stdout


def test_import_takes_a_lasting_shorter_text_as_the_document_after_three_records(
    tosmon, tmp_path, repository
) -> None:
    record(repository, markdown(FULL), NIGHT)
    for day, end in ((10, 5), (40, 6), (70, 5)):  # the document really lost its second half
        record(repository, markdown(FULL[:end]), NIGHT + timedelta(days=day))
    outcome, versions = imported(tosmon, repository, tmp_path / "snapshots")
    assert [v["date"][:10] for v in versions] == ["2026-03-02", "2026-05-11"]
    assert versions[1]["flags"] == [] and versions[1]["changes"]["removed"] == 4
    assert outcome.stderr.count("not recorded, a broken page") == 2


def test_a_version_recorded_out_of_time_order_brings_the_memory_back_in_step(tmp_path) -> None:
    store = Store(tmp_path / "snapshots").open()
    document = Document("Tunehaven", "Terms of Service", "")
    taxonomy = load_taxonomy()

    def at(paragraphs: list[str], days: int) -> CheckResult:
        return record_at(
            store,
            document,
            markdown(paragraphs),
            date=NIGHT + timedelta(days=days),
            taxonomy=taxonomy,
            source="import",
        )

    at(FULL, 0)
    at(WITHOUT_AI, 100)
    late = at(FULL, 200)  # the clause was gone for a hundred days: news
    assert [c.kind for c in late.changes] == ["added"] and late.flags
    at(WITHOUT_AI, 1)  # an older capture slipped in before the others (a backfill)
    back = at([*FULL, CLAUSES[0]], 3)  # two days after the clause was dropped: restored; and a copy
    assert [c.kind for c in back.changes] == ["restored", "restored"] and back.flags == ()
    memory._cache.clear()
    everything = store.versions(document)
    assert memory.recall(store, document, everything).index.names == [v.name for v in everything]
    folder = store.directory(document)
    assert [name for name, _ in json.loads((folder / INDEX_FILE).read_bytes())["versions"]] == [
        v.name for v in everything
    ]
