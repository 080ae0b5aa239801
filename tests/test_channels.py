"""Notifications through Apprise: a real webhook receiver on 127.0.0.1 gets what `tosmon check` sends
to the watchlist's `notify:` channels."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from pytest_httpserver import HTTPServer
from test_notify import free_port
from test_variants import Proxy, site  # noqa: F401  (the site fixture: variants on loopback)
from test_variants import watchlist_text as variants_watchlist
from werkzeug import Request, Response

from tosmon.outputs.notify.channels import display

RETENTION = (
    "We may use your prompts and outputs to train our models, unless you have activated zero data retention."
)
NO_RETENTION = "We may use your prompts and outputs to train our models."
BODY = (
    "These terms apply to every account, every upload and every use of the service, wherever you live "
    "and whatever device you use."
)


def terms(clause: str) -> str:
    return f"<html><body><main><h1>Lumen Terms</h1><h2>Your data</h2><p>{clause}</p><p>{BODY}</p></main></body></html>"


@dataclass
class Receiver:
    """A webhook endpoint: every request it received, path and body."""

    port: int
    requests: list[tuple[str, bytes]] = field(default_factory=list)

    def json(self) -> list[dict[str, object]]:
        """The bodies Apprise's json:// posted, with their `message` (tosmon's JSON document) parsed."""
        posted = [json.loads(body) for _, body in self.requests]
        return [{**p, "message": json.loads(p["message"])} for p in posted]


@pytest.fixture(name="start_receiver")
def start_receiver_fixture() -> Iterator[Callable[[int], Receiver]]:
    """Start a webhook receiver on 127.0.0.1:`port` (a port nothing listened on before: "down, then up")."""
    servers: list[ThreadingHTTPServer] = []

    def start(port: int) -> Receiver:
        receiver = Receiver(port)

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append((self.path, body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return receiver

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def pages(httpserver: HTTPServer) -> dict[str, str]:
    """Two services' pages on 127.0.0.1; change one by assigning to the dict."""
    served = {"/lumen": terms(RETENTION), "/other": terms("Be kind to each other.")}

    def serve(request: Request) -> Response:
        return Response(served[request.path], content_type="text/html; charset=utf-8")

    for path in list(served):
        httpserver.expect_request(path).respond_with_handler(serve)
    served["url"] = httpserver.url_for("/")
    return served


def watchlist_for(pages: dict[str, str], notify: str, extra: str = "") -> str:
    return f"""
site_url: https://terms.example.org/archive/
notify:
  - {notify}
{extra}
services:
  Lumen:
    Terms of Use:
      url: {pages["url"]}lumen
  Other:
    Terms of Use:
      url: {pages["url"]}other
"""


def outbox(watchlist: Path) -> list[Path]:
    return sorted((watchlist.parent / "snapshots" / "outbox").glob("*.json"))


def test_json_webhook_that_is_down_gets_the_flagged_clause_exactly_once_when_back_up(
    tosmon, pages, watchlist_file, start_receiver
) -> None:
    port = free_port()
    watchlist = watchlist_file(watchlist_for(pages, f"json://127.0.0.1:{port}/hook"))
    assert tosmon("check", "--watchlist", watchlist).code == 8  # the first check: nobody listens yet
    pages["/lumen"] = terms(NO_RETENTION)

    down = tosmon("check", "--watchlist", watchlist)

    assert down.code == 8
    assert len(outbox(watchlist)) == 2
    assert down.stderr.splitlines()[-1].startswith(f"Error: json://127.0.0.1:{port}/…: ")
    assert down.stderr.splitlines()[-1].endswith(
        f"2 notifications waiting in {outbox(watchlist)[0].parent}, sent by the next run"
    )

    receiver = start_receiver(port)
    up = tosmon("check", "--watchlist", watchlist)
    again = tosmon("check", "--watchlist", watchlist)

    assert (up.code, again.code) == (0, 0)
    assert outbox(watchlist) == []
    posted = receiver.json()
    assert [p["title"] for p in posted] == [
        "[tosmon] 2 new documents recorded",
        "[tosmon] Lumen Terms of Use: changed AI training clause",
    ]
    assert {path for path, _ in receiver.requests} == {"/hook"}
    flagged = posted[1]
    assert flagged["type"] == "warning"
    [document] = flagged["message"]["documents"]
    assert (document["service"], document["status"]) == ("Lumen", "changed")
    assert document["version_url"] == (
        f"https://terms.example.org/archive/Lumen/Terms-of-Use.html#v-{document['version']}"
    )
    [flag] = document["flags"]
    assert (flag["category"], flag["severity"], flag["change"]) == ("training", "high", "changed")
    assert flag["clause"] == NO_RETENTION
    assert flag["old_clause"] == RETENTION
    assert "[-, unless you have activated zero data retention-]" in flag["diff"]


def test_plain_text_channels_get_the_word_diff_and_the_version_on_the_site(
    tosmon, pages, watchlist_file, start_receiver
) -> None:
    receiver = start_receiver(free_port())
    watchlist = watchlist_file(watchlist_for(pages, f"form://127.0.0.1:{receiver.port}/chat"))
    tosmon("check", "--watchlist", watchlist)
    pages["/lumen"] = terms(NO_RETENTION)

    assert tosmon("check", "--watchlist", watchlist).code == 2

    form = parse_qs(receiver.requests[-1][1].decode())
    assert form["title"] == ["[tosmon] Lumen Terms of Use: changed AI training clause"]
    message = form["message"][0]
    assert "HIGH: changed AI training clause in Lumen Terms of Use" in message
    assert (
        "We may use your prompts and outputs to train our models[-, unless you have activated zero data retention-]."
        in message
    )
    assert "this version: https://terms.example.org/archive/Lumen/Terms-of-Use.html#v-" in message
    assert f"live page: {pages['url']}lumen" in message


def test_secrets_come_from_the_environment_and_never_reach_the_outbox(
    tosmon, pages, watchlist_file, start_receiver, monkeypatch
) -> None:
    port = free_port()
    watchlist = watchlist_file(watchlist_for(pages, f"json://127.0.0.1:{port}/hook/${{HOOK_TOKEN}}"))
    monkeypatch.setenv("HOOK_TOKEN", "s3cret-t0ken")

    assert tosmon("check", "--watchlist", watchlist).code == 8
    [queued] = outbox(watchlist)
    assert "s3cret-t0ken" not in queued.read_text(encoding="utf-8")
    assert json.loads(queued.read_text(encoding="utf-8"))["url"].endswith("/hook/${HOOK_TOKEN}")

    receiver = start_receiver(port)
    assert tosmon("check", "--watchlist", watchlist).code == 0
    assert [path for path, _ in receiver.requests] == ["/hook/s3cret-t0ken"]


def test_a_missing_environment_variable_is_one_line_naming_it_before_anything_is_fetched(
    tosmon, pages, watchlist_file, monkeypatch
) -> None:
    monkeypatch.delenv("HOOK_TOKEN", raising=False)
    watchlist = watchlist_file(watchlist_for(pages, "json://127.0.0.1:9/hook/${HOOK_TOKEN}"))

    outcome = tosmon("check", "--watchlist", watchlist)

    assert outcome.code == 4
    assert outcome.stderr == (
        f"{watchlist}:4:5: notify[0]: the environment variable HOOK_TOKEN is not set: "
        "export it, or write the value in the URL\n"
    )
    assert not (watchlist.parent / "snapshots" / "Lumen").exists()


def test_no_notify_checks_without_sending_or_queueing(tosmon, pages, watchlist_file, monkeypatch) -> None:
    monkeypatch.delenv("HOOK_TOKEN", raising=False)  # not needed when nothing is sent
    watchlist = watchlist_file(watchlist_for(pages, "json://127.0.0.1:9/hook/${HOOK_TOKEN}"))

    outcome = tosmon("check", "--watchlist", watchlist, "--no-notify")

    assert outcome.code == 1, outcome.stderr
    assert outbox(watchlist) == []
    assert "Notified" not in outcome.stderr and "Error" not in outcome.stderr


def test_a_service_channel_hears_only_about_its_service(
    tosmon, pages, watchlist_file, start_receiver
) -> None:
    everything, lumen = start_receiver(free_port()), start_receiver(free_port())
    service_channel = f"json://127.0.0.1:{lumen.port}/lumen"
    text = watchlist_for(pages, f"json://127.0.0.1:{everything.port}/all").replace(
        "  Lumen:\n", f"  Lumen:\n    notify: {service_channel}\n"
    )
    watchlist = watchlist_file(text)
    tosmon("check", "--watchlist", watchlist)
    pages["/other"] = terms("Be very kind to each other.")

    assert tosmon("check", "--watchlist", watchlist).code == 1

    assert [p["title"] for p in everything.json()] == [
        "[tosmon] 2 new documents recorded",
        "[tosmon] Other Terms of Use changed",
    ]
    assert [p["title"] for p in lumen.json()] == ["[tosmon] 1 new document recorded"]
    assert [d["service"] for d in lumen.json()[0]["message"]["documents"]] == ["Lumen"]


def test_notify_test_sends_to_every_channel_and_names_the_one_that_failed(
    tosmon, pages, watchlist_file, start_receiver
) -> None:
    receiver = start_receiver(free_port())
    dead = free_port()
    text = watchlist_for(pages, f"json://127.0.0.1:{receiver.port}/hook").replace(
        "  Other:\n", f"  Other:\n    notify: [json://127.0.0.1:{dead}/other]\n"
    )
    watchlist = watchlist_file(text)

    outcome = tosmon("notify", "test", "--watchlist", watchlist)

    assert outcome.code == 8
    lines = outcome.stderr.splitlines()
    assert lines[0] == f"Sent a test notification to json://127.0.0.1:{receiver.port}/…"
    assert lines[1].startswith(f"Error: json://127.0.0.1:{dead}/…: ")
    [posted] = receiver.json()
    assert posted["title"] == "[tosmon] test notification"
    assert posted["message"]["test"] is True
    assert not (watchlist.parent / "snapshots").exists()  # nothing fetched, nothing queued


def test_notify_test_without_channels_says_what_is_missing(tosmon, pages, watchlist_file) -> None:
    watchlist = watchlist_file(f"services:\n  Lumen:\n    Terms:\n      url: {pages['url']}lumen\n")

    outcome = tosmon("notify", "test", "--watchlist", watchlist)

    assert outcome.code == 4
    assert outcome.stderr == f"{watchlist}:1:1: notify: no `notify:` channels (Apprise URLs) to send to\n"


def test_notify_urls_are_validated_with_the_watchlist(tosmon, pages, watchlist_file) -> None:
    watchlist = watchlist_file(
        "site_url: terms.example.org\n"
        "notify: [hooks.example.org/x, 'json://h/$HOME', 'nosuchservice://x']\n"
        f"services:\n  Lumen:\n    Terms:\n      url: {pages['url']}lumen\n"
    )

    outcome = tosmon("check", "--watchlist", watchlist)

    assert outcome.code == 4
    assert outcome.stderr.splitlines() == [
        f"{watchlist}:1:11: site_url: expected an http(s) URL, found 'terms.example.org'",
        f"{watchlist}:2:10: notify[0]: expected an Apprise URL such as ntfy://ntfy.sh/my-topic or "
        "json://host/path, found 'hooks.example.org/x'",
        f"{watchlist}:2:31: notify[1]: 'json://h/$HOME': write an environment variable as ${{NAME}} "
        "(letters, digits, _)",
    ]
    fixed = watchlist.read_text().replace("terms.example.org\n", "https://terms.example.org\n", 1)
    watchlist.write_text(fixed.replace("hooks.example.org/x, 'json://h/$HOME', ", ""))
    unknown = tosmon("check", "--watchlist", watchlist)
    assert unknown.code == 4
    assert unknown.stderr == (
        f"{watchlist}:2:10: notify[0]: unknown scheme nosuchservice://: "
        "Apprise's wiki lists the services and their URLs\n"
    )
    watchlist.write_text(watchlist.read_text().replace("nosuchservice://x", "tgram://not-a-bot-token"))
    wrong = tosmon("check", "--watchlist", watchlist)
    assert wrong.code == 4
    assert wrong.stderr == (
        f"{watchlist}:2:10: notify[0]: Apprise cannot use this URL: Unparseable Telegram URL tgram://n...n\n"
    )


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("json://127.0.0.1:8080/hook/s3cret", "json://127.0.0.1:8080/…"),
        ("tgram://123456789:AAEhBOweik6ad9r/12315544/", "tgram://1…r/…"),
        ("mailto://user:password@example.org", "mailto://example.org"),
        ("slack://${SLACK_A}/${SLACK_B}/${SLACK_C}", "slack://${SLACK_A}/…"),
        ("ntfy://ntfy.sh/my-topic", "ntfy://ntfy.sh/…"),
    ],
)
def test_channels_are_named_in_logs_without_their_secrets(url: str, shown: str) -> None:
    assert display(url) == shown


def test_notifications_say_which_countries_are_told_a_clause(
    site,  # noqa: F811  (the fixture)
    tosmon,
    watchlist_file,
    start_receiver,
) -> None:
    """A document watched as variants: the flagged clause one country gets and another does not."""
    state, origin, us_exit = site
    receiver = start_receiver(free_port())
    watchlist = watchlist_file(
        f"notify: json://127.0.0.1:{receiver.port}/hook\n"
        + variants_watchlist(origin, Proxy("socks5", origin, us_exit).url)
    )
    tosmon("check", "--watchlist", watchlist)
    state.ai_in = {"US"}

    assert tosmon("check", "--watchlist", watchlist).code == 2

    posted = receiver.json()[-1]
    assert posted["title"].startswith(
        "[tosmon] Tunehaven Terms of Service: the AI training clause appears in US"
    )
    [comparison] = posted["message"]["variants"]
    assert comparison["summary"] == ["the AI training clause appears in US, not in GB and CA"]
    assert [d["variant"] for d in posted["message"]["documents"]] == ["US"]


def test_report_notify_sends_the_digest_to_every_channel(
    tosmon, pages, watchlist_file, start_receiver
) -> None:
    receiver = start_receiver(free_port())
    watchlist = watchlist_file(watchlist_for(pages, f"json://127.0.0.1:{receiver.port}/digest"))
    tosmon("check", "--no-notify", "--watchlist", watchlist)
    pages["/lumen"] = terms(NO_RETENTION)
    tosmon("check", "--no-notify", "--watchlist", watchlist)

    digest = tosmon("report", "--since", "1d", "--notify", "--watchlist", watchlist)

    assert digest.code == 0
    [posted] = receiver.json()
    assert str(posted["title"]).startswith("[tosmon digest of the last 1d: ")
    changed = [d for d in posted["message"]["documents"] if d["status"] == "changed"]  # type: ignore[index]
    assert [(d["service"], [f["clause"] for f in d["flags"]]) for d in changed] == [("Lumen", [NO_RETENTION])]


def test_report_notify_without_channels_says_what_is_missing(tosmon, pages, watchlist_file) -> None:
    watchlist = watchlist_file(
        watchlist_for(pages, "json://127.0.0.1:1/x").replace("notify:\n  - json://127.0.0.1:1/x\n", "")
    )

    outcome = tosmon("report", "--since", "1d", "--notify", "--watchlist", watchlist)

    assert outcome.code == 4
    assert outcome.stderr.endswith("notify: no `notify:` channels (Apprise URLs) to send to\n")
