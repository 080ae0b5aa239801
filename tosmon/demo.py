"""The offline demo: a fictional music platform whose terms gain an AI-training clause overnight.

A local HTTP server on 127.0.0.1 serves the platform's terms; the demo checks them into a
temporary store, switches the server to the next version of the terms, and checks again, exactly
as a nightly run would see the SoundCloud change of February 2024.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources

PAGES = ("terms-1.html", "terms-2.html")


@dataclass
class DemoSite:
    """What the demo server is serving now; `version` switches the terms."""

    url: str = ""
    version: int = 0
    pages: tuple[bytes, ...] = field(default_factory=tuple)


def _pages() -> tuple[bytes, ...]:
    folder = resources.files("tosmon").joinpath("demo_pages")
    return tuple(folder.joinpath(name).read_bytes() for name in PAGES)


@contextmanager
def demo_site() -> Iterator[DemoSite]:
    """Serve the demo platform's terms on 127.0.0.1 for as long as the block runs."""
    site = DemoSite(pages=_pages())

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] != "/legal/terms":
                self.send_error(404)
                return
            body = site.pages[site.version]
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    site.url = f"http://127.0.0.1:{server.server_address[1]}/legal/terms"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()


def demo_watchlist(url: str) -> str:
    return f"""# The demo's watchlist: one fictional platform, served from this machine.
services:
  Tunehaven:
    Terms of Use:
      url: {url}
"""
