"""One run of the pipeline over a watchlist: fetch, extract, store, diff and flag each document.

Documents are fetched concurrently; each is processed as soon as its response arrives, and any
failure becomes that document's result, never the run's.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime

import httpx

from tosmon.diff import diff_versions
from tosmon.errors import ExtractError, FetchError, StoreError
from tosmon.extract import apply_ignore, extract
from tosmon.fetch import Fetcher, FetchSettings, new_client
from tosmon.flag import Taxonomy, flag_changes, load_taxonomy
from tosmon.models import CheckResult, CheckRun, Document, Snapshot
from tosmon.store import Store

Progress = Callable[[CheckResult], None]


def rules_fingerprint(document: Document) -> str:
    """What the extraction depends on besides the page: a change here invalidates the body-hash shortcut."""
    rules = json.dumps([document.url, repr(document.select), repr(document.remove), list(document.ignore)])
    return hashlib.sha256(rules.encode()).hexdigest()[:16]


def page_text(document: Document, snapshot: Snapshot) -> str:
    """The text tosmon compares: the extraction of the page, less the document's ignore patterns."""
    text = extract(
        snapshot.body,
        content_type=snapshot.content_type,
        base_url=snapshot.final_url,
        select=document.select,
        remove=document.remove,
    )
    return apply_ignore(text, document.ignore) if document.ignore else text


def record(
    store: Store,
    document: Document,
    text: str,
    *,
    date: datetime,
    taxonomy: Taxonomy,
    source: str = "fetch",
    snapshot: str | None = None,
) -> CheckResult:
    """Compare `text` with the last version and record it if it changed; the core of every check."""
    previous = store.latest_version(document)
    if previous is None:
        name = store.record_version(
            document, text, date=date, source=source, snapshot=snapshot, extra={"changes": {}, "flags": []}
        )
        return CheckResult(document, "new", version=name, checked_at=date)
    if previous.text == text:
        return CheckResult(document, "unchanged", checked_at=date)
    changes = diff_versions(previous.text, text)
    flags = flag_changes(changes, taxonomy)
    counts: dict[str, int] = {}
    for change in changes:
        counts[change.kind] = counts.get(change.kind, 0) + 1
    name = store.record_version(
        document,
        text,
        date=date,
        source=source,
        snapshot=snapshot,
        extra={"previous": previous.name, "changes": counts, "flags": [f.to_json() for f in flags]},
    )
    return CheckResult(document, "changed", tuple(changes), tuple(flags), version=name, checked_at=date)


async def _check_document(
    fetcher: Fetcher, store: Store, document: Document, taxonomy: Taxonomy
) -> CheckResult:
    state = store.state(document)
    fingerprint = rules_fingerprint(document)
    same_rules = state.get("rules") == fingerprint
    try:
        snapshot = await fetcher.fetch(
            document,
            etag=str(state["etag"]) if same_rules and state.get("etag") else None,
            last_modified=str(state["last_modified"]) if same_rules and state.get("last_modified") else None,
        )
    except FetchError as error:
        return CheckResult(document, "error", error=error.reason, checked_at=fetcher.now())
    if snapshot is None:  # 304 Not Modified
        return CheckResult(document, "unchanged", checked_at=fetcher.now())
    try:
        raw_file = store.record_snapshot(document, snapshot)
        if same_rules and state.get("body_sha256") == snapshot.sha256 and store.latest_version(document):
            result = CheckResult(document, "unchanged", checked_at=snapshot.fetched_at)
        else:
            text = page_text(document, snapshot)
            if not text.strip():
                raise ExtractError("the page has no text (empty page?); not recorded")
            result = record(
                store, document, text, date=snapshot.fetched_at, taxonomy=taxonomy, snapshot=raw_file
            )
        store.save_state(
            document,
            {
                "rules": fingerprint,
                "etag": snapshot.etag,
                "last_modified": snapshot.last_modified,
                "body_sha256": snapshot.sha256,
            },
        )
        return result
    except (ExtractError, StoreError) as error:
        return CheckResult(document, "error", error=str(error), checked_at=snapshot.fetched_at)


async def check_async(
    documents: tuple[Document, ...],
    store: Store,
    *,
    taxonomy: Taxonomy,
    settings: FetchSettings,
    client: httpx.AsyncClient | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    progress: Progress | None = None,
) -> CheckRun:
    started = now()
    own_client = client is None
    client = client or new_client(settings)
    fetcher = Fetcher(client, settings, now)

    async def one(document: Document) -> CheckResult:
        try:
            result = await _check_document(fetcher, store, document, taxonomy)
        except StoreError as error:  # e.g. the document's folder belongs to another document
            result = CheckResult(document, "error", error=str(error), checked_at=now())
        except Exception as error:
            result = CheckResult(
                document, "error", error=f"internal error: {type(error).__name__}: {error}", checked_at=now()
            )
        if progress:
            progress(result)
        return result

    try:
        results = await asyncio.gather(*(one(d) for d in documents))
    finally:
        if own_client:
            await client.aclose()
    return CheckRun(started, tuple(results))


def check(
    documents: tuple[Document, ...],
    store: Store,
    *,
    taxonomy: Taxonomy | None = None,
    settings: FetchSettings | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    progress: Progress | None = None,
) -> CheckRun:
    """Check every document once and record what changed."""
    return asyncio.run(
        check_async(
            documents,
            store,
            taxonomy=taxonomy or load_taxonomy(),
            settings=settings or FetchSettings(),
            now=now,
            progress=progress,
        )
    )
