"""`tosmon reextract`: rebuild versions from the stored raw snapshots after selectors changed."""

from __future__ import annotations

from pathlib import Path

import click

from tosmon.check import reextract
from tosmon.cli.base import fail, handle_errors, main, store_options, store_path, wait_option
from tosmon.errors import ExitCode
from tosmon.extract.text import plural
from tosmon.store.files import Store
from tosmon.watchlist import load_watchlist


@main.command("reextract")
@click.argument("document_id", metavar="[DOCUMENT]", required=False)
@store_options
@wait_option()
@handle_errors
def reextract_command(document_id: str | None, watchlist: Path, snapshots: Path | None, wait: float) -> None:
    """Rebuild the versions of DOCUMENT ("Service/Document"; all documents by default) from its stored
    raw snapshots with its current selectors. The new versions are marked as a change of rules, so they
    never alert as a change of terms.

    \b
    Example:
      tosmon reextract "SoundCloud/Terms of Service"
    """
    config = load_watchlist(watchlist)
    documents = config.documents
    if document_id is not None:
        try:
            documents = (config.find(document_id),)
        except KeyError:
            known = ", ".join(repr(d.id) for d in config.documents[:5])
            fail(
                f"unknown document {document_id!r} in {watchlist} (documents are named like {known})",
                ExitCode.USAGE,
            )
    store = Store(store_path(watchlist, snapshots)).open()
    with store.lock(wait=wait):
        for document in documents:
            done = reextract(store, document)
            if not done.snapshots:
                click.echo(f"{document.id}: no stored snapshot to re-extract")
                continue
            click.echo(
                f"{document.id}: {plural(done.snapshots, 'snapshot')} re-extracted, "
                f"{plural(len(done.versions), 'version')} recorded"
            )
            for reason in done.skipped:
                click.echo(f"  skipped {reason}", err=True)
