"""`tosmon verify`: check every stored file against its recorded hash and the store's own rules."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from tosmon.cli.base import fail, handle_errors, main, store_options, store_path
from tosmon.errors import ExitCode
from tosmon.report import SCHEMA_VERSION
from tosmon.store import Store
from tosmon.text import plural


@main.command("verify")
@store_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout and nothing else.")
@handle_errors
def verify_command(watchlist: Path, snapshots: Path | None, as_json: bool) -> None:
    """Check the snapshot store; print each damaged file and exit 6 when any is found. Never writes.

    \b
    Example:
      tosmon verify --snapshots /srv/tosmon/snapshots
    """
    store = Store(store_path(watchlist, snapshots))
    verification = store.verify()
    if as_json:
        data = {
            "schema_version": SCHEMA_VERSION,
            "store": str(store.root),
            "documents": verification.documents,
            "files": verification.files,
            "damage": [{"path": str(d.path), "problem": d.problem} for d in verification.damage],
        }
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        sys.exit(ExitCode.STORE if verification.damage else ExitCode.OK)
    for damage in verification.damage:
        click.echo(str(damage))
    if verification.damage:
        fail(
            f"{plural(len(verification.damage), 'problem')} in the store {store.root} "
            f"({plural(verification.documents, 'document')}, {plural(verification.files, 'file')} checked)",
            ExitCode.STORE,
        )
    click.echo(
        f"{store.root}: {plural(verification.documents, 'document')}, {plural(verification.files, 'file')}: "
        "all intact",
        err=True,
    )
