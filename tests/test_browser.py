"""Pages whose terms only exist after JavaScript runs: `fetcher: browser` and `fetcher: auto`."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from test_pdf import make_pdf
from werkzeug import Request, Response

from tosmon.check import check_async
from tosmon.fetch.browser import Browser
from tosmon.fetch.http import FetchSettings
from tosmon.flag.rules import load_taxonomy
from tosmon.models import Document
from tosmon.store.files import Store

MISSING = (
    "fetcher: browser needs Playwright and Chromium: "
    "pip install 'tosmon[browser]' and apt-get install chromium"
)
# The terms arrive from an API after the page has loaded, as single-page apps do.
APP = """<!doctype html><html><head><title>Terms</title></head><body>
<nav>Home | Pricing</nav>
<main id="terms"></main>
<script>
window.addEventListener("load", () => setTimeout(() => fetch("/api/terms")
  .then((response) => response.json())
  .then((terms) => { document.getElementById("terms").innerHTML = terms.html; }), 100));
</script></body></html>"""
BODY = "These terms apply to every account, every upload and every use of the service, wherever you live and whatever device you use."
TERMS = f"<h1>Terms of Service</h1><p>You keep the rights to your content.</p><p>{BODY}</p>"
AI_TERMS = TERMS + "<p>We may use your content to train our artificial intelligence models.</p>"


@pytest.fixture
def app(httpserver: HTTPServer) -> dict[str, str]:
    """A page that writes its terms into the DOM with JavaScript; change `app["terms"]` to edit them."""
    served = {"terms": TERMS}
    httpserver.expect_request("/terms").respond_with_data(APP, content_type="text/html; charset=utf-8")
    httpserver.expect_request("/api/terms").respond_with_handler(
        lambda request: Response(json.dumps({"html": served["terms"]}), content_type="application/json")
    )
    return served


def watch(watchlist_file: Callable[[str], Path], url: str, fetcher: str, select: str = "'#terms'") -> Path:
    return watchlist_file(
        f"services:\n  Example:\n    Terms:\n      url: {url}\n      select: {select}\n      fetcher: {fetcher}\n"
    )


def check_json(tosmon, watchlist: Path) -> dict:
    outcome = tosmon("check", "--watchlist", watchlist, "--json")
    return json.loads(outcome.stdout)["documents"][0]


def version_texts(watchlist: Path) -> list[str]:
    versions = watchlist.parent / "snapshots" / "Example" / "Terms" / "versions"
    return [path.read_text() for path in sorted(versions.glob("*.md"))]


def test_plain_fetching_misses_terms_written_by_javascript(httpserver, app, watchlist_file, tosmon) -> None:
    watchlist = watch(watchlist_file, httpserver.url_for("/terms"), "http")

    result = check_json(tosmon, watchlist)

    assert result["status"] == "error"
    assert result["error"].startswith(
        "the page has no text (empty page?); the page is kept as evidence (raw/"
    )


def test_browser_fetcher_reads_terms_written_by_javascript_and_flags_a_later_change(
    chromium, httpserver, app, watchlist_file, tosmon
) -> None:
    watchlist = watch(watchlist_file, httpserver.url_for("/terms"), "browser")

    assert check_json(tosmon, watchlist)["status"] == "new"
    assert version_texts(watchlist) == [f"# Terms of Service\nYou keep the rights to your content.\n{BODY}\n"]
    assert check_json(tosmon, watchlist)["status"] == "unchanged"

    app["terms"] = AI_TERMS
    result = check_json(tosmon, watchlist)

    assert result["status"] == "changed"
    assert "training" in [flag["category"] for flag in result["flags"]]
    raw = watchlist.parent / "snapshots" / "Example" / "Terms" / "raw"
    rendered = [path.read_text() for path in sorted(raw.glob("*.html"))]
    assert "train our artificial intelligence models" in rendered[-1]  # the evidence is the page as rendered


def test_browser_fetcher_without_selectors_waits_for_the_page_to_settle(
    chromium, httpserver, app, watchlist_file, tosmon
) -> None:
    watchlist = watchlist_file(
        f"services:\n  Example:\n    Terms:\n      url: {httpserver.url_for('/terms')}\n      fetcher: browser\n"
    )

    assert check_json(tosmon, watchlist)["status"] == "new"
    assert version_texts(watchlist) == [f"# Terms of Service\nYou keep the rights to your content.\n{BODY}\n"]


def test_fetcher_can_be_a_default_for_every_document(
    chromium, httpserver, app, watchlist_file, tosmon
) -> None:
    watchlist = watchlist_file(
        "defaults:\n  fetcher: browser\n"
        f"services:\n  Example:\n    Terms:\n      url: {httpserver.url_for('/terms')}\n      select: '#terms'\n"
    )

    assert check_json(tosmon, watchlist)["status"] == "new"


def test_auto_fetcher_switches_to_the_browser_when_the_selector_does_not_match(
    chromium, httpserver, app, watchlist_file, tosmon
) -> None:
    watchlist = watch(watchlist_file, httpserver.url_for("/terms"), "auto", select="'#terms h1, #terms p'")

    assert check_json(tosmon, watchlist)["status"] == "new"
    assert version_texts(watchlist) == [f"# Terms of Service\nYou keep the rights to your content.\n{BODY}\n"]


def test_auto_fetcher_switches_to_the_browser_on_a_bot_block(
    chromium, httpserver: HTTPServer, watchlist_file, tosmon
) -> None:
    def only_browsers(request: Request) -> Response:
        if "Chrome" not in request.headers.get("User-Agent", ""):
            return Response("<h1>Access denied</h1>", status=403, content_type="text/html")
        return Response(f"<html><body><main>{TERMS}</main></body></html>", content_type="text/html")

    httpserver.expect_request("/terms").respond_with_handler(only_browsers)
    watchlist = watch(watchlist_file, httpserver.url_for("/terms"), "auto", select="main")

    assert check_json(tosmon, watchlist)["status"] == "new"
    assert version_texts(watchlist) == [f"# Terms of Service\nYou keep the rights to your content.\n{BODY}\n"]


def test_auto_fetcher_switches_to_the_browser_on_a_challenge_page(
    chromium, httpserver: HTTPServer, watchlist_file, tosmon
) -> None:
    challenge = (
        "<html><head><title>Just a moment...</title></head><body><main>Checking your browser</main>"
        "<script src='/cdn-cgi/challenge-platform/h/b/orchestrate/jsch/v1'></script></body></html>"
    )

    def only_browsers(request: Request) -> Response:
        if "Chrome" not in request.headers.get("User-Agent", ""):
            return Response(challenge, content_type="text/html")
        return Response(f"<html><body><main>{TERMS}</main></body></html>", content_type="text/html")

    httpserver.expect_request("/terms").respond_with_handler(only_browsers)
    watchlist = watch(watchlist_file, httpserver.url_for("/terms"), "auto", select="main")

    assert check_json(tosmon, watchlist)["status"] == "new"
    assert version_texts(watchlist) == [f"# Terms of Service\nYou keep the rights to your content.\n{BODY}\n"]


def test_auto_fetcher_keeps_plain_http_when_the_page_is_complete(
    httpserver: HTTPServer, watchlist_file, tosmon
) -> None:
    page = f"<html><body><main>{TERMS}</main></body></html>".encode()
    httpserver.expect_request("/terms").respond_with_data(page, content_type="text/html")
    watchlist = watch(watchlist_file, httpserver.url_for("/terms"), "auto", select="main")

    assert check_json(tosmon, watchlist)["status"] == "new"
    raw = watchlist.parent / "snapshots" / "Example" / "Terms" / "raw"
    assert [path.read_bytes() for path in raw.glob("*.html")] == [page]  # as served, not as rendered


def test_browser_fetcher_reports_an_http_error(
    chromium, httpserver: HTTPServer, watchlist_file, tosmon
) -> None:
    httpserver.expect_request("/gone").respond_with_data("gone", status=404)
    watchlist = watch(watchlist_file, httpserver.url_for("/gone"), "browser")

    result = check_json(tosmon, watchlist)

    assert (result["status"], result["error"]) == ("error", "HTTP 404 NOT FOUND")


def test_browser_fetcher_says_a_refused_connection_as_the_http_fetcher_does(
    chromium, watchlist_file, tosmon
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    watchlist = watch(watchlist_file, f"http://127.0.0.1:{port}/terms", "browser")

    result = check_json(tosmon, watchlist)

    assert (result["status"], result["error"]) == ("error", "cannot connect: connection refused")


def test_missing_browser_is_an_error_saying_what_to_install_and_other_documents_are_checked(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    httpserver.expect_request("/terms").respond_with_data(
        f"<html><body><main>{TERMS}</main></body></html>", content_type="text/html"
    )
    url = httpserver.url_for("/terms")
    documents = (
        Document("Rendered", "Terms", url, fetcher="browser"),
        Document("Rendered", "Privacy", url, fetcher="browser"),
        Document("Plain", "Terms", url),
    )
    settings = FetchSettings(retries=0)
    browser = Browser(settings, executable=str(tmp_path / "no-such-chromium"))

    async def run():
        try:
            return await check_async(
                documents,
                Store(tmp_path / "store").open(),
                taxonomy=load_taxonomy(),
                settings=settings,
                browser=browser,
            )
        finally:
            await browser.close()

    results = asyncio.run(run()).results

    assert [(r.status, r.error) for r in results] == [
        ("error", f"{MISSING} (no Chromium found)"),
        ("error", f"{MISSING} (no Chromium found)"),
        ("new", None),
    ]


def test_unknown_fetcher_is_a_watchlist_error_naming_the_place(watchlist_file, tosmon) -> None:
    watchlist = watchlist_file(
        "services:\n  Example:\n    Terms:\n      url: https://example.com/terms\n      fetcher: chrome\n"
    )

    outcome = tosmon("check", "--watchlist", watchlist)

    assert outcome.code == 4
    assert outcome.stderr == (
        f"{watchlist}:5:16: services.Example.Terms.fetcher: expected one of http, browser, auto, "
        "found 'chrome'\n"
    )


def test_browser_fetcher_stores_a_pdf_as_the_file_itself(
    chromium, httpserver: HTTPServer, watchlist_file, tosmon
) -> None:
    pdf = make_pdf(
        [[[18, "bold", 72, 780, "Terms of Use"], [11, "regular", 72, 750, f"You keep the rights. {BODY}"]]]
    )
    httpserver.expect_request("/terms.pdf").respond_with_data(pdf, content_type="application/pdf")
    watchlist = watchlist_file(
        f"services:\n  Example:\n    Terms:\n      url: {httpserver.url_for('/terms.pdf')}\n      fetcher: browser\n"
    )

    assert check_json(tosmon, watchlist)["status"] == "new"
    assert version_texts(watchlist) == [f"# Terms of Use\nYou keep the rights. {BODY}\n"]
    raw = watchlist.parent / "snapshots" / "Example" / "Terms" / "raw"
    assert [path.read_bytes() for path in raw.glob("*.pdf")] == [pdf]  # not Chromium's PDF viewer


def test_combined_document_renders_each_page_in_the_browser(
    chromium, httpserver, app, watchlist_file, tosmon
) -> None:
    httpserver.expect_request("/privacy").respond_with_data(
        "<html><body><main id='terms'><p>We keep your data for a year.</p></main></body></html>",
        content_type="text/html",
    )
    watchlist = watchlist_file(
        "services:\n  Example:\n    Terms:\n      select: '#terms'\n      fetcher: browser\n      combine:\n"
        f"        - url: {httpserver.url_for('/terms')}\n        - url: {httpserver.url_for('/privacy')}\n"
    )

    assert check_json(tosmon, watchlist)["status"] == "new"
    assert version_texts(watchlist) == [
        f"# Terms of Service\nYou keep the rights to your content.\n{BODY}\n\nWe keep your data for a year.\n"
    ]
