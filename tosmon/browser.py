"""Render pages that are only complete after JavaScript runs, in the system's headless Chromium.

Playwright drives the Chromium the system installed (Debian's `chromium`), never a browser of its
own download, which is not available everywhere. Both are optional (`pip install 'tosmon[browser]'`):
without them the documents that need a browser fail with an error saying what to install, and
nothing else is affected. One browser serves the whole run; it starts only when a document needs it.

`fetch_page` decides how each document is fetched: `fetcher: http` (the default) only over plain
HTTP, `fetcher: browser` only in the browser, `fetcher: auto` over HTTP first and in the browser
when the response looks like a bot block or lacks the declared text.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from tosmon.errors import ExtractError, FetchError
from tosmon.extract import is_html, is_pdf, page_text
from tosmon.fetch import Fetcher, FetchSettings, proxy_login
from tosmon.models import Document, RangeSelector, Snapshot, utcnow

if TYPE_CHECKING:
    from playwright.async_api import Browser as PlaywrightBrowser
    from playwright.async_api import Page, Playwright

MISSING = (
    "fetcher: browser needs Playwright and Chromium: "
    "pip install 'tosmon[browser]' and apt-get install chromium"
)
CHROMIUM_NAMES = ("chromium", "chromium-browser")
# Headless, and quiet: no update checks, sync or field trials phoning out from a closed network.
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
PAGES_AT_ONCE = 2  # a rendering page costs a core and ~100 MB: more would starve a small server
BLOCK_STATUSES = frozenset({403, 406})
# Markers of the interstitial pages bot walls serve instead of the content (Cloudflare, DataDome,
# PerimeterX); strong enough that a real legal page never carries them.
CHALLENGE = re.compile(
    rb"/cdn-cgi/challenge-platform/|cf-chl-|<title>\s*(Just a moment\.\.\.|Attention Required! \| Cloudflare)"
    rb"|captcha-delivery\.com|px-captcha",
    re.IGNORECASE,
)
# True once every selector matches an element holding text (and every range anchor exists).
# A selector Chromium cannot parse (cssselect accepts a few more) is not waited for.
_READY = """([texts, anchors]) => {
  const all = (selector) => { try { return [...document.querySelectorAll(selector)] } catch { return null } };
  return texts.every((s) => { const found = all(s); return found === null || found.some((e) => e.textContent.trim()) })
    && anchors.every((s) => { const found = all(s); return found === null || found.length > 0 });
}"""


def find_chromium() -> str | None:
    """The system's Chromium, if one is installed."""
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


class Browser:
    """A headless Chromium shared by the run, started on first use and closed by `close`."""

    def __init__(
        self,
        settings: FetchSettings,
        now: Callable[[], datetime] = utcnow,
        executable: str | None = None,
    ) -> None:
        self.settings = settings
        self.now = now
        self.executable = executable
        self._pages = asyncio.Semaphore(PAGES_AT_ONCE)
        self._lock = asyncio.Lock()
        self._playwright: Playwright | None = None
        self._browser: PlaywrightBrowser | None = None
        self._failure: FetchError | None = None

    async def _start(self) -> PlaywrightBrowser:
        async with self._lock:
            if self._failure is not None:
                raise self._failure
            if self._browser is None:
                try:
                    self._browser = await self._launch()
                except FetchError as error:
                    self._failure = error  # one failed start is enough: do not retry per document
                    raise
            return self._browser

    async def _launch(self) -> PlaywrightBrowser:
        executable = self.executable or find_chromium()
        try:
            from playwright.async_api import Error, async_playwright
        except ImportError:
            raise FetchError(f"{MISSING} (Playwright is not installed)") from None
        if executable is None or shutil.which(executable) is None:
            raise FetchError(f"{MISSING} (no Chromium found)")
        self._playwright = await async_playwright().start()
        try:
            return await self._playwright.chromium.launch(
                executable_path=executable, args=list(CHROMIUM_ARGS), timeout=self.settings.timeout * 1000
            )
        except Error as error:
            await self._playwright.stop()
            self._playwright = None
            raise FetchError(f"cannot start Chromium ({executable}): {_first_line(error)}") from None

    async def fetch(self, document: Document) -> Snapshot:
        """The page as Chromium shows it once the document's selectors hold text, as HTML."""
        from playwright.async_api import Error, TimeoutError

        browser = await self._start()
        timeout = self.settings.timeout * 1000
        proxy = None
        if document.proxy:  # a variant seen from elsewhere: this page's context goes through its proxy
            server, auth = proxy_login(document, os.environ)
            proxy = {"server": server, **({"username": auth[0], "password": auth[1]} if auth else {})}
            proxy["bypass"] = "<-loopback>"  # Chromium goes direct to loopback addresses unless told
        async with self._pages:
            context = await browser.new_context(
                locale=re.split(r"[,;]", document.accept_language)[0].strip(),
                extra_http_headers={"Accept-Language": document.accept_language, **dict(document.headers)},
                proxy=proxy,  # type: ignore[arg-type]
            )
            try:
                page = await context.new_page()
                response = await page.goto(document.url, wait_until="load", timeout=timeout)
                if response is not None and response.status >= 400:
                    raise FetchError(
                        f"HTTP {response.status} {response.status_text}".rstrip(),
                        transient=response.status == 429 or response.status >= 500,
                        status=response.status,
                    )
                content_type = (response.headers.get("content-type") if response else None) or "text/html"
                if is_html(content_type, b""):
                    await self._settle(page, document, timeout)
                    body = (await page.content()).encode("utf-8")
                    content_type = "text/html; charset=utf-8"
                else:
                    # A PDF opens in Chromium's viewer, whose page is not the document: ask for the file
                    # itself, with the browser's cookies.
                    download = await context.request.get(page.url, timeout=timeout)
                    body = await download.body()
                    content_type = download.headers.get("content-type", content_type)
                final_url = page.url
            except TimeoutError:
                raise FetchError(
                    f"the browser timed out after {self.settings.timeout:g} s", transient=True
                ) from None
            except Error as error:
                raise FetchError(f"the browser failed: {_first_line(error)}") from None
            finally:
                await context.close()
        if len(body) > self.settings.max_bytes:
            raise FetchError(f"rendered page larger than {self.settings.max_bytes:,} bytes; not recorded")
        return Snapshot(
            requested_url=document.url,
            final_url=final_url,
            status=response.status if response is not None else 200,
            content_type=content_type,
            fetched_at=self.now(),
            body=body,
        )

    async def _settle(self, page: Page, document: Document, timeout: float) -> None:
        """Wait until the declared selectors hold text, or, without any, until the network is quiet.

        When the wait times out the page is taken as it is: extraction then says which selector
        matches nothing, which is clearer than a bare timeout.
        """
        from playwright.async_api import TimeoutError

        texts = [s for s in document.select if isinstance(s, str)]
        anchors = [
            css
            for s in document.select
            if isinstance(s, RangeSelector)
            for css in (s.start_before, s.start_after, s.end_before, s.end_after)
            if css
        ]
        try:
            if texts or anchors:
                await page.wait_for_function(_READY, arg=[texts, anchors], timeout=timeout)
            else:
                await page.wait_for_load_state("networkidle", timeout=timeout)
        except TimeoutError:
            pass

    async def close(self) -> None:
        if self._browser is not None:
            await self._browser.close()
            self._browser = None
        if self._playwright is not None:
            await self._playwright.stop()
            self._playwright = None


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def falls_short(document: Document, snapshot: Snapshot) -> bool:
    """Whether a plain HTTP response looks like a bot wall or lacks the document's text."""
    if is_pdf(snapshot.content_type, snapshot.body):
        return False
    if CHALLENGE.search(snapshot.body[:100_000]):
        return True
    try:
        text = page_text(document, snapshot)
    except ExtractError:
        return True
    return not text.strip()


async def fetch_page(
    document: Document,
    http: Fetcher,
    browser: Browser,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
) -> Snapshot | None:
    """The document's page, fetched as its `fetcher` says; None when HTTP says it has not changed (304)."""
    if document.fetcher == "browser":
        return await browser.fetch(document)
    try:
        snapshot = await http.fetch(document, etag=etag, last_modified=last_modified)
    except FetchError as error:
        if document.fetcher == "auto" and error.status in BLOCK_STATUSES:
            return await browser.fetch(document)
        raise
    if document.fetcher == "auto" and snapshot is not None and falls_short(document, snapshot):
        return await browser.fetch(document)
    return snapshot
