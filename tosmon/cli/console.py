"""Rich rendering of results for people at a terminal. Colour only on a terminal; NO_COLOR honoured."""

from __future__ import annotations

import errno
import os
import shlex
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from tosmon.diff import segment
from tosmon.extract.text import plural
from tosmon.models import Change, CheckResult, CheckRun, Flag, VariantComparison
from tosmon.outputs.report import (
    Runs,
    common_failure,
    flag_title,
    flag_wording,
    flags_by_clause,
    safe_text,
    wording,
)
from tosmon.store.files import Store
from tosmon.variants import MODE_WORDS, and_list, sides, summary

CHANGES_PER_DOCUMENT = 20  # a run's output shows this many changes of a document; `tosmon diff` all of them
PIPED_WIDTH = 100_000  # "no wrapping" for tables when piped: wide enough for any row
WORDS = {"new": "new", "changed": "changed", "unchanged": "unchanged", "error": "failed"}
STATUS_STYLE = {"new": "cyan", "unchanged": "dim", "changed": "yellow", "error": "bold red"}
SEVERITY_STYLE = {"high": "bold white on red", "medium": "bold red", "low": "yellow"}


def out(text: str) -> Text:
    """Page text made safe for the terminal: no control sequences, no markup."""
    return Text(safe_text(text))


def word_diff_text(runs: Runs) -> Text:
    """A word diff for the terminal: deleted words red and struck through as [-these-], added {+these+}."""
    line = Text()
    for op, chunk in runs:
        if op > 0:
            line.append("{+" + safe_text(chunk) + "+}", style="bold green")
        elif op < 0:
            line.append("[-" + safe_text(chunk) + "-]", style="red strike")
        else:
            line.append(safe_text(chunk))
    return line


def render_flags(
    console: Console, flags: tuple[Flag, ...] | list[Flag], where: str, changes: Sequence[Change] = ()
) -> None:
    """One block per flagged clause: the most severe category names it, the others are listed; a
    reworded clause is shown against the wording it replaced, when `changes` hold it."""
    for group in flags_by_clause(flags):
        first = group[0]
        title = Text.assemble(
            (f" {first.severity.upper()} ", SEVERITY_STYLE.get(first.severity, "bold red")),
            " ",
            (flag_title(first), "bold"),
            " in ",
            out(where),
            (" (low confidence)" if all(f.confidence == "low" for f in group) else "", "dim"),
        )
        console.print(title)
        if first.heading:
            console.print(Text.assemble("  under: ", out(first.heading)), style="dim")
        hang(console, Text.assemble("  ", ("» ", "red")), word_diff_text(flag_wording(first, changes)))
        for flag in group:
            terms = ", ".join(safe_text(t) for t in flag.terms)
            weak = ", low confidence" if flag.confidence == "low" else ""
            console.print(Text(f"  {flag.category}: {terms}  (rule {flag.rule}{weak})", style="dim"))


def hang(console: Console, marker: Text, body: Text) -> None:
    """`marker` then `body`; on a terminal, lines of `body` that wrap start under its first word (a
    hanging indent), not at the left margin. Piped, the whole line is printed as is."""
    if console.soft_wrap:
        console.print(Text.assemble(marker, body))
        return
    grid = Table.grid()
    grid.add_column(width=marker.cell_len, no_wrap=True)
    grid.add_column()
    grid.add_row(marker, body)
    console.print(grid)


def render_changes(console: Console, changes: tuple[Change, ...] | list[Change], limit: int = 40) -> int:
    """Added text green, removed red and struck through, rewordings word by word ({+added+} [-removed-]).

    Shows at most `limit` changes and returns how many were left out."""
    for change in changes[:limit]:
        if change.kind == "added" and change.new:
            hang(console, Text("  + ", style="green"), Text(safe_text(change.new.text), style="green"))
        elif change.kind == "removed" and change.old:
            hang(console, Text("  - ", style="red"), Text(safe_text(change.old.text), style="red strike"))
        elif change.kind == "moved" and change.new:
            body = Text.assemble((safe_text(change.new.text), "dim"), (" (moved)", "blue"))
            hang(console, Text("  ↕ ", style="blue"), body)
        elif change.kind == "restored" and change.new:
            seen = (
                f" (restored: carried until {change.last_seen[:10]})" if change.last_seen else " (restored)"
            )
            hang(
                console,
                Text("  ↺ ", style="cyan"),
                Text.assemble((safe_text(change.new.text), "dim"), (seen, "cyan")),
            )
        elif change.kind == "changed" and change.old and change.new:
            hang(
                console,
                Text("  ~ ", style="yellow"),
                word_diff_text(wording(change.old.text, change.new.text)),
            )
    return max(0, len(changes) - limit)


def quoted(document_id: str) -> str:
    """A document's name as a shell argument."""
    return shlex.quote(document_id)


def store_arguments(watchlist: Path, snapshots: Path | None) -> str:
    """The options a suggested command needs to find the same store (none for the defaults)."""
    options = "" if watchlist == Path("watchlist.yaml") else f" --watchlist {shlex.quote(str(watchlist))}"
    return options + (f" --snapshots {shlex.quote(str(snapshots))}" if snapshots else "")


def new_document_details(store: Store) -> Callable[[CheckResult], str]:
    """What a new document's row says: how much text its first version holds."""

    def describe(result: CheckResult) -> str:
        version = store.latest_version(result.document)
        if version is None:
            return ""
        text = version.text
        return f"first version: {plural(len(text.encode()), 'byte')}, {plural(len(segment(text)), 'clause')}"

    return describe


def render_run(
    console: Console,
    run: CheckRun,
    *,
    limit: int = CHANGES_PER_DOCUMENT,
    describe_new: Callable[[CheckResult], str] | None = None,
    options: str = "",
) -> None:
    """A run, most important first: the flagged clauses, then each changed document's changes
    (at most `limit` each, with the command that shows the rest), then how variants newly differ,
    then a table of every document, then one line that sums the run up. `options` follow the commands suggested (a --watchlist)."""
    flagged = sum(len(flags_by_clause(r.flags)) for r in run.results)
    if flagged:
        console.print(Text(plural(flagged, "flagged clause"), style="bold red"))
        for result in run.results:
            if result.flags:
                render_flags(console, result.flags, result.document.id, result.changes)
                console.print(Text(f"  {result.document.url}", style="dim underline"))
        console.print()
    for result in run.results:
        if result.changes:
            console.print(
                Text.assemble(
                    (safe_text(result.document.id), "bold yellow"),
                    (f": {plural(len(result.changes), 'clause change')}", "yellow"),
                )
            )
            hidden = render_changes(console, result.changes, limit)
            if hidden:
                more = f"tosmon diff {quoted(result.document.id)}{options}"
                console.print(Text(f"  … and {plural(hidden, 'more change')}: {more}", style="dim"))
            console.print()
    if run.variants:
        console.print(Text("variants compared", style="bold magenta"))
        for comparison in run.variants:
            render_comparison(console, comparison)
        console.print()
    table = Table(title="tosmon check", title_justify="left", show_lines=False)
    table.add_column("Document")
    table.add_column("Status")
    table.add_column("Flags", justify="right")
    table.add_column("Details", overflow="fold")
    for result in run.results:
        detail = result.error or (plural(len(result.changes), "clause change") if result.changes else "")
        if result.status == "new" and describe_new is not None:
            detail = describe_new(result)
        if result.notice:
            detail = f"{detail}; {result.notice}" if detail else result.notice
        table.add_row(
            out(result.document.id),
            Text(result.status, style=STATUS_STYLE[result.status]),
            str(len(result.flags)) if result.flags else "",
            out(detail),
        )
    console.print(table)
    failure = common_failure(run.results)
    if failure:
        console.print(Text(failure, style="bold red"))
    console.print(Text(run_summary(run), style="bold"))


def run_summary(run: CheckRun) -> str:
    """One line for the end of a run (and of a log): `12 documents: 1 new, 2 changed, 9 unchanged; 1 flagged clause`."""
    counts = Counter(r.status for r in run.results)
    parts = [f"{counts[s]} {WORDS[s]}" for s in ("new", "changed", "unchanged", "error") if counts[s]]
    text = f"{plural(len(run.results), 'document')}: {', '.join(parts) or 'none checked'}"
    flagged = sum(len(flags_by_clause(r.flags)) for r in run.results)
    return text + (f"; {plural(flagged, 'flagged clause')}" if flagged else "; nothing flagged")


def render_comparison(console: Console, comparison: VariantComparison, limit: int = 20) -> None:
    """What a document's variants newly differ in (or no longer do): flagged clauses first, in words."""
    console.print(
        Text.assemble(
            out(comparison.id),
            (f"  {and_list(comparison.variants)}, compared {MODE_WORDS.get(comparison.mode, '')}", "dim"),
        )
    )
    for line in summary(comparison):
        console.print(Text.assemble("  ", out(line)), style="bold red" if "clause appears" in line else "")
    for difference in comparison.appeared[:limit]:
        marker = Text.assemble(("  ≠ ", "magenta"), (f"[{sides(difference)}] ", "magenta"))
        hang(console, marker, out(difference.clause))
    if len(comparison.appeared) > limit:
        console.print(f"  … and {len(comparison.appeared) - limit} more", style="dim")


class _Console(Console):
    def on_broken_pipe(self) -> None:
        """rich exits 1 (tosmon's CHANGED) when the reader of stdout leaves: let the command group say so."""
        raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))


def make_console(stderr: bool = False) -> Console:
    """A console for stdout (or stderr). Piped into a log or a file, nothing is wrapped: a line is as
    long as its text, so names never break across lines and `grep` finds whole clauses."""
    console = _Console(stderr=stderr, highlight=False, soft_wrap=False)
    if not console.is_terminal:
        console = _Console(stderr=stderr, highlight=False, soft_wrap=True, width=PIPED_WIDTH)
    return console
