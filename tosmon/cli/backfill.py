"""`tosmon backfill` and `tosmon import-ota-versions`: start with years of history instead of none."""

from __future__ import annotations

import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import click

from tosmon.cli.base import fail, handle_errors, main, store_options, store_path, wait_option
from tosmon.cli.console import make_console, render_flags
from tosmon.errors import ExitCode, FetchError
from tosmon.extract.text import plural
from tosmon.flag.rules import load_taxonomy
from tosmon.models import CheckResult, CheckRun
from tosmon.outputs.report import exit_code, run_json, safe_text
from tosmon.sources.backfill import POLITE, WAYBACK, Capture, backfill
from tosmon.sources.otaversions import import_versions
from tosmon.store.files import Store
from tosmon.store.history import find_document, not_recorded
from tosmon.watchlist import load_watchlist

WAIT = wait_option()


JSON = click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON document on stdout and nothing else."
)


def report(
    results: list[CheckResult] | tuple[CheckResult, ...], started_at: datetime, as_json: bool = False
) -> ExitCode:
    """Print what was recorded and flagged (as `check --json` would with --json); the exit code says
    the same as `check`'s."""
    code = exit_code(CheckRun(started_at, tuple(results)))
    if as_json:
        for chunk in run_json(CheckRun(started_at, tuple(results))):
            click.echo(chunk, nl=False)
        click.echo()
        return code
    console = make_console()
    for result in results:
        if result.flags:
            when = result.checked_at.strftime("%Y-%m-%d") if result.checked_at else ""
            render_flags(console, result.flags, f"{result.document.id} on {when}")
    recorded = [r for r in results if r.status in ("new", "changed")]
    errors = [r for r in results if r.status == "error"]
    flags = sum(len(r.flags) for r in results)
    console.print(
        f"{plural(len(recorded), 'version')} recorded, {plural(flags, 'flagged clause')}, "
        f"{plural(len(errors), 'failure')}",
        highlight=False,
    )
    return code


@main.command("backfill")
@click.argument("document")
@click.option(
    "--since",
    type=click.DateTime(["%Y-%m-%d"]),
    metavar="DATE",
    required=True,
    help="First capture date (YYYY-MM-DD).",
)
@click.option(
    "--until",
    type=click.DateTime(["%Y-%m-%d"]),
    metavar="DATE",
    help="Last capture date, inclusive [default: today].",
)
@click.option(
    "--archive-url",
    default=WAYBACK,
    show_default=True,
    help="Base URL of an archive that speaks the Wayback Machine's CDX API (a mirror, a test server).",
)
@click.option(
    "--delay",
    type=click.FloatRange(min=0),
    default=POLITE.host_delay,
    show_default=True,
    help="Seconds to pause after each request to the archive.",
)
@store_options
@WAIT
@JSON
@handle_errors
def backfill_command(
    document: str,
    since: datetime,
    until: datetime | None,
    archive_url: str,
    delay: float,
    watchlist: Path,
    snapshots: Path | None,
    wait: float,
    as_json: bool,
) -> None:
    """Record DOCUMENT's past versions from a web archive, each dated by its capture and flagged as a nightly
    check would have flagged it. An interrupted backfill continues where it stopped when run again.

    \b
    Example:
      tosmon backfill "SoundCloud/Terms of Service" --since 2020-01-01
    """
    started = datetime.now(UTC)
    if not archive_url.startswith(("http://", "https://")):
        fail(f"--archive-url: expected an http(s) URL, got {archive_url!r}", ExitCode.USAGE)
    if until is not None and until < since:
        fail(f"--until {until:%Y-%m-%d} is before --since {since:%Y-%m-%d}", ExitCode.USAGE)
    config = load_watchlist(watchlist)
    store = Store(store_path(watchlist, snapshots)).open()
    found = find_document(list(config.documents), document)

    def progress(capture: Capture, result: CheckResult) -> None:
        when = f"{capture.date:%Y-%m-%d %H:%M}"
        if not_recorded(result):  # a broken page, kept as evidence: the notice says why and where
            click.echo(f"{when} {safe_text(result.notice or '')}", err=True)
            return
        said = result.error or result.notice  # a failure, or a broken page taken in the end as the document
        click.echo(f"{when} {result.status}{f': {safe_text(said)}' if said else ''}", err=True)

    with store.lock(wait=wait):
        try:
            result = backfill(
                store,
                found,
                since=since.date(),
                until=until.date() if until else None,
                archive=archive_url,
                taxonomy=load_taxonomy(config.flags),
                settings=replace(POLITE, host_delay=delay),
                progress=progress,
            )
        except FetchError as error:
            fail(f"{found.id}: the archive could not be queried: {error.reason}", ExitCode.DOCUMENT_FAILED)
    click.echo(
        f"{safe_text(found.id)}: {plural(result.listed, 'capture')} listed, {result.skipped} done before, "
        f"{result.fetched} fetched",
        err=True,
    )
    broken = sum(1 for r in result.results if not_recorded(r))
    if broken:
        click.echo(
            f"{plural(broken, 'broken capture')} kept as evidence only, not recorded as versions", err=True
        )
    sys.exit(report(result.results, started, as_json))


@main.command("import-ota-versions")
@click.argument("path", type=click.Path(path_type=Path, file_okay=False))
@store_options
@WAIT
@JSON
@handle_errors
def import_command(path: Path, watchlist: Path, snapshots: Path | None, wait: float, as_json: bool) -> None:
    """Record the history held in an Open Terms Archive versions repository (git) at PATH.

    Each `Service/Document type.md` commit becomes a version dated by its commit and flagged as a
    nightly check would have flagged it. Importing again records nothing twice.

    \b
    Example:
      tosmon import-ota-versions ../pga-versions
    """
    started = datetime.now(UTC)
    config = load_watchlist(watchlist) if watchlist.exists() else None
    store = Store(store_path(watchlist, snapshots)).open()
    known = {d.id: d for d in config.documents} if config else {}
    with store.lock(wait=wait):
        results = import_versions(
            store, path, taxonomy=load_taxonomy(config.flags if config else None), known=known
        )
    broken = [r for r in results if not_recorded(r)]
    for result in results:
        if result.error:
            click.echo(safe_text(f"{result.document.id}: {result.error}"), err=True)
        elif result in broken:
            when = result.checked_at.isoformat() if result.checked_at else ""
            click.echo(safe_text(f"{result.document.id} on {when}: {result.notice}"), err=True)
    if broken:
        click.echo(
            f"{plural(len(broken), 'broken record')} kept as evidence only, not recorded as versions",
            err=True,
        )
    sys.exit(report(results, started, as_json))
