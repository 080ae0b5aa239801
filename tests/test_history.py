"""`tosmon history`, `tosmon show` and `tosmon diff --from/--to`: reading the recorded history of a document."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

from tosmon.check import record
from tosmon.extract.html import page_text
from tosmon.flag.rules import load_taxonomy
from tosmon.models import Document, Snapshot
from tosmon.store.files import Store
from tosmon.store.history import record_at

DOCUMENT = Document("Tunehaven", "Terms of Use", "https://tunehaven.example/legal/terms")
TRAINING_CLAUSE = "may be used to train, develop and improve artificial intelligence"


def demo_page(n: int) -> bytes:
    """The offline demo's terms: before (1) and after (2) the AI-training clause of 7 February 2024."""
    return resources.files("tosmon").joinpath(f"demo_pages/terms-{n}.html").read_bytes()


def fetched(body: bytes, when: datetime, url: str = DOCUMENT.url) -> Snapshot:
    return Snapshot(url, url, 200, "text/html; charset=utf-8", when, body)


def recorded_store(root: Path, pages: list[tuple[str, bytes]], source: str = "fetch") -> Store:
    """A store holding one version per (ISO date, page), recorded exactly as a nightly check records them."""
    store = Store(root).open()
    for day, body in pages:
        when = datetime.fromisoformat(day).replace(tzinfo=UTC)
        snapshot = fetched(body, when)
        raw = store.record_snapshot(DOCUMENT, snapshot)
        text = page_text(DOCUMENT, snapshot)
        record(store, DOCUMENT, text, date=when, taxonomy=load_taxonomy(), source=source, snapshot=raw)
    return store


def two_versions(tmp_path: Path) -> Path:
    root = tmp_path / "snapshots"
    recorded_store(root, [("2023-05-01T04:00:00", demo_page(1)), ("2024-02-07T04:00:00", demo_page(2))])
    return root


def test_history_json_lists_versions_oldest_first_with_flags_and_snapshots(tosmon, tmp_path) -> None:
    root = two_versions(tmp_path)
    outcome = tosmon("history", "Tunehaven/Terms of Use", "--snapshots", root, "--json")
    assert outcome.code == 0, outcome.stderr
    versions = json.loads(outcome.stdout)["versions"]
    assert [v["date"] for v in versions] == ["2023-05-01T04:00:00+00:00", "2024-02-07T04:00:00+00:00"]
    assert [v["source"] for v in versions] == ["fetch", "fetch"]
    first, second = versions
    assert first["flags"] == [] and first["previous"] is None
    assert {f["category"] for f in second["flags"]} >= {"training"}
    training = next(f for f in second["flags"] if f["category"] == "training")
    assert set(training) == {
        "category",
        "clause",
        "heading",
        "terms",
        "severity",
        "rule",
        "consent",
        "consent_change",
        "change",
        "confidence",  # issue 14: how strong the evidence is
    }
    assert TRAINING_CLAUSE in training["clause"]
    assert second["changes"]["added"] >= 1
    snapshot = second["snapshot"]
    assert snapshot["sha256"] and snapshot["fetched_at"] == "2024-02-07T04:00:00+00:00"
    assert Path(snapshot["path"]).read_bytes() == demo_page(2)
    assert Path(second["path"]).read_text(encoding="utf-8").count("train, develop") == 1


def test_history_without_document_covers_every_document(tosmon, tmp_path) -> None:
    root = two_versions(tmp_path)
    other = Document("Other", "Privacy Policy", "https://other.example/privacy")
    store = Store(root).open()
    record(store, other, "We keep nothing.", date=datetime(2024, 1, 1, tzinfo=UTC), taxonomy=load_taxonomy())
    versions = json.loads(tosmon("history", "--snapshots", root, "--json").stdout)["versions"]
    assert [(v["service"], v["date"][:10]) for v in versions] == [
        ("Tunehaven", "2023-05-01"),
        ("Other", "2024-01-01"),
        ("Tunehaven", "2024-02-07"),
    ]


def test_history_table_shows_the_flagged_clause_on_its_date(tosmon, tmp_path) -> None:
    outcome = tosmon("history", "Tunehaven/Terms of Use", "--snapshots", two_versions(tmp_path))
    assert outcome.code == 0
    text = " ".join(outcome.stdout.split())
    assert "new AI training clause in Tunehaven/Terms of Use on 2024-02-07" in text
    assert TRAINING_CLAUSE in text


def test_show_prints_a_version_by_latest_relative_index_or_date(tosmon, tmp_path) -> None:
    root = two_versions(tmp_path)
    latest = tosmon("show", "Tunehaven/Terms of Use", "--snapshots", root).stdout
    assert TRAINING_CLAUSE in " ".join(latest.split())
    assert tosmon("show", "Tunehaven/Terms of Use", "-1", "--snapshots", root).stdout == latest
    older = tosmon("show", "Tunehaven/Terms of Use", "-2", "--snapshots", root).stdout
    assert "train" not in older and "Your content" in older
    assert tosmon("show", "Tunehaven/Terms of Use", "2024-02-06", "--snapshots", root).stdout == older
    assert tosmon("show", "Tunehaven/Terms of Use", "2024-02-07", "--snapshots", root).stdout == latest


def test_show_rejects_a_version_that_does_not_exist(tosmon, tmp_path) -> None:
    root = two_versions(tmp_path)
    valid = "versions are #1 (2023-05-01T04-00-00Z) to #2 (2024-02-07T04-00-00Z)"
    outcome = tosmon("show", "Tunehaven/Terms of Use", "-3", "--snapshots", root)
    assert (outcome.code, outcome.stderr) == (5, f"Error: Tunehaven/Terms of Use: no version -3: {valid}\n")
    outcome = tosmon("show", "Tunehaven/Terms of Use", "2020-01-01", "--snapshots", root)
    assert outcome.stderr == f"Error: Tunehaven/Terms of Use: no version on or before 2020-01-01: {valid}\n"
    outcome = tosmon("show", "Tunehaven/Terms of Use", "yesterday", "--snapshots", root)
    assert outcome.stderr == (
        "Error: Tunehaven/Terms of Use: no version 'yesterday': expected #N or N (#1 the oldest, #-1 the latest), "
        f"a stamp, latest, -N or a date such as 2024-02-07; {valid}\n"
    )


def test_unknown_document_is_one_line_with_a_hint(tosmon, tmp_path) -> None:
    outcome = tosmon("history", "Tunehaven/Terms of use", "--snapshots", two_versions(tmp_path))
    assert (outcome.code, outcome.stderr) == (
        5,
        "Error: unknown document 'Tunehaven/Terms of use' (expected 'Service/Document type'); "
        "did you mean 'Tunehaven/Terms of Use'?\n",
    )


def test_history_without_a_store_says_where_it_looked(tosmon, tmp_path) -> None:
    outcome = tosmon("history", "--snapshots", tmp_path / "nowhere")
    assert outcome.code == 6
    assert outcome.stderr == (
        f"Error: {tmp_path / 'nowhere'}: no snapshot store there (run `tosmon check` first, or pass --snapshots)\n"
    )


def test_diff_compares_two_stored_versions(tosmon, tmp_path) -> None:
    root = two_versions(tmp_path)
    outcome = tosmon(
        "diff", "Tunehaven/Terms of Use", "--from", "-2", "--to", "latest", "--snapshots", root, "--json"
    )
    assert outcome.code == 1
    data = json.loads(outcome.stdout)
    assert any(TRAINING_CLAUSE in clause for clause in data["added"])
    assert "training" in {f["category"] for f in data["flags"]}
    backwards = json.loads(
        tosmon(
            "diff",
            "Tunehaven/Terms of Use",
            "--from",
            "latest",
            "--to",
            "2023-12-31",
            "--snapshots",
            root,
            "--json",
        ).stdout
    )
    assert any(TRAINING_CLAUSE in clause for clause in backwards["removed"]) and backwards["flags"] == []


def test_diff_from_alone_compares_with_the_latest_and_to_alone_with_the_version_before(
    tosmon, tmp_path
) -> None:
    root = two_versions(tmp_path)
    from_only = tosmon("diff", "Tunehaven/Terms of Use", "--from", "-2", "--snapshots", root, "--json").stdout
    to_only = tosmon("diff", "Tunehaven/Terms of Use", "--to", "latest", "--snapshots", root, "--json").stdout
    assert from_only == to_only and json.loads(from_only)["flags"]
    same = tosmon("diff", "Tunehaven/Terms of Use", "--from", "latest", "--snapshots", root)
    assert same.code == 0


def test_diff_of_two_files_still_works_and_stored_mode_refuses_a_second_file(tosmon, tmp_path) -> None:
    old, new = tmp_path / "old.html", tmp_path / "new.html"
    old.write_bytes(demo_page(1))
    new.write_bytes(demo_page(2))
    assert tosmon("diff", old, new).code == 1
    assert tosmon("diff", old, old).code == 0
    missing = tosmon("diff", old)
    assert missing.code == 5
    assert missing.stderr == (
        "Error: missing argument NEW (or use --from/--to to compare stored versions of a document)\n"
    )
    both = tosmon(
        "diff", "Tunehaven/Terms of Use", new, "--from", "-2", "--snapshots", two_versions(tmp_path)
    )
    assert both.stderr == "Error: --from/--to compare stored versions of one DOCUMENT; give no second file\n"


def test_versions_recorded_out_of_order_are_compared_with_their_predecessor_in_time(tosmon, tmp_path) -> None:
    """A backfill slips an older version in before existing ones; history compares each with the one before it."""
    root = tmp_path / "snapshots"
    store = recorded_store(root, [("2025-01-01T04:00:00", demo_page(2))])  # first fetched after the change
    taxonomy = load_taxonomy()
    older = page_text(DOCUMENT, fetched(demo_page(1), datetime(2023, 5, 1, tzinfo=UTC)))
    result = record_at(
        store, DOCUMENT, older, date=datetime(2023, 5, 1, tzinfo=UTC), taxonomy=taxonomy, source="archive"
    )
    assert result.status == "new"
    again = record_at(
        store, DOCUMENT, older, date=datetime(2023, 5, 1, tzinfo=UTC), taxonomy=taxonomy, source="archive"
    )
    assert again.status == "unchanged"
    versions = json.loads(tosmon("history", "Tunehaven/Terms of Use", "--snapshots", root, "--json").stdout)[
        "versions"
    ]
    assert [(v["date"][:10], v["source"]) for v in versions] == [
        ("2023-05-01", "archive"),
        ("2025-01-01", "fetch"),
    ]
    assert versions[0]["flags"] == []
    assert "training" in {f["category"] for f in versions[1]["flags"]}
    assert versions[1]["previous"] == versions[0]["version"]


HOSTILE_CLAUSE = (
    '=1+1 <script>alert("x")</script> & Your Content may be used to train, develop and improve '
    "artificial intelligence models.\x07"
)


def with_hostile_version(root: Path) -> Path:
    """Two demo versions, then one whose new clause is markup, a formula and a control character."""
    two_versions(root.parent)
    store = Store(root).open()
    text = store.latest_version(DOCUMENT).text + "\n" + HOSTILE_CLAUSE + "\n"  # type: ignore[union-attr]
    record(store, DOCUMENT, text, date=datetime(2024, 6, 1, tzinfo=UTC), taxonomy=load_taxonomy())
    return root
