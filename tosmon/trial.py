"""Fetch one document once and say what a check would record, recording nothing.

`tosmon add` shows this before it adds a page to the watchlist, and `tosmon extract URL` prints
it: the same fetch (with the document's fetcher), extraction and health guards a nightly check uses, so that a wrong URL, a
login wall or a selector that matches nothing is seen before the first night, not after it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import httpx

from tosmon.diff import segment
from tosmon.errors import ExtractError
from tosmon.extract.html import page_text
from tosmon.fetch.browser import Browser, fetch_judged
from tosmon.fetch.http import Fetcher, FetchSettings, new_client
from tosmon.health import Problem, page_problem
from tosmon.models import Document, Snapshot, utcnow


@dataclass(frozen=True)
class Trial:
    """What one fetch of a document gave, and whether a check would record it as a version."""

    document: Document
    snapshot: Snapshot
    text: str
    clauses: int
    problem: str | None  # why a check would not record this page as a version, if anything
    rendered: bool = False  # the browser made the page
    plain: str | None = None  # what plain HTTP gave, when `fetcher: auto` turned to the browser


def judge(page: Document, snapshot: Snapshot, *, whole: bool = False) -> tuple[str, Problem | None]:
    """The page's text and what is wrong with it, judged as a first version (nothing to compare with)."""
    try:
        text = page_text(page, snapshot)
    except ExtractError as error:
        return "", Problem("selector", str(error))
    return text, page_problem(text, snapshot.body, None)


async def try_document_async(
    document: Document,
    settings: FetchSettings,
    *,
    client: httpx.AsyncClient | None = None,
    now: Callable[[], datetime] = utcnow,
) -> Trial:
    """Fetch (as the document's fetcher says), extract and judge the page; a failed fetch raises FetchError."""
    own_client = client is None
    client = client or new_client(settings)
    browser = Browser(settings, now)  # starts Chromium only if the document needs it
    try:
        fetched = await fetch_judged(document, Fetcher(client, settings, now), browser, judge)
    finally:
        if own_client:
            await client.aclose()
        await browser.close()
    assert fetched is not None  # no conditional request was sent, so no "304 Not Modified"
    text, problem = fetched.text or "", fetched.problem
    return Trial(
        document,
        fetched.snapshot,
        text,
        len(segment(text)),
        problem.reason if problem else None,
        fetched.rendered,
        fetched.plain.reason if fetched.plain else None,
    )


def try_document(document: Document, settings: FetchSettings, now: Callable[[], datetime] = utcnow) -> Trial:
    return asyncio.run(try_document_async(document, settings, now=now))
