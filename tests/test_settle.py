"""A rendered page is taken once it has finished: never a placeholder, never a page still changing."""

from __future__ import annotations

import json
from pathlib import Path

from pytest_httpserver import HTTPServer
from test_browser import BODY

TERMS = f"<h1>Terms of Service</h1><p>You keep the rights to your content.</p><p>{BODY}</p>"
# The container says "Loading…" for two seconds, with no request under way, before the terms appear.
LOADING = f"""<!doctype html><html><body><nav>Home | Pricing</nav>
<main id="terms"><p>Loading…</p></main>
<script>setTimeout(() => {{ document.getElementById("terms").innerHTML = {json.dumps(TERMS)}; }}, 2000);</script>
</body></html>"""
# A counter inside the terms that changes every 100 ms, for ever.
TICKING = f"""<!doctype html><html><body><main id="terms">{TERMS}<p id="tick">0</p></main>
<script>let n = 0; setInterval(() => {{ document.getElementById("tick").textContent = String(++n); }}, 100);</script>
</body></html>"""


def serve(httpserver: HTTPServer, page: str) -> str:
    httpserver.expect_request("/terms").respond_with_data(page, content_type="text/html; charset=utf-8")
    return httpserver.url_for("/terms")


def check(tosmon, watchlist_file, url: str, settings: str = "") -> tuple[dict, Path]:
    path = watchlist_file(
        f"{settings}services:\n  Example:\n    Terms:\n      url: {url}\n      select: '#terms'\n"
        "      fetcher: browser\n"
    )
    outcome = tosmon("check", "--watchlist", path, "--json")
    return json.loads(outcome.stdout)["documents"][0], path.parent / "snapshots" / "Example" / "Terms"


def test_a_container_saying_loading_for_two_seconds_gives_the_terms(
    chromium, httpserver: HTTPServer, watchlist_file, tosmon
) -> None:
    result, folder = check(tosmon, watchlist_file, serve(httpserver, LOADING))

    assert result["status"] == "new"
    assert [p.read_text() for p in (folder / "versions").glob("*.md")] == [
        f"# Terms of Service\nYou keep the rights to your content.\n{BODY}\n"
    ]


def test_auto_fetcher_waits_for_the_terms_too(
    chromium, httpserver: HTTPServer, watchlist_file, tosmon
) -> None:
    path = watchlist_file(
        f"services:\n  Example:\n    Terms:\n      url: {serve(httpserver, LOADING)}\n      select: '#terms'\n"
    )

    result = json.loads(tosmon("check", "--watchlist", path, "--json").stdout)["documents"][0]

    assert result["status"] == "new"  # plain HTTP said "Loading…" (tiny): rendered, and waited for
    assert "Loading" not in "".join(p.read_text() for p in path.parent.glob("snapshots/*/*/versions/*.md"))


def test_a_page_that_keeps_changing_is_an_error_not_a_version(
    chromium, httpserver: HTTPServer, watchlist_file, tosmon
) -> None:
    result, folder = check(tosmon, watchlist_file, serve(httpserver, TICKING), "fetch: {timeout: 5}\n")

    assert (result["status"], result["error"]) == (
        "error",
        "the page never settled: its text was still changing after 5 s; not recorded",
    )
    assert list((folder / "versions").glob("*")) == []
