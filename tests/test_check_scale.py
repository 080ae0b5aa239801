"""Long runs: worker processes, one per core and each with whole hosts, give the same results, in order."""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tosmon import check as check_module
from tosmon.check import check
from tosmon.models import CheckResult, CheckRun, Document
from tosmon.store.files import Store
from tosmon.watchlist import load_watchlist

PAGE = (
    "<html><body><main><h1>Terms {n}</h1><p>Clause {n}: we keep your data for {n} days.</p>"
    "<p>You may ask us to delete your account and the data it holds at any time, from your settings.</p>"
    "{extra}</main></body></html>"
)


@pytest.fixture
def second_host() -> Iterator[HTTPServer]:
    """Another host name (127.0.0.2): a run splits between processes by host."""
    server = HTTPServer(host="127.0.0.2")
    server.start()
    yield server
    server.clear()
    server.stop()


@pytest.fixture
def split_runs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Runs of any length are split between two worker processes; records how many each run used."""
    used: list[int] = []
    split = check_module._check_in_processes

    async def spy(documents, shards, *args, **kwargs):  # type: ignore[no-untyped-def]
        used.append(len(shards))
        return await split(documents, shards, *args, **kwargs)

    monkeypatch.setattr(check_module, "SHARD_MIN_DOCUMENTS", 1)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setattr(check_module, "_check_in_processes", spy)
    return used


def write_watchlist(tmp_path: Path, servers: list[HTTPServer], pages: int) -> Path:
    services: dict[str, list[str]] = {}
    for n in range(pages):
        server = servers[n % len(servers)]
        extra = "<p>We may use your content to train our models.</p>" if n % 3 == 0 else ""
        server.expect_request(f"/terms/{n}").respond_with_data(
            PAGE.format(n=n, extra=extra), content_type="text/html; charset=utf-8"
        )
        services.setdefault(f"Site {n % 3}", []).append(
            f"    Terms {n}:\n      url: {server.url_for(f'/terms/{n}')}"
        )
    lines = ["services:"] + [f"  {name}:\n" + "\n".join(docs) for name, docs in services.items()]
    watchlist = tmp_path / "watchlist.yaml"
    watchlist.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return watchlist


def checked_texts(tmp_path: Path, name: str, watchlist: Path) -> tuple[list[tuple[str, str]], list[str]]:
    store = Store(tmp_path / name).open()
    documents = load_watchlist(watchlist).documents
    seen: list[str] = []
    run = check(documents, store, progress=lambda result: seen.append(result.document.id))
    texts = [(r.document.id, r.status) for r in run.results]
    versions = [store.latest_version(d).text for d in documents]  # type: ignore[union-attr]
    assert sorted(seen) == sorted(d.id for d in documents)  # progress heard once per document
    return texts, versions


def test_a_long_run_is_split_between_processes_with_the_same_results_in_watchlist_order(
    tmp_path: Path,
    httpserver: HTTPServer,
    second_host: HTTPServer,
    split_runs: list[int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    watchlist = write_watchlist(tmp_path, [httpserver, second_host], 8)
    in_workers = checked_texts(tmp_path, "workers", watchlist)
    monkeypatch.setattr(check_module, "SHARD_MIN_DOCUMENTS", 10**9)
    in_process = checked_texts(tmp_path, "inline", watchlist)

    assert split_runs == [2]  # two hosts, two processes; the second run stayed in one
    assert in_workers == in_process
    assert [doc_id for doc_id, _ in in_workers[0]] == [d.id for d in load_watchlist(watchlist).documents]
    assert [status for _, status in in_workers[0]] == ["new"] * 8
    assert any("Clause 3: we keep your data for 3 days." in text for text in in_workers[1])


def test_a_worker_killed_mid_run_fails_its_unfinished_documents_and_the_run_goes_on(
    tmp_path: Path, httpserver: HTTPServer, second_host: HTTPServer, split_runs: list[int]
) -> None:
    def slowly(request: Request) -> Response:
        time.sleep(1)
        return Response(PAGE.format(n=0, extra=""), content_type="text/html; charset=utf-8")

    watchlist = write_watchlist(
        tmp_path, [httpserver], 5
    )  # the larger host: checked by the run's own process
    with watchlist.open("a", encoding="utf-8") as extra:
        extra.write("  Slow site:\n")
        for n in range(4):
            second_host.expect_request(f"/slow/{n}").respond_with_handler(slowly)
            extra.write(f"    Slow {n}:\n      url: {second_host.url_for(f'/slow/{n}')}\n")
    documents = load_watchlist(watchlist).documents
    store = Store(tmp_path / "store").open()
    heard: list[CheckResult] = []

    def kill_the_slow_worker(result: CheckResult) -> None:
        heard.append(result)
        if len(heard) == 5:  # the fast host is done: the slow host's worker is still fetching
            for worker in multiprocessing.active_children():
                if worker.is_alive():
                    worker.kill()

    run = check(documents, store, progress=kill_the_slow_worker)

    assert split_runs == [2]
    assert [r.document.id for r in run.results] == [d.id for d in documents]
    fast, slow = run.results[:5], run.results[5:]
    assert [r.status for r in fast] == ["new"] * 5
    assert all(r.status == "error" and "worker process checking it ended" in (r.error or "") for r in slow)
    assert len(heard) == 9  # every document reported once
    assert all(store.latest_version(r.document) for r in fast)


def test_a_clock_worker_processes_cannot_receive_keeps_the_run_in_this_process(
    tmp_path: Path, httpserver: HTTPServer, second_host: HTTPServer, split_runs: list[int]
) -> None:
    watchlist = write_watchlist(tmp_path, [httpserver, second_host], 6)
    documents = load_watchlist(watchlist).documents
    moment = datetime(2026, 11, 26, 4, 0, tzinfo=UTC)

    # this test process has threads, so workers would start from a fork server, which must be sent a
    # pickled clock: a lambda cannot be
    run = check(documents, Store(tmp_path / "store").open(), now=lambda: moment)

    assert split_runs == [2]
    assert [(r.document.id, r.status) for r in run.results] == [(d.id, "new") for d in documents]
    assert run.started_at == moment


def test_a_run_of_ten_thousand_documents_is_described_in_one_short_line() -> None:
    """asyncio builds the repr of a run as it ends: it must not grow with the watchlist."""
    document = Document("Acme", "Terms", "https://acme.example/terms")
    started = datetime(2026, 11, 26, tzinfo=UTC)
    run = CheckRun(started, (CheckResult(document, "new", checked_at=started),) * 10_000)
    assert repr(run) == f"CheckRun(started_at={started!r}, results=<10000 results>)"
