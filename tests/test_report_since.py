"""`tosmon report --since`: a digest of the changes and flags the store recorded in a time window."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from test_notify import SENDER, Mailbox, start_smtp_fixture, subject, text_part  # noqa: F401  (the start_smtp fixture)

from tosmon.check import record
from tosmon.flag.rules import load_taxonomy
from tosmon.outputs.digest import parse_since
from tosmon.store.files import Store
from tosmon.watchlist import load_watchlist

FIRST = "# Terms\n\nYou keep the rights to your tracks.\n"
OLD_CHANGE = FIRST + "\nWe may close inactive accounts.\n"
RECENT_CHANGE = OLD_CHANGE.replace("inactive accounts", "inactive accounts after two years")
FLAGGED = RECENT_CHANGE + "\nYour tracks may be used to train our artificial intelligence models.\n"


@pytest.fixture
def history(watchlist_file: Callable[[str], Path]) -> Callable[[str], Path]:
    """A watchlist and a store with versions recorded 20, 10, 3 and 2 days ago, as nightly checks would."""

    def make(extra: str = "") -> Path:
        watchlist = watchlist_file(
            f"{extra}services:\n  SoundCloud:\n    Terms of Service:\n      url: http://127.0.0.1/\n"
        )
        document = load_watchlist(watchlist).documents[0]
        store = Store(watchlist.parent / "snapshots").open()
        now = datetime.now(UTC)
        for days, text in ((20, FIRST), (10, OLD_CHANGE), (3, RECENT_CHANGE), (2, FLAGGED)):
            record(store, document, text, date=now - timedelta(days=days), taxonomy=load_taxonomy())
        return watchlist

    return make


def test_report_since_lists_the_flags_and_changes_of_the_window(tosmon, history) -> None:
    watchlist = history()

    outcome = tosmon("report", "--since", "7d", "--watchlist", watchlist)

    assert outcome.code == 0, outcome.stderr
    text = outcome.stdout
    assert text.startswith("tosmon digest of the last 7d: ")
    assert "\n1 document: 1 flagged clause, 2 changed, 0 new, 0 failed\n" in text
    assert "] new AI training clause" in text
    assert "> Your tracks may be used to train our artificial intelligence models." in text
    assert "~ We may close inactive accounts{+ after two years+}." in text
    assert "+ We may close inactive accounts." not in text  # 10 days ago: outside the window


def test_report_since_a_longer_window_includes_older_versions(tosmon, history) -> None:
    watchlist = history()

    text = tosmon("report", "--since", "2w", "--watchlist", watchlist).stdout

    assert "+ We may close inactive accounts." in text
    assert "Now watched" not in text  # the first version is 20 days old


def test_report_since_an_empty_window_says_so(tosmon, history) -> None:
    watchlist = history()

    text = tosmon("report", "--since", "90m", "--watchlist", watchlist).stdout

    assert "\n1 document" not in text
    assert "0 documents: 0 flagged clauses, 0 changed, 0 new, 0 failed" in text


@pytest.mark.parametrize("window", ["7", "7 days", "0d", "-1d", "1y"])
def test_report_since_rejects_a_window_it_cannot_read(tosmon, history, window: str) -> None:
    watchlist = history()

    outcome = tosmon("report", "--since", window, "--watchlist", watchlist)

    assert outcome.code == 5
    assert outcome.stderr == (
        f"Error: --since: expected a duration such as 7d, 24h, 2w, 90m or 3mo, or a date such as 2026-11-01, "
        f"found {window!r}\n"
    )


def test_report_since_email_sends_the_digest(tosmon, history, start_smtp) -> None:
    mailbox: Mailbox = start_smtp()
    watchlist = history(
        f"email:\n  smtp: {{host: 127.0.0.1, port: {mailbox.port}, security: none}}\n"
        f"  from: {SENDER}\n  to: [me@example.org]\n"
    )

    outcome = tosmon("report", "--since", "7d", "--email", "--watchlist", watchlist)

    assert outcome.code == 0, outcome.stderr
    [message] = mailbox.messages
    assert (
        subject(message)
        == "[tosmon digest 7d] SoundCloud Terms of Service: new AI training clause; 1 other document changed"
    )
    assert "> Your tracks may be used to train our artificial intelligence models." in text_part(message)


def test_report_since_a_date_starts_the_window_at_that_date(tosmon, history) -> None:
    watchlist = history()
    day = (datetime.now(UTC) - timedelta(days=5)).date().isoformat()

    outcome = tosmon("report", "--since", day, "--watchlist", watchlist)

    assert outcome.code == 0, outcome.stderr
    assert outcome.stdout.startswith(f"tosmon digest since {day}: ")
    assert "~ We may close inactive accounts{+ after two years+}." in outcome.stdout
    assert "+ We may close inactive accounts." not in outcome.stdout  # 10 days ago: before the date


def test_report_since_months_reaches_further_back(tosmon, history) -> None:
    text = tosmon("report", "--since", "1mo", "--watchlist", history()).stdout
    assert text.startswith("tosmon digest of the last 1mo: ")
    assert "+ We may close inactive accounts." in text


def test_report_since_a_future_date_is_refused(tosmon, history) -> None:
    outcome = tosmon("report", "--since", "2999-01-01", "--watchlist", history())
    assert (outcome.code, outcome.stderr) == (5, "Error: --since: 2999-01-01 is in the future\n")


def test_report_json_has_a_result_per_version_of_the_window(tosmon, history) -> None:
    outcome = tosmon("report", "--since", "7d", "--json", "--watchlist", history())
    data = json.loads(outcome.stdout)
    assert data["schema_version"] == 1
    assert [d["status"] for d in data["documents"]] == ["changed", "changed"]
    assert any(f["category"] == "training" for f in data["documents"][1]["flags"])


@pytest.mark.parametrize(
    ("text", "now", "start"),
    [
        ("1mo", "2026-03-31T12:00:00+00:00", "2026-02-28T12:00:00+00:00"),  # no 31 February: its last day
        ("3mo", "2026-01-15T00:00:00+00:00", "2025-10-15T00:00:00+00:00"),
        ("2026-11-01", "2026-12-07T00:00:00+00:00", "2026-11-01T00:00:00+00:00"),
        ("2026-11-01T08:30+01:00", "2026-12-07T00:00:00+00:00", "2026-11-01T07:30:00+00:00"),
        ("36h", "2026-12-07T00:00:00+00:00", "2026-12-05T12:00:00+00:00"),
    ],
)
def test_since_reads_durations_months_and_dates(text: str, now: str, start: str) -> None:
    assert parse_since(text, datetime.fromisoformat(now)) == datetime.fromisoformat(start)
