"""`tosmon import-ota`: watchlist entries from Open Terms Archive declarations."""

from __future__ import annotations

from pathlib import Path

import click

from tosmon.cli.base import fail, handle_errors, main
from tosmon.errors import ExitCode
from tosmon.ota import Imported, import_declarations, to_yaml


@main.command("import-ota")
@click.argument("paths", metavar="PATH...", nargs=-1, required=True, type=click.Path(path_type=Path))
@handle_errors
def import_ota_command(paths: tuple[Path, ...]) -> None:
    """Print watchlist entries (a `services:` section) that record what Open Terms Archive records,
    made from the declaration files at PATH (a JSON file or a folder of them).

    A page OTA renders with scripts gets `fetcher: browser`; OTA's JavaScript filters become `remove`
    selectors or `ignore` patterns. A document that cannot be carried over faithfully is not
    converted: stderr says why and what to do, one line a document."""
    imported = import_declarations(list(paths))
    _tell(imported)
    if not imported.converted:
        fail("no declaration could be converted", ExitCode.USAGE)
    click.echo(to_yaml(imported), nl=False)
    click.echo(
        f"converted {len(imported.converted)} document(s); {_not_converted(imported)} not converted",
        err=True,
    )


def _tell(imported: Imported) -> None:
    for line in imported.unreadable:
        click.echo(f"not converted: {line}", err=True)
    for document in imported.documents:
        where = f"{document.file}: {document.id}"
        if document.refused:
            click.echo(f"not converted: {where}: {document.refused}", err=True)
        for note in document.notes:
            click.echo(f"note: {where}: {note}", err=True)


def _not_converted(imported: Imported) -> int:
    return len(imported.refused) + len(imported.unreadable)
