"""`tosmon extract URL` and `tosmon extract DOCUMENT`: trying a page before (or while) watching it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from test_auto_fetcher import SHELL
from test_browser import BODY

from tosmon.errors import ExitCode

PAGE = (
    "<html><body><nav>Home | Pricing</nav><main><h1>Terms of Service</h1>"
    f"<p>You keep the rights to your content.</p><p class='ad'>Try our new plan!</p><p>{BODY}</p></main></body></html>"
)
TEXT = f"# Terms of Service\nYou keep the rights to your content.\n{BODY}\n"
NOT_FOUND = "<html><body><main><h1>Page not found</h1><p>Go back home.</p></main></body></html>"


@pytest.fixture
def pages(httpserver: HTTPServer) -> HTTPServer:
    httpserver.expect_request("/terms").respond_with_data(PAGE, content_type="text/html")
    httpserver.expect_request("/shell").respond_with_data(SHELL, content_type="text/html")
    httpserver.expect_request("/oops").respond_with_data(NOT_FOUND, content_type="text/html")
    httpserver.expect_request("/gone").respond_with_data("gone", status=404)
    return httpserver


def test_extract_url_prints_what_would_be_recorded_and_how_it_was_fetched(
    pages: HTTPServer, tosmon, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)

    outcome = tosmon("extract", pages.url_for("/terms"), "--select", "main", "--remove", ".ad")

    assert (outcome.code, outcome.stdout, outcome.stderr) == (ExitCode.OK, TEXT, "fetched over plain HTTP\n")
    assert list(tmp_path.iterdir()) == []  # nothing recorded


def test_extract_url_says_when_the_browser_was_needed(chromium, pages: HTTPServer, tosmon) -> None:
    outcome = tosmon("extract", pages.url_for("/shell"))

    assert outcome.code == ExitCode.OK
    assert outcome.stdout == f"# Terms of Service\nYou keep the rights to your content.\n{BODY}\n"
    assert outcome.stderr == (
        "rendered in the browser: plain HTTP gave no document (the page is an empty shell that needs "
        'JavaScript ("enable JavaScript"))\n'
    )


def test_extract_url_with_the_http_fetcher_shows_the_shell_and_its_problem(pages: HTTPServer, tosmon) -> None:
    outcome = tosmon("extract", pages.url_for("/shell"), "--fetcher", "http")

    assert (outcome.code, outcome.stdout) == (ExitCode.DOCUMENT_FAILED, "")
    assert outcome.stderr == (
        "fetched over plain HTTP\n"
        'problem: the page is an empty shell that needs JavaScript ("enable JavaScript"): '
        "tosmon check would keep the page as evidence, not record it\n"
    )


def test_extract_url_reports_an_error_page(pages: HTTPServer, tosmon) -> None:
    outcome = tosmon("extract", pages.url_for("/oops"), "--select", "main")

    assert (outcome.code, outcome.stdout) == (ExitCode.DOCUMENT_FAILED, "# Page not found\nGo back home.\n")
    assert outcome.stderr == (
        "fetched over plain HTTP\n"
        'problem: the site answered with an error page ("Page not found") instead of the document: '
        "tosmon check would keep the page as evidence, not record it\n"
    )


def test_extract_url_that_fails_names_it(pages: HTTPServer, tosmon) -> None:
    url = pages.url_for("/gone")

    outcome = tosmon("extract", url)

    assert (outcome.code, outcome.stderr) == (ExitCode.DOCUMENT_FAILED, f"Error: {url}: HTTP 404 Not Found\n")


def watched(watchlist_file, url: str, select: str = "main") -> Path:
    return watchlist_file(f"services:\n  Example:\n    Terms:\n      url: {url}\n      select: {select}\n")


def test_extract_document_reruns_the_rules_on_its_latest_stored_page(
    pages: HTTPServer, watchlist_file, tosmon
) -> None:
    watchlist = watched(watchlist_file, pages.url_for("/terms"))
    assert tosmon("check", "--watchlist", watchlist).code == ExitCode.CHANGED
    pages.clear()  # the site is gone: the stored page is used
    meta = json.loads(next((watchlist.parent / "snapshots/Example/Terms/raw").glob("*.json")).read_text())
    before = sorted(p.name for p in (watchlist.parent / "snapshots").rglob("*"))

    outcome = tosmon("extract", "Example/Terms", "--watchlist", watchlist, "--remove", ".ad")

    assert (outcome.code, outcome.stdout) == (ExitCode.OK, TEXT)
    assert outcome.stderr == f"from {meta['file']} (fetched {meta['fetched_at']})\n"
    assert sorted(p.name for p in (watchlist.parent / "snapshots").rglob("*")) == before


def test_extract_document_with_a_selector_that_matches_nothing_says_so(
    pages: HTTPServer, watchlist_file, tosmon
) -> None:
    watchlist = watched(watchlist_file, pages.url_for("/terms"))
    tosmon("check", "--watchlist", watchlist)

    outcome = tosmon("extract", "Example/Terms", "--watchlist", watchlist, "--select", "#terms")

    assert (outcome.code, outcome.stdout) == (ExitCode.DOCUMENT_FAILED, "")
    assert outcome.stderr.splitlines()[-1] == (
        "problem: the selector '#terms' matches nothing on the page: "
        "tosmon check would keep the page as evidence, not record it"
    )


@pytest.mark.parametrize(
    ("args", "stderr"),
    [
        (
            ["Example/Privacy"],
            "Error: Example/Privacy: no such file, URL or document of {watchlist} "
            "(documents are named 'Service/Document type')",
        ),
        (
            ["Example/Terms"],
            "Error: Example/Terms: no page of it is stored in {snapshots} yet: run `tosmon check` first",
        ),
        (
            ["Example/Terms", "--fetcher", "http"],
            "Error: --fetcher applies to a URL, not to a local file or a stored document",
        ),
        (["https://", "--select", "main"], "Error: 'https://': expected an http(s) URL with a host"),
        (["https://example.com/terms", "--select", "div[["], "Error: invalid CSS selector 'div[[': "),
        (
            ["https://example.com/terms", "--fetcher", "chrome"],
            "Error: Invalid value for '--fetcher': 'chrome' is not one of 'http', 'browser', 'auto'.",
        ),
    ],
)
def test_extract_bad_input_is_one_line_naming_the_culprit(args, stderr: str, watchlist_file, tosmon) -> None:
    watchlist = watched(watchlist_file, "http://127.0.0.1:9/terms")

    outcome = tosmon("extract", *args, "--watchlist", watchlist)

    expected = stderr.format(watchlist=watchlist, snapshots=watchlist.parent / "snapshots")
    assert outcome.code == ExitCode.USAGE
    assert outcome.stderr.splitlines()[-1].startswith(expected)
    if not expected.endswith(": "):
        assert outcome.stderr.splitlines()[-1] == expected
    assert outcome.stdout == ""
