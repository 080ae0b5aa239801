"""`tosmon demo`: two nights a day apart, offline, and a kept store that goes on working."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tosmon.errors import ExitCode


def test_demo_flags_the_ai_training_clause_offline(tosmon) -> None:
    outcome = tosmon("demo")
    assert outcome.code == 0
    assert "new AI training clause" in outcome.stdout
    assert "train, develop and improve artificial intelligence" in " ".join(outcome.stdout.split())


def test_demo_nights_are_a_day_apart(tosmon, tmp_path) -> None:
    assert tosmon("demo", "--keep", tmp_path / "demo").code == 0
    history = tosmon("history", "--watchlist", tmp_path / "demo" / "watchlist.yaml", "--json")
    dates = [datetime.fromisoformat(v["date"]) for v in json.loads(history.stdout)["versions"]]
    assert len(dates) == 2
    assert dates[1] - dates[0] == timedelta(days=1)


def test_demo_ends_by_suggesting_history_diff_and_site(tosmon, tmp_path) -> None:
    kept = tosmon("demo", "--keep", tmp_path / "demo").stdout.splitlines()
    closing = kept[kept.index(f"Kept in {tmp_path / 'demo'}. Explore it there:") :]
    commands = [line.split("#")[0].strip() for line in closing[1:]]
    assert commands == [
        f"cd {tmp_path / 'demo'}",
        "tosmon history",
        "tosmon diff 'Tunehaven/Terms of Use'",
        "tosmon site site",
    ]
    for command in ("tosmon history", "tosmon diff 'Tunehaven/Terms of Use'", "tosmon site site"):
        assert command in " ".join(tosmon("demo").stdout.split())


def test_kept_demo_store_answers_the_suggested_commands(tosmon, tmp_path) -> None:
    folder = tmp_path / "demo"
    tosmon("demo", "--keep", folder)
    watchlist = folder / "watchlist.yaml"
    diff = tosmon("diff", "Tunehaven/Terms of Use", "--watchlist", watchlist)
    assert diff.code == ExitCode.CHANGED
    assert "new AI training clause" in diff.stdout


@contextmanager
def serve(directory: Path, port: int) -> Iterator[None]:
    handler = partial(SimpleHTTPRequestHandler, directory=str(directory))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()


def test_kept_demo_is_checked_again_when_its_pages_are_served_as_the_watchlist_says(tosmon, tmp_path) -> None:
    folder = tmp_path / "demo"
    tosmon("demo", "--keep", folder)
    watchlist = (folder / "watchlist.yaml").read_text(encoding="utf-8")
    command = re.search(r"#\s+(python3 -m http.server (\d+) --bind 127.0.0.1 --directory pages)\n", watchlist)
    assert command, watchlist
    assert f"url: http://127.0.0.1:{command[2]}/legal/terms.html" in watchlist

    with serve(folder / "pages", int(command[2])):
        outcome = tosmon("check", "--watchlist", folder / "watchlist.yaml")
    assert outcome.code == ExitCode.OK, outcome.stdout + outcome.stderr
    assert "1 document: 1 unchanged; nothing flagged" in outcome.stdout


def test_demo_refuses_to_replay_into_a_kept_store(tosmon, tmp_path) -> None:
    tosmon("demo", "--keep", tmp_path / "demo")
    again = tosmon("demo", "--keep", tmp_path / "demo")
    assert again.code == ExitCode.USAGE
    assert (
        again.stderr == f"Error: {tmp_path / 'demo'} already holds a demo store; give --keep a new folder\n"
    )
