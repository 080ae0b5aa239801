"""A `tosmon check` killed at any moment (SIGKILL: no cleanup, no finally) never leaves a corrupt store,
never loses a recorded version, and the next run completes normally."""

from __future__ import annotations

import collections
import os
import random
import re
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tosmon.models import Document
from tosmon.store.files import Store

DOCUMENTS = 40
KILLS = 20
FILLER = "<p>These terms govern your use of the service and of everything you upload to it.</p>" * 150


def serve_changing_pages(httpserver: HTTPServer) -> None:
    """Every request gets a new text, so that every run records a new version of every document."""
    served: collections.Counter[str] = collections.Counter()

    def page(request: Request) -> Response:
        served[request.path] += 1
        clause = f"This is revision {served[request.path]} of the terms at {request.path}."
        return Response(
            f"<html><body><main><h1>Terms</h1><p>{clause}</p>{FILLER}</main></body></html>",
            content_type="text/html; charset=utf-8",
        )

    httpserver.expect_request(re.compile(r"/doc/\d+")).respond_with_handler(page)


def recorded(store: Store, documents: list[Document]) -> dict[str, str]:
    """Every version in the store, by document and name, with its text's hash."""
    return {f"{d.id}/{v.name}": str(v.meta["sha256"]) for d in documents for v in store.versions(d)}


def test_check_killed_at_random_moments_never_corrupts_the_store(
    httpserver: HTTPServer, tmp_path: Path, tosmon_process: Callable[..., subprocess.Popen[str]]
) -> None:
    serve_changing_pages(httpserver)
    lines = ["services:"]
    documents = []
    for i in range(DOCUMENTS):
        url = httpserver.url_for(f"/doc/{i}")
        lines += [f"  Service {i}:", "    Terms of Service:", f"      url: {url}"]
        documents.append(Document(f"Service {i}", "Terms of Service", url))
    watchlist = tmp_path / "watchlist.yaml"
    watchlist.write_text("\n".join(lines) + "\n", encoding="utf-8")
    store = Store(tmp_path / "snapshots")

    started = time.monotonic()
    first = tosmon_process("check", "--watchlist", watchlist)
    first.communicate()
    duration = time.monotonic() - started
    assert first.returncode in (1, 2)

    chance = random.Random(6)
    landed = collections.Counter()
    before = recorded(store, documents)
    for _ in range(KILLS):
        process = tosmon_process("check", "--watchlist", watchlist, "--wait", "30")
        time.sleep(chance.uniform(0.3 * duration, duration))  # the first 0.3: Python starting
        os.kill(process.pid, signal.SIGKILL)
        process.communicate()
        verification = store.verify()
        assert verification.damage == (), "\n".join(map(str, verification.damage))
        after = recorded(store, documents)
        assert after.items() >= before.items()  # nothing recorded before was lost or altered
        new = len(after) - len(before)
        landed[
            "before any write" if new == 0 else "after every write" if new == DOCUMENTS else "mid-run"
        ] += 1
        before = after

    final = tosmon_process("check", "--watchlist", watchlist)
    final.communicate()
    assert final.returncode in (1, 2), final.stderr
    after = recorded(store, documents)
    assert len(after) == len(before) + DOCUMENTS  # every document got its next version
    assert store.verify().damage == ()
    print(f"SIGKILL landed: {dict(landed)} (a full run takes {duration:.2f} s)")
