"""Run the check on the watchlist's cron schedules, as one long-running foreground process.

Each distinct schedule (the watchlist's `schedule:`, or a service's or document's own) is one job
that checks its documents. Jobs run one at a time, on one worker thread, and each run holds the
store's lock, so the scheduler never runs two checks at once, nor one beside a `tosmon check` from
cron: a run that finds the store locked waits briefly, logs it, and leaves the check to the next
fire time.

Missed runs are caught up once, not once per missed run: while the process lives, APScheduler
coalesces the fire times it missed (the machine slept); across restarts, the time of each job's
last completed run is kept in `<store>/schedule.json`, and a job whose next fire time after it has
passed runs once at start.

`stop()` (the CLI calls it on SIGTERM and SIGINT) cancels a running check at its next await: a
document is only ever written between awaits, so documents finished before the stop are recorded
whole and the others are left untouched. Their report goes to the outbox, for the next run to send.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger

from tosmon.check import check_async
from tosmon.cron import cron_trigger
from tosmon.errors import ConfigError, LockedError, Problem, StoreError, TosmonError
from tosmon.fetch.http import FetchSettings
from tosmon.flag.rules import Taxonomy
from tosmon.models import CheckResult, CheckRun, Document, utcnow
from tosmon.outputs.notify import (
    Mailer,
    Notifier,
    Outbox,
    build_notifications,
    build_reports,
    deliver,
    deliver_notifications,
)
from tosmon.outputs.report import common_failure
from tosmon.outputs.site import write_site
from tosmon.store.files import Store, read_json, write_json
from tosmon.variants import summary
from tosmon.watchlist import EmailSettings, Watchlist

log = logging.getLogger("tosmon.schedule")

STATE_FILE = "schedule.json"
NUDGE_SECONDS = 60.0


@dataclass(frozen=True)
class Job:
    """One schedule of the watchlist and the documents it checks."""

    expressions: tuple[str, ...]
    documents: tuple[Document, ...]

    @property
    def key(self) -> str:
        return " | ".join(self.expressions)

    def trigger(self, timezone: tzinfo | None = None) -> BaseTrigger:
        triggers = [cron_trigger(e, timezone) for e in self.expressions]
        return triggers[0] if len(triggers) == 1 else OrTrigger(triggers)


def plan(watchlist: Watchlist) -> tuple[list[Job], list[Document]]:
    """The jobs of a watchlist, and the documents no schedule covers (a document's own wins)."""
    groups: dict[tuple[str, ...], list[Document]] = {}
    unscheduled = []
    for document in watchlist.documents:
        expressions = document.schedule or watchlist.schedule
        if expressions:
            groups.setdefault(expressions, []).append(document)
        else:
            unscheduled.append(document)
    if not groups:
        raise ConfigError(
            [
                Problem(
                    str(watchlist.path), 1, 1, "schedule", 'nothing to schedule: add `schedule: "0 4 * * *"`'
                )
            ]
        )
    return [Job(expressions, tuple(documents)) for expressions, documents in groups.items()], unscheduled


class Scheduler:
    """Runs each job's check at its fire times until `stop()`; one check at a time."""

    def __init__(
        self,
        jobs: list[Job],
        store: Store,
        *,
        taxonomy: Taxonomy,
        settings: FetchSettings | None = None,
        email: EmailSettings | None = None,
        mailer: Mailer | None = None,
        email_always: bool = False,
        watchlist: Watchlist | None = None,
        notifier: Notifier | None = None,
        site: Path | None = None,
        wait: float = 10.0,
        timezone: tzinfo | None = None,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self.jobs = jobs
        self.store = store
        self.taxonomy = taxonomy
        self.settings = settings or FetchSettings()
        self.email = email
        self.mailer = mailer
        self.email_always = email_always
        self.watchlist = watchlist  # its `notify:` channels hear about each run; its `site_url:` is linked
        self.notifier = notifier
        self.site = site
        self.wait = wait
        self.timezone = timezone
        self.now = now
        self._stop = threading.Event()
        self._guard = threading.Lock()
        self._running: tuple[asyncio.AbstractEventLoop, asyncio.Task[CheckRun]] | None = None

    @property
    def state_path(self) -> Path:
        return self.store.root / STATE_FILE

    def last_runs(self) -> dict[str, datetime]:
        """When each job last completed a run, from `<store>/schedule.json`."""
        if not self.state_path.exists():
            return {}
        runs = read_json(self.state_path).get("last_run", {})
        return (
            {str(k): datetime.fromisoformat(str(v)) for k, v in runs.items()}
            if isinstance(runs, dict)
            else {}
        )

    def missed(self, job: Job, now: datetime) -> bool:
        """Whether a fire time of `job` passed since its last run (never true before its first run)."""
        last = self.last_runs().get(job.key)
        if last is None:
            return False
        # The first fire time strictly after the last run (a run may start on the very second).
        following = job.trigger(self.timezone).get_next_fire_time(None, last + timedelta(microseconds=1))
        return following is not None and following <= now

    def serve(self, nudge: float = NUDGE_SECONDS) -> None:
        """Run until `stop()` is called; a missed run is caught up once at start."""
        scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(1)},
            # coalesce + no grace limit: however many fire times were missed, run once, however late.
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=self.timezone,
        )
        now = self.now()
        for job in self.jobs:
            extra: dict[str, object] = {}
            if self.missed(job, now):
                log.info("catching up a missed run of %r now", job.key)
                extra["next_run_time"] = now
            scheduler.add_job(self.run_job, job.trigger(self.timezone), args=[job], id=job.key, **extra)
        scheduler.start()
        for job in self.jobs:
            log.info("%s on %r; next check %s", _documents(len(job.documents)), job.key, self._next(job))
        try:
            # The scheduler times its sleep with a clock that stops while the machine sleeps; waking
            # it now and then makes it notice a fire time that passed meanwhile.
            while not self._stop.wait(nudge):
                scheduler.wakeup()
        finally:
            scheduler.shutdown(wait=True)
        log.info("stopped")

    def stop(self) -> None:
        """Stop serving; a running check is cancelled at its next await. Safe from any thread."""
        self._stop.set()
        with self._guard:
            if self._running:
                loop, task = self._running
                loop.call_soon_threadsafe(task.cancel)

    def run_job(self, job: Job) -> CheckRun | None:
        """One check of the job's documents under the store's lock, then its report."""
        if self._stop.is_set():
            return None
        started = self.now()
        try:
            with self.store.lock(wait=self.wait):
                log.info("check of %s started (%s)", _documents(len(job.documents)), job.key)
                run, interrupted = self._check(job.documents, started)
                self._report(run, interrupted)
                if not interrupted:
                    self._record_run(job, started)
        except LockedError as error:
            log.warning("check skipped: %s", error)
            return None
        except StoreError as error:
            log.error("check failed: %s", error)
            return None
        for comparison in run.variants:  # how the variants of a document newly differ
            for line in summary(comparison):
                log.info("%s variants: %s", comparison.id, line)
        statuses = [r.status for r in run.results]
        log.info(
            "check %s: %d changed, %d new, %d flagged clauses, %d failed, %d unchanged%s",
            "interrupted" if interrupted else "finished",
            statuses.count("changed"),
            statuses.count("new"),
            len(run.flags),
            statuses.count("error"),
            statuses.count("unchanged"),
            "" if interrupted else f"; next check {self._next(job)}",
        )
        failure = common_failure(run.results)
        if failure:
            log.warning("%s", failure)
        return run

    def _record_run(self, job: Job, started: datetime) -> None:
        runs = {key: moment.isoformat() for key, moment in self.last_runs().items()}
        write_json(self.state_path, {"last_run": {**runs, job.key: started.isoformat()}})

    def _check(self, documents: tuple[Document, ...], started: datetime) -> tuple[CheckRun, bool]:
        """The check, cancellable by `stop()`; an interrupted check returns what it finished."""
        finished: list[CheckResult] = []

        def progress(result: CheckResult) -> None:
            finished.append(result)
            if result.status == "error":
                log.warning("%s: error: %s", result.document.id, result.error)
            else:
                flags = f" ({len(result.flags)} flagged)" if result.flags else ""
                log.info("%s: %s%s", result.document.id, result.status, flags)

        async def main() -> CheckRun:
            task = asyncio.current_task()
            assert task is not None
            with self._guard:
                if self._stop.is_set():
                    raise asyncio.CancelledError
                self._running = (asyncio.get_running_loop(), task)  # type: ignore[assignment]
            try:
                return await check_async(
                    documents,
                    self.store,
                    taxonomy=self.taxonomy,
                    settings=self.settings,
                    now=self.now,
                    progress=progress,
                )
            finally:
                with self._guard:
                    self._running = None

        try:
            return asyncio.run(main()), False
        except asyncio.CancelledError:
            order = {d.id: i for i, d in enumerate(documents)}
            finished.sort(key=lambda r: order[r.document.id])
            return CheckRun(started, tuple(finished)), True

    def _report(self, run: CheckRun, interrupted: bool) -> None:
        title = None
        if interrupted:
            started = run.started_at.astimezone(UTC)
            title = f"tosmon check of {started:%d %B %Y, %H:%M} UTC, interrupted ({len(run.results)} done)"
        if self.notifier is not None and self.watchlist is not None and self.watchlist.channels:
            self._notify(run, interrupted, title)
        if self.site is not None and not interrupted:
            self._rebuild_site()
        if self.email is None or self.mailer is None:
            return
        site_url = self.watchlist.site_url if self.watchlist else None
        messages = build_reports(
            run, self.email, always=self.email_always, title=title, site_url=site_url, now=self.now
        )
        outbox = Outbox(self.store.root)
        if interrupted:
            # Stopping: no time to wait for a server. The next run sends these first.
            for message in messages:
                outbox.put(message, self.now())
            if messages:
                log.info("report kept in %s for the next run", outbox.directory)
            return
        delivery = deliver(messages, outbox, self.mailer, now=self.now)
        for subject in delivery.sent:
            log.info("report sent: %s", subject)
        if delivery.error:
            log.error(
                "report not sent: %s; %d waiting in %s for the next run",
                delivery.error,
                len(delivery.queued),
                outbox.directory,
            )

    def _notify(self, run: CheckRun, interrupted: bool, title: str | None) -> None:
        assert self.watchlist is not None and self.notifier is not None
        notifications = build_notifications(run, self.watchlist, always=self.email_always, title=title)
        outbox = Outbox(self.store.root)
        if interrupted:  # stopping: no time to wait for a server; the next run sends these first
            for notification in notifications:
                outbox.put_notification(notification, self.now())
            return
        delivery = deliver_notifications(notifications, outbox, self.notifier.send, now=self.now)
        for sent in delivery.sent:
            log.info("notified %s", sent)
        if delivery.error:
            log.error(
                "notification not sent: %s; %d waiting in %s for the next run",
                delivery.error,
                len(delivery.queued),
                outbox.directory,
            )

    def _rebuild_site(self) -> None:
        assert self.site is not None
        watchlist = self.watchlist
        try:
            pages = write_site(
                self.store,
                watchlist.documents if watchlist else (),
                self.taxonomy,
                self.site,
                site_url=watchlist.site_url if watchlist else None,
                now=self.now(),
            )
        except (OSError, TosmonError) as error:
            log.error("site not rebuilt: %s", error)
        else:
            log.info("site rebuilt: %d pages in %s", len(pages), self.site)

    def _next(self, job: Job) -> str:
        following = job.trigger(self.timezone).get_next_fire_time(None, self.now())
        return following.isoformat(timespec="seconds") if following else "never"


def _documents(count: int) -> str:
    return f"{count} document{'' if count == 1 else 's'}"
