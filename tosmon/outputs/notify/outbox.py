"""Nothing is lost: a report that cannot be sent waits in `<store>/outbox/`, and the next run
sends it before its own report, then deletes it. Runs hold the store's lock while they deliver, so
two runs never send the same queued report.

    <store>/outbox/<stamp>.eml          an e-mail, as it would have been sent
    <store>/outbox/<stamp>.json         a notification: {"url", "title", "body", "kind"}, the URL
                                        with its ${NAME}s (never their values)

A channel that fails is not tried again in the same delivery: its other messages wait with it,
so a dead endpoint costs one timeout per run, and it gets each message exactly once when it is back.
"""

from __future__ import annotations

import email.policy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes
from email.message import EmailMessage
from pathlib import Path

import orjson

from tosmon.errors import NotifyError, StoreError
from tosmon.models import utcnow
from tosmon.outputs.notify.channels import Notification, display
from tosmon.outputs.notify.mail import Mailer
from tosmon.store.files import read_json, stamp, write_atomic

OUTBOX = "outbox"


class Outbox:
    """Reports waiting to be sent, oldest first by name: e-mails (`.eml`) and notifications (`.json`)."""

    def __init__(self, store_root: Path) -> None:
        self.directory = store_root / OUTBOX

    def put(self, message: EmailMessage, now: datetime) -> Path:
        return self._put(message.as_bytes(policy=email.policy.SMTP), now, ".eml")

    def put_notification(self, notification: Notification, now: datetime) -> Path:
        return self._put(orjson.dumps(notification.to_json(), option=orjson.OPT_INDENT_2), now, ".json")

    def _put(self, data: bytes, now: datetime, suffix: str) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        base, n = stamp(now), 1
        path = self.directory / f"{base}{suffix}"
        while path.exists():
            n += 1
            path = self.directory / f"{base}-{n}{suffix}"
        write_atomic(path, data)
        return path

    def pending(self, suffix: str = ".eml") -> list[Path]:
        """The e-mails (or, with ".json", the notifications) waiting, oldest first."""
        if not self.directory.is_dir():
            return []
        # `<stamp>.eml`, then `<stamp>-2.eml`...: the order they were queued in.
        return sorted(
            self.directory.glob(f"[0-9]*{suffix}"), key=lambda p: (p.stem[:20], int(p.stem[21:] or 1))
        )

    @staticmethod
    def read(path: Path) -> EmailMessage:
        return message_from_bytes(path.read_bytes(), _class=EmailMessage, policy=email.policy.SMTP)


@dataclass(frozen=True)
class Delivery:
    """What became of the reports of one run (and of those it found waiting)."""

    sent: tuple[str, ...] = ()  # subjects of the messages sent
    queued: tuple[Path, ...] = ()  # messages left in the outbox
    error: str | None = None


def deliver(
    messages: list[EmailMessage],
    outbox: Outbox,
    mailer: Mailer,
    *,
    now: Callable[[], datetime] = utcnow,
) -> Delivery:
    """Send what waits in the outbox, then `messages`; whatever cannot be sent waits in the outbox.

    Call with the store locked: the lock is what makes a queued report go out exactly once. All
    go over one connection, so a run waits for at most one timeout when the server is down, and a
    message the server refuses does not hold back the others.
    """
    waiting = [(path, outbox.read(path)) for path in outbox.pending()]
    batch = [*waiting, *((None, message) for message in messages)]
    if not batch:
        return Delivery()
    try:
        outcomes = mailer.send_all([message for _, message in batch])
    except NotifyError as failure:
        outcomes = [failure] * len(batch)
    sent: list[str] = []
    errors: list[str] = []
    for (path, message), outcome in zip(batch, outcomes, strict=True):
        if outcome is None:
            sent.append(" ".join(str(message["Subject"]).split()))
            if path is not None:
                path.unlink()
            continue
        errors.append(str(outcome))
        if path is None:
            outbox.put(message, now())
    return Delivery(tuple(sent), tuple(outbox.pending()), errors[0] if errors else None)


def deliver_notifications(
    notifications: list[Notification],
    outbox: Outbox,
    send: Callable[[Notification], str | None],
    *,
    now: Callable[[], datetime] = utcnow,
) -> Delivery:
    """Send the notifications waiting in the outbox, then `notifications`; what fails waits there.

    Call with the store locked, as `deliver`. `send` returns None once a message is delivered, else
    why not. A queued file that cannot be read is left where it is, named in the error.
    """
    waiting: list[tuple[Path | None, Notification]] = []
    errors: list[str] = []
    for path in outbox.pending(".json"):
        try:
            waiting.append((path, Notification.from_json(read_json(path))))
        except (StoreError, KeyError) as error:
            errors.append(f"{path}: unreadable queued notification ({error}); move it away")
    sent: list[str] = []
    down: dict[str, str] = {}  # channel URL -> why it failed in this delivery
    for path, notification in [*waiting, *((None, n) for n in notifications)]:
        reason = down.get(notification.url) or send(notification)
        if reason is None:
            sent.append(f"{display(notification.url)}: {notification.title}")
            if path is not None:
                path.unlink()
            continue
        down[notification.url] = reason
        errors.append(reason)
        if path is None:
            outbox.put_notification(notification, now())
    return Delivery(tuple(sent), tuple(outbox.pending(".json")), errors[0] if errors else None)
