"""`tosmon schedule`: check on the watchlist's cron schedules in the foreground until SIGTERM or SIGINT."""

from __future__ import annotations

import logging
import os
import signal
import sys
from pathlib import Path

import click

from tosmon.cli.base import handle_errors, main, store_options, store_path, wait_option
from tosmon.flag import load_taxonomy
from tosmon.notify import Mailer
from tosmon.schedule import Scheduler, plan
from tosmon.store import Store
from tosmon.watchlist import load_watchlist


@main.command("schedule")
@store_options
@click.option(
    "--email-always", is_flag=True, help="E-mail a report after every run, even when nothing changed."
)
@wait_option(60.0, text="Seconds a run waits for another run holding the store before skipping.")
@handle_errors
def schedule_command(watchlist: Path, snapshots: Path | None, email_always: bool, wait: float) -> None:
    """Run the check on the watchlist's `schedule:` in the foreground, logging each run to stderr.

    With `email:` settings in the watchlist, each run that found something sends a report.
    Restart after editing the watchlist. SIGTERM or SIGINT stop it cleanly.
    """
    config = load_watchlist(watchlist)
    jobs, unscheduled = plan(config)
    store = Store(store_path(watchlist, snapshots)).open()
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    for noisy in ("apscheduler", "httpx"):  # a line per job submission and per request
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if unscheduled:
        names = ", ".join(d.id for d in unscheduled)
        logging.getLogger("tosmon.schedule").warning("no schedule, never checked here: %s", names)
    scheduler = Scheduler(
        jobs,
        store,
        taxonomy=load_taxonomy(config.flags),
        email=config.email,
        mailer=Mailer.from_environment(config.email.smtp, os.environ) if config.email else None,
        email_always=email_always,
        wait=wait,
    )
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: scheduler.stop())
    scheduler.serve()
