"""`tosmon schedule`: check on the watchlist's cron schedules in the foreground until SIGTERM or SIGINT."""

from __future__ import annotations

import logging
import os
import signal
import sys
from pathlib import Path

import click

from tosmon.cli.base import after_run_options, handle_errors, main, store_options, store_path, wait_option
from tosmon.flag.rules import load_taxonomy
from tosmon.outputs.notify import Mailer, Notifier, check_channels
from tosmon.outputs.site import refuse_inside
from tosmon.schedule import Scheduler, plan
from tosmon.store.files import Store
from tosmon.watchlist import load_watchlist


@main.command("schedule")
@store_options
@click.option(
    "--email-always", is_flag=True, help="E-mail a report after every run, even when nothing changed."
)
@after_run_options("after each run")
@wait_option(60.0, text="Seconds a run waits for another run holding the store before skipping.")
@handle_errors
def schedule_command(
    watchlist: Path,
    snapshots: Path | None,
    email_always: bool,
    no_notify: bool,
    site: Path | None,
    wait: float,
) -> None:
    """Run the check on the watchlist's `schedule:` in the foreground, logging each run to stderr.

    With `email:` settings in the watchlist, each run that found something sends a report; with
    `notify:` channels, each gets a message too (unless --no-notify). Restart after editing the
    watchlist. SIGTERM or SIGINT stop it cleanly.

    \b
    Example:
      tosmon schedule --watchlist /srv/tosmon/watchlist.yaml
    """
    config = load_watchlist(watchlist)
    notify = bool(config.channels) and not no_notify
    if notify:
        check_channels(config.channels, os.environ)
    jobs, unscheduled = plan(config)
    store = Store(store_path(watchlist, snapshots)).open()
    if site is not None:
        refuse_inside(site, store)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    for noisy in ("apscheduler", "httpx", "apprise"):  # a line per job submission and per request
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
        watchlist=config,
        notifier=Notifier(os.environ) if notify else None,
        site=site,
        wait=wait,
    )
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: scheduler.stop())
    scheduler.serve()
