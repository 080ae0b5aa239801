"""`tosmon verify`: check every stored file against its recorded hash and the store's own rules,
and warn about derived files that will be rebuilt (the clause memory)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from tosmon.cli.base import fail, handle_errors, main, store_options, store_path
from tosmon.errors import ExitCode
from tosmon.extract.text import plural
from tosmon.outputs.report import SCHEMA_VERSION
from tosmon.store.files import Store
from tosmon.store.memory import verify_indexes


@main.command("verify")
@store_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout and nothing else.")
@handle_errors
def verify_command(watchlist: Path, snapshots: Path | None, as_json: bool) -> None:
    """Check the snapshot store; print each damaged file and exit 6 when any is found. Never writes.

    A clause memory index (clauses.json) that is damaged or out of step with the versions is a
    warning, not damage: it is derived from the versions and rebuilt from them when next needed.

    \b
    Example:
      tosmon verify --snapshots /srv/tosmon/snapshots
    """
    store = Store(store_path(watchlist, snapshots))
    verification = store.verify()
    # a damaged document's versions come first: its memory is rebuilt from them once they are repaired
    damaged = {_document_of(d.path, store) for d in verification.damage}
    warnings = [w for w in verify_indexes(store) if _document_of(w.path, store) not in damaged]
    if as_json:
        data = {
            "schema_version": SCHEMA_VERSION,
            "store": str(store.root),
            "documents": verification.documents,
            "files": verification.files,
            "damage": [{"path": str(d.path), "problem": d.problem} for d in verification.damage],
            "warnings": [{"path": str(w.path), "problem": w.problem} for w in warnings],
        }
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        sys.exit(ExitCode.STORE if verification.damage else ExitCode.OK)
    for damage in verification.damage:
        click.echo(str(damage))
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    if verification.damage:
        fail(
            f"{plural(len(verification.damage), 'problem')} in the store {store.root} "
            f"({plural(verification.documents, 'document')}, {plural(verification.files, 'file')} checked)",
            ExitCode.STORE,
        )
    rebuilt = f" ({plural(len(warnings), 'warning')} above)" if warnings else ""
    click.echo(
        f"{store.root}: {plural(verification.documents, 'document')}, {plural(verification.files, 'file')}: "
        f"all intact{rebuilt}",
        err=True,
    )


def _document_of(path: Path, store: Store) -> tuple[str, ...]:
    """The service and document folders a file of the store is in."""
    return path.relative_to(store.root).parts[:2] if path.is_relative_to(store.root) else ()
