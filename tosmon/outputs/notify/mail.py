"""E-mail the report of a run: build it and send it over SMTP.

A report has a subject that says what happened, a plain-text part and an HTML part with inline
styles (what common mail clients render). Flagged clauses come first, then the other changes as a
diff, then the documents that failed. Everything that comes from a fetched page is escaped, so a
page can put neither markup nor links into the mail. smtplib's exceptions stop here: the rest of
tosmon only sees NotifyError.
"""

from __future__ import annotations

import email.policy
import email.utils
import html
import smtplib
import socket
import ssl
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage

from tosmon.errors import ConfigError, NotifyError, Problem
from tosmon.extract.text import plural
from tosmon.fetch.http import plain_os_error
from tosmon.models import Change, CheckResult, CheckRun, Document, utcnow
from tosmon.outputs.notify.content import (
    MAX_CHANGES,
    audiences,
    document_name,
    links,
    sections,
    subject,
    summary,
    when,
    worth_reporting,
)
from tosmon.outputs.report import Runs, diff_html, diff_text, safe_text, wording
from tosmon.outputs.site import version_url
from tosmon.variants import and_list, sides
from tosmon.variants import summary as variants_summary
from tosmon.watchlist import EmailSettings, SmtpSettings, Watchlist

PASSWORD_VARIABLE = "TOSMON_SMTP_PASSWORD"

# Inline styles: mail clients drop <style> blocks, so every element carries its own.
FONT = "font-family:Arial,Helvetica,sans-serif;font-size:14px;line-height:1.5;color:#1f2328"
STYLE = {
    "body": f"margin:0;padding:16px;background:#ffffff;{FONT}",
    "h1": "font-size:18px;margin:0 0 4px 0",
    "h2": "font-size:16px;margin:24px 0 8px 0;padding-bottom:4px;border-bottom:1px solid #d0d7de",
    "h3": "font-size:14px;margin:16px 0 4px 0",
    "meta": "color:#59636e;margin:0 0 8px 0",
    "flag": "border-left:4px solid {colour};background:#fff8f5;padding:8px 12px;margin:0 0 12px 0",
    "badge": "background:{colour};color:#ffffff;font-size:11px;font-weight:bold;padding:1px 6px",
    "quote": "margin:6px 0;padding:0 0 0 10px;border-left:2px solid #d0d7de;color:#1f2328",
    "small": "color:#59636e;font-size:12px",
    "change": "margin:4px 0;padding:2px 6px",
    "ins": "background:#dafbe1;color:#116329;text-decoration:none",
    "del": "background:#ffebe9;color:#82071e;text-decoration:line-through",
    "link": "color:#0969da",
}
SEVERITY_COLOUR = {"high": "#cf222e", "medium": "#bc4c00", "low": "#9a6700"}


def require_email(watchlist: Watchlist) -> EmailSettings:
    """The watchlist's e-mail settings, or a config error saying what is missing."""
    if watchlist.email is None:
        raise ConfigError(
            [
                Problem(
                    str(watchlist.path), 1, 1, "email", "no `email:` settings (smtp, from, to) to send with"
                )
            ]
        )
    if not watchlist.email.to and not any(d.recipients for d in watchlist.documents):
        raise ConfigError([Problem(str(watchlist.path), 1, 1, "email.to", "no recipients")])
    return watchlist.email


def build_reports(
    run: CheckRun,
    settings: EmailSettings,
    *,
    always: bool = False,
    title: str | None = None,
    prefix: str = "[tosmon]",
    site_url: str | None = None,
    now: Callable[[], datetime] = utcnow,
) -> list[EmailMessage]:
    """One message per audience that has something to hear about (or every audience, with `always`).

    `email.to` hears about every document, a service's own `email.to` about its documents.
    """
    return [
        compose(
            part,
            sender=settings.sender,
            recipients=recipients,
            title=title,
            prefix=prefix,
            site_url=site_url,
            now=now(),
        )
        for recipients, part in audiences(run, settings.to, lambda d: d.recipients)
        if always or worth_reporting(part)
    ]


def compose(
    run: CheckRun,
    *,
    sender: str,
    recipients: Iterable[str],
    now: datetime,
    title: str | None = None,
    prefix: str = "[tosmon]",
    site_url: str | None = None,
) -> EmailMessage:
    """The report of a run as a multipart/alternative message, plain text first, HTML preferred."""
    message = EmailMessage(policy=email.policy.SMTP)
    message["Subject"] = subject(run, prefix)
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = email.utils.format_datetime(now.astimezone(UTC))
    message["Message-ID"] = email.utils.make_msgid("tosmon", domain=sender.rpartition("@")[2])
    heading = title or f"tosmon check of {now.astimezone(UTC):%d %B %Y, %H:%M} UTC"
    message.set_content(render_text(run, heading, site_url))
    message.add_alternative(render_html(run, heading, site_url), subtype="html")
    return message


# -- plain text ---------------------------------------------------------------------------------


def render_text(run: CheckRun, heading: str, site_url: str | None = None) -> str:
    flagged, others = sections(run)
    lines = [heading, summary(run), ""]
    if flagged:
        lines += _underline("Flagged clauses")
        if any(c.reworded for c in flagged):
            lines.append("(reworded: [-deleted-] {+added+})")
        for flagged_clause in flagged:
            document = flagged_clause.result.document
            weak = " (low confidence)" if flagged_clause.weak else ""
            lines.append(
                f"[{flagged_clause.severity.upper()}] {flagged_clause.title} in {document_name(document)}{weak}"
            )
            if flagged_clause.heading:
                lines.append(f"  under: {safe_text(flagged_clause.heading)}")
            lines.append(f"  > {diff_text(flagged_clause.wording)}")
            lines.append(f"  matched: {', '.join(safe_text(t) for t in flagged_clause.terms)}")
            lines += [f"  {link}" for link in links(flagged_clause.result, site_url)] + [""]
    if others:
        lines += _underline("Changes" if not flagged else "Other changes")
        lines.append("(+ added, - removed, ~ reworded: {+added+} [-removed-])")
        for result, changes in others:
            lines += ["", f"{document_name(result.document)} ({when(result)})"]
            lines += [f"  {link}" for link in links(result, site_url)]
            lines += [f"  {_text_change(change)}" for change in changes[:MAX_CHANGES]]
            if len(changes) > MAX_CHANGES:
                lines.append(f"  ... and {plural(len(changes) - MAX_CHANGES, 'more change')}")
        lines.append("")
    if run.variants:
        lines += _underline("Variants compared")
        for comparison in run.variants:
            lines.append(f"{comparison.service} {comparison.document} ({and_list(comparison.variants)})")
            lines += [f"  {safe_text(line)}" for line in variants_summary(comparison)]
            for difference in comparison.appeared[:MAX_CHANGES]:
                lines.append(f"  [{sides(difference)}] {safe_text(difference.clause)}")
            lines.append("")
    new = [r for r in run.results if r.status == "new"]
    if new:
        lines += _underline("Now watched (first version recorded)")
        lines += [f"- {document_name(r.document)}: {r.document.url}" for r in new] + [""]
    failed = [r for r in run.results if r.status == "error"]
    if failed:
        lines += _underline("Failed")
        lines += [
            f"- {document_name(r.document)}: {safe_text(r.error or 'unknown error')}" for r in failed
        ] + [""]
    return "\n".join(lines).rstrip() + "\n"


def _text_change(change: Change) -> str:
    if change.kind == "added" and change.new:
        return f"+ {safe_text(change.new.text)}"
    if change.kind == "removed" and change.old:
        return f"- {safe_text(change.old.text)}"
    if change.kind == "moved" and change.new:
        return f"(moved) {safe_text(change.new.text)}"
    if change.kind == "restored" and change.new:
        return f"(restored) {safe_text(change.new.text)}"
    assert change.old and change.new
    return "~ " + diff_text(wording(change.old.text, change.new.text))


def _underline(title: str) -> list[str]:
    return [title, "=" * len(title)]


# -- HTML ---------------------------------------------------------------------------------------


def _e(text: str) -> str:
    """Page text for HTML: control characters dropped, every markup character escaped."""
    return html.escape(safe_text(text), quote=True)


def _tag(name: str, content: str, style: str | None = None) -> str:
    return f'<{name} style="{STYLE[style or name]}">{content}</{name}>'


def _link(document: Document) -> str:
    # The URL comes from the watchlist (validated as http(s)), never from a page.
    return f'<a href="{_e(document.url)}" style="{STYLE["link"]}">{_e(document_name(document))}</a>'


def _version_link(result: CheckResult, site_url: str | None) -> str:
    """The version on the published site, where its evidence and diff are (the live page has moved on)."""
    url = version_url(site_url, result.document, result.version)
    if url is None:
        return ""
    return _tag("div", f'<a href="{_e(url)}" style="{STYLE["link"]}">This version on the site</a>', "small")


def render_html(run: CheckRun, heading: str, site_url: str | None = None) -> str:
    flagged, others = sections(run)
    out = [_tag("h1", _e(heading)), _tag("p", _e(summary(run)), "meta")]
    if flagged:
        out.append(_tag("h2", "Flagged clauses"))
        for flagged_clause in flagged:
            colour = SEVERITY_COLOUR.get(flagged_clause.severity, SEVERITY_COLOUR["high"])
            parts = [
                f'<div><span style="{STYLE["badge"].format(colour=colour)}">'
                f"{_e(flagged_clause.severity.upper())}</span> "
                f"<strong>{_e(flagged_clause.title)}</strong> in {_link(flagged_clause.result.document)}"
                f"{' <small>(low confidence)</small>' if flagged_clause.weak else ''}</div>"
            ]
            if flagged_clause.heading:
                parts.append(_tag("div", "Under: " + _e(flagged_clause.heading), "small"))
            parts.append(_tag("blockquote", _html_diff(flagged_clause.wording), "quote"))
            parts.append(_tag("div", "Matched: " + _e(", ".join(flagged_clause.terms)), "small"))
            parts.append(_version_link(flagged_clause.result, site_url))
            out.append(f'<div style="{STYLE["flag"].format(colour=colour)}">{"".join(parts)}</div>')
    if others:
        out.append(_tag("h2", "Changes" if not flagged else "Other changes"))
        for result, changes in others:
            out.append(_tag("h3", f"{_link(result.document)} <small>({_e(when(result))})</small>"))
            out.append(_version_link(result, site_url))
            out += [_tag("div", _html_change(change), "change") for change in changes[:MAX_CHANGES]]
            if len(changes) > MAX_CHANGES:
                out.append(
                    _tag(
                        "p",
                        f"… and {plural(len(changes) - MAX_CHANGES, 'more change')}",
                        "small",
                    )
                )
    if run.variants:
        out.append(_tag("h2", "Variants compared"))
        for comparison in run.variants:
            out.append(
                _tag(
                    "h3",
                    f"{_e(comparison.service)} {_e(comparison.document)} "
                    f"<small>({_e(and_list(comparison.variants))})</small>",
                )
            )
            out += [_tag("p", _e(line), "meta") for line in variants_summary(comparison)]
            out += [
                _tag("div", f"<strong>{_e(sides(d))}:</strong> {_e(d.clause)}", "change")
                for d in comparison.appeared[:MAX_CHANGES]
            ]
    new = [r for r in run.results if r.status == "new"]
    if new:
        out.append(_tag("h2", "Now watched (first version recorded)"))
        out.append("<ul>" + "".join(f"<li>{_link(r.document)}</li>" for r in new) + "</ul>")
    failed = [r for r in run.results if r.status == "error"]
    if failed:
        out.append(_tag("h2", "Failed"))
        items = "".join(f"<li>{_link(r.document)}: {_e(r.error or 'unknown error')}</li>" for r in failed)
        out.append(f"<ul>{items}</ul>")
    body = "\n".join(out)
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width"></head>\n'
        f'<body style="{STYLE["body"]}">\n{body}\n</body></html>\n'
    )


def _html_change(change: Change) -> str:
    if change.kind == "added" and change.new:
        return _tag("ins", "+ " + _e(change.new.text))
    if change.kind == "removed" and change.old:
        return _tag("del", "− " + _e(change.old.text))
    if change.kind == "moved" and change.new:
        return _e(change.new.text) + " " + _tag("span", "(moved)", "small")
    if change.kind == "restored" and change.new:
        return _e(change.new.text) + " " + _tag("span", "(restored)", "small")
    assert change.old and change.new
    return "~ " + _html_diff(wording(change.old.text, change.new.text))


def _html_diff(runs: Runs) -> str:
    return diff_html(runs, deleted=f' style="{STYLE["del"]}"', inserted=f' style="{STYLE["ins"]}"')


# -- sending ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mailer:
    """Sends messages through the watchlist's SMTP server.

    `ssl_context` decides which certificates are trusted: by default the system's, which OpenSSL
    lets the `SSL_CERT_FILE` environment variable replace (how tests trust their own CA).
    """

    smtp: SmtpSettings
    password: str | None = None
    ssl_context: ssl.SSLContext | None = None
    timeout: float = 30.0

    @classmethod
    def from_environment(cls, smtp: SmtpSettings, environ: Mapping[str, str]) -> Mailer:
        """The password only ever comes from TOSMON_SMTP_PASSWORD, never from the watchlist."""
        return cls(smtp, password=environ.get(PASSWORD_VARIABLE) or None)

    @property
    def server(self) -> str:
        return f"{self.smtp.host}:{self.smtp.port}"

    def send(self, message: EmailMessage) -> None:
        """Deliver one message or raise NotifyError saying why not."""
        [refusal] = self.send_all([message])
        if refusal is not None:
            raise refusal

    def send_all(self, messages: list[EmailMessage]) -> list[NotifyError | None]:
        """Deliver messages over one connection: for each, None once sent or why the server refused it.

        Raise NotifyError when none can be sent: the server is unreachable, TLS fails, the login is refused.
        """
        if self.smtp.username and self.password is None:
            raise NotifyError(f"smtp.username is set but {PASSWORD_VARIABLE} is not")
        context = self.ssl_context or ssl.create_default_context()
        outcomes: list[NotifyError | None] = []
        try:
            if self.smtp.security == "ssl":
                client: smtplib.SMTP = smtplib.SMTP_SSL(
                    self.smtp.host, self.smtp.port, timeout=self.timeout, context=context
                )
            else:
                client = smtplib.SMTP(self.smtp.host, self.smtp.port, timeout=self.timeout)
            with client:
                if self.smtp.security == "starttls":
                    client.starttls(context=context)
                if self.smtp.username:
                    client.login(self.smtp.username, self.password or "")
                for message in messages:
                    outcomes.append(self._send_one(client, message))
        except smtplib.SMTPAuthenticationError as error:
            raise NotifyError(f"{self.server}: login refused: {_smtp_reason(error)}") from None
        except smtplib.SMTPNotSupportedError as error:
            raise NotifyError(f"{self.server}: {error} (check smtp.security)") from None
        except ssl.SSLError as error:
            raise NotifyError(f"{self.server}: TLS failed: {error.reason or error}") from None
        except (smtplib.SMTPException, OSError) as error:
            if isinstance(error, smtplib.SMTPServerDisconnected) and len(outcomes) == len(messages):
                return outcomes  # the server hung up after the last message (at QUIT): all were sent
            reason = plain_os_error(error) if isinstance(error, OSError) and error.errno else str(error)
            if isinstance(error, socket.timeout):
                reason = f"no answer within {self.timeout:g} s"
            if isinstance(error, smtplib.SMTPResponseException):
                reason = _smtp_reason(error)
            failure = NotifyError(f"{self.server}: cannot send: {reason}")
            if not outcomes:
                raise failure from None
            return outcomes + [failure] * (len(messages) - len(outcomes))
        return outcomes

    def _send_one(self, client: smtplib.SMTP, message: EmailMessage) -> NotifyError | None:
        """Send one message on an open connection; a refusal of this message is its outcome."""
        try:
            # Some recipients refused and others accepted counts as sent: sending again would repeat
            # the report to those who got it. (All refused raises SMTPRecipientsRefused.)
            client.send_message(message)
        except smtplib.SMTPRecipientsRefused as error:
            client.rset()
            return NotifyError(f"{self.server}: recipients refused: {', '.join(error.recipients)}")
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as error:
            client.rset()
            return NotifyError(f"{self.server}: message refused: {_smtp_reason(error)}")
        return None


def _smtp_reason(error: smtplib.SMTPResponseException) -> str:
    text = (
        error.smtp_error.decode(errors="replace") if isinstance(error.smtp_error, bytes) else error.smtp_error
    )
    return f"{error.smtp_code} {' '.join(str(text).split())}"


def trial_message(settings: EmailSettings, recipients: tuple[str, ...], now: datetime) -> EmailMessage:
    """A short message proving that the SMTP settings work."""
    message = EmailMessage(policy=email.policy.SMTP)
    message["Subject"] = "[tosmon] test message"
    message["From"] = settings.sender
    message["To"] = ", ".join(recipients)
    message["Date"] = email.utils.format_datetime(now.astimezone(UTC))
    message["Message-ID"] = email.utils.make_msgid("tosmon", domain=settings.sender.rpartition("@")[2])
    message.set_content(
        "This is a test message from tosmon.\n\n"
        f"It was sent through {settings.smtp.host}:{settings.smtp.port} ({settings.smtp.security}).\n"
        "Reports of changed, flagged and failed documents will arrive the same way.\n"
    )
    return message
