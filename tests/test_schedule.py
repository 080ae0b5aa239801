"""`tosmon schedule` as a real process on a short schedule, and the cron expressions it accepts."""

from __future__ import annotations

import json
import queue
import re
import signal
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from test_channels import start_receiver_fixture  # noqa: F401  (the start_receiver fixture)
from test_notify import SENDER, Mailbox, free_port, start_smtp_fixture, subject  # noqa: F401  (the start_smtp fixture)

from tosmon.cron import cron_trigger
from tosmon.models import Document
from tosmon.schedule import Job, Scheduler, plan
from tosmon.store.files import Store
from tosmon.watchlist import load_watchlist

DATA = Path(__file__).parent / "data"
PAGE = (
    b"<html><body><main><h1>Terms</h1><p>Be kind to %s.</p>"
    b"<p>These terms apply to every account, every upload and every use of the service, wherever you live and whatever device you use.</p></main></body></html>"
)
EVERY_TWO_SECONDS = "*/2 * * * * *"
SAFETY = 60.0  # seconds before a test gives up waiting for the process (not a speed requirement)


@dataclass
class Site:
    """Pages on 127.0.0.1: `/fast/...` answers at once, `/slow/...` only once `release` is set."""

    url: str = ""
    requests: queue.Queue[str] = field(default_factory=queue.Queue)
    release: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def site() -> Iterator[Site]:
    state = Site()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.put(self.path)
            if self.path.startswith("/slow"):
                state.release.wait(SAFETY)
            body = PAGE % self.path.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield state
    state.release.set()
    server.shutdown()
    server.server_close()


class Running:
    """A `tosmon schedule` process whose stderr is read line by line as it comes."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, pattern: str, count: int = 1) -> list[str]:
        """Wait until `count` log lines match `pattern`; fail with the log if the process ends first."""
        while sum(bool(re.search(pattern, line)) for line in self.lines) < count:
            try:
                line = self._queue.get(timeout=SAFETY)
            except queue.Empty:
                pytest.fail(f"no {pattern!r} in the log after {SAFETY} s:\n" + "\n".join(self.lines))
            if line is None:
                pytest.fail(f"the scheduler ended before {pattern!r}:\n" + "\n".join(self.lines))
            self.lines.append(line)
        return [line for line in self.lines if re.search(pattern, line)]

    def stop(self, signum: int = signal.SIGTERM) -> int:
        self.process.send_signal(signum)
        code = self.process.wait(SAFETY)
        self.wait_for("stopped")
        return code


@pytest.fixture
def schedule(tosmon_process) -> Iterator[Callable[..., Running]]:
    started: list[Running] = []

    def start(watchlist: Path, *args: str) -> Running:
        running = Running(tosmon_process("schedule", "--watchlist", watchlist, *args))
        started.append(running)
        return running

    yield start
    for running in started:
        if running.process.poll() is None:
            running.process.kill()
            running.process.wait()


def watchlist_for(
    write: Callable[[str], Path], cron: str, *paths: str, url: str, smtp_port: int | None = None
) -> Path:
    services = "".join(
        f"  {p.strip('/').replace('/', '-')}:\n    Terms:\n      url: {url}{p}\n" for p in paths
    )
    email = ""
    if smtp_port:
        email = (
            f"email:\n  smtp: {{host: 127.0.0.1, port: {smtp_port}, security: none}}\n"
            f"  from: {SENDER}\n  to: [me@example.org]\n"
        )
    return write(f'schedule: "{cron}"\n{email}services:\n{services}')


def versions(watchlist: Path, service: str) -> list[Path]:
    return sorted((watchlist.parent / "snapshots" / service / "Terms" / "versions").glob("*"))


def test_scheduler_runs_the_check_on_its_schedule_and_stops_on_sigterm(
    site, watchlist_file, schedule
) -> None:
    watchlist = watchlist_for(watchlist_file, EVERY_TWO_SECONDS, "/fast/a", url=site.url)
    running = schedule(watchlist)

    running.wait_for(r"check finished: 0 changed, 1 new", 1)
    running.wait_for(r"check finished: 0 changed, 0 new, 0 flagged clauses, 0 failed, 1 unchanged", 1)

    assert running.stop() == 0
    assert [p.suffix for p in versions(watchlist, "fast-a")] == [".json", ".md"]
    assert any("fast-a/Terms: new" in line for line in running.lines)


def test_scheduler_e_mails_a_report_for_each_run_that_found_something(
    site, watchlist_file, schedule, start_smtp
) -> None:
    mailbox: Mailbox = start_smtp()
    watchlist = watchlist_for(
        watchlist_file, EVERY_TWO_SECONDS, "/fast/a", url=site.url, smtp_port=mailbox.port
    )
    running = schedule(watchlist)

    running.wait_for("check finished", 2)  # the first finds a new document, the second nothing

    assert running.stop() == 0
    assert [subject(m) for m in mailbox.messages] == ["[tosmon] 1 new document recorded"]
    assert any(line.endswith("report sent: [tosmon] 1 new document recorded") for line in running.lines)


def test_scheduler_notifies_its_channels_and_rebuilds_the_site_after_each_run(
    site, watchlist_file, schedule, start_receiver, tmp_path
) -> None:
    receiver = start_receiver(free_port())
    watchlist = watchlist_for(watchlist_file, EVERY_TWO_SECONDS, "/fast/a", url=site.url)
    watchlist.write_text(f"notify: json://127.0.0.1:{receiver.port}/hook\n" + watchlist.read_text())
    public = tmp_path / "public"
    running = schedule(watchlist, "--site", str(public))

    running.wait_for("check finished", 2)  # the first finds a new document, the second nothing

    assert running.stop() == 0
    assert [p["title"] for p in receiver.json()] == ["[tosmon] 1 new document recorded"]
    assert any(
        line.endswith(f"notified json://127.0.0.1:{receiver.port}/…: [tosmon] 1 new document recorded")
        for line in running.lines
    )
    assert len(running.wait_for("site rebuilt: 2 pages")) >= 2
    assert (public / "fast-a" / "Terms.html").is_file() and (public / "feed.xml").is_file()


def test_a_run_overlapping_the_schedulers_waits_then_exits_with_its_own_code(
    site, watchlist_file, schedule, tosmon
) -> None:
    watchlist = watchlist_for(watchlist_file, EVERY_TWO_SECONDS, "/slow/a", url=site.url)
    running = schedule(watchlist)
    assert site.requests.get(timeout=SAFETY) == "/slow/a"  # the scheduler's check is under way

    overlapping = tosmon("check", "--watchlist", watchlist, "--wait", "0.2")

    assert overlapping.code == 7
    assert overlapping.stderr == (
        f"Error: {watchlist.parent / 'snapshots'}: another tosmon run is using this store; "
        "gave up after waiting 0.2 s\n"
    )
    site.release.set()
    running.wait_for("check finished")
    assert running.stop() == 0
    assert [p.suffix for p in versions(watchlist, "slow-a")] == [".json", ".md"]


def test_the_scheduler_skips_a_run_while_another_holds_the_store(site, watchlist_file, schedule) -> None:
    watchlist = watchlist_for(watchlist_file, EVERY_TWO_SECONDS, "/fast/a", url=site.url)
    store = Store(watchlist.parent / "snapshots").open()

    with store.lock():
        running = schedule(watchlist, "--wait", "0.2")
        running.wait_for(
            "check skipped: .* another tosmon run is using this store; gave up after waiting 0.2 s"
        )
        assert versions(watchlist, "fast-a") == []
        assert site.requests.empty()
    running.wait_for("check finished: 0 changed, 1 new")
    assert running.stop() == 0


def test_sigterm_in_the_middle_of_a_run_leaves_the_store_consistent(
    site, watchlist_file, schedule, tosmon, start_smtp
) -> None:
    mailbox: Mailbox = start_smtp()
    watchlist = watchlist_for(
        watchlist_file, EVERY_TWO_SECONDS, "/fast/a", "/slow/b", url=site.url, smtp_port=mailbox.port
    )
    running = schedule(watchlist)
    running.wait_for("fast-a/Terms: new")
    while site.requests.get(timeout=SAFETY) != "/slow/b":
        pass  # the slow document is being fetched: the run is in the middle

    assert running.stop(signal.SIGTERM) == 0

    assert running.wait_for("check interrupted: 0 changed, 1 new")
    store_root = watchlist.parent / "snapshots"
    assert [p.suffix for p in versions(watchlist, "fast-a")] == [".json", ".md"]
    assert versions(watchlist, "slow-b") == []
    assert not [p for p in store_root.rglob("*") if p.name.endswith(".tmp")]
    assert not (store_root / "schedule.json").exists()  # an interrupted run is caught up at the next start
    # The report of what the interrupted run finished waits in the outbox for the next run.
    assert mailbox.messages == []
    assert len(list((store_root / "outbox").glob("*.eml"))) == 1
    site.release.set()
    after = tosmon("check", "--watchlist", watchlist, "--wait", "0", "--email")  # the lock was released
    assert after.code == 1
    assert [p.suffix for p in versions(watchlist, "slow-b")] == [".json", ".md"]
    assert [subject(m) for m in mailbox.messages] == ["[tosmon] 1 new document recorded"] * 2


def test_a_run_where_every_document_failed_alike_says_so_in_the_log(watchlist_file, schedule) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    watchlist = watchlist_file(
        f'schedule: "{EVERY_TWO_SECONDS}"\nfetch: {{retries: 0}}\nservices:\n'
        f"  A:\n    Terms: {{url: {url}/a}}\n  B:\n    Terms: {{url: {url}/b}}\n"
    )
    running = schedule(watchlist)

    running.wait_for(r"check finished: .* 2 failed", 1)
    running.wait_for(r"WARNING every document failed: connection refused \(a proxy or firewall\?\)", 1)
    assert running.stop() == 0


def test_sigint_stops_an_idle_scheduler(site, watchlist_file, schedule) -> None:
    watchlist = watchlist_for(watchlist_file, "0 4 1 1 *", "/fast/a", url=site.url)
    running = schedule(watchlist)
    running.wait_for(r"1 document on '0 4 1 1 \*'; next check")

    assert running.stop(signal.SIGINT) == 0
    assert site.requests.empty()


def test_a_missed_run_is_caught_up_once_at_start(site, watchlist_file, schedule) -> None:
    watchlist = watchlist_for(watchlist_file, "0 4 * * *", "/fast/a", url=site.url)
    store_root = watchlist.parent / "snapshots"
    Store(store_root).open()
    three_days_ago = datetime.now(UTC) - timedelta(days=3)  # three 04:00 runs missed
    (store_root / "schedule.json").write_text(
        json.dumps({"last_run": {"0 4 * * *": three_days_ago.isoformat()}})
    )
    running = schedule(watchlist)

    [finished] = running.wait_for("check finished")

    next_check = datetime.fromisoformat(finished.rsplit("next check ", 1)[1])
    assert next_check > datetime.now(UTC)  # no other missed run left to replay
    assert running.stop() == 0
    assert len([line for line in running.lines if "check of 1 document started" in line]) == 1
    assert any("catching up a missed run of '0 4 * * *'" in line for line in running.lines)
    last_run = json.loads((store_root / "schedule.json").read_text())["last_run"]["0 4 * * *"]
    assert datetime.fromisoformat(last_run) > three_days_ago


def test_a_run_is_missed_only_when_a_fire_time_passed_since_the_last(tmp_path: Path) -> None:
    store = Store(tmp_path).open()
    job = Job(("0 4 * * *",), (Document("S", "Terms", "http://127.0.0.1/"),))
    scheduler = Scheduler([job], store, taxonomy=None, timezone=UTC)  # type: ignore[arg-type]
    at = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)

    assert not scheduler.missed(job, at)  # never ran: nothing to catch up
    for last, missed in [
        (datetime(2026, 11, 26, 4, 0, tzinfo=UTC), False),  # ran at today's fire time
        (datetime(2026, 11, 25, 23, 0, tzinfo=UTC), True),  # today's 04:00 passed since
        (datetime(2026, 11, 20, 4, 0, tzinfo=UTC), True),
    ]:
        (tmp_path / "schedule.json").write_text(json.dumps({"last_run": {job.key: last.isoformat()}}))
        assert scheduler.missed(job, at) is missed, last


def test_each_schedule_checks_its_own_documents(watchlist_file) -> None:
    watchlist = load_watchlist(
        watchlist_file(
            'schedule: "0 4 * * *"\n'
            "services:\n"
            "  Nightly:\n    Terms:\n      url: http://127.0.0.1/a\n"
            '  Hourly:\n    schedule: "0 * * * *"\n    Terms:\n      url: http://127.0.0.1/b\n'
            '    Privacy:\n      url: http://127.0.0.1/c\n      schedule: ["*/5 * * * *", "0 4 * * 1"]\n'
        )
    )

    jobs, unscheduled = plan(watchlist)

    assert [(job.key, [d.id for d in job.documents]) for job in jobs] == [
        ("0 4 * * *", ["Nightly/Terms"]),
        ("0 * * * *", ["Hourly/Terms"]),
        ("*/5 * * * * | 0 4 * * 1", ["Hourly/Privacy"]),
    ]
    assert unscheduled == []


CRON_CASES = yaml.safe_load((DATA / "schedule_cron.yaml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", CRON_CASES["fires"], ids=lambda c: c["cron"])
def test_cron_expressions_fire_as_crontab_says(case: dict[str, str]) -> None:
    trigger = cron_trigger(case["cron"], UTC)
    after = datetime.fromisoformat(case["after"])

    assert trigger.get_next_fire_time(None, after) == datetime.fromisoformat(case["next"])


@pytest.mark.parametrize("case", CRON_CASES["invalid"], ids=lambda c: c["cron"])
def test_invalid_cron_expression_is_a_config_error(case: dict[str, str], watchlist_file, tosmon) -> None:
    watchlist = watchlist_file(
        f'schedule: "{case["cron"]}"\nservices:\n  S:\n    Terms:\n      url: http://127.0.0.1/\n'
    )

    outcome = tosmon("schedule", "--watchlist", watchlist)

    assert outcome.code == 4
    assert (
        outcome.stderr
        == f"{watchlist}:1:11: schedule: invalid cron expression {case['cron']!r}: {case['error']}\n"
    )


def test_schedule_needs_a_schedule(watchlist_file, tosmon) -> None:
    watchlist = watchlist_file("services:\n  S:\n    Terms:\n      url: http://127.0.0.1/\n")

    outcome = tosmon("schedule", "--watchlist", watchlist)

    assert outcome.code == 4
    assert outcome.stderr == f'{watchlist}:1:1: schedule: nothing to schedule: add `schedule: "0 4 * * *"`\n'
