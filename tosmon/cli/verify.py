"""`tosmon verify`: check every stored file against its recorded hash and the store's own rules."""

from __future__ import annotations

from pathlib import Path

import click

from tosmon.cli.base import fail, handle_errors, main, store_options, store_path
from tosmon.errors import ExitCode
from tosmon.store import Store
from tosmon.text import plural


@main.command("verify")
@store_options
@handle_errors
def verify_command(watchlist: Path, snapshots: Path | None) -> None:
    """Check the snapshot store; print each damaged file and exit 6 when any is found. Never writes."""
    store = Store(store_path(watchlist, snapshots))
    verification = store.verify()
    for damage in verification.damage:
        click.echo(str(damage))
    if verification.damage:
        fail(
            f"{plural(len(verification.damage), 'problem')} in the store {store.root} "
            f"({plural(verification.documents, 'document')}, {plural(verification.files, 'file')} checked)",
            ExitCode.STORE,
        )
    click.echo(
        f"{store.root}: {plural(verification.documents, 'document')}, {plural(verification.files, 'file')}: all intact",
        err=True,
    )
