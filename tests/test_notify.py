"""E-mailed change reports: a real SMTP server on 127.0.0.1 receives what `tosmon check --email` sends."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import lxml.html
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

TERMS_V1 = """<html><body><main>
<h1>SoundCloud Terms of Use</h1>
<h2>1. Your content</h2>
<p>You keep all ownership rights in the tracks you upload.</p>
<h2>2. Conduct</h2>
<p>Do not upload content you do not have the rights to.</p>
</main></body></html>"""

# The new clause carries markup as text (escaped in the page, so it survives extraction as
# literal angle brackets) and a real link: neither may become markup or a link in the e-mail.
TERMS_V2 = """<html><body><main>
<h1>SoundCloud Terms of Use</h1>
<h2>1. Your content &lt;b onmouseover=alert(1)&gt;</h2>
<p>You keep all ownership rights in the tracks you upload.</p>
<p>You explicitly agree that your Content may be used to inform, train, develop or serve as input to
artificial intelligence or machine intelligence technologies. &lt;img src=x onerror=alert(1)&gt;
<a href="https://evil.example/phish">Read more</a></p>
<h2>2. Conduct</h2>
<p>Do not upload content you do not have the rights to, or you will be removed.</p>
</main></body></html>"""

BANDCAMP = "<html><body><main><h1>Bandcamp Terms</h1><p>Be kind to artists.</p><p>These terms apply to every account, every upload and every use of the service, wherever you live and whatever device you use.</p></main></body></html>"
SENDER = "tosmon@example.org"


@dataclass
class Mailbox:
    """What the SMTP server received; `refuse` makes it answer DATA with a permanent failure."""

    port: int
    received: list[tuple[Envelope, EmailMessage]] = field(default_factory=list)
    refuse: bool = False
    logins: list[tuple[str, str]] = field(default_factory=list)
    unknown: set[str] = field(default_factory=set)  # addresses refused at RCPT

    async def handle_RCPT(
        self, server: object, session: object, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.unknown:
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: object, session: object, envelope: Envelope) -> str:
        if self.refuse:
            return "554 5.7.1 Message rejected as spam"
        assert isinstance(envelope.content, bytes)
        message = message_from_bytes(envelope.content, _class=EmailMessage, policy=policy.default)
        self.received.append((envelope, message))
        return "250 OK"

    @property
    def messages(self) -> list[EmailMessage]:
        return [m for _, m in self.received]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp_port() -> int:
    """A port on 127.0.0.1 where no SMTP server listens (yet)."""
    return free_port()


@pytest.fixture(name="start_smtp")
def start_smtp_fixture() -> Iterator[Callable[..., Mailbox]]:
    """Start an aiosmtpd server on 127.0.0.1 (on a given port, to bring a "down" server back up)."""
    controllers: list[Controller] = []

    def start(port: int | None = None, **options: object) -> Mailbox:
        mailbox = Mailbox(port or free_port())
        controller = Controller(mailbox, hostname="127.0.0.1", port=mailbox.port, **options)
        controller.start()
        controllers.append(controller)
        return mailbox

    yield start
    for controller in controllers:
        controller.stop()


@pytest.fixture
def site(httpserver: HTTPServer) -> dict[str, str]:
    """Two services' pages on 127.0.0.1; change a page by assigning to the dict (an int is a status)."""
    pages: dict[str, str | int] = {"/soundcloud": TERMS_V1, "/bandcamp": BANDCAMP}

    def serve(request: Request) -> Response:
        page = pages[request.path]
        if isinstance(page, int):
            return Response("", status=page)
        return Response(page, content_type="text/html; charset=utf-8")

    for path in pages:
        httpserver.expect_request(path).respond_with_handler(serve)
    pages["url"] = httpserver.url_for("/")
    return pages


def watchlist_text(site: dict[str, str], port: int, smtp: str = "security: none") -> str:
    return f"""
email:
  smtp: {{host: 127.0.0.1, port: {port}, {smtp}}}
  from: {SENDER}
  to: [me@example.org]
services:
  SoundCloud:
    Terms of Service:
      url: {site["url"]}soundcloud
  Bandcamp:
    email: {{to: [bandcamp-watch@example.org]}}
    Terms of Service:
      url: {site["url"]}bandcamp
"""


@pytest.fixture
def watched(site: dict[str, str], watchlist_file: Callable[[str], Path], tosmon) -> Callable[[int], Path]:
    """A watchlist e-mailing through `port`, with a first check already recorded (not e-mailed)."""

    def make(port: int, smtp: str = "security: none") -> Path:
        path = watchlist_file(watchlist_text(site, port, smtp))
        assert tosmon("check", "--watchlist", path).code == 1
        return path

    return make


def html_part(message: EmailMessage) -> str:
    part = message.get_body(("html",))
    assert part is not None
    return str(part.get_content())


def text_part(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def subject(message: EmailMessage) -> str:
    """The subject as a mail client shows it (unfolded)."""
    return " ".join(str(message["Subject"]).split())


def outbox(watchlist: Path) -> list[Path]:
    return sorted((watchlist.parent / "snapshots" / "outbox").glob("*.eml"))


def test_check_email_sends_the_flagged_clause_in_text_and_html(tosmon, site, watched, start_smtp) -> None:
    mailbox = start_smtp()
    watchlist = watched(mailbox.port)
    site["/soundcloud"] = TERMS_V2

    outcome = tosmon("check", "--watchlist", watchlist, "--email")

    assert outcome.code == 2, outcome.stderr
    [(envelope, message)] = mailbox.received
    assert envelope.mail_from == SENDER
    assert envelope.rcpt_tos == ["me@example.org"]
    assert message["From"] == SENDER
    assert message["To"] == "me@example.org"
    assert subject(message) == "[tosmon] SoundCloud Terms of Service: new AI training clause"
    assert "Sent: [tosmon] SoundCloud Terms of Service: new AI training clause" in outcome.stderr
    text = text_part(message)
    assert "may be used to inform, train, develop or serve as input to" in text
    assert "under: SoundCloud Terms of Use > 1. Your content" in text
    assert site["url"] + "soundcloud" in text


def test_report_lists_flags_first_then_the_diff_then_failures(tosmon, site, watched, start_smtp) -> None:
    mailbox = start_smtp()
    watchlist = watched(mailbox.port)
    site["/soundcloud"] = TERMS_V2
    site["/bandcamp"] = 404

    tosmon("check", "--watchlist", watchlist, "--email")

    message = next(m for m in mailbox.messages if m["To"] == "me@example.org")
    text = text_part(message)
    flagged = text.index("Flagged clauses")
    changes = text.index("Other changes")
    failed = text.index("Failed")
    assert flagged < changes < failed
    assert "+ You explicitly agree" not in text  # shown once, as a flag
    assert "~ Do not upload content you do not have the rights to{+, or you will be removed+}." in text
    assert "- Bandcamp Terms of Service: HTTP 404 Not Found" in text
    assert (
        subject(message) == "[tosmon] SoundCloud Terms of Service: new AI training clause; 1 document failed"
    )


def test_page_markup_and_links_are_escaped_in_the_html_part(tosmon, site, watched, start_smtp) -> None:
    mailbox = start_smtp()
    watchlist = watched(mailbox.port)
    site["/soundcloud"] = TERMS_V2

    tosmon("check", "--watchlist", watchlist, "--email")

    html = html_part(mailbox.messages[0])
    tree = lxml.html.fromstring(html)
    assert {a.get("href") for a in tree.iter("a")} == {site["url"] + "soundcloud"}
    assert not tree.xpath("//img | //script | //b | //*[@onerror] | //*[@onmouseover]")
    assert "<img src=x onerror=alert(1)>" in tree.text_content()
    assert "Read more" in tree.text_content()
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    # Removed words are struck through, added ones marked: a readable diff.
    assert tree.xpath("//ins[contains(., 'removed')]")
    assert all("line-through" in d.get("style", "") for d in tree.iter("del"))


def test_service_recipients_hear_only_about_their_own_service(tosmon, site, watched, start_smtp) -> None:
    mailbox = start_smtp()
    watchlist = watched(mailbox.port)
    site["/bandcamp"] = (
        "<html><body><main><h1>Bandcamp Terms</h1><p>Be very kind.</p><p>These terms apply to every account, every upload and every use of the service, wherever you live and whatever device you use.</p></main></body></html>"
    )

    assert tosmon("check", "--watchlist", watchlist, "--email").code == 1

    by_recipient = {tuple(e.rcpt_tos): m for e, m in mailbox.received}
    assert set(by_recipient) == {("me@example.org",), ("bandcamp-watch@example.org",)}
    assert {subject(m) for m in by_recipient.values()} == {"[tosmon] Bandcamp Terms of Service changed"}
    # `email.to` hears about every document, the service's own recipients about theirs.
    assert "\n2 documents: 0 flagged clauses, 1 changed" in text_part(by_recipient[("me@example.org",)])
    assert "\n1 document: 0 flagged clauses, 1 changed" in text_part(
        by_recipient[("bandcamp-watch@example.org",)]
    )

    site["/soundcloud"] = TERMS_V2
    tosmon("check", "--watchlist", watchlist, "--email")
    assert [tuple(e.rcpt_tos) for e, _ in mailbox.received[2:]] == [("me@example.org",)]


def test_no_report_when_nothing_changed_unless_email_always(tosmon, watched, start_smtp) -> None:
    mailbox = start_smtp()
    watchlist = watched(mailbox.port)

    assert tosmon("check", "--watchlist", watchlist, "--email").code == 0
    assert mailbox.received == []

    assert tosmon("check", "--watchlist", watchlist, "--email-always").code == 0
    subjects = sorted(subject(m) for m in mailbox.messages)
    assert subjects == ["[tosmon] no changes in 1 document", "[tosmon] no changes in 2 documents"]


def test_report_waits_in_the_outbox_while_the_server_is_down_and_is_sent_exactly_once(
    tosmon, site, watched, smtp_port, start_smtp
) -> None:
    watchlist = watched(smtp_port)
    site["/soundcloud"] = TERMS_V2

    down = tosmon("check", "--watchlist", watchlist, "--email")

    assert down.code == 8
    waiting = outbox(watchlist)
    assert len(waiting) == 1
    assert down.stderr.splitlines()[-1] == (
        f"Error: 127.0.0.1:{smtp_port}: cannot send: connection refused; "
        f"1 report waiting in {waiting[0].parent}, sent by the next run"
    )

    mailbox = start_smtp(smtp_port)
    assert tosmon("check", "--watchlist", watchlist, "--email").code == 0  # nothing new to report
    assert [subject(m) for m in mailbox.messages] == [
        "[tosmon] SoundCloud Terms of Service: new AI training clause"
    ]
    assert "new AI training clause" in html_part(mailbox.messages[0])
    assert outbox(watchlist) == []

    tosmon("check", "--watchlist", watchlist, "--email")
    assert len(mailbox.received) == 1


def test_refused_report_waits_in_the_outbox(tosmon, site, watched, start_smtp) -> None:
    mailbox = start_smtp()
    mailbox.refuse = True
    watchlist = watched(mailbox.port)
    site["/soundcloud"] = TERMS_V2

    outcome = tosmon("check", "--watchlist", watchlist, "--email")

    assert outcome.code == 8
    assert f"Error: 127.0.0.1:{mailbox.port}: message refused: 554 5.7.1 Message rejected as spam;" in (
        outcome.stderr
    )
    assert len(outbox(watchlist)) == 1


def test_a_refused_report_does_not_hold_back_the_others(tosmon, site, watched, start_smtp) -> None:
    mailbox = start_smtp()
    mailbox.unknown = {"bandcamp-watch@example.org"}
    watchlist = watched(mailbox.port)
    site["/bandcamp"] = (
        "<html><body><main><h1>Bandcamp Terms</h1><p>Be very kind.</p><p>These terms apply to every account, every upload and every use of the service, wherever you live and whatever device you use.</p></main></body></html>"
    )

    first = tosmon("check", "--watchlist", watchlist, "--email")

    assert first.code == 8
    assert f"Error: 127.0.0.1:{mailbox.port}: recipients refused: bandcamp-watch@example.org;" in first.stderr
    assert [tuple(e.rcpt_tos) for e, _ in mailbox.received] == [("me@example.org",)]
    assert len(outbox(watchlist)) == 1

    site["/soundcloud"] = TERMS_V2
    second = tosmon("check", "--watchlist", watchlist, "--email")

    assert second.code == 8  # still refused, still waiting
    assert [subject(m) for m in mailbox.messages] == [
        "[tosmon] Bandcamp Terms of Service changed",
        "[tosmon] SoundCloud Terms of Service: new AI training clause",
    ]
    assert len(outbox(watchlist)) == 1


@pytest.fixture
def tls_server(start_smtp, server_tls: ssl.SSLContext) -> Mailbox:
    """A STARTTLS server requiring a login over TLS."""
    mailbox: Mailbox

    def authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        mailbox.logins.append((login, password))
        return AuthResult(success=(login, password) == ("tosmon", "s3cret"), handled=False)

    mailbox = start_smtp(
        tls_context=server_tls,
        require_starttls=True,
        auth_required=True,
        auth_require_tls=True,
        authenticator=authenticate,
    )
    return mailbox


def test_email_test_logs_in_over_starttls(tosmon, watchlist_file, site, tls_server, monkeypatch) -> None:
    watchlist = watchlist_file(watchlist_text(site, tls_server.port, "security: starttls, username: tosmon"))
    monkeypatch.setenv("TOSMON_SMTP_PASSWORD", "s3cret")

    outcome = tosmon("email", "test", "--watchlist", watchlist)

    assert outcome.code == 0, outcome.stderr
    assert outcome.stderr == (
        f"Sent a test message to me@example.org via 127.0.0.1:{tls_server.port} (starttls).\n"
    )
    assert tls_server.logins == [("tosmon", "s3cret")]
    [message] = tls_server.messages
    assert subject(message) == "[tosmon] test message"


def test_email_test_over_implicit_tls(tosmon, watchlist_file, site, start_smtp, server_tls) -> None:
    mailbox = start_smtp(ssl_context=server_tls)
    watchlist = watchlist_file(watchlist_text(site, mailbox.port, "security: ssl"))

    outcome = tosmon("email", "test", "--watchlist", watchlist)

    assert outcome.code == 0, outcome.stderr
    assert outcome.stderr == f"Sent a test message to me@example.org via 127.0.0.1:{mailbox.port} (ssl).\n"
    assert [subject(m) for m in mailbox.messages] == ["[tosmon] test message"]


def test_email_test_reports_a_refused_login(tosmon, watchlist_file, site, tls_server, monkeypatch) -> None:
    watchlist = watchlist_file(watchlist_text(site, tls_server.port, "security: starttls, username: tosmon"))
    monkeypatch.setenv("TOSMON_SMTP_PASSWORD", "wrong")

    outcome = tosmon("email", "test", "--watchlist", watchlist)

    assert outcome.code == 8
    assert outcome.stderr.startswith(f"Error: 127.0.0.1:{tls_server.port}: login refused: 535 ")
    assert tls_server.messages == []


def test_the_password_comes_only_from_the_environment(
    tosmon, watchlist_file, site, smtp_port, monkeypatch
) -> None:
    monkeypatch.delenv("TOSMON_SMTP_PASSWORD", raising=False)
    watchlist = watchlist_file(watchlist_text(site, smtp_port, "security: starttls, username: tosmon"))

    outcome = tosmon("email", "test", "--watchlist", watchlist)

    assert outcome.code == 8
    assert outcome.stderr == "Error: smtp.username is set but TOSMON_SMTP_PASSWORD is not\n"


def test_untrusted_certificate_is_refused(tosmon, watchlist_file, site, tls_server, monkeypatch) -> None:
    monkeypatch.delenv("SSL_CERT_FILE")
    monkeypatch.setenv("TOSMON_SMTP_PASSWORD", "s3cret")
    watchlist = watchlist_file(watchlist_text(site, tls_server.port, "security: starttls, username: tosmon"))

    outcome = tosmon("email", "test", "--watchlist", watchlist)

    assert outcome.code == 8
    assert outcome.stderr.startswith(
        f"Error: 127.0.0.1:{tls_server.port}: TLS failed: CERTIFICATE_VERIFY_FAILED"
    )
    assert tls_server.logins == []


def test_email_needs_email_settings(tosmon, watchlist_file, site) -> None:
    watchlist = watchlist_file(f"services:\n  S:\n    Terms:\n      url: {site['url']}soundcloud\n")

    for command in (("email", "test"), ("check", "--email")):
        outcome = tosmon(*command, "--watchlist", watchlist)
        assert outcome.code == 4
        assert (
            outcome.stderr == f"{watchlist}:1:1: email: no `email:` settings (smtp, from, to) to send with\n"
        )


def with_training_clause(clause: str) -> str:
    return TERMS_V1.replace("<h2>2. Conduct</h2>", f"<p>{clause}</p>\n<h2>2. Conduct</h2>")


def test_email_shows_the_words_a_reworded_flagged_clause_deleted_and_links_the_version_on_the_site(
    tosmon, site, watched, start_smtp
) -> None:
    mailbox = start_smtp()
    watchlist = watched(mailbox.port)
    watchlist.write_text("site_url: https://terms.example.org/\n" + watchlist.read_text())
    retention = "We may use your tracks to train our models, unless you have activated zero data retention."
    site["/soundcloud"] = with_training_clause(retention)
    tosmon("check", "--watchlist", watchlist)
    site["/soundcloud"] = with_training_clause("We may use your tracks to train our models.")

    assert tosmon("check", "--watchlist", watchlist, "--email").code == 2

    [message] = mailbox.messages
    assert subject(message) == "[tosmon] SoundCloud Terms of Service: changed AI training clause"
    text = text_part(message)
    assert "(reworded: [-deleted-] {+added+})" in text
    assert (
        "\n  > We may use your tracks to train our models[-, unless you have activated zero data retention-].\r\n"
        in text
    )
    assert "  this version: https://terms.example.org/SoundCloud/Terms-of-Service.html#v-" in text
    assert f"  live page: {site['url']}soundcloud" in text
    tree = lxml.html.fromstring(html_part(message))
    [quote] = tree.cssselect("blockquote")
    assert [d.text for d in quote.iter("del")] == [", unless you have activated zero data retention"]
    assert "line-through" in quote.find(".//del").get("style")
    assert " ".join(quote.text_content().split()) == (
        "We may use your tracks to train our models, unless you have activated zero data retention."
    )
    links = [a.get("href") for a in tree.iter("a")]
    assert any(h.startswith("https://terms.example.org/SoundCloud/Terms-of-Service.html#v-") for h in links)
