"""Documents spread over several pages: `combine:` joins their texts, in order, into one version."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

PAGE = "<html><body><nav>Menu</nav><main>{}</main><aside class='ad'>Buy now</aside></body></html>"
# The second page has another layout: it declares its own `select` and inherits the document's `remove`.
PAGE_2 = "<html><body><main><p>Related links</p></main><article>{}</article></body></html>"


@pytest.fixture
def pages(httpserver: HTTPServer) -> dict[str, str]:
    """Two pages of one set of terms; edit the dict to change what the server sends."""
    served = {
        "/terms/1": PAGE.format("<h1>Terms, part 1</h1><p>You keep the rights to your content.</p>"),
        "/terms/2": PAGE_2.format("<h2>Part 2</h2><p>Plans renew every month.</p><p class='ad'>Promo</p>"),
    }
    for path in served:
        httpserver.expect_request(path).respond_with_handler(
            lambda request: Response(served[request.path], content_type="text/html; charset=utf-8")
        )
    return served


@pytest.fixture
def watchlist(httpserver: HTTPServer, watchlist_file) -> Path:
    return watchlist_file(
        "services:\n"
        "  Example:\n"
        "    Terms:\n"
        "      select: main\n"
        "      remove: .ad\n"
        "      combine:\n"
        f"        - url: {httpserver.url_for('/terms/1')}\n"
        f"        - url: {httpserver.url_for('/terms/2')}\n"
        "          select: article\n"
    )


def check_json(tosmon, watchlist: Path) -> dict:
    outcome = tosmon("check", "--watchlist", watchlist, "--json")
    return json.loads(outcome.stdout)["documents"][0]


def stored(watchlist: Path, kind: str, pattern: str) -> list[Path]:
    return sorted((watchlist.parent / "snapshots" / "Example" / "Terms" / kind).glob(pattern))


def test_combined_document_joins_its_pages_in_order_into_one_version(pages, watchlist, tosmon) -> None:
    assert check_json(tosmon, watchlist)["status"] == "new"

    assert [path.read_text() for path in stored(watchlist, "versions", "*.md")] == [
        "# Terms, part 1\nYou keep the rights to your content.\n\n## Part 2\nPlans renew every month.\n"
    ]
    assert len(stored(watchlist, "raw", "*.html")) == 2  # each page kept as evidence


def test_change_on_the_second_page_is_a_change_of_the_document_and_is_flagged(
    pages, watchlist, tosmon
) -> None:
    check_json(tosmon, watchlist)
    pages["/terms/2"] = PAGE_2.format(
        "<h2>Part 2</h2><p>Plans renew every month.</p>"
        "<p>We may use your content to train our artificial intelligence models.</p>"
    )

    result = check_json(tosmon, watchlist)

    assert result["status"] == "changed"
    assert "training" in [flag["category"] for flag in result["flags"]]
    assert len(stored(watchlist, "versions", "*.md")) == 2
    assert len(stored(watchlist, "raw", "*.html")) == 3  # only the page that changed is stored again


def test_unchanged_pages_leave_the_document_unchanged_and_are_not_stored_again(
    pages, watchlist, tosmon
) -> None:
    check_json(tosmon, watchlist)

    assert check_json(tosmon, watchlist)["status"] == "unchanged"
    assert len(stored(watchlist, "raw", "*.html")) == 2


def test_a_page_that_fails_names_its_url_records_nothing_and_is_told_once(
    httpserver: HTTPServer, watchlist, tosmon
) -> None:
    httpserver.expect_request("/terms/1").respond_with_data(
        PAGE.format("<p>Part 1.</p>"), content_type="text/html"
    )
    httpserver.expect_request("/terms/2").respond_with_data("gone", status=404)

    result = check_json(tosmon, watchlist)

    assert (result["status"], result["error"], result["notice"]) == (
        "error",
        f"{httpserver.url_for('/terms/2')}: HTTP 404 Not Found",
        None,
    )
    assert stored(watchlist, "versions", "*.md") == []
    again = check_json(tosmon, watchlist)  # the next night: still failing, told quietly
    assert again["status"] == "error" and again["notice"].startswith("still a problem since ")


def test_a_page_whose_selector_matches_nothing_names_its_url(pages, watchlist, tosmon, httpserver) -> None:
    pages["/terms/2"] = "<html><body><p>Moved.</p></body></html>"

    result = check_json(tosmon, watchlist)

    assert result["status"] == "error"
    assert result["error"].startswith(
        f"{httpserver.url_for('/terms/2')}: the selector 'article' matches nothing on the page; "
        "the page is kept as evidence (raw/"
    )
    assert stored(watchlist, "versions", "*.md") == []


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            "      url: https://example.com/terms\n      combine:\n        - url: https://example.com/terms/2\n",
            "4:7: services.Example.Terms: give either `url` or `combine`, not both",
        ),
        ("      combine: []\n", "4:16: services.Example.Terms.combine: must not be an empty list"),
        (
            "      combine:\n        - select: main\n",
            "5:11: services.Example.Terms.combine[0]: missing `url`",
        ),
        (
            "      combine:\n        - url: https://example.com/1\n          selekt: main\n",
            "6:11: services.Example.Terms.combine[0].selekt: unknown key 'selekt' (did you mean 'select'?)",
        ),
    ],
)
def test_bad_combine_is_a_watchlist_error_naming_the_place(document, message, watchlist_file, tosmon) -> None:
    watchlist = watchlist_file("services:\n  Example:\n    Terms:\n" + document)

    outcome = tosmon("check", "--watchlist", watchlist)

    assert (outcome.code, outcome.stderr) == (4, f"{watchlist}:{message}\n")


# What Open Terms Archive declares page by page (tosmon import-ota writes it so): one page rendered
# in a browser, one page with its own `ignore` patterns.
SCRIPTED = (
    "<html><body><main id='terms'></main><script>document.getElementById('terms').innerHTML ="
    " '<p>Written by a script: you keep your rights.</p>';</script></body></html>"
)


def test_a_page_can_be_rendered_in_a_browser_while_the_others_are_fetched_plainly(
    httpserver: HTTPServer, watchlist_file, tosmon
) -> None:
    pytest.importorskip("playwright", reason="Playwright is not installed: pip install 'tosmon[browser]'")
    from tosmon.fetch.browser import find_chromium

    if find_chromium() is None:
        pytest.skip("no Chromium on this machine: apt-get install chromium")
    httpserver.expect_request("/app").respond_with_data(SCRIPTED, content_type="text/html")
    httpserver.expect_request("/plain").respond_with_data(
        "<html><body><main id='terms'><p>Served as HTML.</p></main></body></html>", content_type="text/html"
    )
    watchlist = watchlist_file(
        "services:\n  Example:\n    Terms:\n      select: '#terms'\n      fetcher: http\n      combine:\n"
        f"        - url: {httpserver.url_for('/app')}\n          fetcher: browser\n"
        f"        - url: {httpserver.url_for('/plain')}\n"
    )

    assert check_json(tosmon, watchlist)["status"] == "new"
    assert [path.read_text() for path in stored(watchlist, "versions", "*.md")] == [
        "Written by a script: you keep your rights.\n\nServed as HTML.\n"
    ]
    rendered = {
        request.path: "HeadlessChrome" in request.headers.get("User-Agent", "")
        for request, _ in httpserver.log
    }
    assert (rendered["/app"], rendered["/plain"]) == (True, False)


def test_a_page_can_have_its_own_ignore_patterns(
    pages, httpserver: HTTPServer, watchlist_file, tosmon
) -> None:
    pages["/terms/1"] = PAGE.format("<p>Updated 3 days ago.</p><p>You keep the rights.</p>")
    pages["/terms/2"] = PAGE_2.format("<p>Updated 3 days ago.</p><p>Plans renew.</p>")
    watchlist = watchlist_file(
        "services:\n  Example:\n    Terms:\n      select: main\n      combine:\n"
        f"        - url: {httpserver.url_for('/terms/1')}\n          ignore: 'Updated .* ago\\.'\n"
        f"        - url: {httpserver.url_for('/terms/2')}\n          select: article\n"
    )

    assert check_json(tosmon, watchlist)["status"] == "new"
    assert [path.read_text() for path in stored(watchlist, "versions", "*.md")] == [
        "You keep the rights.\n\nUpdated 3 days ago.\nPlans renew.\n"
    ]
