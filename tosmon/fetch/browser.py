"""Render pages that are only complete after JavaScript runs, in the system's headless Chromium.

Playwright drives the Chromium the system installed (Debian's `chromium`), never a browser of its
own download, which is not available everywhere. Both are optional (`pip install 'tosmon[browser]'`):
without them the documents that need a browser fail with an error saying what to install, and
nothing else is affected. One browser serves the whole run; it starts only when a document needs it.
A rendered page is taken once it has finished: its selected text has stopped changing and the
network is quiet; a page that never settles is an error, not a version.

`fetch_judged` decides how each page is fetched: `fetcher: http` only over plain HTTP, `fetcher:
browser` only in the browser, `fetcher: auto` (the default) over HTTP first and in the browser when
the plain page fails the health guards in a way rendering can fix (empty, tiny, a selector that
matches nothing, a "please enable JavaScript" shell, a bot challenge or block). A page that needed
the browser is remembered (the document's state, `browser`), so the next runs render it straight
away; plain HTTP is tried again once a week, and taken back only if it gives the rendered text.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

from tosmon.errors import FetchError
from tosmon.extract.html import is_html, is_pdf
from tosmon.fetch.http import Fetcher, FetchSettings, proxy_login
from tosmon.health import MIN_WORDS, SHORT_PAGE_WORDS, Problem, placeholder
from tosmon.models import Document, RangeSelector, Snapshot, utcnow

if TYPE_CHECKING:
    from playwright.async_api import Browser as PlaywrightBrowser
    from playwright.async_api import Page, Playwright, Request

INSTALL = "pip install 'tosmon[browser]' and apt-get install chromium"
MISSING = f"fetcher: browser needs Playwright and Chromium: {INSTALL}"
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
BLOCK_STATUSES = frozenset({403, 406})  # what bot walls answer plain HTTP clients with
# The health problems a browser can fix: what a page whose text scripts write, or a bot wall that
# lets browsers through, looks like over plain HTTP. Not a login page, an error page or a language.
RENDERING_FIXES = frozenset({"empty", "tiny", "selector", "script", "challenge", "shrunk"})
# How long a page that needed the browser is rendered straight away before plain HTTP is tried
# again. A week: sites change how they build their pages over months, not days, and a clock (not a
# count of runs) costs a document checked hourly no more plain fetches than one checked nightly.
HTTP_AGAIN = timedelta(days=7)

# When a rendered page has finished: its selected text (of MIN_WORDS words at least, and no
# placeholder) unchanged for QUIET seconds, with the network quiet. Nothing changing and no request
# for GIVE_UP seconds: nothing more is coming, whatever the page holds. A request open for longer
# than LONG_REQUEST is a stream or a long poll, not the page loading.
POLL = 0.1
QUIET = 1.0
GIVE_UP = 3.0
LONG_REQUEST = 5.0
# The selected text, as a hash and a word count, whether every selector holds text (and every range
# anchor exists), and the start of a short text (to spot a placeholder). Without selectors, the
# page's body without its navigation, header, footer and asides, which extraction drops too.
# A selector Chromium cannot parse (cssselect accepts a few more) is not waited for.
_SELECTED = r"""([texts, removed, anchors, shortWords]) => {
  const all = (selector) => { try { return [...document.querySelectorAll(selector)] } catch { return null } };
  const never = new Set(["SCRIPT", "STYLE", "NOSCRIPT", "TEMPLATE"]);
  const skip = new Set(removed.flatMap((s) => all(s) || []));
  if (!texts.length && !anchors.length) all("nav, header, footer, aside").forEach((e) => skip.add(e));
  const textOf = (root) => {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_ELEMENT | NodeFilter.SHOW_TEXT, {
      acceptNode: (node) => node.nodeType === Node.TEXT_NODE ? NodeFilter.FILTER_ACCEPT
        : skip.has(node) || never.has(node.tagName) ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_SKIP,
    });
    const parts = [];
    for (let node = walker.nextNode(); node; node = walker.nextNode()) parts.push(node.data);
    return parts.join(" ");
  };
  const roots = texts.length && !anchors.length ? texts.flatMap((s) => all(s) || []) : [document.body];
  const words = roots.map((root) => root ? textOf(root) : "").join(" ").split(/\s+/).filter(Boolean);
  const text = words.join(" ");
  let hash = 2166136261;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 16777619);
  const ready = texts.every((s) => { const found = all(s); return found === null || found.some((e) => e.textContent.trim()) })
    && anchors.every((s) => { const found = all(s); return found === null || found.length > 0 });
  return [hash >>> 0, words.length, ready, words.length < shortWords ? text.slice(0, 2000) : ""];
}"""


# Starting Chromium is paid once a run and depends on the machine, not on the site: a short page timeout
# (`fetch: {timeout: 1}`) must not make a busy machine's browser "fail" before it has started.
LAUNCH_SECONDS = 30


class BrowserMissing(FetchError):
    """Playwright or Chromium is not installed; `detail` says which."""

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(f"{MISSING} ({detail})")


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
            raise BrowserMissing("Playwright is not installed") from None
        if executable is None or shutil.which(executable) is None:
            raise BrowserMissing("no Chromium found")
        self._playwright = await async_playwright().start()
        try:
            return await self._playwright.chromium.launch(
                executable_path=executable,
                args=list(CHROMIUM_ARGS),
                timeout=max(self.settings.timeout, LAUNCH_SECONDS) * 1000,
            )
        except Error as error:
            await self._playwright.stop()
            self._playwright = None
            raise FetchError(f"cannot start Chromium ({executable}): {_first_line(error)}") from None

    async def fetch(self, document: Document) -> Snapshot:
        """The page as Chromium shows it once it has finished (see `_settle`), as HTML."""
        from playwright.async_api import Error, TimeoutError

        browser = await self._start()
        loop = asyncio.get_running_loop()
        timeout = self.settings.timeout * 1000
        proxy = None
        if document.proxy:  # a variant seen from elsewhere: this page's context goes through its proxy
            server, auth = proxy_login(document, os.environ)
            proxy = {"server": server, **({"username": auth[0], "password": auth[1]} if auth else {})}
            proxy["bypass"] = "<-loopback>"  # Chromium goes direct to loopback addresses unless told
        async with self._pages:
            deadline = loop.time() + self.settings.timeout
            context = await browser.new_context(
                locale=re.split(r"[,;]", document.accept_language)[0].strip(),
                extra_http_headers={"Accept-Language": document.accept_language, **dict(document.headers)},
                proxy=proxy,  # type: ignore[arg-type]
            )
            try:
                page = await context.new_page()
                network = _Network(page, loop.time)
                # "commit", then "load" for HTML only: a PDF opens in Chromium's viewer, whose load event
                # headless Chromium does not always fire (a third of the runs timed out waiting for it).
                response = await page.goto(document.url, wait_until="commit", timeout=timeout)
                if response is not None and response.status >= 400:
                    raise FetchError(
                        f"HTTP {response.status} {response.status_text}".rstrip(),
                        transient=response.status == 429 or response.status >= 500,
                        status=response.status,
                    )
                content_type = (response.headers.get("content-type") if response else None) or "text/html"
                if is_html(content_type, b""):
                    await page.wait_for_load_state("load", timeout=max(1, deadline - loop.time()) * 1000)
                    await self._settle(page, document, deadline, network)
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
                raise FetchError(_browser_reason(error, document.url)) from None
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

    async def _settle(self, page: Page, document: Document, deadline: float, network: _Network) -> None:
        """Wait until the page has finished: its selected text no longer changes, every selector holds
        text, no placeholder ("Loading…") is left, and the network is quiet.

        A page whose text is still changing at the deadline never settled: an error, as any moment's
        text would be a version of no one's terms. A text that stopped changing without looking
        finished (empty, a selector matching nothing) is taken as it is: extraction and the health
        guards then say what is wrong, which is clearer than a bare timeout.
        """
        loop = asyncio.get_running_loop()
        texts = [s for s in document.select if isinstance(s, str)]
        removed = [s for s in document.remove if isinstance(s, str)]
        anchors = [
            css
            for s in document.select
            if isinstance(s, RangeSelector)
            for css in (s.start_before, s.start_after, s.end_before, s.end_after)
            if css
        ]
        seen: tuple[int, int] | None = None
        since = loop.time()
        changed = False  # whether the text changed while it was watched, not just appeared
        while True:
            digest, count, ready, start = await page.evaluate(
                _SELECTED, [texts, removed, anchors, SHORT_PAGE_WORDS]
            )
            now = loop.time()
            if (digest, count) != seen:
                changed = seen is not None
                seen, since = (digest, count), now
            still = now - since
            loading = placeholder(start) if start else None
            quiet = network.quiet(now)
            if quiet and ready and not loading and count >= MIN_WORDS and still >= QUIET:
                return
            if now >= deadline or (quiet and still >= GIVE_UP):
                if changed and still < QUIET:
                    raise FetchError(
                        f"the page never settled: its text was still changing after "
                        f"{self.settings.timeout:g} s; not recorded",
                        transient=True,
                    )
                if loading:
                    raise FetchError(
                        f'the page did not finish loading: it still said "{loading}"; not recorded',
                        transient=True,
                    )
                return
            await asyncio.sleep(POLL)

    async def close(self) -> None:
        if self._browser is not None:
            await self._browser.close()
            self._browser = None
        if self._playwright is not None:
            await self._playwright.stop()
            self._playwright = None


# Chromium's network errors in the words the HTTP fetcher uses for the same failures
NET_ERRORS = {
    "ERR_NAME_NOT_RESOLVED": "cannot resolve host name {host}: no such host (a typo, or no DNS?)",
    "ERR_INTERNET_DISCONNECTED": "cannot connect: the network is unreachable (no network?)",
    "ERR_ADDRESS_UNREACHABLE": "cannot connect: no route to the host",
    "ERR_CONNECTION_REFUSED": "cannot connect: connection refused",
    "ERR_CONNECTION_RESET": "cannot connect: the server reset the connection",
}


def _browser_reason(error: Exception, url: str) -> str:
    line = _first_line(error)
    code = re.search(r"net::(ERR_[A-Z_]+)", line)
    if code and code[1] in NET_ERRORS:
        return NET_ERRORS[code[1]].format(host=urlsplit(url).hostname)
    if code and code[1].startswith("ERR_CERT_"):
        return f"cannot connect: the site's certificate is not trusted ({code[1]})"
    return f"the browser failed: {line}"


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


class _Network:
    """The page's requests in flight and when the last one started or ended."""

    def __init__(self, page: Page, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.open: dict[Request, float] = {}
        self.last = clock()
        page.on("request", self._started)
        page.on("requestfinished", self._ended)
        page.on("requestfailed", self._ended)

    def _started(self, request: Request) -> None:
        self.open[request] = self.last = self.clock()

    def _ended(self, request: Request) -> None:
        self.open.pop(request, None)
        self.last = self.clock()

    def quiet(self, now: float) -> bool:
        """No request began or ended within half of QUIET, and none is still loading (a request
        open longer than LONG_REQUEST is a stream, not the page loading)."""
        return now - self.last >= QUIET / 2 and all(
            now - began > LONG_REQUEST for began in self.open.values()
        )


class Judge(Protocol):
    """A page's text and what is wrong with it; None when the body is the last one found healthy (no
    need to extract it again), unless `whole` asks for the text all the same."""

    def __call__(
        self, page: Document, snapshot: Snapshot, *, whole: bool = False
    ) -> tuple[str, Problem | None] | None: ...


@dataclass(frozen=True)
class Fetched:
    """A page fetched as its document says, its text extracted and judged once.

    `text` is None when the judge recognised the body as the last healthy one (nothing to extract
    again). `rendered` says the browser made the page; `plain` is what plain HTTP gave when
    `fetcher: auto` turned to the browser. `memory` is what the page's state remembers next.
    """

    snapshot: Snapshot
    text: str | None
    problem: Problem | None
    rendered: bool = False
    plain: Problem | None = None
    memory: dict[str, str] | None = None


def remembered(state: Mapping[str, object], url: str) -> dict[str, str] | None:
    """What a document's state remembers of `url` needing the browser: {"since", "http_tried"}."""
    pages = state.get("browser")
    memory = pages.get(url) if isinstance(pages, dict) else None
    return memory if isinstance(memory, dict) and "http_tried" in memory else None


def _http_due(memory: dict[str, str] | None, now: datetime) -> bool:
    if memory is None:
        return True
    try:
        return now - datetime.fromisoformat(memory["http_tried"]) >= HTTP_AGAIN
    except (TypeError, ValueError):  # a hand-edited state: try plain HTTP, and remember again
        return True


async def fetch_judged(
    document: Document,
    http: Fetcher,
    browser: Browser,
    judge: Judge,
    *,
    memory: dict[str, str] | None = None,
    etag: str | None = None,
    last_modified: str | None = None,
) -> Fetched | None:
    """The document's page, fetched as its `fetcher` says and judged by `judge`; None when HTTP
    says it has not changed (304). `memory` is what the state remembers of this page (`remembered`)."""
    if document.fetcher == "browser":
        return _judged(judge, document, await browser.fetch(document), rendered=True)
    now = http.now()
    if document.fetcher == "auto" and not _http_due(memory, now):
        try:
            return _judged(judge, document, await browser.fetch(document), rendered=True, memory=memory)
        except BrowserMissing:
            pass  # the browser is gone: plain HTTP may do now, or the error will say what to install
    try:
        snapshot = await http.fetch(document, etag=etag, last_modified=last_modified)
    except FetchError as error:
        if document.fetcher != "auto" or error.status not in BLOCK_STATUSES:
            raise
        plain = Problem("blocked", error.reason)
        return await _render_instead(document, browser, judge, plain, memory, now)
    if snapshot is None:
        return None
    judged = judge(document, snapshot)
    if judged is None:  # the body plain HTTP gave last time, when it was the document
        return Fetched(snapshot, None, None)
    text, problem = judged
    if document.fetcher != "auto" or is_pdf(snapshot.content_type, snapshot.body):
        return Fetched(snapshot, text, problem)
    if problem is not None and problem.kind in RENDERING_FIXES:
        return await _render_instead(document, browser, judge, problem, memory, now)
    if problem is None and memory is not None:
        # plain HTTP looks fine again, but is it the rendered page? Taken back only if it gives
        # the same text, so that a change of fetcher never reads as a change of terms.
        try:
            rendered = _judged(judge, document, await browser.fetch(document), rendered=True, whole=True)
        except FetchError:
            return Fetched(snapshot, text, problem)
        if rendered.problem is None and (rendered.text or "").split() != text.split():
            return _replace_memory(rendered, {**memory, "http_tried": now.isoformat()}, problem)
    return Fetched(snapshot, text, problem, memory=memory if problem is not None else None)


async def _render_instead(
    document: Document,
    browser: Browser,
    judge: Judge,
    plain: Problem,
    memory: dict[str, str] | None,
    now: datetime,
) -> Fetched:
    """Plain HTTP fell short in a way rendering can fix: the page from the browser, remembered if it
    is the document."""
    try:
        snapshot = await browser.fetch(document)
    except BrowserMissing as error:
        raise FetchError(
            f"plain HTTP gave no document ({plain.reason}), and rendering the page needs Playwright "
            f"and Chromium: {INSTALL} ({error.detail})"
        ) from None
    fetched = _judged(judge, document, snapshot, rendered=True)
    if fetched.problem is not None and memory is None:
        return _replace_memory(fetched, None, plain)  # the browser did no better: nothing to remember
    since = memory["since"] if memory and "since" in memory else now.isoformat()
    return _replace_memory(fetched, {"since": since, "http_tried": now.isoformat()}, plain)


def _judged(
    judge: Judge,
    document: Document,
    snapshot: Snapshot,
    *,
    rendered: bool,
    memory: dict[str, str] | None = None,
    whole: bool = False,
) -> Fetched:
    judged = judge(document, snapshot, whole=whole)
    text, problem = judged if judged is not None else (None, None)
    return Fetched(snapshot, text, problem, rendered=rendered, memory=memory)


def _replace_memory(fetched: Fetched, memory: dict[str, str] | None, plain: Problem | None) -> Fetched:
    return Fetched(fetched.snapshot, fetched.text, fetched.problem, True, plain, memory)
