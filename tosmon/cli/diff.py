"""`tosmon diff`: the pipeline's diff and flags on two local files or two stored versions."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import click

from tosmon.cli.base import fail, handle_errors, main, store_options
from tosmon.cli.console import make_console, render_changes, render_flags
from tosmon.cli.history import open_history
from tosmon.diff import diff_versions, restore
from tosmon.errors import ExitCode, TosmonError
from tosmon.extract.html import extract, selector_problem
from tosmon.flag.rules import flag_changes, load_taxonomy
from tosmon.models import Document
from tosmon.outputs.report import diff_to_json
from tosmon.store.history import find_document, find_version
from tosmon.store.memory import recall

selector_option = click.option(
    "--select", "select", multiple=True, metavar="CSS", help="CSS selector of the legal text (repeatable)."
)
remove_option = click.option(
    "--remove", "remove", multiple=True, metavar="CSS", help="CSS selector of parts to drop (repeatable)."
)


def read_text(path: Path, select: tuple[str, ...], remove: tuple[str, ...]) -> str:
    """A local file's text: HTML goes through the extraction, anything else is used as is."""
    for css in (*select, *remove):
        problem = selector_problem(css)
        if problem:
            fail(f"invalid CSS selector {css!r}: {problem}", ExitCode.USAGE)
    try:
        body = path.read_bytes()
    except OSError as error:
        fail(f"{path}: {error.strerror}", ExitCode.USAGE)
    content_type = "text/html" if path.suffix.lower() in (".html", ".htm", ".xhtml") else ""
    return extract(body, content_type=content_type, select=select, remove=remove)


@main.command("diff")
@click.argument("old", metavar="OLD|DOCUMENT")
@click.argument("new", required=False)
@selector_option
@remove_option
@click.option("--from", "from_", metavar="VERSION", help="Stored version to compare from (latest, -N, DATE).")
@click.option("--to", "to", metavar="VERSION", help="Stored version to compare to [default: latest].")
@click.option(
    "--at", "at", metavar="DATE", help="With two DOCUMENTs (variants): compare the versions in force on DATE."
)
@store_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout and nothing else.")
@handle_errors
def diff_command(
    old: str,
    new: str | None,
    select: tuple[str, ...],
    remove: tuple[str, ...],
    from_: str | None,
    to: str | None,
    at: str | None,
    watchlist: Path,
    snapshots: Path | None,
    as_json: bool,
) -> None:
    """Compare two local files OLD and NEW clause by clause and flag new clauses. Exit 1 when they differ,
    like diff(1).

    Given a DOCUMENT ('Service/Document type') instead, compare two of its stored versions: alone, its
    last change (the latest version against the one before); with --from and --to, any two:
    `tosmon diff "SoundCloud/Terms of Service" --from '#2' --to '#5'`. A VERSION is '#N' or N as
    numbered by `history`, the stamp tosmon prints, latest, -N (-1 is the latest) or a DATE (the
    version in force then); --from defaults to the version before --to, --to to the latest. One
    change (a version against the one before it) shows wording the document carried lately as
    restored, never flagged, as `check` did.

    Two DOCUMENTs compare their latest versions (or those in force on --at DATE), e.g. two variants:
    `tosmon diff "SoundCloud/Terms of Service@US" "SoundCloud/Terms of Service@CA"`.

    \b
    Examples:
      tosmon diff old.html new.html --select main
      tosmon diff "SoundCloud/Terms of Service"
    """
    other_label, other_flags = None, []
    names: tuple[str, ...] = ()  # the service's own names, no AI clause by themselves (as in check)
    last_seen: Callable[[str], str | None] | None = None  # a document's memory, for one change
    pair = new is not None and (at is not None or _names_documents(old, new))
    stored = not pair and (from_ is not None or to is not None or (new is None and not Path(old).exists()))
    if at is not None and not pair:
        fail("--at compares two DOCUMENTs; give two", ExitCode.USAGE)
    if pair:
        if from_ or to or select or remove:
            fail(
                "two DOCUMENTs are compared at one date (--at), without --from/--to/--select/--remove",
                ExitCode.USAGE,
            )
        store, documents, taxonomy = open_history(watchlist, snapshots)
        first, second = find_document(documents, old), find_document(documents, new)
        before = find_version(first, store.versions(first), at or "latest")
        after = find_version(second, store.versions(second), at or "latest")
        old_text, new_text = before.text, after.text
        label = f"{second.id} ({after.name}), not in {first.id} ({before.name})"
        # variants are peers: what the first has and the second lacks matters as much
        other_label = f"{first.id} ({before.name}), not in {second.id} ({after.name})"
        other_flags = flag_changes(diff_versions(new_text, old_text), taxonomy, names=(first.service,))
        names = (second.service,)
    elif not stored:
        if new is None:
            fail(
                "missing argument NEW (or use --from/--to to compare stored versions of a document)",
                ExitCode.USAGE,
            )
        old_text, new_text = read_text(Path(old), select, remove), read_text(Path(new), select, remove)
        taxonomy, label = load_taxonomy(), new
    else:
        if new is not None:
            fail("--from/--to compare stored versions of one DOCUMENT; give no second file", ExitCode.USAGE)
        if select or remove:
            fail("--select/--remove apply to local files, not to stored versions", ExitCode.USAGE)
        store, documents, taxonomy = open_history(watchlist, snapshots)
        try:
            document = find_document(documents, old)
        except TosmonError as error:
            # maybe a mistyped file name, unless it names a document's variants
            if from_ is None and to is None and not close_to_a_document(documents, old):
                fail(f"{error}; and there is no file {old!r}", ExitCode.USAGE)
            raise
        versions = store.versions(document)
        after = find_version(document, versions, to or "latest")
        before = (
            find_version(document, versions, from_)
            if from_
            else find_version(document, versions[: versions.index(after)] or [after], "latest")
        )
        if before is after and from_ is None:
            click.echo(
                f"{document.id}: {after.name} is its first version (#{versions.index(after) + 1}): "
                "no change before it",
                err=True,
            )
        old_text, new_text = before.text, after.text
        names = (document.service,)
        position = versions.index(after)
        if position and versions[position - 1] is before:  # one change, shown as `check` showed it
            last_seen = recall(store, document, versions[:position]).last_seen(after.date)
        label = (
            f"{document.id} (#{versions.index(before) + 1} {before.name} → "
            f"#{versions.index(after) + 1} {after.name})"
        )
    changes = diff_versions(old_text, new_text)
    if last_seen is not None:
        changes = restore(changes, last_seen)
    flags = flag_changes(changes, taxonomy, names=names, previous=old_text)
    if as_json:
        data = diff_to_json(changes, flags)
        if other_label:
            data["old_flags"] = [f.to_json() for f in other_flags]  # flagged clauses only OLD has
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        console = make_console()
        render_flags(console, flags, label)
        if other_label:
            render_flags(console, other_flags, other_label)
        render_changes(console, changes, limit=len(changes))
    sys.exit(ExitCode.CHANGED if changes else ExitCode.OK)


def _names_documents(old: str, new: str) -> bool:
    """Whether OLD and NEW name stored documents (`Service/Document@VARIANT`) rather than local files."""
    return not Path(old).exists() and not Path(new).exists() and ("@" in old or "@" in new)


def close_to_a_document(documents: list[Document], name: str) -> bool:
    """Whether `name` is a document watched as variants, named without one: no file is meant."""
    return any(d.variant and f"{d.service}/{d.name}" == name for d in documents)
