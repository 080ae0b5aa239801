"""`tosmon report --since 7d`: a digest of every change and flag recorded in a time window."""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from tosmon.cli.base import fail, handle_errors, main, store_options, store_path, wait_option
from tosmon.cli.email import send_reports
from tosmon.cli.notify import require_channels, send_notifications
from tosmon.errors import ExitCode
from tosmon.outputs.digest import digest, parse_since
from tosmon.outputs.notify import build_notifications, build_reports, render_text, require_email
from tosmon.outputs.report import run_json
from tosmon.store.files import Store
from tosmon.watchlist import load_watchlist


@main.command("report")
@store_options
@click.option(
    "--since",
    "since",
    required=True,
    metavar="WHEN",
    help="Start of the window: a duration (90m, 24h, 7d, 2w, 3mo) or a date (2026-11-01, UTC).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout and nothing else.")
@click.option("--email", "send_email", is_flag=True, help="E-mail the digest too (even when it is empty).")
@click.option(
    "--notify",
    "send_notify",
    is_flag=True,
    help="Send the digest to the watchlist's `notify:` channels too (even when it is empty).",
)
@wait_option(text="Seconds to wait for another run holding the store (with --email or --notify).")
@handle_errors
def report_command(
    watchlist: Path,
    snapshots: Path | None,
    since: str,
    as_json: bool,
    send_email: bool,
    send_notify: bool,
    wait: float,
) -> None:
    """Print (and e-mail) every change and flag recorded in the store in a time window.

    With --json, the digest has the shape of `tosmon check --json`, a result per version recorded.

    \b
    Examples:
      tosmon report --since 7d
      tosmon report --since 2026-11-01 --email
      tosmon report --since 7d --notify
    """
    now = datetime.now(UTC)
    try:
        start = parse_since(since, now)
    except ValueError as error:
        fail(f"--since: {error}", ExitCode.USAGE)
    config = load_watchlist(watchlist)
    settings = require_email(config) if send_email else None
    if send_notify:
        require_channels(config)  # none listed, or a secret missing: said before anything is read
    store = Store(store_path(watchlist, snapshots)).open()
    run = digest(config.documents, store, since=start)
    duration = re.fullmatch(r"\d+\s*(mo|[mhdw])", since.strip())
    window = f"of the last {since.strip()}" if duration else f"since {since.strip()}"
    title = f"tosmon digest {window}: {start:%d %b %H:%M} to {now:%d %b %Y %H:%M} UTC"
    if as_json:
        for chunk in run_json(run):
            click.echo(chunk, nl=False)
        click.echo()
    else:
        click.echo(render_text(run, title, config.site_url), nl=False)
    if settings is None and not send_notify:
        return
    codes = []
    with store.lock(wait=wait):
        if settings is not None:
            messages = build_reports(
                run,
                settings,
                always=True,
                title=title,
                prefix=f"[tosmon digest {since.strip()}]",
                site_url=config.site_url,
            )
            codes.append(send_reports(messages, settings, store))
        if send_notify:
            notifications = build_notifications(run, config, always=True, title=f"[{title}]")
            codes.append(send_notifications(notifications, store))
    code = next((code for code in codes if code), None)
    if code is not None:
        sys.exit(code)
