"""`tosmon reextract`: after the selectors change, versions are rebuilt from the stored raw pages."""

from __future__ import annotations

import json

from tosmon.errors import ExitCode

PROMO = "<p class='promo'>Download our app today and get {} off the annual plan, only this week.</p>"
TERMS = (
    "<p>You keep ownership of the content you upload to the service and you remain responsible for it.</p>"
    "<p>We may suspend accounts that break these terms after telling you why and giving you time to answer.</p>"
)


def page(discount: str, extra: str = "") -> str:
    return f"<html><body><main>{TERMS}{extra}{PROMO.format(discount)}</main></body></html>"


def test_reextract_rebuilds_versions_as_a_change_of_rules(tosmon, httpserver, watchlist_file) -> None:
    url = httpserver.url_for("/terms")
    watchlist = watchlist_file(f"services:\n  Example:\n    Terms of Service:\n      url: {url}\n")
    for html in (
        page("10 %"),
        page("20 %"),
        page("20 %", "<p>Disputes go to the courts of Dublin, Ireland.</p>"),
    ):
        httpserver.clear()
        httpserver.expect_request("/terms").respond_with_data(html, content_type="text/html")
        tosmon("check", "--watchlist", watchlist)
    watchlist.write_text(watchlist.read_text() + "      remove: .promo\n")

    outcome = tosmon("reextract", "Example/Terms of Service", "--watchlist", watchlist)

    assert outcome.code == ExitCode.OK
    assert outcome.stdout == "Example/Terms of Service: 3 snapshots re-extracted, 2 versions recorded\n"
    directory = watchlist.parent / "snapshots" / "Example" / "Terms-of-Service" / "versions"
    metas = [json.loads(p.read_text()) for p in sorted(directory.glob("*.json"))]
    rebuilt = [m for m in metas if m.get("reason") == "rules-changed"]
    assert len(rebuilt) == 2 and all(m["source"] == "reextract" for m in rebuilt)
    check = tosmon("check", "--watchlist", watchlist, "--json")
    assert check.code == ExitCode.OK
    assert json.loads(check.stdout)["documents"][0]["status"] == "unchanged"


def test_reextract_unknown_document_is_a_usage_error(tosmon, watchlist_file) -> None:
    watchlist = watchlist_file(
        "services:\n  Example:\n    Terms of Service:\n      url: https://example.com/t\n"
    )
    outcome = tosmon("reextract", "Example/Privacy", "--watchlist", watchlist)
    assert outcome.code == ExitCode.USAGE
    assert outcome.stderr == (
        f"Error: unknown document 'Example/Privacy' in {watchlist} "
        "(documents are named like 'Example/Terms of Service')\n"
    )


def test_reextract_without_snapshots_says_so(tosmon, watchlist_file) -> None:
    watchlist = watchlist_file(
        "services:\n  Example:\n    Terms of Service:\n      url: https://example.com/t\n"
    )
    outcome = tosmon("reextract", "--watchlist", watchlist)
    assert outcome.code == ExitCode.OK
    assert outcome.stdout == "Example/Terms of Service: no stored snapshot to re-extract\n"


def test_reextract_skips_a_missing_raw_snapshot_and_goes_on(tosmon, httpserver, watchlist_file) -> None:
    url = httpserver.url_for("/terms")
    watchlist = watchlist_file(f"services:\n  Example:\n    Terms of Service:\n      url: {url}\n")
    for html in (page("10 %"), page("20 %")):
        httpserver.clear()
        httpserver.expect_request("/terms").respond_with_data(html, content_type="text/html")
        tosmon("check", "--watchlist", watchlist)
    raw = watchlist.parent / "snapshots" / "Example" / "Terms-of-Service" / "raw"
    first = min((p for p in raw.glob("*.html")), key=lambda p: p.stat().st_mtime)
    first.unlink()
    outcome = tosmon("reextract", "--watchlist", watchlist)
    assert outcome.code == ExitCode.OK
    assert outcome.stdout == "Example/Terms of Service: 2 snapshots re-extracted, 1 version recorded\n"
    assert outcome.stderr == f"  skipped {first}: unreadable: No such file or directory\n"
