"""A hostile or broken web never stops a run: the failing document is reported with a clear reason and
never recorded, the other documents are recorded, and memory stays bounded.

Every server here is real and listens on 127.0.0.1: pytest-httpserver for HTTP answers, a raw TCP
server for what happens below HTTP (resets, silence, trickling), a TLS server with a certificate the
client does not trust.
"""

from __future__ import annotations

import asyncio
import gzip
import http.server
import itertools
import json
import os
import socket
import ssl
import subprocess
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import trustme
import yaml
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tosmon.check import check, check_async
from tosmon.fetch.http import FetchSettings
from tosmon.flag.rules import load_taxonomy
from tosmon.models import CheckResult, CheckRun, Document
from tosmon.store.files import Store

DATA = Path(__file__).parent / "data"
FAST = FetchSettings(timeout=1.0, retries=2, backoff=0.01)
TERMS = (
    "<html><head><title>Terms</title></head><body><main><h1>Terms of Service</h1>"
    "<p>These terms govern your use of the service. You keep the rights to the content you upload.</p>"
    "<p>We may update these terms; we will tell you before the changes take effect, by e-mail.</p>"
    "</main></body></html>"
)
HTTP_FAULTS = yaml.safe_load((DATA / "http_faults.yaml").read_text(encoding="utf-8"))


def run_beside_good_page(
    httpserver: HTTPServer, tmp_path: Path, url: str, settings: FetchSettings = FAST
) -> tuple[CheckResult, CheckResult, Store]:
    """Check a healthy document and the hostile one together; return both results and the store."""
    httpserver.expect_request("/good").respond_with_data(TERMS, content_type="text/html; charset=utf-8")
    good = Document("Healthy", "Terms of Service", httpserver.url_for("/good"))
    hostile = Document("Hostile", "Terms of Service", url)
    store = Store(tmp_path / "snapshots").open()
    run: CheckRun = check((good, hostile), store, settings=settings)
    return run.results[0], run.results[1], store


def assert_reported_not_recorded(good: CheckResult, hostile: CheckResult, store: Store, error: str) -> None:
    assert good.status == "new", good.error
    assert store.latest_version(good.document) is not None
    assert hostile.status == "error"
    assert hostile.error is not None and error in hostile.error
    assert store.versions(hostile.document) == []
    assert store.snapshots(hostile.document) == []


def requests_to(httpserver: HTTPServer, path: str) -> int:
    return sum(1 for request, _ in httpserver.log if request.path == path)


# -- transient and permanent HTTP errors ---------------------------------------------------------


@pytest.mark.parametrize("fault", HTTP_FAULTS, ids=[f["name"] for f in HTTP_FAULTS])
def test_http_error_is_retried_when_transient_then_reported_and_not_recorded(
    httpserver: HTTPServer, tmp_path: Path, fault: dict[str, object]
) -> None:
    httpserver.expect_request("/terms").respond_with_data(
        "<h1>error</h1>", status=fault["status"], headers=fault.get("headers", {})
    )
    good, hostile, store = run_beside_good_page(httpserver, tmp_path, httpserver.url_for("/terms"))
    assert_reported_not_recorded(good, hostile, store, str(fault["error"]))
    assert requests_to(httpserver, "/terms") == fault["attempts"]


def test_retry_after_is_honoured_between_attempts(httpserver: HTTPServer, tmp_path: Path) -> None:
    arrivals: list[float] = []

    def busy(request: Request) -> Response:
        arrivals.append(time.monotonic())
        return Response("slow down", status=429, headers={"Retry-After": "1"})

    httpserver.expect_request("/terms").respond_with_handler(busy)
    run_beside_good_page(httpserver, tmp_path, httpserver.url_for("/terms"))
    assert len(arrivals) == 3
    assert all(later - earlier >= 0.9 for earlier, later in itertools.pairwise(arrivals))


def test_document_that_recovers_within_the_retries_is_recorded(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    answers = iter([Response("busy", status=503), Response("", status=502)])
    httpserver.expect_request("/terms").respond_with_handler(
        lambda request: next(answers, Response(TERMS, content_type="text/html"))
    )
    good, flaky, store = run_beside_good_page(httpserver, tmp_path, httpserver.url_for("/terms"))
    assert (good.status, flaky.status) == ("new", "new")
    version = store.latest_version(flaky.document)
    assert version is not None and "You keep the rights" in version.text


def test_redirect_loop_is_reported(httpserver: HTTPServer, tmp_path: Path) -> None:
    httpserver.expect_request("/loop").respond_with_data("", status=302, headers={"Location": "/loop"})
    good, hostile, store = run_beside_good_page(httpserver, tmp_path, httpserver.url_for("/loop"))
    assert_reported_not_recorded(good, hostile, store, "too many redirects (a redirect loop?)")
    assert requests_to(httpserver, "/loop") == 11  # the first request and 10 redirects, once


def test_redirect_to_a_login_page_is_not_recorded_as_the_terms(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    httpserver.expect_request("/terms").respond_with_data(
        "", status=302, headers={"Location": "/account/login?next=/terms"}
    )
    httpserver.expect_request("/account/login").respond_with_data(
        "<html><body><main><h1>Sign in</h1><form><input name=user></form></main></body></html>",
        content_type="text/html",
    )
    good, hostile, store = run_beside_good_page(httpserver, tmp_path, httpserver.url_for("/terms"))
    assert_reported_not_recorded(
        good,
        hostile,
        store,
        f"redirected to a login page ({httpserver.url_for('/account/login')}?next=/terms)",
    )


def test_ordinary_redirect_is_followed_and_recorded(httpserver: HTTPServer, tmp_path: Path) -> None:
    httpserver.expect_request("/old-terms").respond_with_data(
        "", status=301, headers={"Location": "/legal/terms"}
    )
    httpserver.expect_request("/legal/terms").respond_with_data(TERMS, content_type="text/html")
    _good, moved, store = run_beside_good_page(httpserver, tmp_path, httpserver.url_for("/old-terms"))
    assert moved.status == "new"
    assert store.last_snapshot(moved.document)["final_url"] == httpserver.url_for("/legal/terms")


# -- failures below HTTP -------------------------------------------------------------------------


class RawServer:
    """A TCP server on 127.0.0.1 that misbehaves below HTTP: `behave` runs for every connection."""

    def __init__(self, behave: Callable[[socket.socket, threading.Event], None]) -> None:
        self.behave = behave
        self.connections = 0
        self.closed = threading.Event()
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}/terms"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._handle, args=(connection,), daemon=True).start()

    def _handle(self, connection: socket.socket) -> None:
        with connection:
            try:
                connection.recv(65536)  # the request
                self.behave(connection, self.closed)
            except OSError:
                pass

    def close(self) -> None:
        self.closed.set()
        self.socket.close()


@pytest.fixture
def raw_server() -> Iterator[Callable[[Callable[[socket.socket, threading.Event], None]], RawServer]]:
    servers: list[RawServer] = []

    def start(behave: Callable[[socket.socket, threading.Event], None]) -> RawServer:
        servers.append(RawServer(behave))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def reset(connection: socket.socket, closed: threading.Event) -> None:
    # SO_LINGER with a zero timeout turns close() into a TCP reset.
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")


def never_answer(connection: socket.socket, closed: threading.Event) -> None:
    closed.wait()


def trickle(connection: socket.socket, closed: threading.Event) -> None:
    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 100000\r\n\r\n")
    for byte in TERMS.encode() * 100:
        if closed.wait(0.02):
            return
        connection.sendall(bytes([byte]))


def headers_then_hang_up(connection: socket.socket, closed: threading.Event) -> None:
    connection.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5000\r\n\r\n<html><p>half"
    )


@pytest.mark.parametrize(
    ("behave", "error"),
    [
        (reset, "connection broken"),
        (never_answer, "timed out: no complete response within 1 s"),
        (trickle, "timed out: no complete response within 1 s"),
        (headers_then_hang_up, "connection broken"),
    ],
    ids=["connection reset", "accepts and never answers", "body trickled byte by byte", "truncated body"],
)
def test_broken_connection_is_retried_then_reported(
    httpserver: HTTPServer, tmp_path: Path, raw_server: Callable[..., RawServer], behave: object, error: str
) -> None:
    server = raw_server(behave)
    good, hostile, store = run_beside_good_page(httpserver, tmp_path, server.url)
    assert_reported_not_recorded(good, hostile, store, error)
    assert hostile.error.endswith("(gave up after 3 attempts)")
    assert server.connections == 3


def test_connect_timeout_is_retried_then_reported(httpserver: HTTPServer, tmp_path: Path) -> None:
    # A listening socket that never accepts, its backlog filled: the kernel drops further SYNs.
    listener = socket.create_server(("127.0.0.1", 0), backlog=0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    time.sleep(0.2)
    try:
        good, hostile, store = run_beside_good_page(httpserver, tmp_path, f"http://127.0.0.1:{port}/terms")
    finally:
        for filler in fillers:
            filler.close()
        listener.close()
    assert_reported_not_recorded(good, hostile, store, "timed out")
    assert "ConnectTimeout" in hostile.error or "TimeoutError" in hostile.error


def test_refused_connection_is_retried_then_reported(httpserver: HTTPServer, tmp_path: Path) -> None:
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    good, hostile, store = run_beside_good_page(httpserver, tmp_path, f"http://127.0.0.1:{port}/terms")
    assert_reported_not_recorded(good, hostile, store, "cannot connect: connection refused")


def test_host_name_that_does_not_resolve_is_a_permanent_error(httpserver: HTTPServer, tmp_path: Path) -> None:
    # `.invalid` never resolves (RFC 6761), but here the query would still go to a DNS server beyond
    # this machine; run only where the resolver is local.
    resolvers = [
        line.split()[1]
        for line in Path("/etc/resolv.conf").read_text().splitlines()
        if line.startswith("nameserver")
    ]
    if not resolvers or not all(r.startswith("127.") for r in resolvers):
        pytest.skip(f"name resolution is not local here (nameservers {resolvers}); not sending a DNS query")
    good, hostile, store = run_beside_good_page(httpserver, tmp_path, "http://tosmon-test.invalid/terms")
    assert_reported_not_recorded(good, hostile, store, "cannot connect")
    assert "gave up" not in hostile.error


def test_name_resolution_failure_is_not_retried(httpserver: HTTPServer, tmp_path: Path) -> None:
    # What httpx raises when getaddrinfo fails, from a transport standing in for the public DNS.
    def no_such_host(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno -2] Name or service not known", request=request)

    attempts = 0

    def counting(request: httpx.Request) -> httpx.Response:
        nonlocal attempts
        attempts += 1
        return no_such_host(request)

    async def run() -> CheckRun:
        async with httpx.AsyncClient(transport=httpx.MockTransport(counting)) as client:
            store = Store(tmp_path / "snapshots").open()
            document = Document("Gone", "Terms of Service", "https://no-such-host.example/terms")
            return await check_async(
                (document,), store, taxonomy=load_taxonomy(), settings=FAST, client=client
            )

    result = asyncio.run(run()).results[0]
    assert result.status == "error"
    assert result.error == "cannot resolve host name no-such-host.example: no such host (a typo, or no DNS?)"
    assert attempts == 1


@pytest.fixture
def untrusted_tls_server() -> Iterator[str]:
    """An HTTPS server on 127.0.0.1 whose certificate comes from a CA the client has never heard of."""
    authority = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)

    class Terms(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(TERMS.encode())

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Terms)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"https://127.0.0.1:{server.server_address[1]}/terms"
    server.shutdown()
    server.server_close()


def test_untrusted_certificate_is_a_permanent_error(
    httpserver: HTTPServer, tmp_path: Path, untrusted_tls_server: str
) -> None:
    good, hostile, store = run_beside_good_page(httpserver, tmp_path, untrusted_tls_server)
    assert_reported_not_recorded(good, hostile, store, "CERTIFICATE_VERIFY_FAILED")
    assert "gave up" not in hostile.error


# -- hostile responses ---------------------------------------------------------------------------


def peak_traced_memory(action: Callable[[], object]) -> int:
    """The peak of Python allocations during `action`: a sanity bound, not a benchmark."""
    tracemalloc.start()
    try:
        action()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_fifty_megabyte_body_is_refused_while_streaming(httpserver: HTTPServer, tmp_path: Path) -> None:
    sent = 0

    def huge(request: Request) -> Response:
        def chunks() -> Iterator[bytes]:
            nonlocal sent
            yield b"<html><body><main>"
            for _ in range(50):
                sent += 1_000_000
                yield b"<p>clause</p>" * 76_923

        return Response(chunks(), content_type="text/html")

    httpserver.expect_request("/terms").respond_with_handler(huge)
    results: list[object] = []
    peak = peak_traced_memory(
        lambda: results.extend(run_beside_good_page(httpserver, tmp_path, httpserver.url_for("/terms")))
    )
    good, hostile, store = results
    assert_reported_not_recorded(good, hostile, store, "response larger than 10,000,000 bytes; not recorded")
    assert peak < 40_000_000
    assert sent < 50_000_000  # tosmon hung up before the end


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    """200 MB of zeros in about 200 KB of gzip."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    zeros = bytes(1_000_000)
    return b"".join(compressor.compress(zeros) for _ in range(200)) + compressor.flush()


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_gzip_bomb_is_refused_with_bounded_memory(
    httpserver: HTTPServer, tmp_path: Path, gzip_bomb: bytes, encoding: str
) -> None:
    body = gzip_bomb if encoding == "gzip" else zlib.compress(bytes(200_000_000), 9)
    httpserver.expect_request("/terms").respond_with_data(
        body, content_type="text/html", headers={"Content-Encoding": encoding}
    )
    results: list[object] = []
    peak = peak_traced_memory(
        lambda: results.extend(run_beside_good_page(httpserver, tmp_path, httpserver.url_for("/terms")))
    )
    good, hostile, store = results
    assert_reported_not_recorded(good, hostile, store, "response larger than 10,000,000 bytes; not recorded")
    assert peak < 40_000_000


def test_gzipped_page_is_decoded(httpserver: HTTPServer, tmp_path: Path) -> None:
    httpserver.expect_request("/terms").respond_with_data(
        gzip.compress(TERMS.encode()), content_type="text/html", headers={"Content-Encoding": "gzip"}
    )
    _good, zipped, store = run_beside_good_page(httpserver, tmp_path, httpserver.url_for("/terms"))
    assert zipped.status == "new"
    assert "You keep the rights" in store.latest_version(zipped.document).text


@pytest.mark.parametrize(
    ("encoding", "error"),
    [
        ("gzip", "undecodable response"),
        ("br", "unsupported Content-Encoding 'br'; not recorded"),
    ],
    ids=["corrupt gzip", "encoding never asked for"],
)
def test_undecodable_body_is_reported(
    httpserver: HTTPServer, tmp_path: Path, encoding: str, error: str
) -> None:
    httpserver.expect_request("/terms").respond_with_data(
        b"\x1f\x8b\x08\x00garbage that is not deflate",
        content_type="text/html",
        headers={"Content-Encoding": encoding},
    )
    good, hostile, store = run_beside_good_page(httpserver, tmp_path, httpserver.url_for("/terms"))
    assert_reported_not_recorded(good, hostile, store, error)


GERMAN = (
    "<html><body><main><h1>Nutzungsbedingungen</h1>"
    "<p>Diese Bedingungen gelten für Künstlerinnen, Künstler und Hörer unseres Dienstes in Österreich.</p>"
    "<p>Sie regeln die Nutzung aller Funktionen, Uploads und Abonnements, die wir über Website und App anbieten.</p>"
    "</main></body></html>"
)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (GERMAN.encode("utf-8"), "text/html; charset=iso-8859-1"),
        (GERMAN.encode("utf-8"), "text/html"),
        (GERMAN.encode("cp1252"), "text/html; charset=utf-8"),
        (GERMAN.encode("cp1252"), "text/html"),
        (GERMAN.encode("utf-8"), "text/plain; charset=utf-8"),
        (GERMAN.encode("utf-8"), "application/octet-stream"),
        (GERMAN.encode("utf-8"), ""),
    ],
    ids=[
        "utf-8 declared latin-1",
        "utf-8 undeclared",
        "cp1252 declared utf-8",
        "cp1252 undeclared",
        "html labelled text/plain",
        "html labelled octet-stream",
        "no content type",
    ],
)
def test_wrong_charset_or_content_type_still_gives_the_right_text(
    httpserver: HTTPServer, tmp_path: Path, body: bytes, content_type: str
) -> None:
    httpserver.expect_request("/terms").respond_with_data(body, headers={"Content-Type": content_type})
    _good, mislabelled, store = run_beside_good_page(httpserver, tmp_path, httpserver.url_for("/terms"))
    assert mislabelled.status == "new", mislabelled.error
    assert store.latest_version(mislabelled.document).text == (
        "# Nutzungsbedingungen\n"
        "Diese Bedingungen gelten für Künstlerinnen, Künstler und Hörer unseres Dienstes in Österreich.\n"
        "Sie regeln die Nutzung aller Funktionen, Uploads und Abonnements, die wir über Website und App anbieten.\n"
    )


@pytest.mark.parametrize("content_type", ["application/octet-stream", "text/html", "text/plain"])
def test_binary_garbage_is_reported_not_recorded(
    httpserver: HTTPServer, tmp_path: Path, content_type: str
) -> None:
    garbage = bytes((i * 7919 + 13) % 256 for i in range(20_000))
    httpserver.expect_request("/terms").respond_with_data(garbage, content_type=content_type)
    good, hostile, store = run_beside_good_page(httpserver, tmp_path, httpserver.url_for("/terms"))
    assert good.status == "new"
    assert hostile.status == "error"
    assert "binary data, not a text or HTML page" in hostile.error
    assert store.versions(hostile.document) == []


INTRO = "These terms govern your use of the service and of everything you upload to it, in every country we serve."


@pytest.mark.parametrize("depth", [300, 2000])
def test_deeply_nested_html_keeps_all_its_text(httpserver: HTTPServer, tmp_path: Path, depth: int) -> None:
    page = f"<html><body><main><p>{INTRO}</p>{'<div>' * depth}Deep.{'</div>' * depth}<p>Outro.</p></main></body></html>"
    httpserver.expect_request("/terms").respond_with_data(page, content_type="text/html")
    _good, nested, store = run_beside_good_page(httpserver, tmp_path, httpserver.url_for("/terms"))
    assert nested.status == "new", nested.error
    assert store.latest_version(nested.document).text == f"{INTRO}\nDeep.\nOutro.\n"


def test_html_nested_beyond_the_parser_limit_is_reported_not_cut_short(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    depth = 100_000
    page = f"<html><body><main><p>Intro.</p>{'<div>' * depth}Deep.{'</div>' * depth}<p>Outro.</p></main></body></html>"
    httpserver.expect_request("/terms").respond_with_data(page, content_type="text/html")
    good, hostile, store = run_beside_good_page(httpserver, tmp_path, httpserver.url_for("/terms"))
    assert good.status == "new"
    assert hostile.status == "error"
    assert hostile.error.startswith(
        "the page nests elements too deeply (over 2048 levels); the page is kept as evidence"
    )
    assert store.versions(hostile.document) == []


def test_page_of_a_million_elements_is_checked_within_bounded_memory(
    httpserver: HTTPServer, tmp_path: Path, tosmon_process: Callable[..., subprocess.Popen[str]]
) -> None:
    page = "<html><body><main>" + "<p>x</p>" * 1_000_000 + "</main></body></html>"
    httpserver.expect_request("/terms").respond_with_data(page, content_type="text/html")
    httpserver.expect_request("/good").respond_with_data(TERMS, content_type="text/html")
    watchlist = tmp_path / "watchlist.yaml"
    watchlist.write_text(
        "services:\n"
        f"  Healthy:\n    Terms of Service:\n      url: {httpserver.url_for('/good')}\n"
        f"  Huge:\n    Terms of Service:\n      url: {httpserver.url_for('/terms')}\n",
        encoding="utf-8",
    )
    process = tosmon_process("check", "--json", "--watchlist", watchlist)
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    assert process.returncode == 1, process.stderr.read()
    assert [d["status"] for d in json.loads(output)["documents"]] == ["new", "new"]
    assert usage.ru_maxrss * 1024 < 1_000_000_000  # a sanity bound on an 8 MB page, not a benchmark
