"""Variants: what each country or language is served, recorded apart and compared clause by clause.

Everything is real and on 127.0.0.1: an HTTPS origin that serves a different text by query parameter
and by Accept-Language, a second HTTPS server standing for what the site serves in another country,
and forward proxies written here (HTTP CONNECT and a minimal SOCKS5) whose exit is that second
server: a variant fetched through a proxy is served what that country sees.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import socket
import socketserver
import ssl
import struct
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tosmon.errors import ConfigError
from tosmon.flag.rules import load_taxonomy
from tosmon.variants import compare_texts
from tosmon.watchlist import load_watchlist

AI_CLAUSE = (
    "You explicitly agree that your content may be used to inform, train, develop or serve as input "
    "to artificial intelligence or machine learning technologies."
)
AI_CLAUSE_FR = (
    "Vous acceptez expressément que votre contenu puisse être utilisé pour entraîner des modèles "
    "d’intelligence artificielle ou d’apprentissage automatique."
)
CURRENCY = {
    "US": "Prices are shown in US dollars.",
    "GB": "Prices are shown in pounds sterling and include VAT.",
    "CA": "Prices are shown in Canadian dollars.",
}


def english(currency: str, ai: bool) -> str:
    return f"""<html><body><main>
<h1>Terms of Service</h1>
<h2>Your account</h2>
<p>You must be at least 16 years old to use the service. You are responsible for the security of your
account and for any activity on it. We may suspend your account if you break these terms.</p>
<h2>Your content</h2>
<p>You keep the rights to the music and other content that you upload to the service.</p>
<p>You grant us a licence to host and stream your content so that we can run the service.</p>
{f"<p>{AI_CLAUSE}</p>" if ai else ""}
<h2>Payments</h2>
<p>Subscriptions renew each month until you cancel them. {currency}</p>
<h2>Ending these terms</h2>
<p>You may stop using the service at any time. We will give you notice before we end these terms,
unless the law requires otherwise.</p>
</main></body></html>"""


def french(ai: bool) -> str:
    return f"""<html><body><main>
<h1>Conditions d’utilisation</h1>
<h2>Votre compte</h2>
<p>Vous devez avoir au moins 16 ans pour utiliser le service. Vous êtes responsable de la sécurité de
votre compte et de toute activité sur celui-ci. Nous pouvons suspendre votre compte si vous ne respectez
pas les présentes conditions.</p>
<h2>Votre contenu</h2>
<p>Vous conservez les droits sur la musique et les autres contenus que vous publiez sur le service.</p>
<p>Vous nous accordez une licence pour héberger et diffuser votre contenu afin que nous puissions faire
fonctionner le service.</p>
{f"<p>{AI_CLAUSE_FR}</p>" if ai else ""}
<h2>Paiements</h2>
<p>Les abonnements sont renouvelés chaque mois jusqu’à ce que vous les résiliiez. Les prix sont indiqués
en dollars canadiens.</p>
<h2>Fin des conditions</h2>
<p>Vous pouvez cesser d’utiliser le service à tout moment. Nous vous informerons avant de mettre fin à
ces conditions, sauf si la loi en dispose autrement.</p>
</main></body></html>"""


@dataclass
class Site:
    """What the origin serves (by query and language) and what the exit country sees."""

    ai_in: set[str] = field(default_factory=set)  # the regions whose text carries the AI clause
    requests: list[tuple[str, str]] = field(default_factory=list)  # (path, Accept-Language) seen

    def page(self, region: str, language: str) -> str:
        if language.startswith("fr"):
            return french("FR" in self.ai_in)
        return english(CURRENCY[region], region in self.ai_in)


def https_server(context: ssl.SSLContext, answer: Callable[[str, str], str]) -> ThreadingHTTPServer:
    return plain_server(answer, context)


def plain_server(
    answer: Callable[[str, str], str], context: ssl.SSLContext | None = None
) -> ThreadingHTTPServer:
    """A server on 127.0.0.1 answering each GET with `answer(path, Accept-Language)`, over TLS with `context`."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            body = answer(self.path, self.headers.get("Accept-Language", "")).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def site(server_tls: ssl.SSLContext) -> Iterator[tuple[Site, int, int]]:
    """The origin (US unless ?gl=GB or Accept-Language en-CA) and the US exit, their ports."""
    state = Site()

    def origin(path: str, language: str) -> str:
        state.requests.append((path, language))
        region = parse_qs(urlsplit(path).query).get("gl", ["CA" if language == "en-CA" else "US"])[0]
        return state.page(region, language)

    def us_exit(path: str, language: str) -> str:
        state.requests.append(("US exit " + path, language))
        return state.page("US", language)

    servers = [https_server(server_tls, origin), https_server(server_tls, us_exit)]
    yield state, servers[0].server_address[1], servers[1].server_address[1]
    for server in servers:
        server.shutdown()
        server.server_close()


class Proxy(socketserver.ThreadingTCPServer):
    """A forward proxy on 127.0.0.1 whose exit is elsewhere: connections to `origin` go to `exit`."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, kind: str, origin: int, exit_port: int, login: tuple[str, str] | None = None) -> None:
        self.kind, self.origin, self.exit_port, self.login = kind, origin, exit_port, login
        self.tunnels: list[tuple[str, int]] = []  # the targets clients asked for
        super().__init__(("127.0.0.1", 0), ProxyHandler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        user = f"{self.login[0]}@" if self.login else ""
        return f"{self.kind}://{user}127.0.0.1:{self.server_address[1]}"

    def target(self, host: str, port: int) -> tuple[str, int]:
        self.tunnels.append((host, port))
        return ("127.0.0.1", self.exit_port) if port == self.origin else (host, port)


class ProxyHandler(socketserver.BaseRequestHandler):
    server: Proxy

    def handle(self) -> None:
        client: socket.socket = self.request
        upstream = self.socks5(client) if self.server.kind == "socks5" else self.connect(client)
        if upstream is None:
            return
        relay = threading.Thread(target=pipe, args=(upstream, client), daemon=True)
        relay.start()
        pipe(client, upstream)
        relay.join()
        upstream.close()

    def connect(self, client: socket.socket) -> socket.socket | None:
        """HTTP CONNECT host:port, as a browser or httpx sends it for an https:// page (an http:// page
        is asked for whole, `GET http://host/path`, and forwarded)."""
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = client.recv(4096)
            if not chunk:
                return None
            head += chunk
        method, target, _ = head.split(b"\r\n", 1)[0].decode().split(" ")
        if method != "CONNECT" and target.startswith("http://"):  # an http:// page: forwarded as asked
            address = urlsplit(target)
            upstream = socket.create_connection(self.server.target(str(address.hostname), address.port or 80))
            upstream.sendall(head)
            return upstream
        if method != "CONNECT":
            client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            return None
        host, port = target.rsplit(":", 1)
        upstream = socket.create_connection(self.server.target(host, int(port)))
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        return upstream

    def socks5(self, client: socket.socket) -> socket.socket | None:
        """RFC 1928's CONNECT, with no authentication or RFC 1929's user name and password."""
        _, count = recv(client, 2)
        methods = recv(client, count)
        if self.server.login is None:
            client.sendall(b"\x05\x00")
        elif 2 in methods:
            client.sendall(b"\x05\x02")
            _, size = recv(client, 2)
            user = recv(client, size).decode()
            password = recv(client, recv(client, 1)[0]).decode()
            if (user, password) != self.server.login:
                client.sendall(b"\x01\x01")
                return None
            client.sendall(b"\x01\x00")
        else:
            client.sendall(b"\x05\xff")
            return None
        _, command, _, kind = recv(client, 4)
        if command != 1:
            client.sendall(b"\x05\x07\x00\x01" + bytes(6))  # only CONNECT
            return None
        if kind == 1:
            host = socket.inet_ntoa(recv(client, 4))
        elif kind == 3:
            host = recv(client, recv(client, 1)[0]).decode()
        else:
            client.sendall(b"\x05\x08\x00\x01" + bytes(6))  # address type not supported
            return None
        (port,) = struct.unpack(">H", recv(client, 2))
        upstream = socket.create_connection(self.server.target(host, port))
        client.sendall(b"\x05\x00\x00\x01" + socket.inet_aton("127.0.0.1") + struct.pack(">H", 0))
        return upstream


def recv(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("the client hung up")
        data += chunk
    return data


def pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            sink.sendall(chunk)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def watchlist_text(origin: int, us: str, extra: str = "") -> str:
    return f"""
fetch: {{timeout: 5, retries: 0}}
services:
  Tunehaven:
    Terms of Service:
      url: https://127.0.0.1:{origin}/terms
      variants:
        US: {{proxy: "{us}"{extra}}}
        GB: {{url: "?gl=GB"}}
        CA: {{accept_language: en-CA}}
"""


def check_json(tosmon: Callable[..., object], watchlist: Path) -> tuple[int, dict[str, object]]:
    outcome = tosmon("check", "--json", "--watchlist", watchlist)
    return outcome.code, json.loads(outcome.stdout)  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", ["socks5", "http"])
def test_variants_are_recorded_apart_and_a_clause_one_country_lacks_is_reported_once(
    site: tuple[Site, int, int],
    kind: str,
    tosmon: Callable[..., object],
    watchlist_file: Callable[[str], Path],
) -> None:
    state, origin, us_exit = site
    proxy = Proxy(kind, origin, us_exit)
    watchlist = watchlist_file(watchlist_text(origin, proxy.url))

    code, first = check_json(tosmon, watchlist)
    results = {d["variant"]: d for d in first["documents"]}  # type: ignore[index, union-attr]
    assert {v: d["status"] for v, d in results.items()} == {"US": "new", "GB": "new", "CA": "new"}
    assert results["GB"]["url"] == f"https://127.0.0.1:{origin}/terms?gl=GB"
    assert ("127.0.0.1", origin) in proxy.tunnels  # the US variant went through the proxy, to its exit
    assert ("/terms", "en-CA") in state.requests and ("/terms?gl=GB", "en") in state.requests
    [comparison] = first["variants"]  # type: ignore[misc]
    assert comparison["only_in"] == {v: [CURRENCY[v]] for v in ("US", "GB", "CA")}
    assert comparison["summary"] == ["3 wordings differ between US, GB and CA"]
    assert comparison["flags"] == [] and comparison["mode"] == "text"
    assert code == 1

    state.ai_in = {"US"}  # the clause comes to the US only
    code, second = check_json(tosmon, watchlist)
    results = {d["variant"]: d for d in second["documents"]}  # type: ignore[index, union-attr]
    assert [f["category"] for f in results["US"]["flags"]] == ["training"]
    assert results["GB"]["flags"] == [] and results["CA"]["flags"] == []
    assert results["GB"]["status"] == results["CA"]["status"] == "unchanged"
    [comparison] = second["variants"]  # type: ignore[misc]
    assert comparison["service"] == "Tunehaven" and comparison["document"] == "Terms of Service"
    assert comparison["only_in"] == {"US": [AI_CLAUSE]}  # the currencies were reported already
    [flag] = comparison["flags"]
    assert (flag["category"], flag["severity"], flag["in"], flag["not_in"]) == (
        "training",
        "high",
        ["US"],
        ["GB", "CA"],
    )
    assert flag["heading"] == "Terms of Service > Your content"
    assert comparison["summary"] == ["the AI training clause appears in US, not in GB and CA"]
    assert code == 2

    code, third = check_json(tosmon, watchlist)  # nothing changed: the difference is not told again
    assert third["variants"] == [] and code == 0

    state.ai_in = {"US", "GB"}
    code, fourth = check_json(tosmon, watchlist)
    [comparison] = fourth["variants"]  # type: ignore[misc]
    assert comparison["summary"] == [
        "the AI training clause appears in US and GB, not in CA",
        "no longer a difference: the AI training clause that appeared in US, not in GB and CA",
    ]
    assert [(d["in"], d["not_in"]) for d in comparison["resolved"]] == [(["US"], ["GB", "CA"])]
    assert code == 2


def test_terminal_and_email_say_which_countries_are_told(
    site: tuple[Site, int, int], tosmon: Callable[..., object], watchlist_file: Callable[[str], Path]
) -> None:
    state, origin, us_exit = site
    state.ai_in = {"US", "GB"}
    proxy = Proxy("socks5", origin, us_exit)
    watchlist = watchlist_file(watchlist_text(origin, proxy.url))
    outcome = tosmon("check", "--watchlist", watchlist)
    assert outcome.code == 2  # type: ignore[attr-defined]
    assert "the AI training clause appears in US and GB, not in CA" in outcome.stdout  # type: ignore[attr-defined]
    assert "Tunehaven/Terms of Service@CA" in outcome.stdout  # type: ignore[attr-defined]

    from tosmon.check import check
    from tosmon.outputs.notify import compose
    from tosmon.store.files import Store

    config = load_watchlist(watchlist)
    state.ai_in = {"US"}  # GB drops it: a change of the comparison
    run = check(config.documents, Store(watchlist.parent / "snapshots").open(), settings=config.fetch)
    message = compose(run, sender="t@example.org", recipients=["me@example.org"], now=run.started_at)
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Variants compared" in text and "the AI training clause appears in US, not in GB and CA" in text
    assert "Tunehaven Terms of Service: the AI training clause appears in US" in str(message["Subject"])
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "appears in US, not in GB and CA" in html


@pytest.mark.parametrize("kind", ["socks5", "http"])
def test_a_proxy_that_is_down_fails_its_variant_alone(
    site: tuple[Site, int, int],
    kind: str,
    tosmon: Callable[..., object],
    watchlist_file: Callable[[str], Path],
) -> None:
    _, origin, _ = site
    port = closed_port()
    watchlist = watchlist_file(watchlist_text(origin, f"{kind}://127.0.0.1:{port}"))
    code, run = check_json(tosmon, watchlist)
    results = {d["variant"]: d for d in run["documents"]}  # type: ignore[index, union-attr]
    assert results["US"]["status"] == "error"
    assert results["US"]["error"] == f"proxy {kind}://127.0.0.1:{port} refused the connection"
    assert results["GB"]["status"] == results["CA"]["status"] == "new"
    [comparison] = run["variants"]  # type: ignore[misc]
    assert comparison["variants"] == ["GB", "CA"] and comparison["missing"] == ["US"]
    assert code == 3


def test_proxy_password_comes_from_the_named_environment_variable(
    site: tuple[Site, int, int],
    tosmon: Callable[..., object],
    watchlist_file: Callable[[str], Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    state, origin, us_exit = site
    state.ai_in = {"US"}
    proxy = Proxy("socks5", origin, us_exit, login=("alice", "s3cret"))
    watchlist = watchlist_file(watchlist_text(origin, proxy.url, ", proxy_password_env: TUNE_PROXY_PASSWORD"))
    _, run = check_json(tosmon, watchlist)
    us = next(d for d in run["documents"] if d["variant"] == "US")  # type: ignore[union-attr]
    assert us["error"] == (
        f"proxy socks5://127.0.0.1:{proxy.server_address[1]}: the environment variable TUNE_PROXY_PASSWORD "
        "(its password, named by proxy_password_env) is not set"
    )
    monkeypatch.setenv("TUNE_PROXY_PASSWORD", "s3cret")
    _, run = check_json(tosmon, watchlist)
    us = next(d for d in run["documents"] if d["variant"] == "US")  # type: ignore[union-attr]
    assert us["status"] == "new" and proxy.tunnels


def test_store_layout_and_every_command_take_a_variant(
    site: tuple[Site, int, int],
    tosmon: Callable[..., object],
    watchlist_file: Callable[[str], Path],
    tmp_path: Path,
) -> None:
    state, origin, us_exit = site
    proxy = Proxy("socks5", origin, us_exit)
    watchlist = watchlist_file(watchlist_text(origin, proxy.url))
    tosmon("check", "--watchlist", watchlist)
    state.ai_in = {"US"}
    tosmon("check", "--watchlist", watchlist)
    store = watchlist.parent / "snapshots"
    service = store / "Tunehaven"
    assert sorted(p.name for p in service.iterdir()) == [
        "Terms-of-Service@CA",
        "Terms-of-Service@GB",
        "Terms-of-Service@US",
        "Terms-of-Service@variants.json",
    ]
    asked = json.loads(sorted((service / "Terms-of-Service@US" / "raw").glob("*.json"))[0].read_text())[
        "request"
    ]
    assert asked == {"variant": "US", "accept_language": "en", "proxy": proxy.url, "headers": []}
    described = json.loads((service / "Terms-of-Service@CA" / "document.json").read_text())
    assert described["variant"] == "CA" and described["document"] == "Terms of Service"
    differences = json.loads((service / "Terms-of-Service@variants.json").read_text())["differences"]
    assert {d["clause"]: d["in"] for d in differences}[AI_CLAUSE] == ["US"]
    assert tosmon("verify", "--watchlist", watchlist).code == 0  # type: ignore[attr-defined]

    us = "Tunehaven/Terms of Service@US"
    history = json.loads(tosmon("history", us, "--json", "--watchlist", watchlist).stdout)  # type: ignore[attr-defined]
    assert [v["variant"] for v in history["versions"]] == ["US", "US"]
    assert history["versions"][-1]["flags"][0]["category"] == "training"
    every = json.loads(
        tosmon("history", "Tunehaven/Terms of Service", "--json", "--watchlist", watchlist).stdout  # type: ignore[attr-defined]
    )
    assert sorted(v["variant"] for v in every["versions"]) == ["CA", "GB", "US", "US"]
    assert AI_CLAUSE in tosmon("show", us, "--watchlist", watchlist).stdout  # type: ignore[attr-defined]
    assert AI_CLAUSE not in tosmon("show", us, "-2", "--watchlist", watchlist).stdout  # type: ignore[attr-defined]
    bare = tosmon("show", "Tunehaven/Terms of Service", "--watchlist", watchlist)
    assert bare.code == 5  # type: ignore[attr-defined]
    assert bare.stderr == (  # type: ignore[attr-defined]
        "Error: 'Tunehaven/Terms of Service' is watched as variants: name one of "
        "'Tunehaven/Terms of Service@CA', 'Tunehaven/Terms of Service@GB', 'Tunehaven/Terms of Service@US'\n"
    )

    diff = tosmon("diff", "Tunehaven/Terms of Service@CA", us, "--json", "--watchlist", watchlist)
    assert diff.code == 1  # type: ignore[attr-defined]
    data = json.loads(diff.stdout)  # type: ignore[attr-defined]
    assert [f["category"] for f in data["flags"]] == ["training"] and data["old_flags"] == []
    assert AI_CLAUSE in data["added"]
    text = tosmon("diff", us, "Tunehaven/Terms of Service@CA", "--watchlist", watchlist).stdout  # type: ignore[attr-defined]
    assert f"AI training clause in {us}" in text  # flagged though it is the first (older) side
    before = tosmon(
        "diff", us, "Tunehaven/Terms of Service@CA", "--at", "2000-01-01", "--watchlist", watchlist
    )
    assert before.code == 5 and "no version on or before 2000-01-01" in before.stderr  # type: ignore[attr-defined]
    then = tosmon(
        "diff", "Tunehaven/Terms of Service@CA", us, "--at", "2100-01-01", "--json", "--watchlist", watchlist
    )
    assert json.loads(then.stdout)["added"] == data["added"]  # type: ignore[attr-defined]
    mixed = tosmon("diff", us, "Tunehaven/Terms of Service@CA", "--from", "-2", "--watchlist", watchlist)
    assert (mixed.code, mixed.stderr) == (  # type: ignore[attr-defined]
        5,
        "Error: two DOCUMENTs are compared at one date (--at), without --from/--to/--select/--remove\n",
    )

    feed = tosmon("feed", us, "--watchlist", watchlist).stdout  # type: ignore[attr-defined]
    assert f"{us}: new AI training clause" in feed
    lines = tosmon("export", "--format", "jsonl", "--watchlist", watchlist).stdout.splitlines()  # type: ignore[attr-defined]
    assert sorted(json.loads(line)["variant"] for line in lines) == ["CA", "GB", "US", "US"]
    rows = list(
        csv.DictReader(io.StringIO(tosmon("export", us, "--format", "csv", "--watchlist", watchlist).stdout))
    )  # type: ignore[attr-defined]
    assert {row["variant"] for row in rows} == {"US"}

    out = tmp_path / "site"
    assert tosmon("site", out, "--watchlist", watchlist).code == 0  # type: ignore[attr-defined]
    page = (out / "Tunehaven" / "Terms-of-Service@US.html").read_text()
    assert "Tunehaven — Terms of Service (US)" in page and 'href="../index.html#variants"' in page
    index = (out / "index.html").read_text()
    assert "The AI training clause appears in US, not in GB and CA" in index

    report = tosmon("report", "--since", "1d", "--watchlist", watchlist).stdout  # type: ignore[attr-defined]
    assert (
        "Variants compared" in report and "the AI training clause appears in US, not in GB and CA" in report
    )


def test_languages_are_compared_by_flagged_clauses_not_words(
    site: tuple[Site, int, int], tosmon: Callable[..., object], watchlist_file: Callable[[str], Path]
) -> None:
    state, origin, _ = site
    state.ai_in = {"US"}  # English only; the French page lacks the clause
    watchlist = watchlist_file(
        f"""
services:
  Tunehaven:
    Terms of Service:
      url: https://127.0.0.1:{origin}/terms
      variants:
        en: {{}}
        fr: {{accept_language: fr-FR}}
"""
    )
    _, run = check_json(tosmon, watchlist)
    [comparison] = run["variants"]  # type: ignore[misc]
    assert comparison["mode"] == "structure"
    assert comparison["languages"] == {"en": "en", "fr": "fr"}
    # every clause is worded differently, but only the flagged one the French page lacks is a difference
    assert comparison["only_in"] == {"en": [AI_CLAUSE]}
    [flag] = comparison["flags"]
    assert (flag["category"], flag["heading"], flag["in"], flag["not_in"]) == (
        "training",
        "Terms of Service > Your content",
        ["en"],
        ["fr"],
    )
    assert 0.4 < flag["position"] < 0.7
    assert comparison["summary"] == [
        f"the AI training clause appears in en, not in fr (under Terms of Service > Your content, "
        f"{round(flag['position'] * 100)}% into the text)"
    ]

    state.ai_in = {"US", "FR"}  # the translation arrives: same category, same place
    _, run = check_json(tosmon, watchlist)
    [comparison] = run["variants"]  # type: ignore[misc]
    assert comparison["only_in"] == {} and [d["in"] for d in comparison["resolved"]] == [["en"]]


def test_translated_clauses_in_their_place_are_no_difference() -> None:
    from tosmon.extract.html import extract

    texts = {
        "en": extract(english(CURRENCY["CA"], ai=True).encode(), content_type="text/html"),
        "fr": extract(french(ai=True).encode(), content_type="text/html"),
    }
    mode, differences, _ = compare_texts(texts, load_taxonomy())
    assert (mode, differences) == ("structure", [])


def test_the_issue_example_declares_three_variants(watchlist_file: Callable[[str], Path]) -> None:
    config = load_watchlist(
        watchlist_file(
            """
services:
  SoundCloud:
    Terms of Service:
      url: https://soundcloud.com/terms-of-use
      variants:
        US: {proxy: "socks5://us-exit.example:1080"}
        GB: {proxy: "socks5://gb-exit.example:1080"}
        CA: {proxy: "socks5://ca-exit.example:1080", accept_language: en-CA}
"""
        )
    )
    assert [(d.id, d.proxy, d.accept_language) for d in config.documents] == [
        ("SoundCloud/Terms of Service@US", "socks5://us-exit.example:1080", "en"),
        ("SoundCloud/Terms of Service@GB", "socks5://gb-exit.example:1080", "en"),
        ("SoundCloud/Terms of Service@CA", "socks5://ca-exit.example:1080", "en-CA"),
    ]


def test_variants_inherit_from_defaults_and_services_and_a_query_keeps_the_rest(
    watchlist_file: Callable[[str], Path],
) -> None:
    config = load_watchlist(
        watchlist_file(
            """
defaults:
  variants: {US: {}, FR: {url: "?hl=fr&gl=FR", accept_language: fr, headers: {Cookie: "region=fr"}}}
services:
  Search:
    Terms:
      url: https://example.com/terms?hl=en&doc=1
    Privacy:
      url: https://example.com/privacy
      variants: {}
  Video:
    variants: {DE: {url: "https://example.de/agb"}, AT: {url: "https://example.at/agb"}}
    Terms:
      url: https://example.com/video-terms
"""
        )
    )
    assert [(d.id, d.url, d.headers) for d in config.documents] == [
        ("Search/Terms@US", "https://example.com/terms?hl=en&doc=1", ()),
        ("Search/Terms@FR", "https://example.com/terms?doc=1&hl=fr&gl=FR", (("Cookie", "region=fr"),)),
        ("Search/Privacy", "https://example.com/privacy", ()),
        ("Video/Terms@DE", "https://example.de/agb", ()),
        ("Video/Terms@AT", "https://example.at/agb", ()),
    ]


def test_bad_variants_are_each_reported_with_their_place(watchlist_file: Callable[[str], Path]) -> None:
    path = watchlist_file(
        """services:
  SoundCloud:
    Terms of Service:
      url: https://soundcloud.com/terms-of-use
      variants:
        US: {proxy: "socks5://user:hunter2@us-exit.example:1080"}
        GB: {proxy: "ftp://gb-exit.example:21", acept_language: en-GB}
        C/A: {proxy: "socks5://ca-exit.example"}
        FR: {url: "?hl=fr lang", proxy_password_env: FR_PASSWORD}
"""
    )
    with pytest.raises(ConfigError) as raised:
        load_watchlist(path)
    where = 'services.SoundCloud."Terms of Service".variants'
    assert sorted(str(p) for p in raised.value.problems) == sorted(
        [
            f"{path}:6:21: {where}.US.proxy: a password does not belong in the watchlist: remove it from "
            "the proxy URL, put it in an environment variable and name that variable with "
            "`proxy_password_env: MY_PROXY_PASSWORD`",
            f"{path}:7:21: {where}.GB.proxy: expected a proxy URL such as socks5://host:1080 or "
            "http://host:3128 (http, https, socks5 or socks5h), found 'ftp://gb-exit.example:21'",
            f"{path}:7:49: {where}.GB.acept_language: unknown key 'acept_language' "
            "(did you mean 'accept_language'?)",
            f"{path}:8:9: {where}.\"C/A\": variant name 'C/A' cannot be a folder name: use up to 40 "
            "letters, digits, '-' and '_', starting with a letter or digit (e.g. US, en-GB)",
            f'{path}:8:22: {where}."C/A".proxy: a SOCKS proxy URL needs its port (socks5://host:1080), '
            "found 'socks5://ca-exit.example'",
            f"{path}:9:19: {where}.FR.url: expected a query such as '?hl=fr&gl=CA', found '?hl=fr lang'",
            f"{path}:9:54: {where}.FR.proxy_password_env: needs a `proxy` to log in to",
        ]
    )


def test_the_readme_example_of_variants_is_a_valid_watchlist(watchlist_file: Callable[[str], Path]) -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Variants", 1)[1]
    example = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    config = load_watchlist(watchlist_file(example))
    assert [d.id for d in config.documents] == [
        "SoundCloud/Terms of Service@US",
        "SoundCloud/Terms of Service@GB",
        "SoundCloud/Terms of Service@CA",
        "Google/Terms of Service@en",
        "Google/Terms of Service@fr-CA",
        "Google/Terms of Service@DE",
        "Google/Privacy Policy",
    ]
    german = config.find("Google/Terms of Service@DE")
    assert (german.proxy_password_env, german.headers) == ("DE_PROXY_PASSWORD", (("Cookie", "region=de"),))


def test_a_document_given_variants_keeps_its_earlier_history(
    site: tuple[Site, int, int],
    tosmon: Callable[..., object],
    watchlist_file: Callable[[str], Path],
) -> None:
    _, origin, us_exit = site
    watchlist = watchlist_file(
        f"services:\n  Tunehaven:\n    Terms of Service:\n      url: https://127.0.0.1:{origin}/terms\n"
    )
    code, run = check_json(tosmon, watchlist)
    assert (code, run["documents"][0]["variant"], run["variants"]) == (1, None, [])  # type: ignore[index]
    proxy = Proxy("socks5", origin, us_exit)
    watchlist = watchlist_file(watchlist_text(origin, proxy.url))
    outcome = tosmon("check", "--watchlist", watchlist)
    assert (outcome.code, outcome.stderr) == (1, "")  # type: ignore[attr-defined]  # not taken for a rename
    history = json.loads(
        tosmon("history", "Tunehaven/Terms of Service", "--json", "--watchlist", watchlist).stdout  # type: ignore[attr-defined]
    )
    assert sorted(str(v["variant"]) for v in history["versions"]) == ["CA", "GB", "None", "US"]
    assert CURRENCY["US"] in tosmon("show", "Tunehaven/Terms of Service", "--watchlist", watchlist).stdout  # type: ignore[attr-defined]
    assert tosmon("verify", "--watchlist", watchlist).code == 0  # type: ignore[attr-defined]


def test_verify_finds_a_variant_folder_that_names_another_variant(
    site: tuple[Site, int, int], tosmon: Callable[..., object], watchlist_file: Callable[[str], Path]
) -> None:
    _, origin, us_exit = site
    watchlist = watchlist_file(watchlist_text(origin, Proxy("socks5", origin, us_exit).url))
    tosmon("check", "--watchlist", watchlist)
    described = watchlist.parent / "snapshots" / "Tunehaven" / "Terms-of-Service@GB" / "document.json"
    described.write_text(described.read_text().replace('"GB"', '"CA"'))
    outcome = tosmon("verify", "--watchlist", watchlist)
    assert outcome.code == 6  # type: ignore[attr-defined]
    assert f"{described}: names variant 'CA' but sits in the folder of 'GB'" in outcome.stdout  # type: ignore[attr-defined]


def test_the_variants_of_a_document_share_a_shard_so_they_are_compared(
    watchlist_file: Callable[[str], Path],
) -> None:
    from tosmon.watchlist import shard

    variants = "\n".join(f"        V{i}: {{url: '?v={i}'}}" for i in range(8))
    documents = load_watchlist(
        watchlist_file(
            "services:\n"
            + "".join(
                f"  S{n}:\n    Terms:\n      url: https://example.com/{n}\n      variants:\n{variants}\n"
                for n in range(6)
            )
        )
    ).documents
    slices = [shard(documents, i, 3) for i in (1, 2, 3)]
    assert sorted(d.id for part in slices for d in part) == sorted(d.id for d in documents)
    for part in slices:
        assert {d.service for d in part}.isdisjoint(
            {d.service for other in slices if other is not part for d in other}
        )


def test_a_clause_worded_differently_is_no_flagged_difference_unless_it_gives_a_choice() -> None:
    def page(training: str) -> str:
        return (
            "# Terms\n\n## Your account\n\nYou must be at least 16 years old to use the service.\n\n"
            f"## Your content\n\nYou keep the rights to your music.\n\n{training}\n\n"
            "## Payments\n\nSubscriptions renew each month until you cancel them.\n"
        )

    us = "We may use your content to train our artificial intelligence models."
    gb = "We may use your content to train and improve our artificial intelligence models."
    eu = "We may use your content to train our artificial intelligence models, unless you opt out in your settings."
    _, differences, _ = compare_texts({"US": page(us), "GB": page(gb)}, load_taxonomy())
    assert {(d.present, d.flags, d.counterparts) for d in differences} == {
        (("US",), (), (("GB", gb),)),
        (("GB",), (), (("US", us),)),
    }
    _, differences, _ = compare_texts({"US": page(us), "EU": page(eu)}, load_taxonomy())
    flagged = [d for d in differences if d.flags]
    assert [(d.present, d.absent, d.counterparts) for d in flagged] == [(("EU",), ("US",), (("US", us),))]
    from tosmon.variants import sentence

    assert sentence(flagged[0]) == "the AI training clause with an opt-out appears in EU, not in US"


def test_mixed_languages_compare_flags_across_languages_and_words_within_one() -> None:
    from tosmon.extract.html import extract

    def text(html: str) -> str:
        return extract(html.encode(), content_type="text/html")

    texts = {
        "US": text(english(CURRENCY["US"], ai=True)),
        "CA-en": text(english(CURRENCY["CA"], ai=False)),
        "CA-fr": text(french(ai=False)),
    }
    mode, differences, languages = compare_texts(texts, load_taxonomy())
    assert (mode, languages) == ("structure", {"US": "en", "CA-en": "en", "CA-fr": "fr"})
    assert sorted((d.by, d.clause, d.present, d.absent, bool(d.flags)) for d in differences) == [
        ("structure", AI_CLAUSE, ("US",), ("CA-en", "CA-fr"), True),
        ("wording", CURRENCY["CA"], ("CA-en",), ("US",), False),
        ("wording", CURRENCY["US"], ("US",), ("CA-en",), False),
    ]


def test_a_variant_rendered_in_the_browser_goes_through_its_proxy(
    tosmon: Callable[..., object], watchlist_file: Callable[[str], Path]
) -> None:
    pytest.importorskip("playwright", reason="Playwright is not installed: pip install 'tosmon[browser]'")
    from tosmon.fetch.browser import find_chromium

    if find_chromium() is None:
        pytest.skip("no Chromium on this machine: apt-get install chromium")
    state = Site(ai_in={"US"})
    servers = [
        plain_server(lambda path, language: state.page("GB", language)),
        plain_server(lambda path, language: state.page("US", language)),
    ]
    origin, us_exit = (server.server_address[1] for server in servers)
    proxy = Proxy("http", origin, us_exit)
    watchlist = watchlist_file(
        f"""
fetch: {{timeout: 20, retries: 0}}
services:
  Tunehaven:
    Terms of Service:
      url: http://127.0.0.1:{origin}/terms
      fetcher: browser
      variants:
        US: {{proxy: "{proxy.url}"}}
        GB: {{}}
"""
    )
    try:
        _, run = check_json(tosmon, watchlist)
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
    assert [d["status"] for d in run["documents"]] == ["new", "new"]  # type: ignore[index, union-attr]
    assert ("127.0.0.1", origin) in proxy.tunnels
    [comparison] = run["variants"]  # type: ignore[misc]
    assert comparison["summary"][0] == "the AI training clause appears in US, not in GB"


def test_a_document_added_to_a_service_with_variants_gets_them(tmp_path: Path) -> None:
    from tosmon.watchlist_edit import add_documents

    path = tmp_path / "watchlist.yaml"
    path.write_text(
        "services:\n  Tunehaven:\n    variants: {US: {}, CA: {accept_language: en-CA}}\n"
        "    Terms:\n      url: https://example.com/terms\n",
        encoding="utf-8",
    )
    add_documents(path, {"Tunehaven": {"Privacy": {"url": "https://example.com/privacy"}}})
    assert [d.id for d in load_watchlist(path).documents] == [
        "Tunehaven/Terms@US",
        "Tunehaven/Terms@CA",
        "Tunehaven/Privacy@US",
        "Tunehaven/Privacy@CA",
    ]


def test_a_language_tosmon_cannot_name_is_compared_by_structure() -> None:
    english_text = "# Terms\n\n" + "\n\n".join(
        f"You agree to rule number {n} of the service." for n in range(12)
    )
    foreign = "# 規約\n\n" + "\n\n".join(f"サービスの規則{n}に同意します。" for n in range(12))
    mode, differences, languages = compare_texts({"en": english_text, "ja": foreign}, load_taxonomy())
    assert (mode, differences) == ("structure", [])  # no flagged clause on either side: nothing to tell
    assert languages["ja"] is None


def test_check_of_a_document_with_variants_checks_them_all_and_a_new_variant_is_no_rename(
    site: tuple[Site, int, int], tosmon: Callable[..., object], watchlist_file: Callable[[str], Path]
) -> None:
    _, origin, us_exit = site
    proxy = Proxy("socks5", origin, us_exit)
    text = watchlist_text(origin, proxy.url)
    watchlist = watchlist_file(text.replace("        CA: {accept_language: en-CA}\n", ""))
    _, run = check_json(tosmon, watchlist)
    assert [d["variant"] for d in run["documents"]] == ["US", "GB"]  # type: ignore[union-attr]
    watchlist = watchlist_file(text)
    outcome = tosmon("check", "Tunehaven/Terms of Service", "--json", "--watchlist", watchlist)
    assert "warning" not in outcome.stderr  # type: ignore[attr-defined]
    run = json.loads(outcome.stdout)  # type: ignore[attr-defined]
    assert {d["variant"]: d["status"] for d in run["documents"]} == {
        "US": "unchanged",
        "GB": "unchanged",
        "CA": "new",
    }
    [comparison] = run["variants"]
    # each currency is now also missing from CA: the differences changed, so they are told again
    assert comparison["only_in"] == {v: [CURRENCY[v]] for v in ("US", "GB", "CA")}
    assert sorted(d["not_in"] for d in comparison["resolved"]) == [["GB"], ["US"]]


def test_a_document_with_variants_is_renamed_one_variant_at_a_time(
    site: tuple[Site, int, int], tosmon: Callable[..., object], watchlist_file: Callable[[str], Path]
) -> None:
    _, origin, us_exit = site
    watchlist = watchlist_file(watchlist_text(origin, Proxy("socks5", origin, us_exit).url))
    tosmon("check", "--watchlist", watchlist)
    for variant in ("US", "GB", "CA"):
        outcome = tosmon("rename", f"Tunehaven/Terms of Service@{variant}", "Terms", "--watchlist", watchlist)
        assert outcome.code == 0, outcome.stderr  # type: ignore[attr-defined]
    assert [d.id for d in load_watchlist(watchlist).documents] == [
        "Tunehaven/Terms@US",
        "Tunehaven/Terms@GB",
        "Tunehaven/Terms@CA",
    ]
    assert sorted(p.name for p in (watchlist.parent / "snapshots" / "Tunehaven").iterdir()) == [
        "Terms@CA",
        "Terms@GB",
        "Terms@US",
        "Terms@variants.json",
    ]
    code, run = check_json(tosmon, watchlist)
    assert [d["status"] for d in run["documents"]] == ["unchanged"] * 3  # type: ignore[union-attr]
    assert (code, run["variants"]) == (0, [])  # their differences were told under the old name already
    assert tosmon("verify", "--watchlist", watchlist).code == 0  # type: ignore[attr-defined]


def test_the_email_subject_says_when_only_the_variants_differ() -> None:
    from datetime import UTC, datetime

    from tosmon.models import CheckRun, VariantComparison, VariantDifference
    from tosmon.outputs.notify import subject, worth_reporting

    difference = VariantDifference(CURRENCY["GB"], "Payments", ("GB",), ("US",))
    comparison = VariantComparison("Tunehaven", "Terms", ("US", "GB"), {}, "text", (difference,))
    run = CheckRun(datetime(2026, 12, 1, tzinfo=UTC), (), (comparison,))
    assert worth_reporting(run)
    assert subject(run) == "[tosmon] Tunehaven Terms: its variants differ in 1 clause"


def test_a_combined_document_takes_a_variant_query_on_each_page(
    watchlist_file: Callable[[str], Path],
) -> None:
    text = """services:
  Forum:
    Rules:
      combine:
        - {url: "https://example.com/rules/1"}
        - {url: "https://example.com/rules/2?part=b"}
      variants:
        FR: {url: "?hl=fr"}
        DE: {url: "https://example.de/rules"}
"""
    with pytest.raises(ConfigError) as raised:
        load_watchlist(watchlist_file(text))
    [problem] = raised.value.problems
    assert str(problem).endswith(
        "services.Forum.Rules.variants.DE.url: a document made with `combine` takes only a query here "
        "(`?hl=fr`), applied to each of its pages"
    )
    [french_rules] = load_watchlist(
        watchlist_file(text.replace('        DE: {url: "https://example.de/rules"}\n', ""))
    ).documents
    assert [part.url for part in french_rules.parts] == [
        "https://example.com/rules/1?hl=fr",
        "https://example.com/rules/2?part=b&hl=fr",
    ]


def test_the_feed_and_the_site_feed_carry_a_difference_between_variants_when_it_appears_and_goes(
    site: tuple[Site, int, int],
    tosmon: Callable[..., object],
    watchlist_file: Callable[[str], Path],
    tmp_path: Path,
) -> None:
    state, origin, _ = site
    watchlist = watchlist_file(f"""
site_url: https://terms.example.org/
fetch: {{timeout: 5, retries: 0}}
services:
  Tunehaven:
    Terms of Service:
      url: https://127.0.0.1:{origin}/terms
      variants:
        GB: {{url: "?gl=GB"}}
        CA: {{accept_language: en-CA}}
""")
    tosmon("check", "--watchlist", watchlist)
    state.ai_in = {"GB"}
    assert tosmon("check", "--watchlist", watchlist).code == 2  # type: ignore[attr-defined]
    state.ai_in = set()
    tosmon("check", "--watchlist", watchlist)

    feed = tosmon("feed", "--watchlist", watchlist).stdout  # type: ignore[attr-defined]
    appeared = "<title>Tunehaven/Terms of Service: the AI training clause appears in GB, not in CA</title>"
    went = "no longer a difference: the AI training clause that appeared in GB, not in CA</title>"
    assert feed.count(appeared) == 1 and feed.count(went) == 1
    assert 'href="https://terms.example.org/index.html#variants"' in feed
    assert appeared in tosmon("feed", "Tunehaven/Terms of Service@CA", "--watchlist", watchlist).stdout  # type: ignore[attr-defined]
    assert tosmon("site", tmp_path / "site", "--watchlist", watchlist).code == 0  # type: ignore[attr-defined]
    assert appeared in (tmp_path / "site" / "feed.xml").read_text()


def test_the_services_own_ai_name_is_no_flagged_difference_between_variants(
    httpserver: HTTPServer, tosmon: Callable[..., object], watchlist_file: Callable[[str], Path]
) -> None:
    # "Acme AI" is the service's name: a variant that names its team is told, not flagged (as a check
    # of one variant would not flag it); a clause about AI one variant gains still is.
    extra = {"US": "", "GB": ""}

    def page(request: Request) -> Response:
        region = request.args.get("gl", "US")
        return Response(english(CURRENCY["US"], ai=False).replace("</main>", extra[region] + "</main>"))

    httpserver.expect_request("/terms").respond_with_handler(page)
    url = httpserver.url_for("/terms")
    watchlist = watchlist_file(
        f"services:\n  Acme AI:\n    Terms of Service:\n      url: {url}\n      variants:\n"
        '        US: {url: "?gl=US"}\n        GB: {url: "?gl=GB"}\n'
    )
    assert check_json(tosmon, watchlist)[0] == 1

    extra["US"] = "<p>Write to the ACME AI team for help with your account.</p>"
    code, run = check_json(tosmon, watchlist)
    [comparison] = run["variants"]  # type: ignore[misc]
    assert comparison["only_in"] == {"US": ["Write to the ACME AI team for help with your account."]}
    assert (comparison["flags"], code) == ([], 1)

    extra["GB"] = f"<p>{AI_CLAUSE}</p>"
    code, run = check_json(tosmon, watchlist)
    [comparison] = run["variants"]  # type: ignore[misc]
    assert [(f["category"], f["in"]) for f in comparison["flags"]] == [("training", ["GB"])]
    assert code == 2
