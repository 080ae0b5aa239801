"""Two `tosmon check` runs started together on one store: one waits for the other (or, told not to
wait, exits with a clear error and code 7); the store stays consistent either way."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tosmon.models import Document
from tosmon.store.files import Store

PAGE = (
    "<html><body><main><h1>Terms of Service</h1>"
    + "<p>These terms govern your use of the service and of everything you upload to it.</p>" * 5
    + "</main></body></html>"
)


@pytest.fixture
def slow_watchlist(httpserver: HTTPServer, tmp_path: Path) -> tuple[Path, list[Document]]:
    """Three documents whose server takes 1 s to answer, so that a run holds the store a while."""

    def slowly(request: Request) -> Response:
        time.sleep(1.0)
        return Response(PAGE, content_type="text/html")

    httpserver.expect_request("/terms").respond_with_handler(slowly)
    documents = [Document(f"Service {i}", "Terms of Service", httpserver.url_for("/terms")) for i in range(3)]
    watchlist = tmp_path / "watchlist.yaml"
    watchlist.write_text(
        "services:\n" + "".join(f"  {d.service}:\n    {d.name}:\n      url: {d.url}\n" for d in documents),
        encoding="utf-8",
    )
    return watchlist, documents


def run_two(
    tosmon_process: Callable[..., subprocess.Popen[str]], *args: object
) -> list[tuple[int, str, str]]:
    processes = [tosmon_process("check", *args) for _ in range(2)]
    outcomes = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=60)
        outcomes.append((process.returncode, stdout, stderr))
    return outcomes


def test_second_run_waits_for_the_first_and_finds_nothing_new(
    slow_watchlist: tuple[Path, list[Document]], tosmon_process: Callable[..., subprocess.Popen[str]]
) -> None:
    watchlist, documents = slow_watchlist
    outcomes = run_two(tosmon_process, "--watchlist", watchlist, "--wait", "30", "--json")
    assert sorted(code for code, _, _ in outcomes) == [
        0,
        1,
    ]  # one recorded them all new, one found them unchanged
    store = Store(watchlist.parent / "snapshots")
    assert [len(store.versions(d)) for d in documents] == [1, 1, 1]
    assert store.verify().damage == ()


def test_run_told_not_to_wait_exits_clearly_while_the_other_completes(
    slow_watchlist: tuple[Path, list[Document]], tosmon_process: Callable[..., subprocess.Popen[str]]
) -> None:
    watchlist, documents = slow_watchlist
    store_root = watchlist.parent / "snapshots"
    outcomes = sorted(run_two(tosmon_process, "--watchlist", watchlist, "--wait", "0"))
    (done, _, _), (locked, stdout, stderr) = outcomes
    assert done == 1
    assert locked == 7
    assert stdout == ""
    assert (
        stderr == f"Error: {store_root}: another tosmon run is using this store; gave up after waiting 0 s\n"
    )
    store = Store(store_root)
    assert [len(store.versions(d)) for d in documents] == [1, 1, 1]
    assert store.verify().damage == ()
