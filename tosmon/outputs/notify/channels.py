"""Notifications where people already are, through Apprise: Slack, Discord, Matrix, Telegram, ntfy,
Mastodon, generic JSON and XML webhooks, and the hundred other services Apprise knows.

A watchlist's `notify:` lists Apprise URLs; a service's own `notify:` hears about its documents
only. The rules are the e-mail's: a message when a document changed, is new, was flagged, failed
or recovered. The body is plain text, a reworded flagged clause shown as `[-deleted-]{+added+}`.

For `json://` and `jsons://` (a generic webhook) the body is a JSON document instead, so that a
program receives the flags with their clauses: Apprise posts `{"version", "title", "message",
"attachments", "type"}`, and `message` is the text of `payload()` (`schema_version` 1).

`${NAME}` in a URL is taken from the environment when sending, never written anywhere: a queued
message keeps the URL as the watchlist wrote it. Apprise's own failures (it logs them rather than
raising) are read from its log and become the reason a message waits in the outbox.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC
from typing import Any

from tosmon.errors import ConfigError, Problem
from tosmon.models import Channel, CheckResult, CheckRun
from tosmon.outputs.notify.content import (
    audiences,
    document_name,
    flagged_clauses,
    links,
    plural,
    subject,
    summary,
    worth_reporting,
)
from tosmon.outputs.report import SCHEMA_VERSION, changed_from, diff_text, flag_wording, safe_text
from tosmon.outputs.site import version_url
from tosmon.variants import and_list, comparison_to_json
from tosmon.variants import summary as variants_summary
from tosmon.watchlist import Watchlist

VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
JSON_SCHEMES = ("json", "jsons")
MAX_FLAGS = 10  # in a chat message; the e-mail and the site have them all
MAX_LINES = 10  # changed, new or failed documents listed by name


@dataclass(frozen=True)
class Notification:
    """One message for one channel: what the outbox keeps (the URL with its `${NAME}`s, not their values)."""

    url: str
    title: str
    body: str
    kind: str = "info"  # Apprise's notify type: info, success, warning, failure

    def to_json(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Notification:
        return cls(str(data["url"]), str(data["title"]), str(data["body"]), str(data.get("kind", "info")))


def expand(channel: Channel, environ: Mapping[str, str]) -> str:
    """The channel's URL with its `${NAME}`s taken from the environment; ConfigError naming a missing one."""
    missing = [name for name in VARIABLE.findall(channel.url) if not environ.get(name)]
    if missing:
        raise ConfigError([_problem(channel, _missing(missing))])
    return VARIABLE.sub(lambda m: environ[m[1]], channel.url)


def _missing(names: list[str]) -> str:
    unique = list(dict.fromkeys(names))
    if len(unique) == 1:
        return f"the environment variable {unique[0]} is not set: export it, or write the value in the URL"
    listed = ", ".join(unique)
    return f"the environment variables {listed} are not set: export them, or write the values in the URL"


def _problem(channel: Channel, what: str) -> Problem:
    return Problem(channel.file, channel.line, channel.column, channel.where, what)


def check_channels(channels: tuple[Channel, ...], environ: Mapping[str, str]) -> None:
    """Before anything is fetched: every variable is set and Apprise understands every URL."""
    import apprise  # its plugins take a second to load: only when notifying

    problems = []
    for channel in channels:
        try:
            url = expand(channel, environ)
        except ConfigError as error:
            problems.extend(error.problems)
            continue
        with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as log:
            target = apprise.Apprise.instantiate(url)
        if target is None:
            problems.append(_problem(channel, _unusable(url, channel.url, log.getvalue())))
    if problems:
        raise ConfigError(problems)


def _unusable(url: str, written: str, log: str) -> str:
    """Why Apprise refused a URL, in its words, the URL's secrets left out."""
    import apprise

    scheme = url.partition("://")[0].lower()
    known = {
        protocol
        for service in apprise.Apprise().details()["schemas"]
        for protocol in (*(service.get("protocols") or ()), *(service.get("secure_protocols") or ()))
    }
    if scheme not in known:
        return f"unknown scheme {scheme}://: Apprise's wiki lists the services and their URLs"
    said = [line.strip().rstrip(".") for line in log.splitlines() if not line.startswith("Could not load")]
    reason = said[0].replace(url, display(written)) if said and said[0] else "a part is missing or wrong"
    return f"Apprise cannot use this URL: {reason}"


def display(url: str) -> str:
    """A channel named without its secrets, for logs: the scheme and the host, no user, no path, and
    a host that is no domain name (a Telegram bot token, a Slack or Discord id) shortened to `1…p`."""
    scheme, _, rest = url.partition("://")
    authority, slash, _ = rest.partition("/")
    host = authority.rpartition("@")[2]
    name = host.rsplit(":", 1)[0] if not host.startswith("[") else host
    if not (VARIABLE.fullmatch(name) or "." in name or name in ("localhost", "") or host.startswith("[")):
        host = f"{host[:1]}…{host[-1:]}"
    return f"{scheme}://{host}" + ("/…" if slash else "")


# -- what a channel is told -------------------------------------------------------------------


def build_notifications(
    run: CheckRun,
    watchlist: Watchlist,
    *,
    always: bool = False,
    title: str | None = None,
) -> list[Notification]:
    """One message per channel that has something to hear about (or every channel, with `always`)."""
    messages = []
    everyone = tuple(c.url for c in watchlist.notify)
    for urls, part in audiences(run, everyone, lambda d: tuple(c.url for c in d.notify)):
        if not (always or worth_reporting(part)):
            continue
        heading = title or subject(part)
        kind = _kind(part)
        for url in urls:
            if url.partition("://")[0].lower() in JSON_SCHEMES:
                body = json.dumps(payload(part, heading, watchlist.site_url), ensure_ascii=False)
            else:
                body = render_message(part, watchlist.site_url)
            messages.append(Notification(url, heading, body, kind))
    return messages


def _kind(run: CheckRun) -> str:
    if any(r.status == "error" and not r.repeat for r in run.results):
        return "failure"
    return "warning" if run.flags else "info"


def render_message(run: CheckRun, site_url: str | None = None) -> str:
    """A short plain-text message: the flagged clauses as word diffs, then the other news by name."""
    lines = [summary(run)]
    flagged = flagged_clauses(run)
    for clause in flagged[:MAX_FLAGS]:
        lines += ["", f"{clause.severity.upper()}: {clause.title} in {document_name(clause.result.document)}"]
        if clause.heading:
            lines.append(f"under: {safe_text(clause.heading)}")
        lines.append(diff_text(clause.wording))
        lines += links(clause.result, site_url)
    if len(flagged) > MAX_FLAGS:
        lines.append(
            f"… and {len(flagged) - MAX_FLAGS} more flagged {plural(len(flagged) - MAX_FLAGS, 'clause')}"
        )
    news = [
        ("Changed", [r for r in run.results if r.status == "changed" and not r.flags]),
        ("New", [r for r in run.results if r.status == "new"]),
        ("Failed", [r for r in run.results if r.status == "error"]),
        ("Recovered", [r for r in run.results if r.recovered]),
    ]
    for label, results in news:
        if results:
            lines += ["", f"{label}:"]
            lines += [f"- {_line(r, site_url)}" for r in results[:MAX_LINES]]
            if len(results) > MAX_LINES:
                lines.append(f"- … and {len(results) - MAX_LINES} more")
    for comparison in run.variants:  # what one country or language is told and another is not
        lines += ["", f"{comparison.service} {comparison.document}, {and_list(comparison.variants)}:"]
        lines += [f"- {safe_text(line)}" for line in variants_summary(comparison)]
    return "\n".join(lines) + "\n"


def _line(result: CheckResult, site_url: str | None) -> str:
    name = document_name(result.document)
    if result.status == "error":
        return f"{name}: {safe_text(result.error or 'unknown error')}"
    if result.status == "changed":
        count = len(result.changes)
        name += f" ({count} {plural(count, 'clause')} changed)"
    return f"{name}: {version_url(site_url, result.document, result.version) or result.document.url}"


def payload(run: CheckRun, title: str, site_url: str | None = None) -> dict[str, object]:
    """What a JSON webhook receives (as the text of Apprise's `message`): every document with news,
    each flag with its clause, the wording it replaced and the word diff of the two."""
    documents = []
    for result in run.results:
        if result.status == "unchanged" and not result.recovered:
            continue
        flags = []
        for flag in result.flags:
            old = changed_from(flag.clause, result.changes) if flag.change == "changed" else None
            flags.append(
                {
                    **flag.to_json(),
                    "old_clause": flag.clause if flag.change == "removed" else old,
                    "diff": diff_text(flag_wording(flag, result.changes)),
                }
            )
        kinds = ("added", "removed", "changed", "moved")
        documents.append(
            {
                "service": result.document.service,
                "document": result.document.name,
                "variant": result.document.variant,
                "url": result.document.url,
                "status": result.status,
                "version": result.version,
                "version_url": version_url(site_url, result.document, result.version),
                "checked_at": result.checked_at.astimezone(UTC).isoformat() if result.checked_at else None,
                "error": result.error,
                "recovered": result.recovered,
                "changes": {kind: sum(c.kind == kind for c in result.changes) for kind in kinds},
                "flags": flags,
            }
        )
    return {
        "schema_version": SCHEMA_VERSION,
        "title": title,
        "summary": summary(run),
        "started_at": run.started_at.astimezone(UTC).isoformat(),
        "documents": documents,
        "variants": [comparison_to_json(c) for c in run.variants],  # as in `check --json`
    }


def trial_notifications(channels: tuple[Channel, ...]) -> list[Notification]:
    """A short message per channel proving that it works."""
    title = "[tosmon] test notification"
    text = "This is a test notification from tosmon. Changed, flagged and failed documents will be reported here.\n"
    return [
        Notification(
            channel.url,
            title,
            json.dumps({"schema_version": SCHEMA_VERSION, "title": title, "test": True, "documents": []})
            if channel.url.partition("://")[0].lower() in JSON_SCHEMES
            else text,
        )
        for channel in channels
    ]


# -- sending ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Notifier:
    """Sends notifications with Apprise, `${NAME}`s taken from `environ`."""

    environ: Mapping[str, str]

    def send(self, notification: Notification) -> str | None:
        """Send one notification: None once delivered, else why not (one line)."""
        import apprise

        try:
            url = expand(Channel(notification.url), self.environ)
        except ConfigError as error:
            return f"{display(notification.url)}: {error.problems[0].what}"
        channel = apprise.Apprise()
        # Through Apprise rather than its plugin: it turns a plugin's unexpected exception into a
        # failure; its log, which says why, is read rather than printed.
        with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as log:
            if not channel.add(url):
                return f"{display(notification.url)}: Apprise cannot use this URL"
            sent = channel.notify(
                body=notification.body,
                title=notification.title,
                notify_type=apprise.NotifyType(notification.kind),
                body_format=apprise.NotifyFormat.TEXT,
            )
        if sent:
            return None
        reasons = [line.strip().rstrip(".") for line in log.getvalue().splitlines() if line.strip()]
        return f"{display(notification.url)}: {reasons[-1] if reasons else 'not delivered'}"
