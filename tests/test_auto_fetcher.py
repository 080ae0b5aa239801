"""`fetcher: auto`, the default: plain HTTP first, the browser when the page needs it, remembered."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from test_browser import BODY
from werkzeug import Request, Response

from tosmon.check import check
from tosmon.store.files import Store
from tosmon.watchlist import load_watchlist

TERMS = f"<h1>Terms of Service</h1><p>You keep the rights to your content.</p><p>{BODY}</p>"
# The terms exist only once the script has run; browsers without scripts are told so.
SHELL = f"""<!doctype html><html><head><title>Terms</title></head><body>
<div id="app"></div>
<noscript>You need to enable JavaScript to run this app.</noscript>
<script>document.getElementById("app").innerHTML = {json.dumps(TERMS)};</script>
</body></html>"""
# The same terms, written by the server.
SERVER_RENDERED = (
    f"<!doctype html><html><head><title>Terms</title></head><body><div id='app'>{TERMS}</div></body></html>"
)
EXPECTED = f"# Terms of Service\nYou keep the rights to your content.\n{BODY}\n"


class Site:
    """A loopback site serving `page` at /terms and noting who asked: 'browser' or 'http'."""

    def __init__(self, httpserver: HTTPServer, page: str) -> None:
        self.page = page
        self.visits: list[str] = []
        httpserver.expect_request("/terms").respond_with_handler(self.serve)
        httpserver.expect_request("/plain").respond_with_data(SERVER_RENDERED, content_type="text/html")
        self.url = httpserver.url_for("/terms")

    def serve(self, request: Request) -> Response:
        self.visits.append("browser" if "Chrome" in request.headers.get("User-Agent", "") else "http")
        return Response(self.page, content_type="text/html; charset=utf-8")

    def take_visits(self) -> list[str]:
        visits, self.visits = self.visits, []
        return visits


@pytest.fixture
def site(httpserver: HTTPServer) -> Site:
    return Site(httpserver, SHELL)


def watchlist(watchlist_file, url: str, more: str = "") -> Path:
    return watchlist_file(f"services:\n  Example:\n    Terms:\n      url: {url}\n{more}")


def state(path: Path) -> dict:
    return json.loads((path.parent / "snapshots" / "Example" / "Terms" / "state.json").read_text())


def versions(path: Path) -> list[str]:
    folder = path.parent / "snapshots" / "Example" / "Terms" / "versions"
    return [p.read_text() for p in sorted(folder.glob("*.md"))]


def test_script_only_page_is_rendered_in_the_browser_then_straight_away_on_the_next_run(
    chromium, site: Site, watchlist_file, tosmon
) -> None:
    path = watchlist(watchlist_file, site.url)

    first = tosmon("check", "--watchlist", path, "--json")

    result = json.loads(first.stdout)["documents"][0]
    assert (first.code, result["status"]) == (1, "new")
    assert versions(path) == [EXPECTED]
    assert site.take_visits() == ["http", "browser"]
    assert result["notice"] == (
        'plain HTTP gave no document (the page is an empty shell that needs JavaScript ("enable '
        'JavaScript")): rendered in the browser, as it will be from now on (plain HTTP is tried again weekly)'
    )
    memory = state(path)["browser"]
    assert list(memory) == [site.url]
    assert memory[site.url]["since"] == memory[site.url]["http_tried"]

    second = tosmon("check", "--watchlist", path, "--json")

    assert (second.code, json.loads(second.stdout)["documents"][0]["status"]) == (0, "unchanged")
    assert site.take_visits() == ["browser"]
    assert state(path)["browser"] == memory


def test_plain_http_is_tried_again_after_a_week_and_taken_back_when_it_gives_the_rendered_text(
    chromium, site: Site, watchlist_file
) -> None:
    path = watchlist(watchlist_file, site.url)
    config = load_watchlist(path)
    store = Store(path.parent / "snapshots").open()
    day = datetime(2026, 11, 2, 4, tzinfo=UTC)

    def run(on: datetime) -> str:
        return check(config.documents, store, settings=config.fetch, now=lambda: on).results[0].status

    assert run(day) == "new"
    assert run(day + timedelta(days=6)) == "unchanged"
    assert site.take_visits() == ["http", "browser", "browser"]

    assert run(day + timedelta(days=7)) == "unchanged"  # plain HTTP again: still a shell
    assert site.take_visits() == ["http", "browser"]
    assert state(path)["browser"][site.url] == {
        "since": day.isoformat(),
        "http_tried": (day + timedelta(days=7)).isoformat(),
    }

    site.page = SERVER_RENDERED  # the site now writes its terms on the server
    assert run(day + timedelta(days=14)) == "unchanged"
    assert site.take_visits() == ["http", "browser"]  # the browser confirms plain HTTP's text
    assert "browser" not in state(path)
    assert run(day + timedelta(days=15)) == "unchanged"
    assert site.take_visits() == ["http"]
    assert versions(path) == [EXPECTED]  # a change of fetcher is never a change of terms


def test_a_complete_page_never_starts_the_browser(site: Site, watchlist_file, tosmon, monkeypatch) -> None:
    monkeypatch.setenv("PATH", "")  # no Chromium to start, and none needed
    site.page = SERVER_RENDERED
    path = watchlist(watchlist_file, site.url)

    assert tosmon("check", "--watchlist", path).code == 1
    assert site.take_visits() == ["http"]
    assert "browser" not in state(path)


def test_without_chromium_a_page_that_needs_it_is_an_error_naming_what_to_install_and_others_are_checked(
    site: Site, httpserver: HTTPServer, watchlist_file, tosmon, tmp_path: Path, monkeypatch
) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    path = watchlist_file(
        f"services:\n  Example:\n    Terms:\n      url: {site.url}\n"
        f"    Privacy:\n      url: {httpserver.url_for('/plain')}\n"
    )

    outcome = tosmon("check", "--watchlist", path, "--json")

    results = {r["document"]: r for r in json.loads(outcome.stdout)["documents"]}
    assert outcome.code == 3
    assert (results["Terms"]["status"], results["Terms"]["error"]) == (
        "error",
        'plain HTTP gave no document (the page is an empty shell that needs JavaScript ("enable JavaScript")), '
        "and rendering the page needs Playwright and Chromium: pip install 'tosmon[browser]' and "
        "apt-get install chromium (no Chromium found)",
    )
    assert results["Privacy"]["status"] == "new"
    assert versions(path) == []  # the shell is not the document


def test_http_fetcher_never_uses_the_browser(chromium, site: Site, watchlist_file, tosmon) -> None:
    path = watchlist(watchlist_file, site.url, "      fetcher: http\n")

    result = json.loads(tosmon("check", "--watchlist", path, "--json").stdout)["documents"][0]

    assert result["status"] == "error"
    assert result["error"].startswith(
        'the page is an empty shell that needs JavaScript ("enable JavaScript"); the page is kept as evidence'
    )
    assert site.take_visits() == ["http"]


def test_a_lifted_bot_wall_gives_the_page_back_to_plain_http(
    chromium, httpserver: HTTPServer, watchlist_file
) -> None:
    wall = {"up": True}
    visits: list[str] = []

    def serve(request: Request) -> Response:
        browser = "Chrome" in request.headers.get("User-Agent", "")
        visits.append("browser" if browser else "http")
        if wall["up"] and not browser:
            return Response("<h1>Access denied</h1>", status=403, content_type="text/html")
        return Response(SERVER_RENDERED, content_type="text/html")

    httpserver.expect_request("/terms").respond_with_handler(serve)
    path = watchlist(watchlist_file, httpserver.url_for("/terms"))
    config = load_watchlist(path)
    store = Store(path.parent / "snapshots").open()
    day = datetime(2026, 11, 2, 4, tzinfo=UTC)

    def run(on: datetime) -> str:
        return check(config.documents, store, settings=config.fetch, now=lambda: on).results[0].status

    assert run(day) == "new"
    assert visits == ["http", "browser"]
    assert "browser" in state(path)

    wall["up"] = False
    assert run(day + timedelta(days=8)) == "unchanged"
    assert "browser" not in state(path)  # the rendered page, the same as before, vouched for plain HTTP
    assert versions(path) == [EXPECTED]


def test_each_page_of_a_combined_document_remembers_whether_it_needs_the_browser(
    chromium, site: Site, httpserver: HTTPServer, watchlist_file, tosmon
) -> None:
    plain = httpserver.url_for("/plain")
    path = watchlist_file(
        f"services:\n  Example:\n    Terms:\n      combine:\n        - url: {site.url}\n        - url: {plain}\n"
    )

    assert (
        json.loads(tosmon("check", "--watchlist", path, "--json").stdout)["documents"][0]["status"] == "new"
    )
    assert site.take_visits() == ["http", "browser"]
    assert list(state(path)["browser"]) == [site.url]  # not the page plain HTTP gives whole

    assert tosmon("check", "--watchlist", path).code == 0
    assert site.take_visits() == ["browser"]
    assert versions(path) == [f"{EXPECTED}\n{EXPECTED}"]
