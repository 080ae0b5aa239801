"""Clause memory: which wordings a document has carried, and until when.

A diff against the previous version alone has no memory: a clause taken out by a broken or partial
page and put back the next night reads as new, and so does every sentence of a page that suddenly
holds its text twice. On Open Terms Archive's real stream of changes a third of all flags fell on
such wording. So a clause whose wording the document already carried is `restored`, not `added`,
when it comes back within `WINDOW` of the version that dropped it (or when the version in force
still carries it elsewhere on the page); a clause re-added after a longer absence is news again.

The memory is an index kept beside the versions (`clauses.json` in the document's folder): the
document's version names and dates, and for each clause fingerprint (a hash of its wording) the runs
of consecutive versions that carried it. It is derived data: first built when a document changes for
the first time (a first version has nothing to restore, and most documents never change), written
atomically after each recorded version, checked against the version list on every read, caught up
from the versions it lacks, and rebuilt from the versions whenever it is missing, damaged, of
another schema or out of step (a version recorded out of time order). It never touches a snapshot or a version. `tosmon verify`
warns about an index it will rebuild (`verify_indexes`), and never fails for one.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import orjson

from tosmon.diff import segment, wording
from tosmon.errors import StoreError
from tosmon.models import Clause, Document
from tosmon.store.files import Damage, Store, StoredVersion, versions_in, write_atomic

# How long after a version dropped a clause its wording may come back as "restored". On the
# stream corpus (102 documents, 2023-2026), 79 % of the flags raised on wording a document had
# carried before came back within a week (62 % within a day) and only 1 % more between a week and
# a month; after a month the returns are spread evenly over the year, and are mostly variants or
# real re-additions (which are news).
WINDOW = timedelta(days=30)
INDEX_FILE = "clauses.json"
INDEX_SCHEMA = 1
CACHED = 64  # indexes kept in memory between versions of an import (an OTA import interleaves documents)
_cache: OrderedDict[Path, ClauseIndex] = OrderedDict()


def fingerprint(key: str) -> str:
    """A short, stable name for a clause's wording (`diff.wording`)."""
    return hashlib.blake2b(key.encode("utf-8"), digest_size=8).hexdigest()


def fingerprints(clauses: Iterable[Clause]) -> set[str]:
    return {fingerprint(wording(c.text)) for c in clauses}


@dataclass
class ClauseIndex:
    """The clause fingerprints of a document's versions, as runs of consecutive versions."""

    names: list[str] = field(default_factory=list)  # the versions indexed, in the store's order
    dates: list[datetime] = field(default_factory=list)
    runs: dict[str, list[int]] = field(default_factory=dict)  # fingerprint -> [first, last, first, last...]

    def add(self, name: str, date: datetime, carried: set[str]) -> None:
        """Index the next version, which carries the clause fingerprints `carried`."""
        position = len(self.names)
        self.names.append(name)
        self.dates.append(date)
        for key in carried:
            runs = self.runs.get(key)
            if runs is None:
                self.runs[key] = [position, position]
            elif runs[-1] == position - 1:
                runs[-1] = position
            else:
                runs += (position, position)

    def recall(
        self, date: datetime, versions: int, window: timedelta = WINDOW
    ) -> Callable[[str], str | None]:
        """For a text recorded at `date` after the first `versions` indexed versions: the function
        from a clause's wording to the name of the version that last carried it, if it is the
        version in force or one that was replaced less than `window` before `date`."""

        def last_seen(key: str) -> str | None:
            runs = self.runs.get(fingerprint(key))
            if not runs or not versions:
                return None
            best = None
            for start, end in zip(runs[::2], runs[1::2], strict=True):
                if start >= versions:
                    break
                end = min(end, versions - 1)
                if end == versions - 1 or date - self.dates[end + 1] <= window:
                    best = end
            return self.names[best] if best is not None else None

        return last_seen

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "schema_version": INDEX_SCHEMA,
                "versions": [[n, d.isoformat()] for n, d in zip(self.names, self.dates, strict=True)],
                "clauses": self.runs,
            }
        )

    @classmethod
    def from_json(cls, data: bytes) -> ClauseIndex | None:
        """The index a file holds, or None when it is damaged or of another schema (then rebuilt)."""
        try:
            raw = orjson.loads(data)
            if not isinstance(raw, dict) or raw.get("schema_version") != INDEX_SCHEMA:
                return None
            versions = raw["versions"]
            index = cls([str(n) for n, _ in versions], [datetime.fromisoformat(d) for _, d in versions])
            runs = raw["clauses"]
            for positions in runs.values():
                if len(positions) % 2 or not all(isinstance(p, int) for p in positions):
                    return None
                if positions and not 0 <= positions[0] <= positions[-1] < len(versions):
                    return None
            index.runs = runs
            return index
        except (ValueError, TypeError, KeyError, AttributeError):
            return None


@dataclass
class Memory:
    """What one document remembers, as it stood before the text being recorded."""

    path: Path
    index: ClauseIndex
    versions: int  # how many of the indexed versions are in force before the text being recorded

    def last_seen(self, date: datetime, window: timedelta = WINDOW) -> Callable[[str], str | None]:
        return self.index.recall(date, self.versions, window)

    def remember(self, name: str, date: datetime, clauses: Iterable[Clause]) -> None:
        """Index a version just recorded after the others; one recorded out of time order is left
        to the next read, which finds the index out of step and rebuilds it."""
        if self.versions != len(self.index.names):
            return
        self.index.add(name, date, fingerprints(clauses))
        self.versions += 1
        _save(self.path, self.index)


def recall(store: Store, document: Document, versions: list[StoredVersion]) -> Memory:
    """The document's memory covering `versions` (its versions up to some date, oldest first).
    Versions the index lacks are read and cut into clauses once, then the index is saved."""
    path = store.directory(document) / INDEX_FILE
    names = [v.name for v in versions]
    index = _cache.get(path)
    if index is None or not _in_step(index, names):
        index = _read(path)
    if index is None or not _in_step(index, names):
        index = ClauseIndex()  # missing, damaged, or a version was recorded out of time order
    if len(index.names) < len(names):
        for version in versions[len(index.names) :]:
            index.add(version.name, version.date, fingerprints(segment(version.text)))
        _save(path, index)
    _cache[path] = index
    _cache.move_to_end(path)
    while len(_cache) > CACHED:
        _cache.popitem(last=False)
    return Memory(path, index, len(names))


def _in_step(index: ClauseIndex, names: list[str]) -> bool:
    """Whether the index describes these versions (or more, recorded after them)."""
    shared = min(len(index.names), len(names))
    return index.names[:shared] == names[:shared]


def _read(path: Path) -> ClauseIndex | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    return ClauseIndex.from_json(data)


def _save(path: Path, index: ClauseIndex) -> None:
    """Write the index whole or not at all; one that cannot be written is rebuilt by the next read,
    so a full disk fails the versions it keeps from being written, never a version already recorded."""
    try:
        write_atomic(path, index.to_json())
    except StoreError:
        _cache.pop(path, None)


REBUILT = "it is rebuilt from the versions when next needed (at the document's next change at the latest)"


def verify_indexes(store: Store) -> list[Damage]:
    """The clause memory indexes that a read will find damaged, of another schema or out of step
    with the versions, each with what happens to it. A missing index is no problem (it is built on
    demand), nor is one that lacks the latest versions (they are added when it is next read); a
    folder whose versions cannot be read is left to `Store.verify`, which reports it. Never writes."""
    found = []
    for path in sorted(store.root.glob(f"[!.]*/[!.]*/{INDEX_FILE}")):
        try:
            names = [version.name for version in versions_in(path.parent)]
        except (StoreError, ValueError, KeyError):
            continue
        problem = _index_problem(path, names)
        if problem is not None:
            found.append(Damage(path, f"{problem}; {REBUILT}"))
    return found


def _index_problem(path: Path, names: list[str]) -> str | None:
    """Why the index at `path` would be rebuilt by a read covering the versions `names`, if it would."""
    try:
        data = path.read_bytes()
    except OSError as error:
        return f"clause memory unreadable ({error.strerror or error})"
    index = ClauseIndex.from_json(data)
    if index is None:
        try:
            schema = orjson.loads(data).get("schema_version")
        except (ValueError, AttributeError):
            schema = INDEX_SCHEMA
        if schema != INDEX_SCHEMA:
            return f"clause memory of schema {schema!r}, expected {INDEX_SCHEMA}"
        return "clause memory damaged (not the index tosmon writes)"
    if not _in_step(index, names):
        return (
            "clause memory out of step with the versions "
            "(one was added before others, by a backfill or an import, or removed)"
        )
    return None
