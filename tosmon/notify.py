"""E-mail the report of a run: build it, send it over SMTP, and keep it in the outbox when that fails.

A report has a subject that says what happened, a plain-text part and an HTML part with inline
styles (what common mail clients render). Flagged clauses come first, then the other changes as a
diff, then the documents that failed. Everything that comes from a fetched page is escaped, so a
page can put neither markup nor links into the mail.

Nothing is lost: a report that cannot be sent is written to `<store>/outbox/` and the next run
sends it before its own report, then deletes it. Runs hold the store's lock while they deliver, so
two runs never send the same queued report. smtplib's exceptions stop here: the rest of tosmon
only sees NotifyError.
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
from email import message_from_bytes
from email.message import EmailMessage
from pathlib import Path

from tosmon.diff import word_diff
from tosmon.errors import ConfigError, NotifyError, Problem
from tosmon.models import Change, CheckResult, CheckRun, Document, Flag, utcnow
from tosmon.report import flag_title, safe_text
from tosmon.store import stamp, write_atomic
from tosmon.variants import and_list, sentence, sides
from tosmon.variants import summary as variants_summary
from tosmon.watchlist import EmailSettings, SmtpSettings, Watchlist

PASSWORD_VARIABLE = "TOSMON_SMTP_PASSWORD"
OUTBOX = "outbox"
MAX_CHANGES = 100  # per document: a rewritten page should not make a mail nobody can open

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


# -- what goes into a report --------------------------------------------------------------------

SEVERITY_RANK = {"high": 0, "medium": 1, "low": 2}


@dataclass(frozen=True)
class FlaggedClause:
    """A clause with every flag it raised (a training clause is an AI clause too), most severe first."""

    result: CheckResult
    flags: tuple[Flag, ...]

    @property
    def clause(self) -> str:
        return self.flags[0].clause

    @property
    def heading(self) -> str | None:
        return self.flags[0].heading

    @property
    def severity(self) -> str:
        return self.flags[0].severity

    @property
    def title(self) -> str:
        return ", ".join(dict.fromkeys(flag_title(f) for f in self.flags))

    @property
    def terms(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t for f in self.flags for t in f.terms))


def flagged_clauses(run: CheckRun) -> list[FlaggedClause]:
    """The flagged clauses of a run, the most severe first, otherwise in watchlist order."""
    grouped: dict[tuple[int, str], list[Flag]] = {}
    results: dict[tuple[int, str], CheckResult] = {}
    for index, result in enumerate(run.results):
        for flag in result.flags:
            grouped.setdefault((index, flag.clause), []).append(flag)
            results[(index, flag.clause)] = result
    clauses = [
        FlaggedClause(results[key], tuple(sorted(flags, key=lambda f: SEVERITY_RANK.get(f.severity, 3))))
        for key, flags in grouped.items()
    ]
    return sorted(clauses, key=lambda c: SEVERITY_RANK.get(c.severity, 3))


def worth_reporting(run: CheckRun) -> bool:
    """A run is reported when a document changed, is new, was flagged, started failing or recovered.

    A problem already reported by an earlier run is listed again but does not make a report by itself.
    """
    return bool(run.variants) or any(
        r.status in ("new", "changed") or (r.status == "error" and not r.repeat) or r.recovered
        for r in run.results
    )


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


def audiences(run: CheckRun, settings: EmailSettings) -> list[tuple[tuple[str, ...], CheckRun]]:
    """Who hears about what: `email.to` about every document, a service's own `to` about its documents.

    Recipients who should hear about the same documents share one message.
    """
    documents: dict[str, list[CheckResult]] = {address: [] for address in settings.to}
    for result in run.results:
        for address in dict.fromkeys((*settings.to, *result.document.recipients)):
            documents.setdefault(address, []).append(result)
    groups: dict[tuple[int, ...], list[str]] = {}
    for address, results in documents.items():
        groups.setdefault(tuple(id(r) for r in results), []).append(address)
    audience = []
    for addresses in groups.values():
        results = tuple(documents[addresses[0]])
        heard = {(r.document.service, r.document.name) for r in results}
        variants = tuple(c for c in run.variants if (c.service, c.document) in heard)
        audience.append((tuple(addresses), CheckRun(run.started_at, results, variants)))
    return audience


def build_reports(
    run: CheckRun,
    settings: EmailSettings,
    *,
    always: bool = False,
    title: str | None = None,
    prefix: str = "[tosmon]",
    now: Callable[[], datetime] = utcnow,
) -> list[EmailMessage]:
    """One message per audience that has something to hear about (or every audience, with `always`)."""
    return [
        compose(part, sender=settings.sender, recipients=recipients, title=title, prefix=prefix, now=now())
        for recipients, part in audiences(run, settings)
        if always or worth_reporting(part)
    ]


def subject(run: CheckRun, prefix: str = "[tosmon]") -> str:
    """Say what happened, most important first: `[tosmon] SoundCloud Terms of Service: new AI training clause`."""
    flagged = flagged_clauses(run)
    changed = [r for r in run.results if r.status == "changed" and not r.flags]
    new = [r for r in run.results if r.status == "new"]
    failed = [r for r in run.results if r.status == "error"]
    parts = []
    for comparison in run.variants:  # who is told what, and who is not: news of its own
        differing = [d for d in comparison.appeared if d.flags]
        name = f"{comparison.service} {comparison.document}"
        if differing:
            parts.append(f"{name}: {sentence(differing[0])}")
        elif comparison.appeared:
            count = len(comparison.appeared)
            parts.append(f"{name}: its variants differ in {count} {_plural(count, 'clause')}")
        elif comparison.resolved:
            parts.append(f"{name}: its variants differ less")
    if flagged:
        top = flagged[0]
        parts.append(f"{_name(top.result.document)}: {flag_title(top.flags[0])}")
        if len(flagged) > 1:
            parts.append(f"{len(flagged) - 1} more flagged {_plural(len(flagged) - 1, 'clause')}")
    if changed:
        parts.append(
            f"{_name(changed[0].document)} changed"
            if len(changed) == 1 and not flagged
            else f"{len(changed)} {'other ' if flagged else ''}{_plural(len(changed), 'document')} changed"
        )
    if new:
        parts.append(f"{len(new)} new {_plural(len(new), 'document')} recorded")
    if failed:
        parts.append(
            f"{_name(failed[0].document)} failed"
            if len(failed) == 1 and len(parts) == 0
            else f"{len(failed)} {_plural(len(failed), 'document')} failed"
        )
    if not parts:
        parts.append(f"no changes in {len(run.results)} {_plural(len(run.results), 'document')}")
    # Names come from the watchlist, not from pages; still, a header is one line.
    return " ".join(safe_text(f"{prefix} " + "; ".join(parts)).split())


def compose(
    run: CheckRun,
    *,
    sender: str,
    recipients: Iterable[str],
    now: datetime,
    title: str | None = None,
    prefix: str = "[tosmon]",
) -> EmailMessage:
    """The report of a run as a multipart/alternative message, plain text first, HTML preferred."""
    message = EmailMessage(policy=email.policy.SMTP)
    message["Subject"] = subject(run, prefix)
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = email.utils.format_datetime(now.astimezone(UTC))
    message["Message-ID"] = email.utils.make_msgid("tosmon", domain=sender.rpartition("@")[2])
    heading = title or f"tosmon check of {now.astimezone(UTC):%d %B %Y, %H:%M} UTC"
    message.set_content(render_text(run, heading))
    message.add_alternative(render_html(run, heading), subtype="html")
    return message


def _sections(run: CheckRun) -> tuple[list[FlaggedClause], list[tuple[CheckResult, list[Change]]]]:
    """The flagged clauses, and per document the changes that are not already shown as a flag."""
    flagged = flagged_clauses(run)
    others = []
    for result in run.results:
        shown = {f.clause for f in result.flags}
        changes = [c for c in result.changes if not (c.new and c.new.text in shown and c.kind != "moved")]
        if changes:
            others.append((result, changes))
    return flagged, others


def _summary(run: CheckRun) -> str:
    counts = {s: sum(r.status == s for r in run.results) for s in ("changed", "new", "error")}
    flags = len(flagged_clauses(run))
    parts = [
        f"{flags} flagged {_plural(flags, 'clause')}",
        f"{counts['changed']} changed",
        f"{counts['new']} new",
        f"{counts['error']} failed",
    ]
    documents = len({r.document.id for r in run.results})
    return f"{documents} {_plural(documents, 'document')}: " + ", ".join(parts)


# -- plain text ---------------------------------------------------------------------------------


def render_text(run: CheckRun, heading: str) -> str:
    flagged, others = _sections(run)
    lines = [heading, _summary(run), ""]
    if flagged:
        lines += _underline("Flagged clauses")
        for flagged_clause in flagged:
            document = flagged_clause.result.document
            lines.append(f"[{flagged_clause.severity.upper()}] {flagged_clause.title} in {_name(document)}")
            if flagged_clause.heading:
                lines.append(f"  under: {safe_text(flagged_clause.heading)}")
            lines.append(f"  > {safe_text(flagged_clause.clause)}")
            lines.append(f"  matched: {', '.join(safe_text(t) for t in flagged_clause.terms)}")
            lines += [f"  {document.url}", ""]
    if others:
        lines += _underline("Changes" if not flagged else "Other changes")
        lines.append("(+ added, - removed, ~ reworded: {+added+} [-removed-])")
        for result, changes in others:
            lines += ["", f"{_name(result.document)} ({_when(result)})", f"  {result.document.url}"]
            lines += [f"  {_text_change(change)}" for change in changes[:MAX_CHANGES]]
            if len(changes) > MAX_CHANGES:
                lines.append(f"  ... and {len(changes) - MAX_CHANGES} more changes")
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
        lines += [f"- {_name(r.document)}: {r.document.url}" for r in new] + [""]
    failed = [r for r in run.results if r.status == "error"]
    if failed:
        lines += _underline("Failed")
        lines += [f"- {_name(r.document)}: {safe_text(r.error or 'unknown error')}" for r in failed] + [""]
    return "\n".join(lines).rstrip() + "\n"


def _text_change(change: Change) -> str:
    if change.kind == "added" and change.new:
        return f"+ {safe_text(change.new.text)}"
    if change.kind == "removed" and change.old:
        return f"- {safe_text(change.old.text)}"
    if change.kind == "moved" and change.new:
        return f"(moved) {safe_text(change.new.text)}"
    assert change.old and change.new
    runs = word_diff(change.old.text, change.new.text)
    return "~ " + "".join(
        "{+" + safe_text(t) + "+}" if op == 1 else "[-" + safe_text(t) + "-]" if op == -1 else safe_text(t)
        for op, t in runs
    )


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
    return f'<a href="{_e(document.url)}" style="{STYLE["link"]}">{_e(_name(document))}</a>'


def render_html(run: CheckRun, heading: str) -> str:
    flagged, others = _sections(run)
    out = [_tag("h1", _e(heading)), _tag("p", _e(_summary(run)), "meta")]
    if flagged:
        out.append(_tag("h2", "Flagged clauses"))
        for flagged_clause in flagged:
            colour = SEVERITY_COLOUR.get(flagged_clause.severity, SEVERITY_COLOUR["high"])
            parts = [
                f'<div><span style="{STYLE["badge"].format(colour=colour)}">'
                f"{_e(flagged_clause.severity.upper())}</span> "
                f"<strong>{_e(flagged_clause.title)}</strong> in {_link(flagged_clause.result.document)}</div>"
            ]
            if flagged_clause.heading:
                parts.append(_tag("div", "Under: " + _e(flagged_clause.heading), "small"))
            parts.append(_tag("blockquote", _e(flagged_clause.clause), "quote"))
            parts.append(_tag("div", "Matched: " + _e(", ".join(flagged_clause.terms)), "small"))
            out.append(f'<div style="{STYLE["flag"].format(colour=colour)}">{"".join(parts)}</div>')
    if others:
        out.append(_tag("h2", "Changes" if not flagged else "Other changes"))
        for result, changes in others:
            out.append(_tag("h3", f"{_link(result.document)} <small>({_e(_when(result))})</small>"))
            out += [_tag("div", _html_change(change), "change") for change in changes[:MAX_CHANGES]]
            if len(changes) > MAX_CHANGES:
                out.append(_tag("p", f"… and {len(changes) - MAX_CHANGES} more changes", "small"))
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
    assert change.old and change.new
    return "~ " + "".join(
        _tag("ins", _e(t)) if op == 1 else _tag("del", _e(t)) if op == -1 else _e(t)
        for op, t in word_diff(change.old.text, change.new.text)
    )


def _name(document: Document) -> str:
    return f"{document.service} {document.name}" + (f" ({document.variant})" if document.variant else "")


def _when(result: CheckResult) -> str:
    return f"{result.checked_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if result.checked_at else "now"


def _plural(n: int, word: str) -> str:
    return word if n == 1 else word + "s"


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
            reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
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


# -- the outbox ---------------------------------------------------------------------------------


class Outbox:
    """Reports waiting to be sent, one `.eml` file each, oldest first by name."""

    def __init__(self, store_root: Path) -> None:
        self.directory = store_root / OUTBOX

    def put(self, message: EmailMessage, now: datetime) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        base, n = stamp(now), 1
        path = self.directory / f"{base}.eml"
        while path.exists():
            n += 1
            path = self.directory / f"{base}-{n}.eml"
        write_atomic(path, message.as_bytes(policy=email.policy.SMTP))
        return path

    def pending(self) -> list[Path]:
        if not self.directory.is_dir():
            return []
        # `<stamp>.eml`, then `<stamp>-2.eml`...: the order they were queued in.
        return sorted(self.directory.glob("[0-9]*.eml"), key=lambda p: (p.stem[:20], int(p.stem[21:] or 1)))

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
