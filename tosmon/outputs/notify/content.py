"""What a report of a run says, whatever carries it: which clauses were flagged, whether the run is
worth a message at all, and a subject line that says what happened."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC

from tosmon.models import Change, CheckResult, CheckRun, Document, Flag
from tosmon.outputs.report import Runs, flag_title, flag_wording, safe_text
from tosmon.outputs.site import version_url
from tosmon.variants import sentence

MAX_CHANGES = 100  # per document: a rewritten page should not make a message nobody can open

SEVERITY_RANK = {"high": 0, "medium": 1, "low": 2}


@dataclass(frozen=True)
class FlaggedClause:
    """A clause with every flag it raised (a training clause is an AI clause too), most severe first."""

    result: CheckResult
    flags: tuple[Flag, ...]

    @property
    def clause(self) -> str:
        return self.flags[0].clause

    @property
    def heading(self) -> str | None:
        return self.flags[0].heading

    @property
    def severity(self) -> str:
        return self.flags[0].severity

    @property
    def title(self) -> str:
        return ", ".join(dict.fromkeys(flag_title(f) for f in self.flags))

    @property
    def terms(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t for f in self.flags for t in f.terms))

    @property
    def weak(self) -> bool:
        """Whether every flag of the clause rests on weak evidence (a product name alone)."""
        return all(f.confidence == "low" for f in self.flags)

    @property
    def wording(self) -> Runs:
        """The clause as a word diff against the wording it replaced: what was deleted shows too."""
        return flag_wording(self.flags[0], self.result.changes)

    @property
    def reworded(self) -> bool:
        return any(op for op, _ in self.wording)


def flagged_clauses(run: CheckRun) -> list[FlaggedClause]:
    """The flagged clauses of a run, the most severe first, otherwise in watchlist order."""
    grouped: dict[tuple[int, str], list[Flag]] = {}
    results: dict[tuple[int, str], CheckResult] = {}
    for index, result in enumerate(run.results):
        for flag in result.flags:
            grouped.setdefault((index, flag.clause), []).append(flag)
            results[(index, flag.clause)] = result
    clauses = [
        FlaggedClause(results[key], tuple(sorted(flags, key=lambda f: SEVERITY_RANK.get(f.severity, 3))))
        for key, flags in grouped.items()
    ]
    return sorted(clauses, key=lambda c: SEVERITY_RANK.get(c.severity, 3))


def worth_reporting(run: CheckRun) -> bool:
    """A run is reported when a document changed, is new, was flagged, started failing or recovered.

    A problem already reported by an earlier run is listed again but does not make a report by itself.
    """
    return bool(run.variants) or any(
        r.status in ("new", "changed") or (r.status == "error" and not r.repeat) or r.recovered
        for r in run.results
    )


def subject(run: CheckRun, prefix: str = "[tosmon]") -> str:
    """Say what happened, most important first: `[tosmon] SoundCloud Terms of Service: new AI training clause`."""
    flagged = flagged_clauses(run)
    changed = [r for r in run.results if r.status == "changed" and not r.flags]
    new = [r for r in run.results if r.status == "new"]
    failed = [r for r in run.results if r.status == "error"]
    parts = []
    for comparison in run.variants:  # who is told what, and who is not: news of its own
        differing = [d for d in comparison.appeared if d.flags]
        name = f"{comparison.service} {comparison.document}"
        if differing:
            parts.append(f"{name}: {sentence(differing[0])}")
        elif comparison.appeared:
            count = len(comparison.appeared)
            parts.append(f"{name}: its variants differ in {count} {plural(count, 'clause')}")
        elif comparison.resolved:
            parts.append(f"{name}: its variants differ less")
    if flagged:
        top = flagged[0]
        parts.append(f"{document_name(top.result.document)}: {flag_title(top.flags[0])}")
        if len(flagged) > 1:
            parts.append(f"{len(flagged) - 1} more flagged {plural(len(flagged) - 1, 'clause')}")
    if changed:
        parts.append(
            f"{document_name(changed[0].document)} changed"
            if len(changed) == 1 and not flagged
            else f"{len(changed)} {'other ' if flagged else ''}{plural(len(changed), 'document')} changed"
        )
    if new:
        parts.append(f"{len(new)} new {plural(len(new), 'document')} recorded")
    if failed:
        parts.append(
            f"{document_name(failed[0].document)} failed"
            if len(failed) == 1 and len(parts) == 0
            else f"{len(failed)} {plural(len(failed), 'document')} failed"
        )
    if not parts:
        parts.append(f"no changes in {len(run.results)} {plural(len(run.results), 'document')}")
    # Names come from the watchlist, not from pages; still, a header is one line.
    return " ".join(safe_text(f"{prefix} " + "; ".join(parts)).split())


def sections(run: CheckRun) -> tuple[list[FlaggedClause], list[tuple[CheckResult, list[Change]]]]:
    """The flagged clauses, and per document the changes that are not already shown as a flag."""
    flagged = flagged_clauses(run)
    others = []
    for result in run.results:
        shown = {f.clause for f in result.flags}
        changes = [c for c in result.changes if not (c.new and c.new.text in shown and c.kind != "moved")]
        if changes:
            others.append((result, changes))
    return flagged, others


def summary(run: CheckRun) -> str:
    counts = {s: sum(r.status == s for r in run.results) for s in ("changed", "new", "error")}
    flags = len(flagged_clauses(run))
    parts = [
        f"{flags} flagged {plural(flags, 'clause')}",
        f"{counts['changed']} changed",
        f"{counts['new']} new",
        f"{counts['error']} failed",
    ]
    documents = len({r.document.id for r in run.results})
    return f"{documents} {plural(documents, 'document')}: " + ", ".join(parts)


def document_name(document: Document) -> str:
    return f"{document.service} {document.name}" + (f" ({document.variant})" if document.variant else "")


def when(result: CheckResult) -> str:
    return f"{result.checked_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if result.checked_at else "now"


def plural(n: int, word: str) -> str:
    return word if n == 1 else word + "s"


def links(result: CheckResult, site_url: str | None) -> list[str]:
    """Where to read more: the version on the published site (with `site_url:`), and the live page."""
    url = version_url(site_url, result.document, result.version)
    return [f"this version: {url}", f"live page: {result.document.url}"] if url else [result.document.url]


def audiences(
    run: CheckRun, everyone: tuple[str, ...], own: Callable[[Document], tuple[str, ...]]
) -> list[tuple[tuple[str, ...], CheckRun]]:
    """Who hears about what: the addresses in `everyone` about every document, a document's `own`
    (its service's) about that document. Addresses that should hear about the same documents share
    one message."""
    documents: dict[str, list[CheckResult]] = {address: [] for address in everyone}
    for result in run.results:
        for address in dict.fromkeys((*everyone, *own(result.document))):
            documents.setdefault(address, []).append(result)
    groups: dict[tuple[int, ...], list[str]] = {}
    for address, results in documents.items():
        groups.setdefault(tuple(id(r) for r in results), []).append(address)
    audience = []
    for addresses in groups.values():
        results = tuple(documents[addresses[0]])
        heard = {(r.document.service, r.document.name) for r in results}
        variants = tuple(c for c in run.variants if (c.service, c.document) in heard)
        audience.append((tuple(addresses), CheckRun(run.started_at, results, variants)))
    return audience
