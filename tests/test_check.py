"""`tosmon check` end to end, against real HTTP servers on 127.0.0.1."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tosmon.errors import ExitCode
from tosmon.models import CheckResult, CheckRun, Document
from tosmon.outputs.report import run_json

TERMS = """<html><body>
<nav><a href="/">Home</a></nav>
<main>
<h1>Terms of Service</h1>
<p>Last updated: {date}.</p>
<h2>Your content</h2>
<p>You keep the rights to the music you upload.</p>
{extra}
<h2>Acceptable use</h2>
<ul><li>Do not upload music you have no right to share.</li><li>Do not spam other users.</li></ul>
</main>
<footer>© Example</footer>
</body></html>"""
AI_CLAUSE = "<p>You agree that we may use your uploads to train our artificial intelligence models.</p>"


def serve(httpserver: HTTPServer, path: str, body: str, status: int = 200) -> str:
    httpserver.expect_request(path).respond_with_data(
        body, status=status, content_type="text/html; charset=utf-8"
    )
    return httpserver.url_for(path)


def check_json(tosmon, watchlist: Path) -> tuple[int, dict]:
    outcome = tosmon("check", "--watchlist", watchlist, "--json")
    return outcome.code, json.loads(outcome.stdout)


def test_check_records_then_reports_unchanged_then_flags_new_ai_training_clause(
    tosmon, watchlist_file, httpserver: HTTPServer
) -> None:
    page = {"body": TERMS.format(date="1 March 2024", extra="")}
    httpserver.expect_request("/terms").respond_with_handler(
        lambda _: Response(page["body"], content_type="text/html; charset=utf-8")
    )
    watchlist = watchlist_file(
        f"services:\n  Music Site:\n    Terms of Service:\n      url: {httpserver.url_for('/terms')}\n"
    )

    code, first = check_json(tosmon, watchlist)
    assert code == ExitCode.CHANGED
    assert first["schema_version"] == 1
    [document] = first["documents"]
    assert (document["service"], document["document"], document["status"]) == (
        "Music Site",
        "Terms of Service",
        "new",
    )
    assert document["flags"] == [] and document["error"] is None

    code, second = check_json(tosmon, watchlist)
    assert code == ExitCode.OK
    assert second["documents"][0]["status"] == "unchanged"

    page["body"] = TERMS.format(date="1 March 2024", extra=AI_CLAUSE)
    code, third = check_json(tosmon, watchlist)
    assert code == ExitCode.FLAGGED
    document = third["documents"][0]
    assert document["status"] == "changed"
    clauses = {flag["clause"] for flag in document["flags"]}
    assert clauses == {"You agree that we may use your uploads to train our artificial intelligence models."}
    categories = {flag["category"] for flag in document["flags"]}
    assert "training" in categories
    training = next(f for f in document["flags"] if f["category"] == "training")
    assert training["heading"] == "Terms of Service > Your content"
    assert "train" in training["terms"]

    page["body"] = TERMS.format(date="2 March 2024", extra=AI_CLAUSE.replace("models.", "models. "))
    code, fourth = check_json(tosmon, watchlist)
    assert code == ExitCode.CHANGED
    assert fourth["documents"][0]["status"] == "changed"
    assert fourth["documents"][0]["flags"] == []


def test_check_stores_raw_snapshot_with_metadata_and_versions(
    tosmon, watchlist_file, httpserver: HTTPServer
) -> None:
    url = serve(httpserver, "/privacy", TERMS.format(date="1 May 2024", extra=""))
    watchlist = watchlist_file(f"services:\n  Site:\n    Privacy Policy:\n      url: {url}\n")
    tosmon("check", "--watchlist", watchlist)

    folder = watchlist.parent / "snapshots" / "Site" / "Privacy-Policy"
    [raw_meta] = (folder / "raw").glob("*.json")
    meta = json.loads(raw_meta.read_text())
    assert meta["requested_url"] == url and meta["final_url"] == url and meta["status"] == 200
    assert meta["content_type"].startswith("text/html")
    assert (folder / meta["file"]).read_bytes() == TERMS.format(date="1 May 2024", extra="").encode()
    [version] = (folder / "versions").glob("*.md")
    assert version.read_text().startswith("# Terms of Service\n")
    assert "Home" not in version.read_text() and "© Example" not in version.read_text()
    assert json.loads(version.with_suffix(".json").read_text())["snapshot"] == meta["file"]
    assert json.loads((watchlist.parent / "snapshots" / "tosmon-store.json").read_text()) == {
        "schema_version": 1
    }


def _refusing_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again: nothing listens there


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A server that accepts connections and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/terms"


def test_failing_documents_do_not_stop_the_others(
    tosmon, watchlist_file, httpserver: HTTPServer, silent_server: str
) -> None:
    good = serve(httpserver, "/good", TERMS.format(date="1 June 2024", extra=""))
    server_error = serve(httpserver, "/500", "oops", status=500)
    missing = serve(httpserver, "/404", "not here", status=404)
    empty = serve(httpserver, "/empty", "")

    watchlist = watchlist_file(f"""
fetch: {{timeout: 1, retries: 0}}
services:
  Good:
    Terms of Service: {{url: "{good}"}}
  Refused:
    Terms of Service: {{url: "http://127.0.0.1:{_refusing_port()}/terms"}}
  Broken:
    Terms of Service: {{url: "{server_error}"}}
  Slow:
    Terms of Service: {{url: "{silent_server}"}}
  Missing:
    Terms of Service: {{url: "{missing}"}}
  Empty:
    Terms of Service: {{url: "{empty}"}}
""")
    code, report = check_json(tosmon, watchlist)
    assert code == ExitCode.DOCUMENT_FAILED
    status = {d["service"]: (d["status"], d["error"]) for d in report["documents"]}
    assert status["Good"] == ("new", None)
    assert status["Refused"][0] == "error" and "cannot connect" in status["Refused"][1]
    assert status["Broken"] == ("error", "HTTP 500 Internal Server Error")
    assert status["Slow"][0] == "error" and "timed out" in status["Slow"][1]
    assert status["Missing"] == ("error", "HTTP 404 Not Found")
    assert status["Empty"][0] == "error" and "no text" in status["Empty"][1]
    store = watchlist.parent / "snapshots"
    assert list((store / "Good" / "Terms-of-Service" / "versions").glob("*.md"))
    for failed in ("Refused", "Broken", "Slow", "Missing", "Empty"):
        assert not list(store.glob(f"{failed}/*/versions/*.md")), failed


def test_transient_server_errors_are_retried(tosmon, watchlist_file, httpserver: HTTPServer) -> None:
    calls = {"n": 0}

    def flaky(_: Request) -> Response:
        calls["n"] += 1
        if calls["n"] == 1:
            return Response("busy", status=503, headers={"Retry-After": "0"})
        return Response(TERMS.format(date="1 July 2024", extra=""), content_type="text/html")

    httpserver.expect_request("/flaky").respond_with_handler(flaky)
    watchlist = watchlist_file(
        f"services:\n  Flaky:\n    Terms:\n      url: {httpserver.url_for('/flaky')}\n"
    )
    code, report = check_json(tosmon, watchlist)
    assert (code, report["documents"][0]["status"]) == (ExitCode.CHANGED, "new")
    assert calls["n"] == 2


def test_check_sends_user_agent_and_accept_language(tosmon, watchlist_file, httpserver: HTTPServer) -> None:
    seen: dict[str, str] = {}

    def record(request: Request) -> Response:
        seen.update(request.headers)
        return Response(TERMS.format(date="x", extra=""), content_type="text/html")

    httpserver.expect_request("/t").respond_with_handler(record)
    watchlist = watchlist_file(
        f"defaults: {{accept_language: fr}}\nservices:\n  S:\n    T:\n      url: {httpserver.url_for('/t')}\n"
    )
    tosmon("check", "--watchlist", watchlist)
    assert seen["User-Agent"].startswith("tosmon/")
    assert seen["Accept-Language"] == "fr"


def test_terminal_report_lists_documents_and_flags(tosmon, watchlist_file, httpserver: HTTPServer) -> None:
    page = {"body": TERMS.format(date="1 March 2024", extra="")}
    httpserver.expect_request("/terms").respond_with_handler(
        lambda _: Response(page["body"], content_type="text/html")
    )
    watchlist = watchlist_file(
        f"services:\n  Music:\n    Terms of Service:\n      url: {httpserver.url_for('/terms')}\n"
    )
    assert "new" in tosmon("check", "--watchlist", watchlist).stdout
    page["body"] = TERMS.format(date="1 March 2024", extra=AI_CLAUSE)
    outcome = tosmon("check", "--watchlist", watchlist)
    assert outcome.code == ExitCode.FLAGGED
    text = " ".join(outcome.stdout.split())
    assert "new AI training clause in Music/Terms of Service" in text
    assert "train our artificial intelligence models" in text
    assert text.index("flagged clause") < text.index("Status")


@pytest.mark.parametrize("store_arg", [True, False])
def test_snapshots_default_beside_the_watchlist_or_where_asked(
    tosmon, watchlist_file, httpserver: HTTPServer, tmp_path: Path, store_arg: bool
) -> None:
    url = serve(httpserver, "/t", TERMS.format(date="x", extra=""))
    watchlist = watchlist_file(f"services:\n  S:\n    T:\n      url: {url}\n")
    elsewhere = tmp_path / "elsewhere"
    args = ["--snapshots", elsewhere] if store_arg else []
    tosmon("check", "--watchlist", watchlist, *args)
    expected = elsewhere if store_arg else watchlist.parent / "snapshots"
    assert list(expected.glob("S/T/versions/*.md"))


@pytest.mark.parametrize("documents", [0, 1, 3])
def test_check_json_is_written_a_document_at_a_time_as_plain_indented_json(documents: int) -> None:
    """The streamed report reads exactly as json.dumps(..., indent=2) of the same data would."""
    started = datetime(2026, 11, 26, 4, 0, tzinfo=UTC)
    results = tuple(
        CheckResult(
            Document(f"Sérvice {n}", "Terms\nof use", f"https://example.com/{n}"),
            "error" if n % 2 else "new",
            error='the page said "no" \u2028 twice' if n % 2 else None,
            version=None if n % 2 else "2026-11-26T04-00-00Z",
            checked_at=started,
        )
        for n in range(documents)
    )

    text = "".join(run_json(CheckRun(started, results)))

    assert text == json.dumps(json.loads(text), ensure_ascii=False, indent=2)
    assert [d["service"] for d in json.loads(text)["documents"]] == [f"Sérvice {n}" for n in range(documents)]


def test_check_flags_training_promise_that_loses_its_not(
    tosmon, watchlist_file, httpserver: HTTPServer
) -> None:
    promise = "<p>We do not use your uploads to train our artificial intelligence models.</p>"
    page = {"body": TERMS.format(date="1 March 2024", extra=promise)}
    httpserver.expect_request("/terms").respond_with_handler(
        lambda _: Response(page["body"], content_type="text/html; charset=utf-8")
    )
    watchlist = watchlist_file(
        f"services:\n  Music Site:\n    Terms of Service:\n      url: {httpserver.url_for('/terms')}\n"
    )
    check_json(tosmon, watchlist)

    page["body"] = TERMS.format(date="1 March 2024", extra=promise.replace("do not use", "use"))
    code, changed = check_json(tosmon, watchlist)
    assert code == ExitCode.FLAGGED
    [flag] = changed["documents"][0]["flags"]
    assert (flag["category"], flag["rule"], flag["change"]) == ("training", "training.negation", "changed")
    assert "-not" in flag["terms"]
