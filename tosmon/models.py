"""The plain data that flows between the stages of the pipeline.

Raw and clean stay apart: a `Snapshot` is the evidence (the bytes as fetched), a `Version` is the
extracted text, recorded only when the text changed. A failure of one document is a `CheckResult`
with `status="error"`, never an exception that stops the run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Literal

Status = Literal["new", "unchanged", "changed", "error"]
ChangeKind = Literal["added", "removed", "changed", "moved", "restored"]
Category = str  # "ai", "training", "licensing" or a user-defined category


@dataclass(frozen=True)
class RangeSelector:
    """Everything between two anchors, e.g. from `#terms` up to (not including) `footer`."""

    start_before: str | None = None
    start_after: str | None = None
    end_before: str | None = None
    end_after: str | None = None


Selector = str | RangeSelector
FetcherKind = Literal["http", "browser", "auto"]


def utcnow() -> datetime:
    """The clock of a run (a function, not a lambda: worker processes may receive it pickled)."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Part:
    """One page of a document spread over several pages, with its own (or the document's) settings."""

    url: str
    select: tuple[Selector, ...] = ()
    remove: tuple[Selector, ...] = ()
    ignore: tuple[str, ...] = ()
    fetcher: FetcherKind | None = None  # None: the document's


@dataclass(frozen=True, slots=True)
class Channel:
    """A notification channel as the watchlist declares it: an Apprise URL whose `${VARIABLES}` are
    expanded from the environment only when sending (so no secret is ever written down by tosmon),
    and the place it was declared, for errors."""

    url: str
    file: str = "watchlist.yaml"
    line: int = 1
    column: int = 1
    where: str = "notify"


@dataclass(frozen=True, slots=True)
class Document:
    """One legal page of one service, as declared in the watchlist."""

    service: str
    name: str  # the document type: "Terms of Service", "Privacy Policy", ...
    url: str
    select: tuple[Selector, ...] = ()
    remove: tuple[Selector, ...] = ()
    ignore: tuple[str, ...] = ()  # regular expressions of text to drop before comparing
    accept_language: str = "en"
    schedule: tuple[str, ...] = ()
    recipients: tuple[str, ...] = ()
    notify: tuple[Channel, ...] = ()  # its service's own notification channels
    fetcher: FetcherKind = "http"  # "browser" renders the page in Chromium; "auto" falls back to it
    parts: tuple[Part, ...] = ()  # `combine:` pages joined in order into one text; `url` is the first
    variant: str | None = None  # "CA": one regional or language view of the document (see tosmon.variants)
    headers: tuple[tuple[str, str], ...] = ()  # extra request headers, e.g. a variant's cookie
    proxy: str | None = None  # http://, https:// or socks5:// URL the page is fetched through
    proxy_password_env: str | None = None  # the environment variable holding the proxy's password

    @property
    def id(self) -> str:
        """`Service/Document type`, and `@VARIANT` for one variant of it."""
        base = f"{self.service}/{self.name}"
        return f"{base}@{self.variant}" if self.variant else base


@dataclass(frozen=True)
class Snapshot:
    """A response body exactly as fetched, with what is needed to cite it."""

    requested_url: str
    final_url: str
    status: int
    content_type: str
    fetched_at: datetime
    body: bytes
    etag: str | None = None
    last_modified: str | None = None

    @cached_property
    def sha256(self) -> str:  # asked for several times per check; a large body is hashed once
        return hashlib.sha256(self.body).hexdigest()


@dataclass(frozen=True, slots=True)
class Clause:
    """A sentence, list item or paragraph, with the headings it sits under (outermost first)."""

    text: str
    headings: tuple[str, ...] = ()
    lead_in: bool = (
        False  # the innermost of `headings` is the sentence introducing a list ("We use your data to:")
    )

    @property
    def heading(self) -> str | None:
        return " > ".join(self.headings) if self.headings else None


@dataclass(frozen=True, slots=True)
class Change:
    """One clause-level difference between two versions of a document."""

    kind: ChangeKind
    old: Clause | None
    new: Clause | None
    words_added: tuple[str, ...] = ()
    words_removed: tuple[str, ...] = ()
    cosmetic: bool = False  # same visible wording (a link target, emphasis, case, numbering): never flags
    last_seen: str | None = None  # restored: the version that last carried this wording (tosmon.store.memory)


def restored_to_json(changes: Iterable[Change]) -> list[dict[str, object]]:
    """The clauses among `changes` whose wording the document carried lately, as `--json` lists them:
    the clause and the version that last carried it."""
    return [
        {"clause": c.new.text, "last_seen": c.last_seen} for c in changes if c.kind == "restored" and c.new
    ]


@dataclass(frozen=True, slots=True)
class Flag:
    """A new or changed clause that touches AI, model training or content licensing."""

    category: Category
    clause: str
    heading: str | None
    terms: tuple[str, ...]
    severity: Literal["high", "medium", "low"] = "medium"
    rule: str = ""  # which rule of the taxonomy decided the category
    consent: Literal["opt-in", "opt-out"] | None = None
    change: ChangeKind = "added"
    consent_change: Literal["added", "removed"] | None = None  # whether the change gave or took `consent`
    # "low" when the evidence is weak: a product name alone, a name standing in for the AI words
    confidence: Literal["high", "low"] = "high"

    def to_json(self) -> dict[str, object]:
        return {
            "category": self.category,
            "clause": self.clause,
            "heading": self.heading,
            "terms": list(self.terms),
            "severity": self.severity,
            "rule": self.rule,
            "consent": self.consent,
            "change": self.change,
            "consent_change": self.consent_change,
            "confidence": self.confidence,
        }

    @staticmethod
    def from_json(data: dict[str, object]) -> Flag:
        """A flag as recorded in a version's metadata (`to_json`), back as a Flag."""
        fields = {k: v for k, v in data.items() if k in Flag.__dataclass_fields__}
        return Flag(**{**fields, "terms": tuple(data.get("terms") or ())})  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class CheckResult:
    """What one check found for one document."""

    document: Document
    status: Status
    changes: tuple[Change, ...] = ()
    flags: tuple[Flag, ...] = ()
    error: str | None = None
    version: str | None = None  # name of the version recorded by this check, if any
    checked_at: datetime | None = None
    notice: str | None = None  # a health or flip-flop note: "recovered: ...", "alternates between ..."
    repeat: bool = False  # an error already reported by an earlier run: shown, but not alerted again
    recovered: bool = False  # the document is back to normal after an error: alerted once


@dataclass(frozen=True, slots=True)
class VariantDifference:
    """A clause some variants of a document carry and others lack (in a comparison by structure, a
    flagged clause matched by its category and place rather than by its words)."""

    clause: str
    heading: str | None
    present: tuple[str, ...]  # the variants that carry it
    absent: tuple[str, ...]  # the variants that lack it
    flags: tuple[Flag, ...] = ()  # what the clause would raise as a new clause
    position: float = 0.0  # where it stands in its variant's text, from 0 (start) to 1 (end)
    # (variant, its own wording) in the variants that word the clause differently
    counterparts: tuple[tuple[str, str], ...] = ()
    by: str = "wording"  # matched by "wording", or by "structure" (category and place) across languages


@dataclass(frozen=True)
class VariantComparison:
    """What changed this run in how the latest versions of a document's variants differ.

    Only news is carried: the differences that `appeared` since the last comparison and those that
    are `resolved` (gone). A difference that stays is shown once, when it appears.
    """

    service: str
    document: str
    variants: tuple[str, ...]  # every variant compared, in watchlist order
    versions: dict[str, str]  # variant -> the version compared
    mode: str  # "text" (one language: clause by clause) or "structure" (languages differ: flags by place)
    appeared: tuple[VariantDifference, ...] = ()
    resolved: tuple[VariantDifference, ...] = ()
    missing: tuple[str, ...] = ()  # variants with no version yet, left out of the comparison
    languages: dict[str, str | None] = field(default_factory=dict)
    error: str | None = None  # the comparison could not be made (its state is unreadable)

    @property
    def id(self) -> str:
        return f"{self.service}/{self.document}"


@dataclass(frozen=True)
class CheckRun:
    """All results of one run, in watchlist order, and how the variants of its documents differ."""

    started_at: datetime
    results: tuple[CheckResult, ...] = field(default_factory=tuple)
    variants: tuple[VariantComparison, ...] = ()

    def __repr__(self) -> str:
        # asyncio.run builds the repr of its coroutine's result as it ends (reprlib cuts it only once
        # whole): at 10,000 documents the full one raised the run's peak memory from 76 to 84 MB
        return f"CheckRun(started_at={self.started_at!r}, results=<{len(self.results)} results>)"

    @property
    def flags(self) -> list[tuple[Document, Flag]]:
        return [(r.document, f) for r in self.results for f in r.flags]
