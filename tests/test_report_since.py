"""`tosmon report --since`: a digest of the changes and flags the store recorded in a time window."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from test_notify import SENDER, Mailbox, start_smtp_fixture, subject, text_part  # noqa: F401  (the start_smtp fixture)

from tosmon.check import record
from tosmon.flag import load_taxonomy
from tosmon.store import Store
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
        f"Error: --since: expected a duration such as 7d, 24h, 2w or 90m, found {window!r}\n"
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
