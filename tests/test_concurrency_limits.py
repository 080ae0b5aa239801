"""tosmon is polite: at most `per_host` requests to one host at a time, at most `total` in all, and an
optional pause between two requests to the same host. Two host names (127.0.0.1 and localhost) reach
one real server on 127.0.0.1, which counts the requests it is serving at once."""

from __future__ import annotations

import http.server
import itertools
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tosmon.check import check
from tosmon.fetch.http import FetchSettings
from tosmon.models import Document
from tosmon.store.files import Store

PAGE = (
    "<html><body><main><h1>Terms</h1>"
    + "<p>These terms govern your use of the service and everything you upload to it.</p>" * 4
    + "</main></body></html>"
).encode()


class CountingServer:
    """An HTTP server that takes `pause` seconds per request and records how many it serves at once."""

    def __init__(self, pause: float) -> None:
        self.lock = threading.Lock()
        self.now_serving: Counter[str] = Counter()
        self.most: Counter[str] = Counter()
        self.arrivals: dict[str, list[float]] = {}
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                host = self.headers["Host"].rsplit(":", 1)[0]
                with server.lock:
                    server.arrivals.setdefault(host, []).append(time.monotonic())
                    for key in (host, "all"):
                        server.now_serving[key] += 1
                        server.most[key] = max(server.most[key], server.now_serving[key])
                time.sleep(pause)
                with server.lock:
                    for key in (host, "all"):
                        server.now_serving[key] -= 1
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(PAGE)))
                self.end_headers()
                self.wfile.write(PAGE)

            def log_message(self, *args: object) -> None:
                pass

        self.http = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.http.server_address[1]
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def documents(self, per_host: int) -> tuple[Document, ...]:
        return tuple(
            Document(f"{host} {i}", "Terms", f"http://{host}:{self.port}/terms/{i}")
            for host in ("127.0.0.1", "localhost")
            for i in range(per_host)
        )


@pytest.fixture
def counting_server() -> Iterator[CountingServer]:
    server = CountingServer(pause=0.3)
    yield server
    server.http.shutdown()
    server.http.server_close()


def test_requests_to_one_host_never_exceed_the_per_host_limit(
    counting_server: CountingServer, tmp_path: Path
) -> None:
    run = check(
        counting_server.documents(per_host=6),
        Store(tmp_path / "snapshots").open(),
        settings=FetchSettings(per_host=2, total=100, retries=0),
    )
    assert {r.status for r in run.results} == {"new"}
    assert counting_server.most["127.0.0.1"] == 2
    assert counting_server.most["localhost"] == 2


def test_requests_in_all_never_exceed_the_global_limit(
    counting_server: CountingServer, tmp_path: Path
) -> None:
    run = check(
        counting_server.documents(per_host=6),
        Store(tmp_path / "snapshots").open(),
        settings=FetchSettings(per_host=2, total=3, retries=0),
    )
    assert {r.status for r in run.results} == {"new"}
    assert counting_server.most["all"] == 3


def test_host_delay_spaces_the_requests_to_one_host(counting_server: CountingServer, tmp_path: Path) -> None:
    run = check(
        counting_server.documents(per_host=3),
        Store(tmp_path / "snapshots").open(),
        settings=FetchSettings(per_host=1, host_delay=0.5, retries=0),
    )
    assert {r.status for r in run.results} == {"new"}
    for host in ("127.0.0.1", "localhost"):
        arrivals = counting_server.arrivals[host]
        # Each request takes 0.3 s, then the host's slot is held 0.5 s more.
        assert all(b - a >= 0.75 for a, b in itertools.pairwise(arrivals))
