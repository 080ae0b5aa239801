"""`tosmon list`: the documents watched and stored, with their latest version and their state."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.table import Table
from rich.text import Text

from tosmon.cli.base import handle_errors, main, store_options, store_path
from tosmon.cli.console import make_console, out
from tosmon.models import Document
from tosmon.outputs.report import SCHEMA_VERSION, safe_text
from tosmon.store.files import Store
from tosmon.watchlist import load_watchlist


@main.command("list")
@store_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout and nothing else.")
@handle_errors
def list_command(watchlist: Path, snapshots: Path | None, as_json: bool) -> None:
    """List the documents with their URL, latest version and status.

    Every document of the watchlist, and those with a history in the store only: URL, fetcher,
    number of versions, latest version (its stamp, UTC) and status (ok, not checked yet, failing
    since when, not watched).

    \b
    Example:
      tosmon list --json | jq -r '.documents[] | select(.status == "failing") | .id'
    """
    watched = load_watchlist(watchlist).documents if watchlist.exists() or snapshots is None else ()
    root = store_path(watchlist, snapshots)
    store = Store(root) if (root / "tosmon-store.json").exists() else None
    ids = {d.id for d in watched}
    stored = [d for d in store.documents() if d.id not in ids] if store else []
    rows = [describe(d, store, watched=True) for d in watched]
    rows += [describe(d, store, watched=False) for d in stored]
    if as_json:
        click.echo(
            json.dumps({"schema_version": SCHEMA_VERSION, "documents": rows}, ensure_ascii=False, indent=2)
        )
        return
    count = f"{len(rows)} document{'' if len(rows) == 1 else 's'}"
    table = Table(title=f"tosmon list: {count} (times in UTC)", title_justify="left")
    stamp_width = max((len(str(r["latest_version"] or "")) for r in rows), default=0)
    for column in ("Document / URL", "Fetcher", "Versions", "Latest", "Status"):
        latest = column == "Latest"  # a stamp is copied into `show` and `diff`: never cut or wrapped
        table.add_column(
            column,
            justify="right" if column == "Versions" else "left",
            overflow="fold",
            min_width=stamp_width if latest else None,
            no_wrap=latest,
        )
    for row in rows:
        status = str(row["status"]) if not row["problem"] else f"{row['status']}: {row['problem']}"
        table.add_row(
            Text.assemble(out(str(row["id"])), "\n", (safe_text(str(row["url"])), "dim")),
            str(row["fetcher"] or ""),
            str(row["versions"]),
            str(row["latest_version"] or ""),
            out(status),
        )
    make_console().print(table)


def describe(document: Document, store: Store | None, *, watched: bool) -> dict[str, object]:
    """One document as `list --json` gives it."""
    versions = store.versions(document) if store and store.known(document) else []
    state = store.state(document) if store and store.known(document) else {}
    trouble = state.get("problem") if isinstance(state.get("problem"), dict) else None
    if not watched:
        status = "not watched"
    elif trouble:
        status = "failing"
    elif not versions:
        status = "not checked yet"
    else:
        status = "ok"
    problem = None
    if trouble:
        problem = f"{trouble.get('reason')} (since {str(trouble.get('since'))[:10]})"
    return {
        "id": document.id,
        "service": document.service,
        "document": document.name,
        "variant": document.variant,
        "url": document.url,
        "fetcher": document.fetcher if watched else None,
        "versions": len(versions),
        "latest_version": versions[-1].name if versions else None,
        "latest_date": versions[-1].date.isoformat() if versions else None,
        "status": status,
        "problem": problem,
    }
