"""Wherever a reworded flagged clause is shown, the words it lost are shown too: the terminal's flag
panel, `tosmon report`, `tosmon history` and the Atom feed (the e-mail, the notifications and the
site have their own tests)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

from pytest_httpserver import HTTPServer
from werkzeug import Response

from tosmon.check import record
from tosmon.flag.rules import load_taxonomy
from tosmon.outputs.report import diff_html, diff_text, wording
from tosmon.store.files import Store
from tosmon.watchlist import load_watchlist

RETENTION = (
    "We may use your prompts and outputs to train our models, unless you have activated zero data retention."
)
NO_RETENTION = "We may use your prompts and outputs to train our models."
SHOWN = "We may use your prompts and outputs to train our models[-, unless you have activated zero data retention-]."
BODY = (
    "These terms apply to every account, every upload and every use of the service, wherever you live "
    "and whatever device you use."
)
ATOM = "{http://www.w3.org/2005/Atom}"
XHTML = "{http://www.w3.org/1999/xhtml}"


def page(clause: str) -> str:
    return f"<html><body><main><h1>Lumen Terms</h1><h2>Your data</h2><p>{clause}</p><p>{BODY}</p></main></body></html>"


def test_the_plain_text_and_html_word_diffs_escape_page_text_and_mark_both_sides() -> None:
    runs = wording("Use <b>your</b> data, unless\x1b[31m you opt out.", "Use <b>your</b> data.")
    assert diff_text(runs) == "Use <b>your</b> data[-, unless you opt out-]."
    assert diff_html(runs) == "Use &lt;b&gt;your&lt;/b&gt; data<del>, unless you opt out</del>."
    assert diff_html(wording("a", "a b"), inserted=' class="x"') == 'a<ins class="x"> b</ins>'
    assert diff_text(wording("gone", None)) == "[-gone-]"


def test_check_flag_panel_shows_the_deleted_words(tosmon, httpserver: HTTPServer, watchlist_file) -> None:
    served = {"clause": RETENTION}
    httpserver.expect_request("/terms").respond_with_handler(
        lambda request: Response(page(served["clause"]), content_type="text/html")
    )
    watchlist = watchlist_file(
        f"services:\n  Lumen:\n    Terms:\n      url: {httpserver.url_for('/terms')}\n"
    )
    tosmon("check", "--watchlist", watchlist)
    served["clause"] = NO_RETENTION

    outcome = tosmon("check", "--watchlist", watchlist)

    assert outcome.code == 2, outcome.stdout
    assert f"» {SHOWN} " in unwrapped(outcome.stdout)


def unwrapped(output: str) -> str:
    """Terminal output with its line wrapping undone (the words are what matter here)."""
    return " ".join(output.split())


def recorded(watchlist_file) -> tuple:
    watchlist = watchlist_file("services:\n  Lumen:\n    Terms:\n      url: https://lumen.example/terms\n")
    document = load_watchlist(watchlist).documents[0]
    store = Store(watchlist.parent / "snapshots").open()
    now = datetime.now(UTC)
    for days, clause in ((3, RETENTION), (1, NO_RETENTION)):
        text = f"# Lumen Terms\n\n## Your data\n\n{clause}\n"
        record(store, document, text, date=now - timedelta(days=days), taxonomy=load_taxonomy())
    return watchlist


def test_report_shows_the_deleted_words(tosmon, watchlist_file) -> None:
    outcome = tosmon("report", "--since", "2d", "--watchlist", recorded(watchlist_file))

    assert outcome.code == 0, outcome.stderr
    assert "(reworded: [-deleted-] {+added+})\n" in outcome.stdout
    assert f"  > {SHOWN}\n" in outcome.stdout


def test_history_shows_the_deleted_words(tosmon, watchlist_file) -> None:
    outcome = tosmon("history", "Lumen/Terms", "--watchlist", recorded(watchlist_file))

    assert outcome.code == 0, outcome.stderr
    assert f"» {SHOWN} " in unwrapped(outcome.stdout)


def test_feed_shows_the_deleted_words(tosmon, watchlist_file) -> None:
    outcome = tosmon("feed", "Lumen/Terms", "--watchlist", recorded(watchlist_file))

    feed = ET.fromstring(outcome.stdout.encode())
    newest = feed.find(f"{ATOM}entry")
    assert newest is not None
    [quote] = newest.iter(f"{XHTML}q")
    assert [d.text for d in quote.iter(f"{XHTML}del")] == [", unless you have activated zero data retention"]
    assert "".join(quote.itertext()) == RETENTION
