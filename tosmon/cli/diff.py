"""`tosmon diff` and `tosmon extract`: the pipeline's diff, flag and extraction on local files."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from tosmon.cli.base import fail, handle_errors, main
from tosmon.cli.console import make_console, render_changes, render_flags
from tosmon.diff import diff_versions
from tosmon.errors import ExitCode
from tosmon.extract import extract, selector_problem
from tosmon.flag import flag_changes, load_taxonomy
from tosmon.report import diff_to_json, safe_text

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
@click.argument("old", type=click.Path(path_type=Path, dir_okay=False))
@click.argument("new", type=click.Path(path_type=Path, dir_okay=False))
@selector_option
@remove_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout and nothing else.")
@handle_errors
def diff_command(
    old: Path, new: Path, select: tuple[str, ...], remove: tuple[str, ...], as_json: bool
) -> None:
    """Compare two local files clause by clause and flag new clauses. Exit 1 when they differ, like diff(1)."""
    changes = diff_versions(read_text(old, select, remove), read_text(new, select, remove))
    flags = flag_changes(changes, load_taxonomy())
    if as_json:
        click.echo(json.dumps(diff_to_json(changes, flags), ensure_ascii=False, indent=2))
    else:
        console = make_console()
        render_flags(console, flags, str(new))
        render_changes(console, changes, limit=10_000)
    sys.exit(ExitCode.CHANGED if changes else ExitCode.OK)


@main.command("extract")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@selector_option
@remove_option
@handle_errors
def extract_command(file: Path, select: tuple[str, ...], remove: tuple[str, ...]) -> None:
    """Print the text tosmon extracts from a local file, to tune selectors without recording anything."""
    click.echo(safe_text(read_text(file, select, remove)), nl=False)
