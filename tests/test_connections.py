"""Connections: pages come over HTTPS from a server the system trusts, one kept-alive connection serves
a host's documents in turn, a connection the server closed while idle is replaced, and a request the
server hung up on as it arrived is sent again at once: none of them is an error.

The servers are real and listen on 127.0.0.1 (http.server, with TLS from conftest's private authority,
trusted through SSL_CERT_FILE).
"""

from __future__ import annotations

import http.server
import itertools
import socket
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tosmon.check import check
from tosmon.fetch.http import FetchSettings
from tosmon.models import CheckRun, Document
from tosmon.store.files import Store

ONE_AT_A_TIME = FetchSettings(timeout=5.0, retries=0, per_host=1, total=1)


@dataclass
class Site:
    url: str
    connections: set[tuple[str, int]] = field(default_factory=set)  # client address of each connection
    requests: int = 0


def serve(context: ssl.SSLContext | None, close_after_each: bool) -> tuple[Site, http.server.HTTPServer]:
    """An HTTP/1.1 server that keeps connections alive unless `close_after_each`, when it hangs up
    after each response without saying so (as a server whose keep-alive timeout is shorter than ours)."""
    site = Site("")

    class Terms(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            site.connections.add(self.client_address)
            site.requests += 1
            body = (
                f"<html><body><main><h1>Terms {self.path}</h1><p>{'Clause. ' * 40}</p></main></body></html>"
            )
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body.encode())))
            self.end_headers()
            self.wfile.write(body.encode())
            self.wfile.flush()
            if close_after_each:
                self.close_connection = True

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Terms)
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    scheme = "https" if context else "http"
    site.url = f"{scheme}://127.0.0.1:{server.server_address[1]}"
    return site, server


def check_site(site: Site, server: http.server.HTTPServer, count: int, store: Path) -> CheckRun:
    """Check `count` documents of the site, one request at a time, then stop its server."""
    documents = tuple(Document(f"Service {i}", "Terms", f"{site.url}/terms/{i}") for i in range(count))
    try:
        return check(documents, Store(store).open(), settings=ONE_AT_A_TIME)
    finally:
        server.shutdown()
        server.server_close()


def test_pages_over_https_from_a_trusted_authority_share_one_kept_alive_connection(
    tmp_path: Path, server_tls: ssl.SSLContext
) -> None:
    site, server = serve(server_tls, close_after_each=False)
    run = check_site(site, server, 3, tmp_path / "snapshots")
    assert [(r.status, r.error) for r in run.results] == [("new", None)] * 3
    assert site.requests == 3
    assert len(site.connections) == 1


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_a_connection_the_server_closed_while_idle_is_replaced_without_an_error(
    tmp_path: Path, server_tls: ssl.SSLContext, tls: bool
) -> None:
    site, server = serve(server_tls if tls else None, close_after_each=True)
    run = check_site(site, server, 4, tmp_path / "snapshots")
    assert [(r.status, r.error) for r in run.results] == [("new", None)] * 4
    assert site.requests == 4  # no request failed and was sent again
    assert len(site.connections) == 4


def test_a_request_the_server_hung_up_on_is_sent_again_at_once_on_a_new_connection(
    tmp_path: Path,
) -> None:
    """The server's idle timeout and the next request cross: it closes the kept-alive connection
    when the request arrives, without a response. Sent again at once, not after a backoff, and
    not an error even with no retries."""
    listener = socket.create_server(("127.0.0.1", 0))
    received: list[tuple[int, str]] = []  # (connection number, request line)

    def serve_connections() -> None:
        for number in itertools.count(1):
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            with connection, connection.makefile("rb") as requests:
                while line := requests.readline():
                    while requests.readline() not in (b"\r\n", b""):
                        pass  # the headers
                    received.append((number, line.decode().split()[1]))
                    if number == 1 and len(received) == 2:
                        break  # hang up on the second request of the first connection
                    body = (
                        b"<html><body><main><h1>Terms</h1><p>"
                        + b"Clause. " * 40
                        + b"</p></main></body></html>"
                    )
                    head = (
                        f"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {len(body)}\r\n\r\n"
                    )
                    connection.sendall(head.encode() + body)

    threading.Thread(target=serve_connections, daemon=True).start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    documents = tuple(Document(f"Service {i}", "Terms", f"{url}/terms/{i}") for i in range(3))
    try:
        run = check(documents, Store(tmp_path / "snapshots").open(), settings=ONE_AT_A_TIME)
    finally:
        listener.close()
    assert [(r.status, r.error) for r in run.results] == [("new", None)] * 3
    assert received == [(1, "/terms/0"), (1, "/terms/1"), (2, "/terms/1"), (2, "/terms/2")]
