"""`tosmon check`: fetch every document of the watchlist, record what changed, report and flag."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from tosmon.check import check
from tosmon.cli.base import (
    after_run_options,
    fail,
    handle_errors,
    main,
    store_options,
    store_path,
    wait_option,
)
from tosmon.cli.console import make_console, new_document_details, render_run, store_arguments
from tosmon.cli.email import send_reports
from tosmon.cli.notify import send_notifications
from tosmon.cli.selection import chosen, skip_renamed
from tosmon.errors import ExitCode, TosmonError
from tosmon.flag.rules import load_taxonomy
from tosmon.models import CheckResult
from tosmon.outputs.notify import build_notifications, build_reports, check_channels, require_email
from tosmon.outputs.report import exit_code, run_json
from tosmon.outputs.site import refuse_inside, write_site
from tosmon.store.files import Store
from tosmon.watchlist import load_watchlist
from tosmon.watchlist import shard as select_shard


@main.command("check")
@click.argument("names", nargs=-1, metavar="[DOCUMENT]...")
@click.option(
    "--service",
    "services",
    multiple=True,
    metavar="SERVICE",
    help="Check only this service's documents (repeatable).",
)
@store_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout and nothing else.")
@wait_option()
@click.option(
    "--shard",
    metavar="I/N",
    help="Check only part I of N of the watchlist (deterministic), to share it between machines or jobs.",
)
@click.option(
    "--email", "send_email", is_flag=True, help="E-mail a report if anything changed, was flagged or failed."
)
@click.option("--email-always", is_flag=True, help="E-mail a report even when nothing changed.")
@after_run_options("after the check")
@handle_errors
def check_command(
    names: tuple[str, ...],
    services: tuple[str, ...],
    watchlist: Path,
    snapshots: Path | None,
    as_json: bool,
    wait: float,
    shard: str | None,
    send_email: bool,
    email_always: bool,
    no_notify: bool,
    site: Path | None,
) -> None:
    """Check every document once: fetch, extract, store, diff, flag and report.

    Name DOCUMENTs ('Service/Document type') or --service to check only those. With `notify:`
    channels in the watchlist, a message goes to each when something changed, was flagged, failed
    or recovered (--no-notify skips them); --email sends the e-mail report.

    \b
    Example:
      tosmon check --email >>/var/log/tosmon.log 2>&1
    """
    config = load_watchlist(watchlist)
    documents = chosen(config.documents, names, services, watchlist)
    if shard is not None:
        part = re.fullmatch(r"(\d+)/(\d+)", shard.strip())
        if not part or not 1 <= int(part[1]) <= int(part[2]):
            fail(f"--shard: expected I/N with 1 <= I <= N, found {shard!r}", ExitCode.USAGE)
        documents = select_shard(documents, int(part[1]), int(part[2]))
    email = require_email(config) if send_email or email_always else None
    notify = bool(config.channels) and not no_notify
    if notify:
        check_channels(config.channels, os.environ)  # a missing secret is found before anything is fetched
    after_run: list[ExitCode | None] = []  # what went wrong after the check: sending, the site
    store = Store(store_path(watchlist, snapshots)).open()
    documents, renamed = skip_renamed(documents, config.documents, store)
    if site is not None:
        refuse_inside(site, store)
    taxonomy = load_taxonomy(config.flags)
    console = make_console()
    err_console = make_console(stderr=True)
    with store.lock(wait=wait):
        if err_console.is_terminal and not as_json:
            with Progress(
                TextColumn("checking"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=err_console,
                transient=True,
            ) as bar:
                task = bar.add_task("check", total=len(documents))

                def advance(_: CheckResult) -> None:
                    bar.advance(task)

                run = check(documents, store, taxonomy=taxonomy, settings=config.fetch, progress=advance)
        else:
            run = check(documents, store, taxonomy=taxonomy, settings=config.fetch)
        if email is not None:
            reports = build_reports(run, email, always=email_always, site_url=config.site_url)
            after_run.append(send_reports(reports, email, store))
        if notify:
            notifications = build_notifications(run, config, always=email_always)
            after_run.append(send_notifications(notifications, store))
        if site is not None:
            try:
                pages = write_site(store, config.documents, taxonomy, site, site_url=config.site_url)
            except TosmonError as error:  # the check is recorded: say so, and why the site is not
                click.echo(f"Error: {error}", err=True)
                after_run.append(ExitCode.USAGE)
            else:
                click.echo(f"Site rebuilt: {len(pages)} pages in {site}", err=True)
    if as_json:
        for chunk in run_json(run):
            click.echo(chunk, nl=False)
        click.echo()
    else:
        render_run(
            console,
            run,
            describe_new=new_document_details(store),
            options=store_arguments(watchlist, snapshots),
        )
    failed = next((code for code in after_run if code), None)
    sys.exit(failed or (ExitCode.DOCUMENT_FAILED if renamed else exit_code(run)))
