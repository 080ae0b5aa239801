"""Versions you can name: `#N` as `history` numbers them, the stamp tosmon prints, and `diff DOCUMENT` alone."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tosmon.check import record
from tosmon.errors import ExitCode
from tosmon.flag.rules import load_taxonomy
from tosmon.models import Document
from tosmon.store.files import Store

DOCUMENT = Document("Tunehaven", "Terms of Use", "https://tunehaven.example/terms")
TEXTS = [
    "# Terms\n\nYou keep the rights to your music.\n",
    "# Terms\n\nYou keep the rights to your music.\n\nDo not spam other users.\n",
    "# Terms\n\nYou keep the rights to your music.\n\nDo not spam other users.\n\n"
    "We may use your uploads to train our artificial intelligence models.\n",
]
STAMPS = ["2026-11-02T04-00-00Z", "2026-11-30T04-00-00Z", "2026-12-07T10-15-37Z"]


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """Three versions of one document, recorded as nightly checks record them."""
    root = tmp_path / "snapshots"
    opened = Store(root).open()
    for text, moment in zip(TEXTS, STAMPS, strict=True):
        date = datetime.strptime(moment, "%Y-%m-%dT%H-%M-%SZ").replace(tzinfo=UTC)
        record(opened, DOCUMENT, text, date=date, taxonomy=load_taxonomy())
    return root


@pytest.mark.parametrize(
    ("name", "index"),
    [
        ("#1", 0), ("1", 0), ("#2", 1), ("#3", 2), ("#-1", 2), ("#-3", 0), ("-1", 2), ("-2", 1), ("latest", 2),
        (STAMPS[0], 0), (STAMPS[2], 2), ("2026-12-01", 1), ("2026-12-07T10:15:37Z", 2),
    ],
)  # fmt: skip
def test_show_takes_a_number_a_stamp_latest_relative_or_a_date(
    tosmon, store: Path, name: str, index: int
) -> None:
    outcome = tosmon("show", DOCUMENT.id, name, "--snapshots", store)
    assert (outcome.code, outcome.stdout, outcome.stderr) == (ExitCode.OK, TEXTS[index], "")


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("#4", "no version #4"),
        ("#0", "no version #0"),
        ("#-4", "no version #-4"),
        ("2026-12-07T10-15-38Z", "no version 2026-12-07T10-15-38Z"),
        ("2026-01-01", "no version on or before 2026-01-01"),
    ],
)
def test_a_version_that_does_not_exist_is_one_line_with_the_valid_range(
    tosmon, store: Path, name: str, error: str
) -> None:
    outcome = tosmon("show", DOCUMENT.id, name, "--snapshots", store)
    assert (outcome.code, outcome.stdout) == (ExitCode.USAGE, "")
    assert outcome.stderr == (
        f"Error: Tunehaven/Terms of Use: {error}: versions are #1 ({STAMPS[0]}) to #3 ({STAMPS[2]})\n"
    )


def test_history_numbers_versions_and_shows_their_stamps_in_utc(tosmon, store: Path) -> None:
    outcome = tosmon("history", DOCUMENT.id, "--snapshots", store)
    assert outcome.code == ExitCode.OK
    lines = outcome.stdout.splitlines()
    assert lines[0].rstrip() == "tosmon history: Tunehaven/Terms of Use (times in UTC)"
    rows = [line.split("│") for line in lines if "│" in line and "#" in line and "Z" in line]
    assert [(cells[1].strip(), cells[2].strip()) for cells in rows] == [
        ("#1", STAMPS[0]),
        ("#2", STAMPS[1]),
        ("#3", STAMPS[2]),
    ]
    data = json.loads(tosmon("history", DOCUMENT.id, "--snapshots", store, "--json").stdout)
    assert [(v["number"], v["version"]) for v in data["versions"]] == [
        (1, STAMPS[0]),
        (2, STAMPS[1]),
        (3, STAMPS[2]),
    ]


def test_every_stamp_history_prints_names_that_version(tosmon, store: Path) -> None:
    data = json.loads(tosmon("history", DOCUMENT.id, "--snapshots", store, "--json").stdout)
    for version, text in zip(data["versions"], TEXTS, strict=True):
        assert tosmon("show", DOCUMENT.id, version["version"], "--snapshots", store).stdout == text
        assert tosmon("show", DOCUMENT.id, f"#{version['number']}", "--snapshots", store).stdout == text


def test_diff_document_alone_shows_its_last_change(tosmon, store: Path) -> None:
    alone = tosmon("diff", DOCUMENT.id, "--snapshots", store, "--json")
    assert alone.code == ExitCode.CHANGED
    data = json.loads(alone.stdout)
    assert data["added"] == ["We may use your uploads to train our artificial intelligence models."]
    assert data["removed"] == [] and "training" in {f["category"] for f in data["flags"]}
    explicit = tosmon("diff", DOCUMENT.id, "--from", "#2", "--to", STAMPS[2], "--snapshots", store, "--json")
    assert explicit.stdout == alone.stdout
    text = tosmon("diff", DOCUMENT.id, "--snapshots", store)
    assert f"Tunehaven/Terms of Use (#2 {STAMPS[1]} → #3 {STAMPS[2]})" in " ".join(text.stdout.split())


def test_diff_with_numbered_versions(tosmon, store: Path) -> None:
    outcome = tosmon("diff", DOCUMENT.id, "--from", "#1", "--to", "#2", "--snapshots", store, "--json")
    assert outcome.code == ExitCode.CHANGED
    assert json.loads(outcome.stdout)["added"] == ["Do not spam other users."]
    bad = tosmon("diff", DOCUMENT.id, "--from", "#7", "--snapshots", store)
    assert (bad.code, bad.stderr) == (
        ExitCode.USAGE,
        f"Error: Tunehaven/Terms of Use: no version #7: versions are #1 ({STAMPS[0]}) to #3 ({STAMPS[2]})\n",
    )


def test_diff_of_a_document_with_one_version_says_there_is_nothing_before_it(tosmon, tmp_path: Path) -> None:
    root = tmp_path / "snapshots"
    date = datetime(2026, 11, 2, 4, tzinfo=UTC)
    record(Store(root).open(), DOCUMENT, TEXTS[0], date=date, taxonomy=load_taxonomy())
    outcome = tosmon("diff", DOCUMENT.id, "--snapshots", root)
    assert (outcome.code, outcome.stdout) == (ExitCode.OK, "")
    assert (
        outcome.stderr
        == f"Tunehaven/Terms of Use: {STAMPS[0]} is its first version (#1): no change before it\n"
    )


def test_diff_of_a_mistyped_file_or_document_says_both(tosmon, store: Path, tmp_path: Path) -> None:
    outcome = tosmon("diff", "Tunehaven/Terms of use", "--snapshots", store)
    assert (outcome.code, outcome.stderr) == (
        ExitCode.USAGE,
        "Error: unknown document 'Tunehaven/Terms of use' (expected 'Service/Document type'); "
        "did you mean 'Tunehaven/Terms of Use'?; and there is no file 'Tunehaven/Terms of use'\n",
    )


def test_history_of_every_document_prints_whole_stamps_even_in_a_narrow_table(tosmon, store: Path) -> None:
    other = Document(
        "A service with a rather long name", "Community Guidelines and Rules", "https://x.example/"
    )
    record(
        Store(store).open(), other, TEXTS[0], date=datetime(2026, 12, 1, tzinfo=UTC), taxonomy=load_taxonomy()
    )
    outcome = tosmon("history", "--snapshots", store)
    assert outcome.code == ExitCode.OK
    for stamp in [*STAMPS, "2026-12-01T00-00-00Z"]:
        assert stamp in outcome.stdout


def test_two_versions_in_one_second_are_named_apart_and_both_reachable(tosmon, tmp_path: Path) -> None:
    root = tmp_path / "snapshots"
    opened = Store(root).open()
    moment = datetime(2026, 12, 7, 10, 15, 37, tzinfo=UTC)
    for text in TEXTS[:2]:
        record(opened, DOCUMENT, text, date=moment, taxonomy=load_taxonomy())
    names = [
        v["version"]
        for v in json.loads(tosmon("history", DOCUMENT.id, "--snapshots", root, "--json").stdout)["versions"]
    ]
    assert names == ["2026-12-07T10-15-37Z", "2026-12-07T10-15-37Z-2"]
    assert tosmon("show", DOCUMENT.id, names[0], "--snapshots", root).stdout == TEXTS[0]
    assert tosmon("show", DOCUMENT.id, names[1], "--snapshots", root).stdout == TEXTS[1]
