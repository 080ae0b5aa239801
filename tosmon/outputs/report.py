"""Render the results of a run for machines (JSON) and people (plain text).

The JSON shape is a contract other tooling relies on (`schema_version` 1); it only ever grows.
Terminal rendering lives in the CLI's console helper; e-mail rendering in notify.

A reworded clause is shown as a word diff wherever it appears, so that what a platform deleted is
seen as well as what it added: `wording` says which words stayed, went and came, `diff_text` and
`diff_html` are the one rendering of it for plain text and for HTML.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator, Sequence

import orjson

from tosmon.diff import word_diff
from tosmon.errors import ExitCode
from tosmon.extract.text import CONTROL_SEQUENCE
from tosmon.models import Change, CheckResult, CheckRun, Flag, restored_to_json
from tosmon.variants import comparison_to_json

SCHEMA_VERSION = 1
# Whole escape sequences first (CSI, and OSC up to BEL or ST), so no `[31m` is left behind; then any
# other control character.


def safe_text(text: str) -> str:
    """Page text with control characters removed, so a page cannot drive the user's terminal."""
    return CONTROL_SEQUENCE.sub("", text)


def changes_to_json(changes: tuple[Change, ...] | list[Change]) -> dict[str, list[object]]:
    """Changes by kind; `restored` clauses (wording the document carried lately) name the version
    that last carried them."""
    return {
        "added": [c.new.text for c in changes if c.kind == "added" and c.new],
        "removed": [c.old.text for c in changes if c.kind == "removed" and c.old],
        "changed": [
            {"old": c.old.text, "new": c.new.text} for c in changes if c.kind == "changed" and c.old and c.new
        ],
        "moved": [c.new.text for c in changes if c.kind == "moved" and c.new],
        "restored": restored_to_json(changes),
    }


def result_to_json(result: CheckResult) -> dict[str, object]:
    document = result.document
    return {
        "service": document.service,
        "document": document.name,
        "variant": document.variant,
        "url": document.url,
        "status": result.status,
        "flags": [f.to_json() for f in result.flags],
        "error": result.error,
        "notice": result.notice,
        "repeat": result.repeat,
        "recovered": result.recovered,
        "version": result.version,
        "checked_at": result.checked_at.isoformat() if result.checked_at else None,
        "changes": changes_to_json(result.changes),
    }


def run_json(run: CheckRun) -> Iterator[str]:
    """The run as indented JSON, one document at a time: the report of a run over 10,000 documents
    is never held whole (built at once, it was the largest thing in memory at the end of the run)."""
    started_at = json.dumps(run.started_at.isoformat())
    yield f'{{\n  "schema_version": {SCHEMA_VERSION},\n  "started_at": {started_at},\n  "documents": ['
    for index, result in enumerate(run.results):
        document = orjson.dumps(result_to_json(result), option=orjson.OPT_INDENT_2).decode()
        yield ("," if index else "") + "\n    " + document.replace("\n", "\n    ")
    yield '\n  ],\n  "variants": [' if run.results else '],\n  "variants": ['
    for index, comparison in enumerate(run.variants):
        data = orjson.dumps(comparison_to_json(comparison), option=orjson.OPT_INDENT_2).decode()
        yield ("," if index else "") + "\n    " + data.replace("\n", "\n    ")
    yield "\n  ]\n}" if run.variants else "]\n}"


def diff_to_json(changes: list[Change], flags: list[Flag]) -> dict[str, object]:
    return {
        "schema_version": SCHEMA_VERSION,
        **changes_to_json(changes),
        "flags": [f.to_json() for f in flags],
    }


def exit_code(run: CheckRun) -> ExitCode:
    """Failures first (cron should hear about them), then flags, then plain changes."""
    statuses = {r.status for r in run.results}
    if "error" in statuses:
        return ExitCode.DOCUMENT_FAILED
    if run.flags or any(d.flags for c in run.variants for d in c.appeared):
        return ExitCode.FLAGGED  # a flagged clause one country or language is told and another is not
    if statuses & {"new", "changed"} or run.variants:
        return ExitCode.CHANGED
    return ExitCode.OK


def flag_title(flag: Flag) -> str:
    """A few words that say what a flag is about, for subjects and headings."""
    label = {"ai": "AI clause", "training": "AI training clause", "licensing": "content licensing clause"}
    title = label.get(flag.category, f"{flag.category} clause")
    if flag.consent:
        title += f" ({flag.consent}{' ' + flag.consent_change if flag.consent_change else ''})"
    return {"added": "new ", "removed": "removed "}.get(flag.change, "changed ") + title


SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2}


def flags_by_clause(flags: tuple[Flag, ...] | list[Flag]) -> list[list[Flag]]:
    """Flags grouped by the clause they point at (one clause can touch several categories), most severe first."""
    groups: dict[str, list[Flag]] = {}
    for flag in flags:
        groups.setdefault(flag.clause, []).append(flag)
    ordered = [sorted(group, key=lambda f: SEVERITY_ORDER.get(f.severity, 3)) for group in groups.values()]
    return sorted(ordered, key=lambda group: SEVERITY_ORDER.get(group[0].severity, 3))


Runs = list[tuple[int, str]]  # (-1 deleted | 0 kept | 1 inserted, text), in reading order


def changed_from(clause: str, changes: Sequence[Change]) -> str | None:
    """The wording a reworded clause replaced, found among the changes that produced it."""
    for change in changes:
        if change.kind == "changed" and change.old and change.new and change.new.text == clause:
            return change.old.text
    return None


def wording(old: str | None, new: str | None) -> Runs:
    """A clause as a word diff: reworded, word by word; removed, all deleted; added, as it reads."""
    if old is not None and new is not None:
        return word_diff(old, new)
    if old is not None:
        return [(-1, old)]
    return [(0, new or "")]


def flag_wording(flag: Flag, changes: Sequence[Change]) -> Runs:
    """A flagged clause as a word diff: a reworded one against the wording it replaced (when `changes`
    still hold it), a removed one all deleted, a new one as it reads."""
    if flag.change == "removed":
        return wording(flag.clause, None)
    if flag.change == "changed":
        return wording(changed_from(flag.clause, changes), flag.clause)
    return wording(None, flag.clause)


def diff_text(runs: Runs) -> str:
    """Plain text, as `git diff --word-diff` writes it: `[-deleted-]{+inserted+}`."""
    return "".join(
        "[-" + safe_text(t) + "-]" if op < 0 else "{+" + safe_text(t) + "+}" if op > 0 else safe_text(t)
        for op, t in runs
    )


def diff_html(runs: Runs, *, deleted: str = "", inserted: str = "", side: int = 0) -> str:
    """HTML with `<del>` and `<ins>` (their attributes given, e.g. inline styles for e-mail), page text
    escaped; `side` -1 or 1 keeps only the old or the new wording (a side-by-side table's column)."""
    parts = []
    for op, text in runs:
        if side and op == -side:
            continue
        escaped = html.escape(safe_text(text), quote=True)
        if op < 0:
            parts.append(f"<del{deleted}>{escaped}</del>")
        elif op > 0:
            parts.append(f"<ins{inserted}>{escaped}</ins>")
        else:
            parts.append(escaped)
    return "".join(parts)


PAGE_PREFIX = re.compile(r"^[a-z][a-z0-9+.-]*://\S+: ")
NO_NETWORK = ("cannot resolve host name", "cannot connect: the network is unreachable")
# How a failure's reason starts -> what every document failing that way suggests.
COMMON_FAILURES = (
    ("cannot resolve host name", "no network? every document failed: cannot resolve host names"),
    (
        "cannot connect: the network is unreachable",
        "no network? every document failed: the network is unreachable",
    ),
    ("timed out", "slow or no network? every document failed: timed out"),
    (
        "cannot connect: connection refused",
        "every document failed: connection refused (a proxy or firewall?)",
    ),
)


def common_failure(results: tuple[CheckResult, ...] | list[CheckResult]) -> str | None:
    """One line when every document of a run (two or more) failed the same way, which says more about
    the machine than about the documents: `no network? every document failed: cannot resolve host names`."""
    if len(results) < 2 or any(r.status != "error" for r in results):
        return None
    # a combined document's reason names its page first: "https://a.example/terms: cannot resolve..."
    reasons = [PAGE_PREFIX.sub("", r.error or "") for r in results]
    for start, line in COMMON_FAILURES:
        if all(reason.startswith(start) for reason in reasons):
            return line
    # offline, plain HTTP finds no DNS while the browser finds no network: one cause all the same
    if all(reason.startswith(NO_NETWORK) for reason in reasons):
        return "no network? every document failed: cannot resolve host names or reach the network"
    reasons = {r.error for r in results}
    return f"every document failed the same way: {reasons.pop()}" if len(reasons) == 1 else None
