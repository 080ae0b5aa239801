"""`tosmon history`, `show`, `feed`, `export` and `site`: read, cite and reuse the recorded history.

These commands read the store; the watchlist, when present, only adds its documents and flag rules.
A document is named `Service/Document type`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import click
from rich.table import Table
from rich.text import Text

from tosmon.cli.base import fail, handle_errors, main, store_options, store_path, write_output
from tosmon.cli.console import make_console, out, render_flags
from tosmon.errors import ExitCode, StoreError, TosmonError
from tosmon.extract.text import plural
from tosmon.flag.rules import Taxonomy, load_taxonomy
from tosmon.models import Document
from tosmon.outputs.export import EXPORTERS
from tosmon.outputs.feed import atom_feed, reworded_changes
from tosmon.outputs.report import SCHEMA_VERSION, safe_text
from tosmon.outputs.site import version_url, write_site
from tosmon.store.files import Store
from tosmon.store.history import (
    Entry,
    entry_to_json,
    find_document,
    find_version,
    flag_from_json,
    summary,
    timeline,
)
from tosmon.variants import current
from tosmon.watchlist import load_watchlist


def open_history(watchlist: Path, snapshots: Path | None) -> tuple[Store, list[Document], Taxonomy]:
    """The store, the documents known to it or to the watchlist, and the flag rules in force."""
    config = load_watchlist(watchlist) if watchlist.exists() else None
    root = store_path(watchlist, snapshots)
    if not root.is_dir():
        raise StoreError(f"{root}: no snapshot store there (run `tosmon check` first, or pass --snapshots)")
    store = Store(root.resolve()).open()  # absolute paths in what is printed: they are citations
    documents = {d.id: d for d in store.documents()}
    documents |= {d.id: d for d in (config.documents if config else ())}
    return (
        store,
        sorted(documents.values(), key=lambda d: d.id),
        load_taxonomy(config.flags if config else None),
    )


def select_timelines(
    watchlist: Path, snapshots: Path | None, name: str | None
) -> tuple[Store, dict[Document, list[Entry]]]:
    """The timelines of one named document, or of every document with recorded versions."""
    store, documents, taxonomy = open_history(watchlist, snapshots)
    # "Service/Document" of a document watched as variants: all of its variants (and its history
    # from before it had any)
    chosen = [d for d in documents if name in (d.id, f"{d.service}/{d.name}")]
    if not chosen:
        chosen = [find_document(documents, name)] if name else documents
    timelines = {d: timeline(store, d, taxonomy) for d in chosen}
    return store, {d: t for d, t in timelines.items() if t or name}


document_argument = click.argument("document", required=False, metavar="[DOCUMENT]")


@main.command("history")
@document_argument
@store_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout and nothing else.")
@handle_errors
def history_command(document: str | None, watchlist: Path, snapshots: Path | None, as_json: bool) -> None:
    """The timeline of recorded versions of DOCUMENT ('Service/Document type'), or of every document.

    Each version shows its number (#1 the oldest) and stamp (its UTC time), which `show` and `diff`
    take as VERSION; its source (fetch, archive, import), size, clauses added, removed, changed and
    restored (↺: wording the document carried lately, back again), and flags. With --json it also
    cites the raw snapshot it came from (file, sha256, URLs, fetch date) and the file of its text,
    and lists the restored clauses, each with the version that last carried it (`last_seen`).

    \b
    Example:
      tosmon history "SoundCloud/Terms of Service"
    """
    store, timelines = select_timelines(watchlist, snapshots, document)
    entries = sorted(
        (e for t in timelines.values() for e in t), key=lambda e: (e.version.date, e.document.id)
    )
    if as_json:
        data = {"schema_version": SCHEMA_VERSION, "versions": [entry_to_json(e, store) for e in entries]}
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    console = make_console()
    title = f"tosmon history{': ' + document if document else ''} (times in UTC)"
    table = Table(title=title, title_justify="left")
    if not document:
        table.add_column("Document", overflow="fold")
    stamp_width = max((len(e.version.name) for e in entries), default=0)
    for column in ("#", "Version", "Source", "Size", "+", "-", "~", "↺", "Flags"):
        table.add_column(
            column,
            justify="right" if column in ("#", "Size", "+", "-", "~", "↺") else "left",
            # a stamp is copied into `show` and `diff`: never cut or wrapped
            min_width=stamp_width if column == "Version" else None,
            no_wrap=column in ("#", "Version"),
        )
    for entry in entries:
        changes = entry.changes
        flags = Text(summary(entry), style="bold red") if entry.flags else Text("")
        cells = [
            f"#{entry.number}",
            entry.version.name,
            entry.version.source,
            f"{entry.size:,}",
            str(changes.get("added", "")),
            str(changes.get("removed", "")),
            str(changes.get("changed", "")),
            str(changes.get("restored", "")),
            flags,
        ]
        table.add_row(*([out(entry.document.id)] if not document else []), *cells)
    console.print(table)
    for entry in entries:
        if entry.flags:
            where = f"{entry.document.id} on {entry.version.date.astimezone(UTC):%Y-%m-%d}"
            flags = [flag_from_json(flag) for flag in entry.flags]
            render_flags(console, flags, where, reworded_changes(entry))


@main.command("show", context_settings={"ignore_unknown_options": True})  # so that -2 is a version
@click.argument("document")
@click.argument("version", required=False, default="latest", metavar="[VERSION]")
@store_options
@handle_errors
def show_command(document: str, version: str, watchlist: Path, snapshots: Path | None) -> None:
    """Print the text of one version of DOCUMENT, the latest by default.

    VERSION is '#N' or N as numbered by `history` (#1 the oldest, #-1 the latest), the stamp tosmon
    prints (2026-12-07T10-15-37Z), latest, -N (-1 is the latest), or a DATE (2024-02-07 or
    2024-02-07T10:00Z: the version in force then). Quote '#N' in a shell, where # starts a comment.

    \b
    Example:
      tosmon show "SoundCloud/Terms of Service" 2024-02-01
    """
    store, documents, _ = open_history(watchlist, snapshots)
    found = find_document(documents, document)
    click.echo(safe_text(find_version(found, store.versions(found), version).text), nl=False)


@main.command("feed")
@document_argument
@store_options
@click.option(
    "-o", "--output", type=click.Path(path_type=Path, dir_okay=False), help="Write the feed to this file."
)
@handle_errors
def feed_command(document: str | None, watchlist: Path, snapshots: Path | None, output: Path | None) -> None:
    """Print the Atom feed of DOCUMENT's versions, or of every document's (the newest 100 versions).

    \b
    Example:
      tosmon feed -o /var/www/tosmon/feed.xml
    """
    store, timelines = select_timelines(watchlist, snapshots, document)
    entries = [e for t in timelines.values() for e in t]
    site_url = site_address(watchlist)

    def link(entry: Entry) -> str | None:
        return version_url(site_url, entry.document, entry.version.name)

    # the differences between variants of the documents shown (on the site's index when published)
    groups = {(d.service, d.name) for d in timelines if d.variant}
    comparisons = [c for c in current(store) if (c.get("service"), c.get("document")) in groups]
    where = f"{site_url.rstrip('/')}/index.html#variants" if site_url else None
    if document:
        title, name = f"{document} — tosmon", document
    else:
        title, name = "tosmon — all documents", str(store.root.resolve())
    feed = atom_feed(
        title,
        name,
        entries,
        now=datetime.now(UTC),
        version_link=link,
        comparisons=comparisons,
        comparisons_link=where,
    )
    if output:
        try:
            write_output(output, feed)
        except TosmonError as error:
            fail(str(error), ExitCode.OUTPUT)
    else:
        click.echo(feed.decode(), nl=False)


@main.command("export")
@document_argument
@store_options
@click.option(
    "--format",
    "format_",
    type=click.Choice(sorted(EXPORTERS)),
    default="jsonl",
    show_default=True,
    help="jsonl: a version a line; csv: a flag a row.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write to this file (replaced whole, never half written) instead of stdout.",
)
@handle_errors
def export_command(
    document: str | None, watchlist: Path, snapshots: Path | None, format_: str, output: Path | None
) -> None:
    """Print every version and its flags, oldest first: JSON Lines (one version a line) or CSV (one flag a row).

    \b
    Example:
      tosmon export --format csv -o versions.csv
    """
    store, timelines = select_timelines(watchlist, snapshots, document)
    entries = sorted(
        (e for t in timelines.values() for e in t), key=lambda e: (e.version.date, e.document.id)
    )
    text = EXPORTERS[format_](entries, store)
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        write_output(output, text.encode("utf-8"))
    except TosmonError as error:
        fail(str(error), ExitCode.OUTPUT)
    click.echo(f"wrote {plural(len(entries), 'version')} to {output}", err=True)


@main.command("site")
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False))
@store_options
@handle_errors
def site_command(directory: Path, watchlist: Path, snapshots: Path | None) -> None:
    """Write a static site of the history, ready to publish.

    DIRECTORY gets an index opening on the latest flagged changes, a page per document with its
    timeline and side-by-side diffs, feed.xml, and the evidence (raw snapshots, version texts, with
    their sha256) copied in. The pages also work when opened from disk. DIRECTORY must be outside
    the snapshot store; a rebuild only rewrites the pages of documents with new versions.

    \b
    Example:
      tosmon site public/ && rsync -a public/ server:/var/www/terms/
    """
    store, documents, taxonomy = open_history(watchlist, snapshots)
    pages = write_site(store, documents, taxonomy, directory, site_url=site_address(watchlist))
    click.echo(f"wrote {plural(len(pages), 'page')} and feed.xml; open {pages[0]}", err=True)


def site_address(watchlist: Path) -> str | None:
    """The watchlist's `site_url:`, where the site is published (None without a watchlist)."""
    return load_watchlist(watchlist).site_url if watchlist.exists() else None
