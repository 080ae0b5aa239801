"""Error pages served with status 200 are never the document, however long they are served."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from tosmon.errors import ExitCode
from tosmon.health import notice_problem, page_problem

TERMS = [
    "You keep ownership of the content you upload to the service and you remain responsible for it.",
    "We may suspend accounts that break these terms after telling you why and giving you time to answer.",
    "These terms are governed by the law of the country where you live, unless the law says otherwise.",
]
GOOD = "<html><body><main><h1>Terms</h1>" + "".join(f"<p>{p}</p>" for p in TERMS) + "</main></body></html>"
# What sites serve, with status 200, while their page is broken; one a language.
ERROR_PAGES = {
    "en": "<h1>Sorry, this page isn't available.</h1><p>The link you followed may be broken.</p>",
    "fr": "<h1>Une erreur s’est produite</h1><p>Veuillez réessayer plus tard.</p>",
    "de": "<h1>Seite nicht gefunden</h1><p>Zurück zur Startseite</p>",
    "es": "<h1>Algo salió mal</h1><p>Inténtalo de nuevo más tarde.</p>",
    "it": "<h1>Pagina non trovata</h1><p>Torna alla home page.</p>",
    "pt": "<h1>Página não encontrada</h1><p>Voltar ao início.</p>",
    "nl": "<h1>Er is iets misgegaan</h1><p>Probeer het later opnieuw.</p>",
}


def error_page(language: str) -> str:
    return f"<html><body><main>{ERROR_PAGES[language]}</main></body></html>"


@pytest.fixture
def serve(
    httpserver: HTTPServer, watchlist_file: Callable[[str], Path], tosmon
) -> Callable[[str], tuple[int, dict]]:
    """Serve `html` at /terms with status 200 and check it; (exit code, the document's result)."""
    watchlist = watchlist_file(
        f"services:\n  Example:\n    Terms:\n      url: {httpserver.url_for('/terms')}\n      select: main\n"
    )

    def check(html: str) -> tuple[int, dict]:
        httpserver.clear()
        httpserver.expect_request("/terms").respond_with_data(html, content_type="text/html; charset=utf-8")
        outcome = tosmon("check", "--watchlist", watchlist, "--json")
        return outcome.code, json.loads(outcome.stdout)["documents"][0]

    check.folder = watchlist.parent / "snapshots" / "Example" / "Terms"  # type: ignore[attr-defined]
    return check


def test_error_pages_in_five_languages_are_reported_once_never_recorded_then_recovered(serve) -> None:
    assert serve(GOOD)[1]["status"] == "new"

    results = [serve(error_page(language)) for language in ("en", "fr", "de", "es", "pt")]

    assert [(code, r["status"], r["repeat"]) for code, r in results] == [
        (ExitCode.DOCUMENT_FAILED, "error", False),  # reported
        *[(ExitCode.DOCUMENT_FAILED, "error", True)] * 4,  # listed, not alerted again
    ]
    assert results[0][1]["error"].startswith(
        'the site answered with an error page ("this page isn\'t available") instead of the document; '
        "the page is kept as evidence (raw/"
    )
    assert results[3][1]["error"].startswith('the site answered with an error page ("Algo salió mal")')
    assert len(list((serve.folder / "versions").glob("*.md"))) == 1
    assert len(list((serve.folder / "raw").glob("*.html"))) == 6  # every error page kept as evidence

    code, back = serve(GOOD)

    assert (code, back["status"], back["recovered"]) == (ExitCode.OK, "unchanged", True)
    assert back["notice"].startswith('recovered: the site answered with an error page ("this page')
    assert len(list((serve.folder / "versions").glob("*.md"))) == 1


def test_the_same_error_page_five_times_in_a_row_never_becomes_the_document(serve) -> None:
    serve(GOOD)

    results = [serve(error_page("nl"))[1] for _ in range(5)]

    assert [(r["status"], r["repeat"]) for r in results] == [("error", False)] + [("error", True)] * 4
    assert len(list((serve.folder / "versions").glob("*.md"))) == 1  # not "accepted after 3 checks"


def test_an_error_page_is_a_problem_even_as_the_first_page_seen(serve) -> None:
    code, result = serve(error_page("it"))

    assert (code, result["status"]) == (ExitCode.DOCUMENT_FAILED, "error")
    assert list((serve.folder / "versions").glob("*")) == []


@pytest.mark.parametrize("language", sorted(ERROR_PAGES))
def test_error_page_words_are_recognised_in_each_language(language: str) -> None:
    text = (
        ERROR_PAGES[language]
        .replace("<h1>", "")
        .replace("</h1>", "\n")
        .replace("<p>", "")
        .replace("</p>", "")
    )

    problem = page_problem(text, b"", None)

    assert problem is not None and problem.kind == "error-page"
    assert not problem.confirmable


@pytest.mark.parametrize(
    ("text", "body"),
    [
        ("", b"<html><head><title>404 Not Found</title></head><body></body></html>"),
        ("Oops", b"<html><head><title>Something went wrong | Example</title></head></html>"),
    ],
)
def test_an_error_title_over_an_empty_page_is_an_error_page(text: str, body: bytes) -> None:
    problem = notice_problem(text, body)
    assert problem is not None and problem.kind == "error-page"


def test_a_long_legal_text_mentioning_error_words_is_not_an_error_page() -> None:
    text = " ".join(TERMS * 20) + " If a payment fails, something went wrong: try again later."
    assert page_problem(text, b"", None) is None


def test_a_page_saying_it_needs_javascript_is_a_shell_not_a_document() -> None:
    body = b"<html><body><div id='root'></div><noscript>Bitte aktivieren Sie JavaScript.</noscript></body></html>"

    problem = page_problem("", body, None)

    assert problem is not None and (problem.kind, problem.confirmable) == ("script", False)
    assert problem.reason == 'the page is an empty shell that needs JavaScript ("aktivieren Sie JavaScript")'


def test_an_error_page_in_a_combined_document_is_not_recorded_and_told_once_until_it_recovers(
    httpserver: HTTPServer, watchlist_file, tosmon
) -> None:
    second = {"body": error_page("fr")}
    httpserver.expect_request("/one").respond_with_data(GOOD, content_type="text/html")
    httpserver.expect_request("/two").respond_with_handler(
        lambda _: Response(second["body"], content_type="text/html")
    )
    two = httpserver.url_for("/two")
    watchlist = watchlist_file(
        "services:\n  Example:\n    Terms:\n      select: main\n      combine:\n"
        f"        - url: {httpserver.url_for('/one')}\n        - url: {two}\n"
    )

    def check() -> dict:
        return json.loads(tosmon("check", "--watchlist", watchlist, "--json").stdout)["documents"][0]

    first = check()
    assert first["status"] == "error" and first["notice"] is None
    assert first["error"].startswith(
        f'{two}: the site answered with an error page ("Une erreur s’est produite") instead of the document; '
        "the page is kept as evidence (raw/"
    )
    assert list(watchlist.parent.glob("snapshots/Example/Terms/versions/*")) == []
    again = check()  # the next night: the same problem, told quietly (no new alert)
    assert again["status"] == "error" and again["notice"].startswith("still a problem since ")
    assert list(watchlist.parent.glob("snapshots/Example/Terms/versions/*")) == []

    second["body"] = GOOD
    back = check()
    assert back["status"] == "new" and back["notice"].startswith("recovered: ")
    assert len(list(watchlist.parent.glob("snapshots/Example/Terms/versions/*.md"))) == 1
    assert check()["notice"] is None  # recovered once, then ordinary again
