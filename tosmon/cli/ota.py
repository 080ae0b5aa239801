"""`tosmon import-ota`: watchlist entries from Open Terms Archive declarations."""

from __future__ import annotations

from pathlib import Path

import click

from tosmon.cli.base import fail, handle_errors, main
from tosmon.errors import ExitCode
from tosmon.extract.text import plural
from tosmon.sources.ota import Imported, import_declarations, to_yaml
from tosmon.watchlist import load_watchlist
from tosmon.watchlist_edit import add_documents


@main.command("import-ota")
@click.argument("paths", metavar="PATH...", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--into",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Add the entries to this watchlist, keeping its comments and order, instead of printing them.",
)
@handle_errors
def import_ota_command(paths: tuple[Path, ...], into: Path | None) -> None:
    """Print watchlist entries (a `services:` section) that record what Open Terms Archive records,
    made from the declaration files at PATH (a JSON file or a folder of them).

    A page OTA renders with scripts gets `fetcher: browser`; OTA's JavaScript filters become `remove`
    selectors or `ignore` patterns. A document that cannot be carried over faithfully is not
    converted: stderr says why and what to do, one line a document. With --into, a document the
    watchlist already has (by name) is left as it is, and said so.

    \b
    Example:
      tosmon import-ota ../declarations/declarations --into watchlist.yaml
    """
    imported = import_declarations(list(paths))
    _tell(imported)
    if not imported.converted:
        fail("no declaration could be converted", ExitCode.USAGE)
    not_converted = len(imported.refused) + len(imported.unreadable)
    if into is None:
        click.echo(to_yaml(imported), nl=False)
        click.echo(
            f"converted {plural(len(imported.converted), 'document')}; {not_converted} not converted",
            err=True,
        )
        return
    there = {d.id for d in load_watchlist(into).documents} if into.exists() else set()
    new: dict[str, dict[str, object]] = {}
    for document in imported.converted:
        if document.id in there:
            click.echo(
                f"not added: {document.id}: already in {into}; remove or rename it there to import it again",
                err=True,
            )
        else:
            new.setdefault(document.service, {})[document.name] = document.entry
    if new:
        add_documents(into, new)  # type: ignore[arg-type]
    added = sum(len(documents) for documents in new.values())
    click.echo(
        f"added {plural(added, 'document')} to {into}; {len(imported.converted) - added} already there, "
        f"{not_converted} not converted",
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
