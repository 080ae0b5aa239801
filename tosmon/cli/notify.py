"""`tosmon notify test`, and how the commands that notify tell their user what became of the messages."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from tosmon.cli.base import handle_errors, main, watchlist_option
from tosmon.errors import ConfigError, ExitCode, Problem
from tosmon.outputs.notify import (
    Notification,
    Notifier,
    Outbox,
    check_channels,
    deliver_notifications,
    trial_notifications,
)
from tosmon.outputs.notify.channels import display
from tosmon.store.files import Store
from tosmon.watchlist import Watchlist, load_watchlist


def send_notifications(notifications: list[Notification], store: Store) -> ExitCode | None:
    """Send (call with the store locked), say what happened on stderr; NOTIFY when a message had to wait."""
    outbox = Outbox(store.root)
    delivery = deliver_notifications(notifications, outbox, Notifier(os.environ).send)
    for sent in delivery.sent:
        click.echo(f"Notified {sent}", err=True)
    if delivery.error is None:
        return None
    waiting = len(delivery.queued)
    click.echo(
        f"Error: {delivery.error}; {waiting} notification{'s' if waiting != 1 else ''} "
        f"waiting in {outbox.directory}, sent by the next run",
        err=True,
    )
    return ExitCode.NOTIFY


def require_channels(config: Watchlist) -> None:
    """The watchlist's channels are usable: some are listed, their variables set, Apprise knows them."""
    if not config.channels:
        raise ConfigError(
            [Problem(str(config.path), 1, 1, "notify", "no `notify:` channels (Apprise URLs) to send to")]
        )
    check_channels(config.channels, os.environ)


@main.group("notify")
def notify_group() -> None:
    """Check that the notification channels work.

    Channels are Apprise URLs (Slack, Discord, Matrix, Telegram, ntfy, Mastodon, webhooks…) listed
    under `notify:` in the watchlist.

    \b
    Example:
      tosmon notify test
    """


@notify_group.command("test")
@watchlist_option
@handle_errors
def notify_test_command(watchlist: Path) -> None:
    """Send a test message to every notification channel.

    The channels are the watchlist's `notify:` list and its services' own.

    \b
    Example:
      SLACK_TOKEN=xoxb-… tosmon notify test --watchlist watchlist.yaml

    Nothing is queued: a channel that fails is named with the reason, and the exit code is 8.
    """
    config = load_watchlist(watchlist)
    require_channels(config)
    notifier = Notifier(os.environ)
    failed = 0
    for notification in trial_notifications(config.channels):
        reason = notifier.send(notification)
        if reason is None:
            click.echo(f"Sent a test notification to {display(notification.url)}", err=True)
        else:
            failed += 1
            click.echo(f"Error: {reason}", err=True)
    if failed:
        sys.exit(ExitCode.NOTIFY)
