"""The history of a document: its timeline of versions, one version picked by latest|-N|DATE, and
the recording of versions out of time order (backfill, import), through the health guards a
nightly check applies (`record_page_at`).

A version's flags are computed once, when it is recorded, against the version before it. A backfill
or an import can later slip older versions in before it; the stored files are never rewritten, so
the timeline compares such a version again with its new predecessor, with the same diff and flag
rules a nightly check uses.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time
from pathlib import Path

from tosmon.check import record
from tosmon.diff import diff_versions, restore
from tosmon.errors import TosmonError
from tosmon.extract.text import plural
from tosmon.flag.rules import Taxonomy, flag_changes
from tosmon.health import CONFIRMATIONS, page_problem
from tosmon.models import CheckResult, Document, Flag, Snapshot, restored_to_json
from tosmon.outputs.report import flag_title
from tosmon.store.files import Store, StoredVersion, read_json
from tosmon.store.memory import recall

NOT_RECORDED = "not recorded, a broken page: "
CHANGE_KINDS = ("added", "removed", "changed", "moved", "restored")
NUMBERED = re.compile(r"#?(-?\d+)")  # as numbered by `history`; -N counts from the end, as #-N does
STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ(-\d+)?")  # as `tosmon.store.files.stamp` writes it


@dataclass(frozen=True)
class Entry:
    """One version in its place in the timeline, with what changed since the one before it."""

    document: Document
    version: StoredVersion
    previous: StoredVersion | None
    changes: dict[str, int]
    flags: tuple[dict[str, object], ...]
    snapshot: dict[str, object] | None  # the raw snapshot's metadata (file, sha256, fetch details)
    size: int
    number: int  # its place in the document's timeline, #1 the oldest: what `show` and `diff` take
    # the document's versions, oldest first (one tuple shared by its entries): its memory, when asked
    versions: tuple[StoredVersion, ...] = field(default=(), repr=False, compare=False)


def timeline(store: Store, document: Document, taxonomy: Taxonomy) -> list[Entry]:
    """Every version of `document`, oldest first, each compared with the one before it in time."""
    entries = []
    previous: StoredVersion | None = None
    versions = store.versions(document)
    shared = tuple(versions)
    for position, version in enumerate(versions):
        recorded_previous = version.meta.get("previous")
        if recorded_previous == (previous.name if previous else None):
            changes = {str(k): int(v) for k, v in dict(version.meta.get("changes") or {}).items()}  # type: ignore[call-overload]
            flags = tuple(version.meta.get("flags") or ())  # type: ignore[arg-type]
        elif previous is None:  # older versions were removed by hand: this one is the first again
            changes, flags = {}, ()
        else:
            memory = recall(store, document, versions[:position])
            changes, flags = compare(
                previous, version, taxonomy, memory.last_seen(version.date), names=(document.service,)
            )
        entries.append(
            Entry(
                document,
                version,
                previous,
                changes,
                flags,
                snapshot_meta(store, document, version),
                version.path.stat().st_size,
                len(entries) + 1,
                shared,
            )
        )
        previous = version
    return entries


def compare(
    previous: StoredVersion,
    version: StoredVersion,
    taxonomy: Taxonomy,
    last_seen: Callable[[str], str | None] | None = None,
    names: tuple[str, ...] = (),
) -> tuple[dict[str, int], tuple[dict[str, object], ...]]:
    """Change counts and flags between two stored versions, exactly as `check.record` computes them
    (given the document's memory as of `version`, `last_seen`)."""
    changes = diff_versions(previous.text, version.text)
    if last_seen is not None:
        changes = restore(changes, last_seen)
    counts: dict[str, int] = {}
    for change in changes:
        counts[change.kind] = counts.get(change.kind, 0) + 1
    return counts, tuple(
        f.to_json() for f in flag_changes(changes, taxonomy, names=names, previous=previous.text)
    )


def restored_clauses(store: Store, entry: Entry) -> list[object]:
    """The clauses of a version whose wording the document carried lately, each with `last_seen`,
    the version that last carried it (as `check --json` lists them), diffed as `check` diffed them.

    A version recorded since they are kept beside it (`restored_clauses` in its metadata) reads
    them back. An older one is compared again, only when its counts say it restored some: a diff
    each (on the stream corpus, 820 of 3,525 versions: `history --json` of a whole store recorded
    before took 25 s instead of 0.9 s).
    """
    if entry.previous is None or not entry.changes.get("restored") or not entry.versions:
        return []
    kept = entry.version.meta.get("restored_clauses")
    if isinstance(kept, list):
        return kept
    memory = recall(store, entry.document, list(entry.versions[: entry.number - 1]))
    changes = diff_versions(entry.previous.text, entry.version.text)
    return restored_to_json(restore(changes, memory.last_seen(entry.version.date)))


def snapshot_meta(store: Store, document: Document, version: StoredVersion) -> dict[str, object] | None:
    """The metadata of the raw snapshot a version was extracted from, or None when it has none."""
    snapshot = version.meta.get("snapshot")
    if not snapshot:
        return None
    path = store.directory(document) / Path(str(snapshot)).with_suffix(".json")
    return read_json(path) if path.exists() else None


def entry_to_json(entry: Entry, store: Store) -> dict[str, object]:
    """One version as history --json and export describe it (schema_version 1)."""
    return {**entry_fields(entry, store), "restored_clauses": restored_clauses(store, entry)}


def entry_fields(entry: Entry, store: Store) -> dict[str, object]:
    """A version's own fields, without the clauses it restored (which take a diff to list)."""
    version, document = entry.version, entry.document
    directory = store.directory(document)
    snapshot = None
    if entry.snapshot is not None:
        snapshot = {**entry.snapshot, "path": str(directory / str(entry.snapshot.get("file", "")))}
    return {
        "service": document.service,
        "document": document.name,
        "variant": document.variant,
        "url": document.url,
        "version": version.name,
        "number": entry.number,
        "date": version.date.astimezone(UTC).isoformat(),
        "source": version.source,
        "size": entry.size,
        "sha256": version.meta.get("sha256"),
        "path": str(version.path),
        "previous": entry.previous.name if entry.previous else None,
        "changes": {kind: entry.changes.get(kind, 0) for kind in CHANGE_KINDS},
        "flags": list(entry.flags),
        "snapshot": snapshot,
    }


def flag_from_json(data: dict[str, object]) -> Flag:
    """A flag as recorded in a version's metadata, back as a Flag."""
    return Flag.from_json(data)


def summary(entry: Entry) -> str:
    """A title for a version: what was flagged, else how much changed."""
    if entry.flags:
        titles = dict.fromkeys(flag_label(f) for f in entry.flags)
        return ", ".join(titles)
    return counts(entry)


def flag_label(flag: dict[str, object]) -> str:
    """A recorded flag's few words: "new AI training clause (opt-out)"."""
    return flag_title(flag_from_json(flag))


def counts(entry: Entry) -> str:
    """How much changed since the version before, in words."""
    if entry.previous is None:
        return "first recorded version"
    parts = [f"{plural(n, 'clause')} {kind}" for kind, n in entry.changes.items() if n]
    return ", ".join(parts) or "no clause changed"


def find_document(documents: list[Document], name: str) -> Document:
    """The document called `name` ("Service/Document type"), with a hint when it is misspelt."""
    for document in documents:
        if document.id == name:
            return document
    variants = [d.id for d in documents if d.variant and f"{d.service}/{d.name}" == name]
    if variants:
        raise TosmonError(f"{name!r} is watched as variants: name one of {', '.join(map(repr, variants))}")
    known = [d.id for d in documents]
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    if not known:
        hint = "; the watchlist and the store hold no documents"
    raise TosmonError(f"unknown document {name!r} (expected 'Service/Document type'){hint}")


VERSION_FORMS = "#N or N (#1 the oldest, #-1 the latest), a stamp, latest, -N or a date such as 2024-02-07"


def find_version(document: Document, versions: list[StoredVersion], spec: str) -> StoredVersion:
    """The version named by `spec`, in any form tosmon prints or users type.

    `#N` (or plain `N`) as numbered by `history`, #1 the oldest (`#-1` the latest); the stamp tosmon
    prints (`2026-12-07T10-15-37Z`); `latest`; `-N` (-1 is the latest); or a DATE, meaning the
    version in force then. A name that matches nothing says which versions there are.
    """
    if not versions:
        raise TosmonError(f"{document.id}: no version recorded yet")
    spec = spec.strip()
    if spec == "latest":
        return versions[-1]
    number = NUMBERED.fullmatch(spec)
    if number:
        n = int(number[1])
        if 1 <= n <= len(versions) or -len(versions) <= n <= -1:
            return versions[n - 1 if n > 0 else n]
        raise TosmonError(f"{document.id}: no version {spec}: {version_range(versions)}")
    for version in versions:
        if version.name == spec:
            return version
    if STAMP.fullmatch(spec):
        raise TosmonError(f"{document.id}: no version {spec}: {version_range(versions)}")
    try:
        moment = datetime.fromisoformat(spec)
    except ValueError:
        raise TosmonError(
            f"{document.id}: no version {spec!r}: expected {VERSION_FORMS}; {version_range(versions)}"
        ) from None
    if len(spec) == 10:  # a bare date means the version in force at the end of that day
        moment = datetime.combine(moment.date(), time.max)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    earlier = [v for v in versions if v.date <= moment]
    if not earlier:
        raise TosmonError(f"{document.id}: no version on or before {spec}: {version_range(versions)}")
    return earlier[-1]


def version_range(versions: list[StoredVersion]) -> str:
    """Which versions there are, in the words `history` uses: "versions #1 (stamp) to #3 (stamp)"."""
    if len(versions) == 1:
        return f"the only version is #1 ({versions[0].name})"
    return f"versions are #1 ({versions[0].name}) to #{len(versions)} ({versions[-1].name})"


class _AsOf(Store):
    """The store as it stood at `date`: its latest version and snapshot are the last ones dated on or before it."""

    def __init__(self, store: Store, date: datetime) -> None:
        super().__init__(store.root)
        self.date = date

    def versions(self, document: Document) -> list[StoredVersion]:
        return [v for v in super().versions(document) if v.date <= self.date]

    def last_snapshot(self, document: Document, url: str | None = None) -> dict[str, object] | None:
        earlier = [
            meta
            for meta in self.snapshots(document)
            if datetime.fromisoformat(str(meta["fetched_at"])) <= self.date
            and (url is None or meta.get("requested_url") == url)
        ]
        return earlier[-1] if earlier else None


def snapshot_at(store: Store, document: Document, snapshot: Snapshot) -> str:
    """Keep a raw snapshot from the past, deduplicated against the one in force at its date, never a later one."""
    return _AsOf(store, snapshot.fetched_at).record_snapshot(document, snapshot)


def versions_at(store: Store, document: Document, date: datetime) -> list[StoredVersion]:
    """The document's versions dated on or before `date`, oldest first: the last one was in force then."""
    return _AsOf(store, date).versions(document)


def record_at(
    store: Store,
    document: Document,
    text: str,
    *,
    date: datetime,
    taxonomy: Taxonomy,
    source: str,
    snapshot: str | None = None,
    versions: list[StoredVersion] | None = None,  # `versions_at(date)`, if the caller just read them
) -> CheckResult:
    """Record `text` as of `date`, compared with the version in force then, as a check on that date would.

    Recording the same text at the same date again finds it unchanged, which makes imports and
    backfills safe to repeat.
    """
    return record(
        _AsOf(store, date),
        document,
        text,
        date=date,
        taxonomy=taxonomy,
        source=source,
        snapshot=snapshot,
        versions=versions,
    )


def record_page_at(
    store: Store,
    document: Document,
    text: str,
    body: bytes,
    *,
    date: datetime,
    taxonomy: Taxonomy,
    source: str,
    snapshot: str,
    broken: dict[str, tuple[str, int]],
    evidence: str,
) -> CheckResult:
    """Record a page of the past (an archived capture, an imported record) as `record_at` does,
    unless the health guards a check applies find it broken (tosmon.health), compared with the
    version in force at `date`: an error page, a challenge, a partial or doubled page.

    A broken page is not recorded; its raw snapshot, already kept, is its evidence (`evidence` says
    where, in the notice). As an archive holds a page only when it changes, a problem that lasts is
    seen as broken pages in a row: after `CONFIRMATIONS` of them of the same kind (a tiny, shrunken,
    translated, doubled or partial text) the text is taken as the document, as a check takes one
    seen that many nights in a row. `broken` keeps, by document, the kind of its ongoing problem and
    how many pages in a row had it; the caller keeps it from one page to the next.
    """
    versions = versions_at(store, document, date)
    problem = page_problem(text, body, versions[-1].text if versions else None)
    notice = None
    if problem is not None:
        kind, seen = broken.get(document.id, (problem.kind, 0))
        seen = seen + 1 if kind == problem.kind else 1
        if not problem.confirmable or seen < CONFIRMATIONS:
            broken[document.id] = (problem.kind, seen)
            return CheckResult(
                document,
                "unchanged",
                checked_at=date,
                notice=f"{NOT_RECORDED}{problem.reason}; kept as evidence ({evidence})",
            )
        notice = f"accepted as the document after {seen} such records in a row: {problem.reason}"
    broken.pop(document.id, None)
    result = record_at(
        store,
        document,
        text,
        date=date,
        taxonomy=taxonomy,
        source=source,
        snapshot=snapshot,
        versions=versions,
    )
    return replace(result, notice=notice) if notice else result


def not_recorded(result: CheckResult) -> bool:
    """Whether a result is a broken page of the past, kept as evidence only (`record_page_at`)."""
    return result.version is None and (result.notice or "").startswith(NOT_RECORDED)
