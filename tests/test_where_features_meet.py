"""Where features meet: what a new user ran into with names, the watchlist editor and the commands."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tosmon.errors import ExitCode
from tosmon.store.files import Store


def test_a_service_name_with_a_slash_is_refused_as_it_would_make_two_documents_one_name(
    tosmon, watchlist_file
) -> None:
    watchlist = watchlist_file(
        "services:\n"
        '  "A/B":\n'
        "    C: {url: https://a.example/c}\n"
        "  A:\n"
        '    "B/C": {url: https://a.example/b-c}\n'
    )

    outcome = tosmon("check", "--watchlist", watchlist)

    assert outcome.code == ExitCode.CONFIG
    assert outcome.stderr == (
        f"{watchlist}:2:3: services.\"A/B\": a service name cannot contain '/', which separates it from "
        "the document type in 'Service/Document type': write it with another character, such as '-'\n"
    )


def test_add_refuses_a_service_name_with_a_slash_and_writes_nothing(tosmon, tmp_path: Path) -> None:
    watchlist = tmp_path / "watchlist.yaml"

    outcome = tosmon(
        "add", "https://a.example/terms", "--service", "A/B", "--document", "C", "--watchlist", watchlist
    )

    assert outcome.code == ExitCode.CONFIG
    assert "a service name cannot contain '/'" in outcome.stderr and "nothing was written" in outcome.stderr
    assert not watchlist.exists()


def test_diff_of_a_document_watched_as_variants_names_them_without_talking_of_files(
    tosmon, watchlist_file
) -> None:
    watchlist = watchlist_file(
        "services:\n"
        "  Acme:\n"
        "    Terms:\n"
        "      url: https://acme.example/terms\n"
        "      variants: {US: {accept_language: en-US}, GB: {accept_language: en-GB}}\n"
    )
    Store(watchlist.parent / "snapshots").open()

    variants = tosmon("diff", "Acme/Terms", "--watchlist", watchlist)
    misspelt = tosmon("diff", "Acme/Term", "--watchlist", watchlist)
    a_file = tosmon("diff", "nothing.html", "--watchlist", watchlist)

    assert (variants.code, variants.stderr) == (
        ExitCode.USAGE,
        "Error: 'Acme/Terms' is watched as variants: name one of 'Acme/Terms@GB', 'Acme/Terms@US'\n",
    )
    assert "did you mean 'Acme/Terms@" in misspelt.stderr  # and maybe a mistyped file: both are said
    assert a_file.stderr.endswith("; and there is no file 'nothing.html'\n")


def test_a_run_where_combined_documents_fail_like_the_others_says_so_in_one_line(
    tosmon, watchlist_file
) -> None:
    with socket.socket() as probe:  # a port nothing listens on: every connection is refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    watchlist = watchlist_file(
        "fetch: {retries: 0}\n"
        "services:\n"
        "  A:\n"
        f"    Terms: {{url: http://127.0.0.1:{port}/terms}}\n"
        "    Privacy:\n"
        f"      combine: [{{url: 'http://127.0.0.1:{port}/privacy'}}, {{url: 'http://127.0.0.1:{port}/cookies'}}]\n"
    )

    outcome = tosmon("check", "--watchlist", watchlist)

    assert outcome.code == ExitCode.DOCUMENT_FAILED
    assert f"http://127.0.0.1:{port}/privacy: cannot connect: connection refused" in outcome.stdout
    assert "every document failed: connection refused (a proxy or firewall?)" in outcome.stdout


def test_offline_the_browser_and_plain_http_failing_differently_still_say_no_network(
    watchlist_file, chromium: str
) -> None:
    if (
        not shutil.which("unshare")
        or subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode
    ):
        pytest.skip("cannot make an empty network namespace here (unshare -n needs root)")
    watchlist = watchlist_file(
        "fetch: {retries: 0, timeout: 20}\n"
        "services:\n"
        "  A:\n"
        "    Terms: {url: 'https://a.tosmon-test.example/terms'}\n"
        "    Rendered: {url: 'https://b.tosmon-test.example/terms', fetcher: browser}\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "TOSMON_DEBUG")}
    repo = Path(__file__).resolve().parent.parent
    # In an empty network namespace nothing leaves the machine, as on a machine without a network.
    done = subprocess.run(
        ["unshare", "-n", sys.executable, "-m", "tosmon", "check", "--watchlist", watchlist],
        env=env | {"PYTHONPATH": str(repo), "NO_COLOR": "1"},
        capture_output=True,
        text=True,
    )

    assert done.returncode == ExitCode.DOCUMENT_FAILED, done.stderr
    assert done.stdout.splitlines()[-2:] == [
        "no network? every document failed: cannot resolve host names or reach the network",
        "2 documents: 2 failed; nothing flagged",
    ]


def test_an_output_that_is_a_pipe_or_a_link_is_written_into_not_replaced(
    tosmon, watchlist_file, tmp_path
) -> None:
    watchlist = watchlist_file("services:\n  Acme:\n    Terms: {url: 'https://acme.example/terms'}\n")
    Store(watchlist.parent / "snapshots").open()
    fifo = tmp_path / "feed.pipe"
    os.mkfifo(fifo)
    read: list[bytes] = []
    reader = threading.Thread(target=lambda: read.append(fifo.read_bytes()), daemon=True)
    reader.start()
    link = tmp_path / "latest.xml"
    link.symlink_to(tmp_path / "archive.xml")

    piped = tosmon("feed", "-o", fifo, "--watchlist", watchlist)
    reader.join(timeout=30)
    linked = tosmon("feed", "-o", link, "--watchlist", watchlist)

    assert (piped.code, linked.code) == (ExitCode.OK, ExitCode.OK)
    assert stat.S_ISFIFO(
        fifo.lstat().st_mode
    )  # not replaced by a file (as /dev/stdout or /dev/full would be)
    assert read and read[0].startswith(b"<?xml")
    assert link.is_symlink() and (tmp_path / "archive.xml").read_bytes().startswith(b"<?xml")
