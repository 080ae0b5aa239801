"""Backfill a document's history from a web archive that speaks the Wayback Machine's CDX API.

The archive is asked for the captures of the document's URL (`/cdx/search/cdx`), the original
bytes of each capture are fetched (`/web/<timestamp>id_/<url>`), kept as raw snapshots dated by
their capture, run through the same extraction as a nightly check and recorded as versions of
source "archive", each compared with the version in force at its capture date.

Politeness and resumption: one request at a time with a pause after each, retries with backoff
through the fetcher; a capture whose digest was already fetched is not fetched again; progress is
kept in `backfill.json` in the document's folder, written atomically after each capture. When the
archive stays busy or unreachable after the retries, the backfill stops, since the captures after
that one must be compared with it: running the same command again continues from there, and a
finished backfill is not redone. A capture the archive cannot serve (a 404) or without any text is
reported and skipped.

Archives keep broken pages too: a bot challenge, an error page served with status 200, a page half
rendered or holding its text twice. Each capture goes through the health guards a nightly check
applies (`history.record_page_at`, as an OTA import's records do): a broken one is kept as evidence
(its raw snapshot) and reported, not recorded as a version, unless `CONFIRMATIONS` captures in a row
say the document really changed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from urllib.parse import urlencode

from tosmon.errors import ExtractError, FetchError, StoreError
from tosmon.extract.html import page_text
from tosmon.fetch.http import Fetcher, FetchSettings, new_client
from tosmon.flag.rules import Taxonomy
from tosmon.models import CheckResult, Document, Snapshot
from tosmon.store.files import Store, read_json, write_json
from tosmon.store.history import record_page_at, snapshot_at

WAYBACK = "https://web.archive.org"
STATE_FILE = "backfill.json"
CDX_FIELDS = "timestamp,original,statuscode,digest,mimetype"
# The Wayback Machine answers 429 above about 24 requests a minute and blocks an address that keeps
# going (edgi-govdata-archiving/wayback#153, #137): one request at a time, 2.5 s apart; a 429 that
# outlasts the retries stops the backfill rather than insisting.
POLITE = FetchSettings(retries=4, backoff=2.0, per_host=1, total=1, host_delay=2.5)


@dataclass(frozen=True)
class Capture:
    """One capture listed by the archive's CDX index."""

    timestamp: str  # YYYYMMDDhhmmss, UTC
    original: str
    digest: str
    mimetype: str

    @property
    def date(self) -> datetime:
        return datetime.strptime(self.timestamp, "%Y%m%d%H%M%S").replace(tzinfo=UTC)

    def url(self, archive: str) -> str:
        """The capture's original bytes, without the archive's banner or rewritten links."""
        return f"{archive}/web/{self.timestamp}id_/{self.original}"


@dataclass(frozen=True)
class BackfillResult:
    """What one backfill did: captures listed, skipped as already done, fetched, and one result each."""

    document: Document
    listed: int
    skipped: int
    fetched: int
    results: tuple[CheckResult, ...]


def cdx_query(archive: str, url: str, since: date, until: date | None) -> str:
    params = {"url": url, "from": since.strftime("%Y%m%d")}
    if until is not None:
        params["to"] = until.strftime("%Y%m%d")
    params |= {"output": "json", "fl": CDX_FIELDS, "filter": "statuscode:200", "collapse": "digest"}
    return f"{archive}/cdx/search/cdx?{urlencode(params)}"


def parse_cdx(body: bytes, since: date, until: date | None) -> list[Capture]:
    """Captures with status 200 in the date range, oldest first; the first row of the answer names the columns."""
    try:
        rows = json.loads(body) if body.strip() else []
        if not rows:
            return []
        header = rows[0]
        columns = {name: header.index(name) for name in ("timestamp", "original", "digest")}
        status = header.index("statuscode") if "statuscode" in header else None
        mimetype = header.index("mimetype") if "mimetype" in header else None
        captures = [
            Capture(
                str(row[columns["timestamp"]]),
                str(row[columns["original"]]),
                str(row[columns["digest"]]),
                str(row[mimetype]) if mimetype is not None else "",
            )
            for row in rows[1:]
            if status is None or str(row[status]) == "200"
        ]
        for capture in captures:
            capture.date  # noqa: B018 - validates the timestamp
    except (ValueError, TypeError, IndexError, AttributeError) as error:
        raise FetchError(f"the archive's CDX answer is not the expected JSON table: {error}") from None
    in_range = [c for c in captures if c.date.date() >= since and (until is None or c.date.date() <= until)]
    return sorted(in_range, key=lambda c: c.timestamp)


async def backfill_async(
    store: Store,
    document: Document,
    *,
    since: date,
    until: date | None = None,
    archive: str = WAYBACK,
    taxonomy: Taxonomy,
    settings: FetchSettings = POLITE,
    progress: Callable[[Capture, CheckResult], None] | None = None,
) -> BackfillResult:
    archive = archive.rstrip("/")
    client = new_client(settings)
    fetcher = Fetcher(client, settings)
    state_path = store.directory(document) / STATE_FILE
    state = read_json(state_path) if state_path.exists() else {}
    done: dict[str, str] = dict(state.get("done") or {})  # type: ignore[call-overload]
    raw_by_digest: dict[str, str] = dict(state.get("raw") or {})  # type: ignore[call-overload]
    broken = _broken(state, document)  # the ongoing problem of the captures just before, across runs
    results: list[CheckResult] = []
    skipped = fetched = 0
    try:
        answer = await fetcher.fetch(replace(document, url=cdx_query(archive, document.url, since, until)))
        captures = parse_cdx(answer.body if answer else b"", since, until)
        for capture in captures:
            if done.get(capture.timestamp) == capture.digest:
                skipped += 1
                continue
            try:
                snapshot = _known(store, document, raw_by_digest.get(capture.digest), capture, archive)
                if snapshot is None:
                    fetched_snapshot = await fetcher.fetch(replace(document, url=capture.url(archive)))
                    if fetched_snapshot is None:
                        raise FetchError("the archive answered 304 Not Modified to a plain request")
                    fetched += 1
                    snapshot = replace(fetched_snapshot, fetched_at=capture.date)
                raw_file = snapshot_at(store, document, snapshot)
                # Links in the page resolve against the page's own address, not the archive's, so the
                # text matches what a nightly check extracts from the live page.
                text = page_text(document, replace(snapshot, final_url=capture.original))
                if not text.strip():
                    raise ExtractError("the capture has no text (empty page?); not recorded")
                result = record_page_at(
                    store,
                    document,
                    text,
                    snapshot.body,
                    date=capture.date,
                    taxonomy=taxonomy,
                    source="archive",
                    snapshot=raw_file,
                    broken=broken,
                    evidence=raw_file,
                )
                raw_by_digest[capture.digest] = raw_file
                stop = False
            except (FetchError, ExtractError, StoreError) as error:
                result = CheckResult(
                    document, "error", error=f"capture {capture.timestamp}: {error}", checked_at=capture.date
                )
                # A busy archive or a failing disk stops the backfill: the captures after this one must be
                # compared with it, so the next run resumes here. A capture the archive cannot serve (404)
                # or that has no text is reported and skipped for good.
                stop = isinstance(error, StoreError) or (isinstance(error, FetchError) and error.transient)
            if not stop:
                done[capture.timestamp] = capture.digest
                kept = {"broken": list(broken[document.id])} if document.id in broken else {}
                write_json(state_path, {"schema_version": 1, "done": done, "raw": raw_by_digest, **kept})
            results.append(result)
            if progress:
                progress(capture, result)
            if stop:
                break
    finally:
        await client.aclose()
    return BackfillResult(document, len(captures), skipped, fetched, tuple(results))


def _broken(state: dict[str, object], document: Document) -> dict[str, tuple[str, int]]:
    """The kind of problem the last captures had and how many in a row, as `backfill.json` keeps it."""
    kept = state.get("broken")
    if isinstance(kept, list) and len(kept) == 2 and isinstance(kept[0], str) and isinstance(kept[1], int):
        return {document.id: (kept[0], kept[1])}
    return {}


def _known(
    store: Store, document: Document, raw_file: str | None, capture: Capture, archive: str
) -> Snapshot | None:
    """A capture whose digest was fetched before: its bytes, read back from the store, cited at its own address."""
    path = store.directory(document) / raw_file if raw_file else None
    if path is None or not path.exists():
        return None
    content_type = str(read_json(path.with_suffix(".json")).get("content_type", ""))
    return Snapshot(
        capture.url(archive), capture.url(archive), 200, content_type, capture.date, path.read_bytes()
    )


def backfill(
    store: Store,
    document: Document,
    *,
    since: date,
    until: date | None = None,
    archive: str = WAYBACK,
    taxonomy: Taxonomy,
    settings: FetchSettings = POLITE,
    progress: Callable[[Capture, CheckResult], None] | None = None,
) -> BackfillResult:
    """Record the archived versions of `document` captured between `since` and `until` (inclusive)."""
    return asyncio.run(
        backfill_async(
            store,
            document,
            since=since,
            until=until,
            archive=archive,
            taxonomy=taxonomy,
            settings=settings,
            progress=progress,
        )
    )
