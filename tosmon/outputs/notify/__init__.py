"""Tell people what a run found: by e-mail (mail), and keep what cannot be sent yet (outbox).

content   what a report says: flagged clauses first, whether a run is worth a message, its subject
mail      the e-mail: plain text and HTML, sent over SMTP
outbox    reports that could not be sent, sent by the next run, exactly once
"""

from __future__ import annotations

from tosmon.outputs.notify.channels import (
    Notification,
    Notifier,
    build_notifications,
    check_channels,
    trial_notifications,
)
from tosmon.outputs.notify.content import FlaggedClause, audiences, flagged_clauses, subject, worth_reporting
from tosmon.outputs.notify.mail import (
    Mailer,
    build_reports,
    compose,
    render_html,
    render_text,
    require_email,
    trial_message,
)
from tosmon.outputs.notify.outbox import Delivery, Outbox, deliver, deliver_notifications

__all__ = [
    "Delivery",
    "FlaggedClause",
    "Mailer",
    "Notification",
    "Notifier",
    "Outbox",
    "audiences",
    "build_notifications",
    "build_reports",
    "check_channels",
    "compose",
    "deliver",
    "deliver_notifications",
    "flagged_clauses",
    "render_html",
    "render_text",
    "require_email",
    "subject",
    "trial_message",
    "trial_notifications",
    "worth_reporting",
]
