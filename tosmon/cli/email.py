"""`tosmon email test`, and how the commands that e-mail reports tell their user what became of them."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import click

from tosmon.cli.base import handle_errors, main, watchlist_option
from tosmon.errors import ExitCode
from tosmon.outputs.notify import Delivery, Mailer, Outbox, deliver, require_email, trial_message
from tosmon.store.files import Store
from tosmon.watchlist import EmailSettings, load_watchlist


def send_reports(messages: list[EmailMessage], settings: EmailSettings, store: Store) -> ExitCode | None:
    """Send (call with the store locked), say what happened on stderr; NOTIFY when a report had to wait."""
    outbox = Outbox(store.root)
    delivery: Delivery = deliver(messages, outbox, Mailer.from_environment(settings.smtp, os.environ))
    for subject in delivery.sent:
        click.echo(f"Sent: {subject}", err=True)
    if delivery.error is None:
        return None
    waiting = len(delivery.queued)
    click.echo(
        f"Error: {delivery.error}; {waiting} report{'s' if waiting != 1 else ''} "
        f"waiting in {outbox.directory}, sent by the next run",
        err=True,
    )
    return ExitCode.NOTIFY


@main.group("email")
def email_group() -> None:
    """E-mail settings: check that reports can be sent.

    \b
    Example:
      tosmon email test
    """


@email_group.command("test")
@watchlist_option
@handle_errors
def email_test_command(watchlist: Path) -> None:
    """Send a test message to `email.to` (or every recipient) with the watchlist's SMTP settings.

    The password comes from the TOSMON_SMTP_PASSWORD environment variable.

    \b
    Example:
      TOSMON_SMTP_PASSWORD=… tosmon email test
    """
    config = load_watchlist(watchlist)
    settings = require_email(config)
    recipients = settings.to or tuple(dict.fromkeys(a for d in config.documents for a in d.recipients))
    mailer = Mailer.from_environment(settings.smtp, os.environ)
    mailer.send(trial_message(settings, recipients, datetime.now(UTC)))
    click.echo(
        f"Sent a test message to {', '.join(recipients)} via {mailer.server} ({settings.smtp.security}).",
        err=True,
    )
