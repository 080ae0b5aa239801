"""`tosmon import-ota`: start a watchlist from Open Terms Archive declarations."""

from __future__ import annotations

from pathlib import Path

import click

from tosmon.cli.base import fail, handle_errors, main
from tosmon.errors import ExitCode
from tosmon.ota import import_declarations, to_yaml


@main.command("import-ota")
@click.argument("paths", metavar="PATH...", nargs=-1, required=True, type=click.Path(path_type=Path))
@handle_errors
def import_ota_command(paths: tuple[Path, ...]) -> None:
    """Print watchlist entries (a `services:` section) made from the Open Terms Archive declaration
    files at PATH (a JSON file or a folder of them). What could not be converted is listed on stderr."""
    imported = import_declarations(list(paths))
    for line in imported.skipped:
        click.echo(f"not converted: {line}", err=True)
    for line in imported.warnings:
        click.echo(f"warning: {line}", err=True)
    if not imported.documents:
        fail("no declaration could be converted", ExitCode.USAGE)
    click.echo(to_yaml(imported), nl=False)
    click.echo(f"converted {imported.documents} document(s); {len(imported.skipped)} not converted", err=True)
