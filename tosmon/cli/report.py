"""`tosmon report --since 7d`: a digest of every change and flag recorded in a time window."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from tosmon.cli.base import fail, handle_errors, main, store_options, store_path, wait_option
from tosmon.cli.email import send_reports
from tosmon.digest import digest, parse_window
from tosmon.errors import ExitCode
from tosmon.notify import build_reports, render_text, require_email
from tosmon.store import Store
from tosmon.watchlist import load_watchlist


@main.command("report")
@store_options
@click.option("--since", "since", required=True, metavar="DURATION", help="The window: 90m, 24h, 7d, 2w...")
@click.option("--email", "send_email", is_flag=True, help="E-mail the digest too (even when it is empty).")
@wait_option(text="Seconds to wait for another run holding the store (with --email).")
@handle_errors
def report_command(
    watchlist: Path, snapshots: Path | None, since: str, send_email: bool, wait: float
) -> None:
    """Print (and e-mail) every change and flag recorded in the store in a time window."""
    try:
        window = parse_window(since)
    except ValueError as error:
        fail(f"--since: {error}", ExitCode.USAGE)
    config = load_watchlist(watchlist)
    settings = require_email(config) if send_email else None
    store = Store(store_path(watchlist, snapshots)).open()
    now = datetime.now(UTC)
    run = digest(config.documents, store, since=now - window)
    title = (
        f"tosmon digest of the last {since.strip()}: {now - window:%d %b %H:%M} to {now:%d %b %Y %H:%M} UTC"
    )
    click.echo(render_text(run, title, config.site_url), nl=False)
    if settings is None:
        return
    messages = build_reports(
        run,
        settings,
        always=True,
        title=title,
        prefix=f"[tosmon digest {since.strip()}]",
        site_url=config.site_url,
    )
    with store.lock(wait=wait):
        code = send_reports(messages, settings, store)
    if code is not None:
        sys.exit(code)
