"""Rich rendering of results for people at a terminal. Colour only on a terminal; NO_COLOR honoured."""

from __future__ import annotations

import errno
import os
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

from tosmon.models import Change, CheckRun, Flag, VariantComparison
from tosmon.report import Runs, flag_title, flag_wording, flags_by_clause, safe_text, wording
from tosmon.variants import MODE_WORDS, and_list, sides, summary

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
        )
        console.print(title)
        if first.heading:
            console.print(Text.assemble("  under: ", out(first.heading)), style="dim")
        console.print(Text.assemble("  ", ("» ", "red"), word_diff_text(flag_wording(first, changes))))
        for flag in group:
            terms = ", ".join(safe_text(t) for t in flag.terms)
            console.print(Text(f"  {flag.category}: {terms}  (rule {flag.rule})", style="dim"))


def render_changes(console: Console, changes: tuple[Change, ...] | list[Change], limit: int = 40) -> None:
    """Added text green, removed red and struck through, rewordings word by word ({+added+} [-removed-])."""
    for change in changes[:limit]:
        if change.kind == "added" and change.new:
            console.print(Text.assemble(("  + ", "green"), (safe_text(change.new.text), "green")))
        elif change.kind == "removed" and change.old:
            console.print(Text.assemble(("  - ", "red"), (safe_text(change.old.text), "red strike")))
        elif change.kind == "moved" and change.new:
            console.print(
                Text.assemble(("  ↕ ", "blue"), (safe_text(change.new.text), "dim"), (" (moved)", "blue"))
            )
        elif change.kind == "changed" and change.old and change.new:
            console.print(
                Text.assemble(("  ~ ", "yellow"), word_diff_text(wording(change.old.text, change.new.text)))
            )
    if len(changes) > limit:
        console.print(f"  … and {len(changes) - limit} more changes", style="dim")


def render_run(console: Console, run: CheckRun) -> None:
    flagged = sum(len(flags_by_clause(r.flags)) for r in run.results)
    if flagged:
        console.rule(Text(f"{flagged} flagged clause(s)", style="bold red"))
        for result in run.results:
            if result.flags:
                render_flags(console, result.flags, result.document.id, result.changes)
                console.print(Text(f"  {result.document.url}", style="dim underline"))
    table = Table(title="tosmon check", title_justify="left", show_lines=False)
    table.add_column("Document")
    table.add_column("Status")
    table.add_column("Flags", justify="right")
    table.add_column("Details", overflow="fold")
    for result in run.results:
        detail = result.error or (f"{len(result.changes)} clause change(s)" if result.changes else "")
        if result.notice:
            detail = f"{detail}; {result.notice}" if detail else result.notice
        table.add_row(
            out(result.document.id),
            Text(result.status, style=STATUS_STYLE[result.status]),
            str(len(result.flags)) if result.flags else "",
            out(detail),
        )
    console.print(table)
    for result in run.results:
        if result.changes:
            console.rule(Text(safe_text(result.document.id), style="yellow"), align="left")
            render_changes(console, result.changes)
    if run.variants:
        console.rule(Text("variants compared", style="bold magenta"), align="left")
        for comparison in run.variants:
            render_comparison(console, comparison)


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
        console.print(
            Text.assemble(("  ≠ ", "magenta"), (f"[{sides(difference)}] ", "magenta"), out(difference.clause))
        )
    if len(comparison.appeared) > limit:
        console.print(f"  … and {len(comparison.appeared) - limit} more", style="dim")


class _Console(Console):
    def on_broken_pipe(self) -> None:
        """rich exits 1 (tosmon's CHANGED) when the reader of stdout leaves: let the command group say so."""
        raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))


def make_console(stderr: bool = False) -> Console:
    return _Console(stderr=stderr, highlight=False, soft_wrap=False)
