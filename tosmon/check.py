"""One run of the pipeline over a watchlist: fetch, extract, store, diff and flag each document.

Documents are fetched concurrently; each is processed as soon as its response arrives, and any
failure becomes that document's result, never the run's. Every fetched page is kept as evidence,
but only a healthy page becomes a version (see tosmon.health); a change of the user's selectors is
recorded as a change of rules, never reported as a change of terms. Once all are checked, the
variants of each document are compared (see tosmon.variants).
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import itertools
import json
import multiprocessing
import os
import pickle
import signal
import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from urllib.parse import urlsplit

import httpx

from tosmon.diff import diff_clauses, restore, segment
from tosmon.errors import ExtractError, FetchError, StoreError
from tosmon.extract.html import page_text
from tosmon.fetch.browser import Browser, Fetched, fetch_judged, remembered
from tosmon.fetch.http import Fetcher, FetchSettings, new_client
from tosmon.flag.rules import Taxonomy, flag_changes, load_taxonomy
from tosmon.health import CONFIRMATIONS, Problem, notice_problem, page_problem, sha
from tosmon.models import CheckResult, CheckRun, Document, Snapshot, restored_to_json, utcnow
from tosmon.store.files import Store, StoredVersion
from tosmon.store.memory import recall
from tosmon.variants import compare_variants

FLIP_FLOP_WINDOW = timedelta(days=30)
SHARD_MIN_DOCUMENTS = 200  # fewer documents do not repay starting worker processes
Progress = Callable[[CheckResult], None]


def rules_fingerprint(document: Document) -> str:
    """What the extraction depends on besides the page: a change here invalidates the body-hash shortcut."""
    rules = json.dumps([document.url, repr(document.select), repr(document.remove), list(document.ignore)])
    return hashlib.sha256(rules.encode()).hexdigest()[:16]


def record(
    store: Store,
    document: Document,
    text: str,
    *,
    date: datetime,
    taxonomy: Taxonomy,
    source: str = "fetch",
    snapshot: str | list[str] | None = None,
    versions: list[StoredVersion] | None = None,  # the document's versions, if the caller just read them
) -> CheckResult:
    """Compare `text` with the last version and record it if it changed; the core of every check.

    A text whose words are all the same, in the same order, is unchanged whatever its line breaks.
    A text that goes back to a known version is reported the first time; when the page keeps
    alternating between the same two versions (an A/B test), it is recorded quietly. A clause whose
    wording the document carried lately is restored, not new (tosmon.store.memory), and never flags.
    """
    versions = store.versions(document) if versions is None else versions
    previous = versions[-1] if versions else None
    if previous is None:
        name = store.record_version(
            document, text, date=date, source=source, snapshot=snapshot, extra={"changes": {}, "flags": []}
        )
        # No clause memory yet: a first version has nothing to restore, and most documents never
        # change, so the index is built from the stored versions at the first change (memory.recall).
        return CheckResult(document, "new", version=name, checked_at=date)
    if previous.text.split() == text.split():  # only line breaks or spacing moved: same words, same terms
        return CheckResult(document, "unchanged", checked_at=date)
    memory = recall(store, document, versions)
    digest = sha(text)
    known = next((v for v in reversed(versions[:-1]) if v.meta.get("sha256") == digest), None)
    alternating = (
        known is not None
        and previous.meta.get("same_as")
        and versions[-2].meta.get("sha256") == digest
        and date - previous.date <= FLIP_FLOP_WINDOW  # a clause re-added months later is news again
    )
    if alternating:
        name = store.record_version(
            document,
            text,
            date=date,
            source=source,
            snapshot=snapshot,
            extra={
                "previous": previous.name,
                "same_as": known.name,
                "flip_flop": True,
                "changes": {},
                "flags": [],
            },
        )
        memory.remember(name, date, segment(text))
        notice = f"alternates between two known versions (A/B test?); recorded quietly as {name}"
        return CheckResult(document, "unchanged", version=name, checked_at=date, notice=notice)
    clauses = segment(text)
    changes = restore(diff_clauses(segment(previous.text), clauses), memory.last_seen(date))
    flags = flag_changes(changes, taxonomy, names=(document.service,), previous=previous.text)
    counts: dict[str, int] = {}
    for change in changes:
        counts[change.kind] = counts.get(change.kind, 0) + 1
    extra: dict[str, object] = {
        "previous": previous.name,
        "changes": counts,
        "flags": [f.to_json() for f in flags],
    }
    restored = restored_to_json(changes)
    if restored:  # kept, so that `history --json` lists them without diffing the version again
        extra["restored_clauses"] = restored
    notice = None
    if known is not None:
        extra["same_as"] = known.name
        notice = (
            f"back to the version of {known.date:%Y-%m-%d}; if it keeps alternating it is not reported again"
        )
    name = store.record_version(document, text, date=date, source=source, snapshot=snapshot, extra=extra)
    memory.remember(name, date, clauses)
    return CheckResult(
        document, "changed", tuple(changes), tuple(flags), version=name, checked_at=date, notice=notice
    )


def stored_snapshot(store: Store, document: Document, meta: dict[str, object]) -> Snapshot:
    """A raw snapshot read back from the store, to extract it again."""
    path = store.directory(document) / str(meta["file"])
    try:
        body = path.read_bytes()
    except OSError as error:
        raise StoreError(f"{path}: unreadable: {error.strerror}") from None
    return Snapshot(
        requested_url=str(meta.get("requested_url") or document.url),
        final_url=str(meta.get("final_url") or document.url),
        status=int(meta.get("status") or 200),  # type: ignore[call-overload]
        content_type=str(meta.get("content_type") or ""),
        fetched_at=datetime.fromisoformat(str(meta["fetched_at"])),
        body=body,
    )


def _problem_of(document: Document, snapshot: Snapshot, previous: str | None) -> tuple[str, Problem | None]:
    """The page's text and what is wrong with it, if anything."""
    try:
        text = page_text(document, snapshot)
    except ExtractError as error:
        return "", Problem("selector", str(error))
    return text, page_problem(text, snapshot.body, previous)


def _rebase_on_new_rules(
    store: Store, document: Document, earlier: dict[str, object], date: datetime
) -> str | None:
    """The user changed the selectors: the last page, extracted with the new rules, becomes the
    version to compare with, recorded as a change of rules so it never alerts as a change of terms."""
    previous = store.latest_version(document)
    if previous is None:
        return None
    try:
        text = page_text(document, stored_snapshot(store, document, earlier))
    except (ExtractError, StoreError):
        return None
    if not text.strip() or text == previous.text:
        return None
    return store.record_version(
        document,
        text,
        date=date,
        source="reextract",
        snapshot=str(earlier["file"]),
        extra={"reason": "rules-changed", "previous": previous.name, "changes": {}, "flags": []},
    )


async def _check_document(
    fetcher: Fetcher,
    browser: Browser,
    store: Store,
    document: Document,
    taxonomy: Taxonomy,
) -> CheckResult:
    if document.parts:
        return await _check_combined(fetcher, browser, store, document, taxonomy)
    state = store.state(document)
    fingerprint = rules_fingerprint(document)
    same_rules = state.get("rules") == fingerprint
    trouble = _trouble(state)
    conditional = same_rules and not trouble  # a 304 must never vouch for a problem page
    rules_changed = bool(state.get("rules")) and not same_rules
    earlier = store.last_snapshot(document) if rules_changed else None  # before this run's page is stored
    versions: list[StoredVersion] | None = None
    rebased: str | None = None

    def judge(
        page: Document, snapshot: Snapshot, *, whole: bool = False
    ) -> tuple[str, Problem | None] | None:
        """The page's text and problem; None for the body last found healthy (nothing to extract)."""
        nonlocal versions, rebased
        if (
            not whole
            and conditional
            and state.get("body_sha256") == snapshot.sha256
            and store.latest_version(document)
        ):
            return None
        if versions is None:
            if earlier is not None:
                rebased = _rebase_on_new_rules(store, document, earlier, snapshot.fetched_at)
            versions = store.versions(document)
        previous = versions[-1] if versions else None
        return _problem_of(document, snapshot, previous.text if previous else None)

    memory = remembered(state, document.url)
    try:
        fetched = await fetch_judged(
            document,
            fetcher,
            browser,
            judge,
            memory=memory,
            etag=str(state["etag"]) if conditional and state.get("etag") else None,
            last_modified=str(state["last_modified"]) if conditional and state.get("last_modified") else None,
        )
    except FetchError as error:
        return _fetch_failed(store, document, state, trouble, error, fetcher.now())
    if fetched is None:  # 304 Not Modified
        return CheckResult(document, "unchanged", checked_at=fetcher.now())
    snapshot = fetched.snapshot
    try:
        raw_file = store.record_snapshot(document, snapshot)
        new_state: dict[str, object] = {
            "rules": fingerprint,
            "etag": snapshot.etag,
            "last_modified": snapshot.last_modified,
            "body_sha256": snapshot.sha256,
        }
        if fetched.memory is not None:
            new_state["browser"] = {document.url: fetched.memory}
        if fetched.text is None:
            store.save_state(document, new_state)
            return CheckResult(document, "unchanged", checked_at=snapshot.fetched_at)
        text, problem = fetched.text, fetched.problem
        if problem is not None:
            result, kept = _in_trouble(store, document, text, problem, trouble, snapshot, raw_file, taxonomy)
            if kept is not None:
                new_state["problem"] = kept
            store.save_state(document, new_state)
            return result
        result = record(
            store,
            document,
            text,
            date=snapshot.fetched_at,
            taxonomy=taxonomy,
            snapshot=raw_file,
            versions=versions,
        )
        notes = [result.notice] if result.notice else []
        if trouble:
            notes.insert(0, f"recovered: {trouble.get('reason')} (since {str(trouble.get('since'))[:10]})")
        if rebased:
            notes.insert(0, f"the selectors changed: the last page was re-extracted with them as {rebased}")
        if fetched.plain is not None and memory is None and fetched.memory is not None:
            notes.insert(
                0,
                f"plain HTTP gave no document ({fetched.plain.reason}): rendered in the browser, as it "
                "will be from now on (plain HTTP is tried again weekly)",
            )
        store.save_state(document, new_state)
        return replace(result, notice="; ".join(notes) or None, recovered=bool(trouble))
    except (ExtractError, StoreError) as error:
        return CheckResult(document, "error", error=str(error), checked_at=snapshot.fetched_at)


def _judge_part(page: Document, snapshot: Snapshot, *, whole: bool = False) -> tuple[str, Problem | None]:
    """A page of a combined document: its text, and whether it has any, or is an error page."""
    try:
        text = page_text(page, snapshot)
    except ExtractError as error:
        return "", Problem("selector", str(error))
    if not text.strip():
        return text, Problem("empty", "the page has no text (empty page?)")
    return text, notice_problem(text, snapshot.body)


async def _check_combined(
    fetcher: Fetcher, browser: Browser, store: Store, document: Document, taxonomy: Taxonomy
) -> CheckResult:
    """A document spread over several pages: their texts, joined in order, make one version."""
    pages = [
        replace(
            document,
            url=p.url,
            select=p.select,
            remove=p.remove,
            ignore=p.ignore,
            fetcher=p.fetcher or document.fetcher,
            parts=(),
        )
        for p in document.parts
    ]
    state = store.state(document)
    trouble = _trouble(state)
    fetched = await asyncio.gather(
        *(
            fetch_judged(page, fetcher, browser, _judge_part, memory=remembered(state, page.url))
            for page in pages
        ),
        return_exceptions=True,
    )
    parts: list[Fetched] = []
    for page, outcome in zip(pages, fetched, strict=True):
        if isinstance(outcome, FetchError):  # the first page that failed, in the document's order
            failed = FetchError(
                f"{page.url}: {outcome.reason}",
                transient=outcome.transient,
                retry_after=outcome.retry_after,
                status=outcome.status,
            )
            return _fetch_failed(store, document, state, trouble, failed, fetcher.now())
        if isinstance(outcome, BaseException):
            raise outcome  # a bug, not a fetch failure: check_async reports it as an internal error
        assert outcome is not None  # no conditional request was sent, so no "304 Not Modified"
        parts.append(outcome)
    fetched_at = max(part.snapshot.fetched_at for part in parts)
    try:
        raw_files = [store.record_snapshot(document, part.snapshot) for part in parts]
        memory = {page.url: part.memory for page, part in zip(pages, parts, strict=True) if part.memory}
        new_state = {k: v for k, v in state.items() if k not in ("browser", "problem")}
        if memory:
            new_state["browser"] = memory
        text = "\n".join(str(part.text) for part in parts)
        for page, part, raw_file in zip(pages, parts, raw_files, strict=True):
            if part.problem is not None:  # as for a single page: told once when it starts, then quietly
                problem = replace(part.problem, reason=f"{page.url}: {part.problem.reason}")
                result, kept = _in_trouble(
                    store, document, text, problem, trouble, part.snapshot, raw_file, taxonomy
                )
                store.save_state(document, {**new_state, **({"problem": kept} if kept else {})})
                return result
        result = record(store, document, text, date=fetched_at, taxonomy=taxonomy, snapshot=raw_files)
        if new_state != state:
            store.save_state(document, new_state)
        if not trouble:
            return result
        recovered = f"recovered: {trouble.get('reason')} (since {str(trouble.get('since'))[:10]})"
        return replace(result, notice="; ".join(filter(None, (recovered, result.notice))), recovered=True)
    except (ExtractError, StoreError) as error:
        return CheckResult(document, "error", error=str(error), checked_at=fetched_at)


def _trouble(state: dict[str, object]) -> dict[str, object] | None:
    """The problem a document is in, as its state keeps it (reported when it started), if any."""
    problem = state.get("problem")
    return problem if isinstance(problem, dict) else None


def _fetch_failed(
    store: Store,
    document: Document,
    state: dict[str, object],
    trouble: dict[str, object] | None,
    error: FetchError,
    date: datetime,
) -> CheckResult:
    """A failed fetch is reported when it starts failing, then quietly until a page comes back."""
    try:
        if trouble is not None and trouble.get("kind") == "fetch":
            seen = int(trouble.get("seen", 1)) + 1  # type: ignore[call-overload]
            store.save_state(
                document, {**state, "problem": {**trouble, "reason": error.reason, "seen": seen}}
            )
            notice = f"still a problem since {str(trouble.get('since'))[:10]}"
            return CheckResult(
                document, "error", error=error.reason, checked_at=date, notice=notice, repeat=True
            )
        problem = {"kind": "fetch", "reason": error.reason, "since": date.isoformat(), "seen": 1}
        store.save_state(document, {**state, "problem": problem})
    except StoreError as store_error:
        return CheckResult(document, "error", error=f"{error.reason}; {store_error}", checked_at=date)
    return CheckResult(document, "error", error=error.reason, checked_at=date)


def _in_trouble(
    store: Store,
    document: Document,
    text: str,
    problem: Problem,
    trouble: dict[str, object] | None,
    snapshot: Snapshot,
    raw_file: str,
    taxonomy: Taxonomy,
) -> tuple[CheckResult, dict[str, object] | None]:
    """Report a problem once when it starts, quietly while it lasts; accept a tiny, shrunken or
    translated text that comes back unchanged check after check, as it is then the document."""
    date = snapshot.fetched_at
    digest = sha(text)
    if trouble is None or trouble.get("kind") != problem.kind:
        kept = {
            "kind": problem.kind,
            "reason": problem.reason,
            "since": date.isoformat(),
            "snapshot": raw_file,
            "text_sha256": digest,
            "seen": 1,
        }
        error = f"{problem.reason}; the page is kept as evidence ({raw_file}), no version recorded"
        return CheckResult(document, "error", error=error, checked_at=date), kept
    seen = int(trouble.get("seen", 1)) + 1 if trouble.get("text_sha256") == digest else 1  # type: ignore[call-overload]
    if problem.confirmable and seen >= CONFIRMATIONS:
        result = record(store, document, text, date=date, taxonomy=taxonomy, snapshot=raw_file)
        notice = f"accepted as the document after {seen} identical checks: {problem.reason}"
        return replace(result, notice=notice), None
    kept = {**trouble, "text_sha256": digest, "seen": seen, "snapshot": raw_file}
    notice = f"still a problem since {str(trouble.get('since'))[:10]}"
    error = f"{problem.reason}; the page is kept as evidence ({raw_file}), no version recorded"
    return CheckResult(document, "error", error=error, checked_at=date, notice=notice, repeat=True), kept


async def check_async(
    documents: tuple[Document, ...],
    store: Store,
    *,
    taxonomy: Taxonomy,
    settings: FetchSettings,
    client: httpx.AsyncClient | None = None,
    browser: Browser | None = None,
    now: Callable[[], datetime] = utcnow,
    progress: Progress | None = None,
) -> CheckRun:
    """Check every document once and record what changed.

    A long run is split between this process and workers, one per core, each checking the
    documents of its own hosts from fetch to store (so per-host limits hold and no page crosses
    processes: sending pages to extraction workers cost more CPU than it saved).
    """
    shards = _shards(documents) if client is None and browser is None else []
    if len(shards) > 1:
        run = await _check_in_processes(
            documents, shards, store, taxonomy=taxonomy, settings=settings, now=now, progress=progress
        )
    else:
        run = await _check_here(
            documents,
            store,
            taxonomy=taxonomy,
            settings=settings,
            client=client,
            browser=browser,
            now=now,
            progress=progress,
        )
    # then the variants of each document, as their latest versions now stand
    return replace(run, variants=compare_variants(documents, store, taxonomy, now))


async def _check_here(
    documents: tuple[Document, ...],
    store: Store,
    *,
    taxonomy: Taxonomy,
    settings: FetchSettings,
    client: httpx.AsyncClient | None = None,
    browser: Browser | None = None,
    now: Callable[[], datetime] = utcnow,
    progress: Progress | None = None,
) -> CheckRun:
    started = now()
    own_client = client is None
    client = client or new_client(settings)
    fetcher = Fetcher(client, settings, now)
    own_browser = browser is None
    browser = browser or Browser(settings, now)  # starts Chromium only if a document needs it

    async def one(document: Document) -> CheckResult:
        try:
            result = await _check_document(fetcher, browser, store, document, taxonomy)
        except StoreError as error:  # e.g. the document's folder belongs to another document
            result = CheckResult(document, "error", error=str(error), checked_at=now())
        except Exception as error:
            result = CheckResult(
                document, "error", error=f"internal error: {type(error).__name__}: {error}", checked_at=now()
            )
        if progress:
            progress(result)
        return result

    results: list[CheckResult | None] = [None] * len(documents)
    pending = iter(_hosts_in_turn(documents))  # shared: each worker takes the next document

    async def worker() -> None:
        for index in pending:
            results[index] = await one(documents[index])

    try:
        # A fixed number of workers, as many as may fetch at once: memory stays the same for
        # 100 or 100,000 documents (a task per document held them all from the start).
        async with asyncio.TaskGroup() as group:
            for _ in range(min(len(documents), settings.total)):
                group.create_task(worker())
    finally:
        await fetcher.aclose()
        if own_client:
            await client.aclose()
        if own_browser:
            await browser.close()
    return CheckRun(started, tuple(r for r in results if r is not None))


def _hosts_in_turn(documents: tuple[Document, ...]) -> list[int]:
    """The documents' indices, one host after another in turn, so that the workers are not all kept
    waiting by one host's limit while other hosts are idle (watchlists group a service's documents)."""
    turns = itertools.zip_longest(*_by_host(documents).values())
    return [index for turn in turns for index in turn if index is not None]


def _by_host(documents: tuple[Document, ...]) -> dict[str, list[int]]:
    by_host: dict[str, list[int]] = defaultdict(list)
    for index, document in enumerate(documents):
        by_host[urlsplit(document.url).hostname or ""].append(index)
    return by_host


def _shards(documents: tuple[Document, ...]) -> list[list[int]]:
    """The documents' indices split between worker processes, all of a host's in the same one,
    largest hosts first into the emptiest; one shard when the run is too short to repay them."""
    processes = os.cpu_count() or 1
    if processes < 2 or len(documents) < SHARD_MIN_DOCUMENTS:
        return [list(range(len(documents)))]
    shards: list[list[int]] = [[] for _ in range(processes)]
    for indices in sorted(_by_host(documents).values(), key=len, reverse=True):
        min(shards, key=len).extend(indices)
    return [sorted(shard) for shard in shards if shard]


async def _check_in_processes(
    documents: tuple[Document, ...],
    shards: list[list[int]],
    store: Store,
    *,
    taxonomy: Taxonomy,
    settings: FetchSettings,
    now: Callable[[], datetime],
    progress: Progress | None,
) -> CheckRun:
    """Check the first shard here and each other one in a worker process, gathering the results in
    the watchlist's order as they come. A worker that dies (killed for memory?) fails its
    unfinished documents, not the run.

    Workers are forked (cheap: they inherit the loaded modules) unless another thread exists, as a
    forked child may inherit a lock another thread held; then they start from a fresh server.
    """
    started = now()
    method = "fork" if threading.active_count() == 1 else "forkserver"
    context = multiprocessing.get_context(method)
    if method == "forkserver":
        context.set_forkserver_preload(["tosmon.check"])
    # the run's global limit, shared out; each shard keeps whole hosts, so per-host limits hold
    share = replace(settings, total=max(settings.per_host, -(-settings.total // len(shards))))
    position = {document.id: index for index, document in enumerate(documents)}
    results: list[CheckResult | None] = [None] * len(documents)
    loop = asyncio.get_running_loop()
    workers: dict[Connection, tuple[BaseProcess, list[int]]] = {}
    receiving: set[Connection] = set()  # the workers' pipes not read to their end yet
    all_in = asyncio.Event()

    def deliver(result: CheckResult) -> None:
        index = position[result.document.id]
        # a worker's result holds its own copy of the document: keep this process's one, not a
        # second copy per document for the rest of the run
        results[index] = result = replace(result, document=documents[index])
        if progress:
            progress(result)

    def receive(connection: Connection) -> None:
        try:
            deliver(connection.recv())
            return
        except EOFError:  # the worker is done, or died
            loop.remove_reader(connection.fileno())
        process, shard = workers[connection]
        process.join()
        for index in shard:
            if results[index] is None:
                deliver(
                    CheckResult(
                        documents[index],
                        "error",
                        error=f"internal error: the worker process checking it ended "
                        f"(exit code {process.exitcode}); the next run checks it again",
                        checked_at=now(),
                    )
                )
        receiving.discard(connection)
        if not receiving:
            all_in.set()

    # Objects that exist now stay out of the collector's way while the workers run: collecting them
    # in a forked worker would copy every page of memory they share with this process.
    gc.freeze()
    try:
        here = list(shards[0])
        for shard in shards[1:]:
            reading, sending = context.Pipe(duplex=False)
            process = context.Process(
                target=_check_shard,
                args=(sending, tuple(documents[i] for i in shard), store, taxonomy, share, now),
                daemon=True,
            )
            try:
                process.start()
            except (OSError, pickle.PicklingError, AttributeError, TypeError):
                # no process to spare, or a clock a fresh process cannot receive (a lambda): this
                # process checks that shard too
                reading.close()
                sending.close()
                here += shard
                continue
            sending.close()
            workers[reading] = (process, shard)
            receiving.add(reading)
            loop.add_reader(reading.fileno(), receive, reading)
        if not receiving:
            all_in.set()
        await _check_here(
            tuple(documents[i] for i in sorted(here)),
            store,
            taxonomy=taxonomy,
            settings=share if workers else settings,
            now=now,
            progress=deliver,
        )
        await all_in.wait()
    finally:
        for connection, (process, _) in workers.items():
            loop.remove_reader(connection.fileno())
            if process.is_alive():
                process.terminate()  # interrupted: what the workers wrote is whole, the rest is not begun
            process.join()
            connection.close()
        gc.unfreeze()
    return CheckRun(started, tuple(r for r in results if r is not None))


def _check_shard(
    connection: Connection,
    documents: tuple[Document, ...],
    store: Store,
    taxonomy: Taxonomy,
    settings: FetchSettings,
    now: Callable[[], datetime],
) -> None:
    """A worker process: check its documents, sending each result back as soon as it is known."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's: it stops the workers
    try:
        asyncio.run(
            _check_here(
                documents, store, taxonomy=taxonomy, settings=settings, now=now, progress=connection.send
            )
        )
    finally:
        connection.close()


def check(
    documents: tuple[Document, ...],
    store: Store,
    *,
    taxonomy: Taxonomy | None = None,
    settings: FetchSettings | None = None,
    now: Callable[[], datetime] = utcnow,
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


@dataclass(frozen=True)
class Reextraction:
    """What rebuilding one document's versions did."""

    document: Document
    snapshots: int
    versions: tuple[str, ...]
    skipped: tuple[str, ...]  # one reason per raw snapshot that gave no healthy text


def reextract(store: Store, document: Document) -> Reextraction:
    """Rebuild a document's versions from its stored raw snapshots with its current rules.

    The rebuilt versions are dated when their page was fetched and marked `reason: rules-changed`,
    so they never read as changes of the terms; the last one becomes the version the next check
    compares with. Old versions are kept: the store never deletes evidence.
    """
    fingerprint = rules_fingerprint(document)
    # by fetch time: names of snapshots fetched within one second sort `-2` before the first
    metas = sorted(store.snapshots(document), key=lambda meta: str(meta.get("fetched_at")))
    recorded: list[str] = []
    skipped: list[str] = []
    text: str | None = None
    for meta in metas:
        try:
            snapshot = stored_snapshot(store, document, meta)
        except StoreError as error:
            skipped.append(str(error))
            continue
        candidate, problem = _problem_of(document, snapshot, text)
        if problem is not None:
            skipped.append(f"{meta['file']}: {problem.reason}")
            continue
        if candidate != text:
            recorded.append(_record_rebuilt(store, document, candidate, snapshot.fetched_at, meta, recorded))
            text = candidate
    latest = store.latest_version(document)
    if text is not None and latest is not None and latest.name != recorded[-1]:
        # an old version dated after the last rebuilt one must not stay the baseline
        recorded.append(_record_rebuilt(store, document, text, latest.date, metas[-1], recorded))
    if metas:
        kept = {key: value for key, value in store.state(document).items() if key == "browser"}
        store.save_state(document, {**kept, "rules": fingerprint, "body_sha256": metas[-1].get("sha256")})
    return Reextraction(document, len(metas), tuple(recorded), tuple(skipped))


def _record_rebuilt(
    store: Store, document: Document, text: str, date: datetime, meta: dict[str, object], recorded: list[str]
) -> str:
    extra: dict[str, object] = {"reason": "rules-changed", "changes": {}, "flags": []}
    if recorded:
        extra["previous"] = recorded[-1]
    return store.record_version(
        document, text, date=date, source="reextract", snapshot=str(meta["file"]), extra=extra
    )


@dataclass(frozen=True)
class StoredTrial:
    """What a document's current rules make of its latest stored raw snapshot(s) (`tosmon extract DOCUMENT`)."""

    text: str
    problem: Problem | None
    snapshots: tuple[dict[str, object], ...]  # the raw snapshots' metadata, a page each


def try_stored(store: Store, document: Document) -> StoredTrial | None:
    """Extract and judge the latest stored raw snapshot(s) with the document's rules, as `check` would
    (against the latest version), recording nothing; None when no page of it is stored yet."""
    if not document.parts:
        meta = store.last_snapshot(document)
        if meta is None:
            return None
        latest = store.latest_version(document)
        text, problem = _problem_of(
            document, stored_snapshot(store, document, meta), latest.text if latest else None
        )
        return StoredTrial(text, problem, (meta,))
    texts, metas, problem = [], [], None
    for part in document.parts:
        page = replace(
            document, url=part.url, select=part.select, remove=part.remove, ignore=part.ignore, parts=()
        )
        meta = store.last_snapshot(document, part.url)
        if meta is None:
            return None
        text, trouble = _judge_part(page, stored_snapshot(store, document, meta))
        if trouble is not None and problem is None:
            problem = Problem(trouble.kind, f"{part.url}: {trouble.reason}")
        texts.append(text)
        metas.append(meta)
    return StoredTrial("\n".join(texts), problem, tuple(metas))
