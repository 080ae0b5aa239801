"""`tosmon export --format jsonl|csv`: versions and flags for analysis, parsed back."""

from __future__ import annotations

import csv
import io
import json

from test_history import HOSTILE_CLAUSE, TRAINING_CLAUSE, two_versions, with_hostile_version


def test_jsonl_export_has_one_version_per_line_oldest_first(tosmon, tmp_path) -> None:
    outcome = tosmon("export", "--format", "jsonl", "--snapshots", two_versions(tmp_path))
    assert outcome.code == 0, outcome.stderr
    lines = [json.loads(line) for line in outcome.stdout.splitlines()]
    assert [(v["document"], v["date"], v["source"]) for v in lines] == [
        ("Terms of Use", "2023-05-01T04:00:00+00:00", "fetch"),
        ("Terms of Use", "2024-02-07T04:00:00+00:00", "fetch"),
    ]
    assert lines[0]["flags"] == []
    assert any(TRAINING_CLAUSE in f["clause"] and f["category"] == "training" for f in lines[1]["flags"])
    assert lines[1]["snapshot"]["sha256"]
    history = json.loads(tosmon("history", "--snapshots", tmp_path / "snapshots", "--json").stdout)
    assert lines == history["versions"]


def test_csv_export_has_a_row_per_flag_and_one_for_a_version_without_flags(tosmon, tmp_path) -> None:
    outcome = tosmon(
        "export", "Tunehaven/Terms of Use", "--format", "csv", "--snapshots", two_versions(tmp_path)
    )
    assert outcome.code == 0
    rows = list(csv.DictReader(io.StringIO(outcome.stdout)))
    assert [(r["date"][:10], r["flag_category"]) for r in rows] == [
        ("2023-05-01", ""),
        ("2024-02-07", "training"),
    ]
    training = rows[1]
    assert TRAINING_CLAUSE in training["flag_clause"]
    assert training["flag_severity"] == "high"
    assert training["added"] == "1" and training["changed"] == "1" and training["removed"] == "0"
    assert training["service"] == "Tunehaven" and training["source"] == "fetch"
    assert len(training["snapshot_sha256"]) == 64


def test_csv_export_keeps_its_first_columns_in_place_and_adds_new_ones_at_the_end(tosmon, tmp_path) -> None:
    outcome = tosmon(
        "export", "Tunehaven/Terms of Use", "--format", "csv", "--snapshots", two_versions(tmp_path)
    )
    header = next(csv.reader(io.StringIO(outcome.stdout)))
    # the columns of the first CSV export, by position: scripts and spreadsheets read them so
    first = ["service", "document", "url", "version", "date", "source", "size", "sha256", "previous",
             "added", "removed", "changed", "moved", "snapshot_sha256", "snapshot_url", "flag_category",
             "flag_severity", "flag_change", "flag_consent", "flag_rule", "flag_terms", "flag_heading",
             "flag_clause"]  # fmt: skip
    assert header[: len(first)] == first
    assert header[len(first) :] == ["variant", "restored", "flag_confidence"]
    training = list(csv.DictReader(io.StringIO(outcome.stdout)))[1]
    assert training["restored"] == "0" and training["flag_confidence"] == "high"


def test_csv_export_defuses_spreadsheet_formulas(tosmon, tmp_path) -> None:
    root = with_hostile_version(tmp_path / "snapshots")
    rows = list(csv.DictReader(io.StringIO(tosmon("export", "--format", "csv", "--snapshots", root).stdout)))
    hostile = [r["flag_clause"] for r in rows if r["date"].startswith("2024-06-01")]
    assert hostile and all(clause == "'" + HOSTILE_CLAUSE for clause in hostile)


def test_unknown_export_format_is_refused(tosmon, tmp_path) -> None:
    outcome = tosmon("export", "--format", "xlsx", "--snapshots", two_versions(tmp_path))
    assert outcome.code != 0
    assert "Invalid value for '--format': 'xlsx' is not one of 'csv', 'jsonl'." in outcome.stderr


def test_export_defaults_to_json_lines(tosmon, tmp_path) -> None:
    root = two_versions(tmp_path)
    default = tosmon("export", "--snapshots", root)
    assert default.code == 0
    assert default.stdout == tosmon("export", "--format", "jsonl", "--snapshots", root).stdout
    assert [json.loads(line)["source"] for line in default.stdout.splitlines()] == ["fetch", "fetch"]


def test_export_writes_a_file_with_o(tosmon, tmp_path) -> None:
    root = two_versions(tmp_path)
    target = tmp_path / "out" / "versions.csv"
    outcome = tosmon("export", "--format", "csv", "-o", target, "--snapshots", root)
    assert (outcome.code, outcome.stdout) == (0, "")
    assert outcome.stderr == f"wrote 2 versions to {target}\n"
    assert (
        target.read_text(encoding="utf-8") == tosmon("export", "--format", "csv", "--snapshots", root).stdout
    )


def test_export_to_a_file_that_cannot_be_written_is_one_line(tosmon, tmp_path) -> None:
    root = two_versions(tmp_path)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    outcome = tosmon("export", "-o", blocker / "versions.jsonl", "--snapshots", root)
    assert outcome.code == 9
    assert outcome.stderr.startswith(f"Error: {blocker / 'versions.jsonl'}: cannot write: ")
    assert len(outcome.stderr.splitlines()) == 1
