"""Health guards and flip-flops: broken pages are problems reported once, never versions of the terms."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from tosmon.errors import ExitCode

CLAUSES = [
    "You keep ownership of the content you upload to the service and you remain responsible for it.",
    "We may suspend accounts that break these terms after telling you why and giving you time to answer.",
    "These terms are governed by the law of the country where you live, unless the law says otherwise.",
    "You can close your account at any time from the settings page, and we will delete your content.",
]
FRENCH = [
    "Vous restez propriétaire du contenu que vous publiez sur le service et vous en êtes responsable.",
    "Nous pouvons suspendre les comptes qui ne respectent pas les présentes conditions après vous avoir prévenu.",
    "Les présentes conditions sont régies par la loi du pays où vous vivez, sauf si la loi en dispose autrement.",
    "Vous pouvez fermer votre compte à tout moment depuis la page des réglages et nous supprimerons vos contenus.",
]
CHALLENGE = (
    "<html><head><title>Just a moment...</title></head><body><div id='challenge-platform'>"
    "Checking if the site connection is secure. Enable JavaScript and cookies to continue.</div></body></html>"
)
LOGIN = (
    "<html><body><main><h1>Sign in</h1><form><input type='email' name='email'>"
    "<input type='password' name='password'><button>Log in</button></form></main></body></html>"
)


def page(paragraphs: list[str], extra: str = "") -> str:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return f"<html><body><main id='terms'><h1>Terms</h1>{body}{extra}</main></body></html>"


@pytest.fixture
def site(httpserver: HTTPServer, watchlist_file: Callable[[str], Path]) -> Callable[..., object]:
    """Serve `html` at /terms and run `tosmon check --json`; returns (exit code, the document's result)."""
    watchlist = watchlist_file(
        f"services:\n  Example:\n    Terms of Service:\n      url: {httpserver.url_for('/terms')}\n"
    )

    def check(tosmon: Callable[..., object], html: str) -> tuple[int, dict[str, object]]:
        httpserver.clear()
        httpserver.expect_request("/terms").respond_with_data(html, content_type="text/html; charset=utf-8")
        outcome = tosmon("check", "--watchlist", watchlist, "--json")
        return outcome.code, json.loads(outcome.stdout)["documents"][0]  # type: ignore[attr-defined]

    check.store = watchlist.parent / "snapshots" / "Example" / "Terms-of-Service"  # type: ignore[attr-defined]
    check.watchlist = watchlist  # type: ignore[attr-defined]
    return check


def versions(store: Path) -> list[Path]:
    return sorted((store / "versions").glob("*.md"))


def raw(store: Path) -> list[Path]:
    return sorted(p for p in (store / "raw").glob("*") if p.suffix != ".json")


def test_bot_challenge_is_reported_once_kept_as_evidence_and_never_recorded(tosmon, site) -> None:
    assert site(tosmon, page(CLAUSES))[0] == ExitCode.CHANGED
    code, result = site(tosmon, CHALLENGE)
    assert code == ExitCode.DOCUMENT_FAILED
    assert result["status"] == "error"
    assert result["error"].startswith("the site answered with a bot challenge instead of the page")
    assert len(versions(site.store)) == 1
    assert len(raw(site.store)) == 2  # the challenge is evidence
    code, result = site(tosmon, CHALLENGE)
    assert code == ExitCode.DOCUMENT_FAILED
    assert result["status"] == "error"
    assert result["notice"].startswith("still a problem since ")
    assert result["repeat"] is True
    code, result = site(tosmon, page(CLAUSES))
    assert code == ExitCode.OK
    assert result["notice"].startswith("recovered: the site answered with a bot challenge")
    assert len(versions(site.store)) == 1


def test_login_page_is_a_problem_not_a_version(tosmon, site) -> None:
    site(tosmon, page(CLAUSES))
    code, result = site(tosmon, LOGIN)
    assert code == ExitCode.DOCUMENT_FAILED
    assert result["error"].startswith("the site answered with a login page instead of the document")
    assert len(versions(site.store)) == 1


def test_empty_page_is_an_error_and_not_recorded(tosmon, site) -> None:
    code, result = site(tosmon, "<html><body></body></html>")
    assert code == ExitCode.DOCUMENT_FAILED
    assert result["error"].startswith(
        "the page has no text (empty page?); the page is kept as evidence (raw/"
    )
    assert versions(site.store) == []


def test_text_that_lost_most_of_its_content_is_a_problem(tosmon, site) -> None:
    site(tosmon, page(CLAUSES * 4))
    code, result = site(tosmon, page(CLAUSES[:2]))
    assert code == ExitCode.DOCUMENT_FAILED
    assert result["error"].startswith("the text lost most of its content (")
    assert len(versions(site.store)) == 1


def test_shrunken_text_seen_three_checks_in_a_row_becomes_the_document(tosmon, site) -> None:
    site(tosmon, page(CLAUSES * 4))
    for _ in range(2):
        site(tosmon, page(CLAUSES[:2]))
    _code, result = site(tosmon, page(CLAUSES[:2]))
    assert result["status"] == "changed"
    assert result["notice"].startswith("accepted as the document after 3 identical checks")
    assert len(versions(site.store)) == 2


def test_page_in_another_language_is_a_problem(tosmon, site) -> None:
    site(tosmon, page(CLAUSES))
    code, result = site(tosmon, page(FRENCH))
    assert code == ExitCode.DOCUMENT_FAILED
    assert result["error"].startswith("the page is now in another language (fr; it was in en)")


def test_selector_that_no_longer_matches_alerts_once(tosmon, httpserver, watchlist_file) -> None:
    url = httpserver.url_for("/terms")
    watchlist = watchlist_file(
        f"services:\n  Example:\n    Terms of Service:\n      url: {url}\n      select: '#terms'\n"
    )
    httpserver.expect_request("/terms").respond_with_data(page(CLAUSES), content_type="text/html")
    assert tosmon("check", "--watchlist", watchlist).code == ExitCode.CHANGED
    httpserver.clear()
    httpserver.expect_request("/terms").respond_with_data(
        page(CLAUSES).replace("terms", "legal"), content_type="text/html"
    )
    first = tosmon("check", "--watchlist", watchlist, "--json")
    second = tosmon("check", "--watchlist", watchlist, "--json")
    assert first.code == ExitCode.DOCUMENT_FAILED
    assert (
        "the selector '#terms' matches nothing on the page"
        in json.loads(first.stdout)["documents"][0]["error"]
    )
    assert second.code == ExitCode.DOCUMENT_FAILED
    assert [json.loads(o.stdout)["documents"][0]["repeat"] for o in (first, second)] == [False, True]


def test_ab_test_alternating_between_two_versions_is_reported_once(tosmon, site) -> None:
    a, b = page(CLAUSES), page(CLAUSES, "<p>Try our new plan: the first month is free for everyone.</p>")
    statuses = [site(tosmon, html)[1]["status"] for html in (a, b, a, b, a, b)]
    assert statuses == ["new", "changed", "changed", "unchanged", "unchanged", "unchanged"]
    code, result = site(tosmon, a)
    assert code == ExitCode.OK
    assert result["notice"].startswith("alternates between two known versions")
    code, result = site(
        tosmon, page([*CLAUSES[:3], "A brand new clause about arbitration of every dispute."])
    )
    assert result["status"] == "changed"


def test_changed_selectors_are_a_change_of_rules_not_of_terms(tosmon, httpserver, watchlist_file) -> None:
    url = httpserver.url_for("/terms")
    html = page(CLAUSES, "<p class='promo'>Download our app today and get a discount on the annual plan.</p>")
    httpserver.expect_request("/terms").respond_with_data(html, content_type="text/html")
    watchlist = watchlist_file(f"services:\n  Example:\n    Terms of Service:\n      url: {url}\n")
    tosmon("check", "--watchlist", watchlist)
    watchlist.write_text(watchlist.read_text() + "      remove: .promo\n")
    outcome = tosmon("check", "--watchlist", watchlist, "--json")
    result = json.loads(outcome.stdout)["documents"][0]
    assert outcome.code == ExitCode.OK
    assert result["status"] == "unchanged"
    assert result["notice"].startswith("the selectors changed: the last page was re-extracted with them as ")


def test_changed_selectors_and_changed_terms_report_only_the_terms(
    tosmon, httpserver, watchlist_file
) -> None:
    url = httpserver.url_for("/terms")
    promo = "<p class='promo'>Download our app today and get a discount on the annual plan.</p>"
    httpserver.expect_request("/terms").respond_with_data(page(CLAUSES, promo), content_type="text/html")
    watchlist = watchlist_file(f"services:\n  Example:\n    Terms of Service:\n      url: {url}\n")
    tosmon("check", "--watchlist", watchlist)
    watchlist.write_text(watchlist.read_text() + "      remove: .promo\n")
    httpserver.clear()
    new_clause = "We may use your content to train our artificial intelligence models unless you opt out."
    httpserver.expect_request("/terms").respond_with_data(
        page([*CLAUSES, new_clause], promo), content_type="text/html"
    )
    result = json.loads(tosmon("check", "--watchlist", watchlist, "--json").stdout)["documents"][0]
    assert result["status"] == "changed"
    assert result["changes"]["added"] == [new_clause]
    assert result["changes"]["removed"] == []


def test_healthy_page_loading_a_challenge_script_is_not_a_challenge() -> None:
    from tosmon.health import page_problem

    html = page(CLAUSES, "<script src='/cdn-cgi/challenge-platform/scripts/jsd/main.js'></script>").encode()
    text = "\n".join(CLAUSES)
    assert page_problem(text, html, previous=text) is None


def test_text_that_only_moved_its_line_breaks_is_unchanged(tosmon, site) -> None:
    site(tosmon, page(CLAUSES))
    regrouped = (
        f"<html><body><main id='terms'><h1>Terms</h1><p>{CLAUSES[0]} {CLAUSES[1]}</p>"
        + "".join(f"<div>{c}</div>" for c in CLAUSES[2:])
        + "</main></body></html>"
    )
    code, result = site(tosmon, regrouped)
    assert (code, result["status"]) == (ExitCode.OK, "unchanged")
    assert len(versions(site.store)) == 1


def test_tiny_page_is_a_problem_until_it_comes_back_unchanged_three_times(tosmon, site) -> None:
    tiny = "<html><body><main><p>Imprint: Example Ltd, 1 Main Street, Dublin.</p></main></body></html>"
    results = [site(tosmon, tiny) for _ in range(3)]
    assert [code for code, _ in results] == [
        ExitCode.DOCUMENT_FAILED,
        ExitCode.DOCUMENT_FAILED,
        ExitCode.CHANGED,
    ]
    assert results[0][1]["error"].startswith("the page has almost no text (6 words)")
    assert results[2][1]["status"] == "new"


def test_failing_site_alerts_when_it_starts_failing_and_when_it_recovers(tosmon, site, httpserver) -> None:
    site(tosmon, page(CLAUSES))
    outcomes = []
    for _ in range(2):
        httpserver.clear()
        httpserver.expect_request("/terms").respond_with_data("gone", status=404)
        outcomes.append(tosmon("check", "--watchlist", site.watchlist, "--json"))
    first, second = (json.loads(o.stdout)["documents"][0] for o in outcomes)
    assert [o.code for o in outcomes] == [ExitCode.DOCUMENT_FAILED, ExitCode.DOCUMENT_FAILED]
    assert first["error"] == "HTTP 404 Not Found"
    assert (first["repeat"], second["repeat"]) == (False, True)
    assert second["notice"].startswith("still a problem since ")
    code, result = site(tosmon, page(CLAUSES))
    assert (code, result["status"]) == (ExitCode.OK, "unchanged")
    assert result["notice"].startswith("recovered: HTTP 404 Not Found (since ")
    assert result["recovered"] is True
