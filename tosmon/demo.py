"""The offline demo: a fictional music platform whose terms gain an AI-training clause overnight.

A local HTTP server on 127.0.0.1 serves the platform's terms; the demo checks them into a store
dated the day before, switches the server to the next version of the terms, and checks again,
exactly as two nightly runs would have seen the SoundCloud change of February 2024.
"""

from __future__ import annotations

import errno
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources

PAGES = ("terms-1.html", "terms-2.html")
PATH = "/legal/terms.html"  # a file's name, so that any static file server serves it as HTML
PORT = (
    8765  # the demo's port when it is free, so that a kept watchlist names a port it can be served on again
)


@dataclass
class DemoSite:
    """What the demo server is serving now; `version` switches the terms."""

    url: str = ""
    port: int = 0
    version: int = 0
    pages: tuple[bytes, ...] = field(default_factory=tuple)


def demo_pages() -> tuple[bytes, ...]:
    """The platform's terms, before and after the night they changed."""
    folder = resources.files("tosmon").joinpath("demo_pages")
    return tuple(folder.joinpath(name).read_bytes() for name in PAGES)


@contextmanager
def demo_site(port: int = 0) -> Iterator[DemoSite]:
    """Serve the demo platform's terms on 127.0.0.1 (on `port` if it is free) for as long as the block runs."""
    site = DemoSite(pages=demo_pages())

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] != PATH:
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

    try:
        server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    except OSError as error:
        if not port or error.errno != errno.EADDRINUSE:
            raise
        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    site.port = server.server_address[1]
    site.url = f"http://127.0.0.1:{site.port}{PATH}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()


def demo_watchlist(url: str, port: int | None = None) -> str:
    """The demo's watchlist; with `port`, it says how to serve the kept pages again to check them."""
    replay = (
        f"""#
# The demo's server has stopped; its pages are kept in pages/. To check them again, serve them
# from this folder on the same address:
#   python3 -m http.server {port} --bind 127.0.0.1 --directory pages
# then, in another terminal: tosmon check   (the terms are unchanged since night 2)
"""
        if port
        else ""
    )
    return f"""# The demo's watchlist: one fictional platform, served from this machine.
{replay}services:
  Tunehaven:
    Terms of Use:
      url: {url}
"""
