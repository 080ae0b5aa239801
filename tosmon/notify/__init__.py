"""Tell people what a run found: by e-mail (mail), and keep what cannot be sent yet (outbox).

content   what a report says: flagged clauses first, whether a run is worth a message, its subject
mail      the e-mail: plain text and HTML, sent over SMTP
outbox    reports that could not be sent, sent by the next run, exactly once
"""

from __future__ import annotations

from tosmon.notify.content import FlaggedClause, audiences, flagged_clauses, subject, worth_reporting
from tosmon.notify.mail import (
    Mailer,
    build_reports,
    compose,
    render_html,
    render_text,
    require_email,
    trial_message,
)
from tosmon.notify.outbox import Delivery, Outbox, deliver

__all__ = [
    "Delivery",
    "FlaggedClause",
    "Mailer",
    "Outbox",
    "audiences",
    "build_reports",
    "compose",
    "deliver",
    "flagged_clauses",
    "render_html",
    "render_text",
    "require_email",
    "subject",
    "trial_message",
    "worth_reporting",
]
