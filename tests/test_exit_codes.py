"""Exit codes never lie: a crash is not "changed", a closed pipe is not a result, a full disk is one line."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from test_history import two_versions

from tosmon.errors import ExitCode

REPO = Path(__file__).resolve().parent.parent

# A command that fails the way a bug would, registered on tosmon's command group exactly as a plugin
# registers a command: the error path is tosmon's own, only the bug is made up.
BUGGY_COMMAND = """
import sys
from tosmon.cli import main

@main.command("crash")
def crash():
    {}.get("document")["url"]

sys.argv[0] = "tosmon"
main()
"""


def run(*args: str | os.PathLike[str], env: dict[str, str] | None = None, **kwargs: object):
    environment = {k: v for k, v in os.environ.items() if k != "TOSMON_DEBUG"}
    environment |= {"PYTHONPATH": str(REPO), "NO_COLOR": "1", **(env or {})}
    return subprocess.run(  # type: ignore[call-overload]
        [sys.executable, *map(str, args)], env=environment, text=True, **kwargs
    )


def test_unexpected_error_prints_one_line_and_exits_internal(tmp_path) -> None:
    done = run("-c", BUGGY_COMMAND, "crash", capture_output=True, cwd=tmp_path)
    assert done.returncode == ExitCode.INTERNAL == 70
    assert done.stdout == ""
    assert done.stderr == (
        "internal error: TypeError: 'NoneType' object is not subscriptable; please report it"
        " (TOSMON_DEBUG=1 or tosmon --debug shows the traceback)\n"
    )


@pytest.mark.parametrize(
    ("args", "env"),
    [(("--debug", "crash"), {}), (("crash", "--debug"), {}), (("crash",), {"TOSMON_DEBUG": "1"})],
    ids=["option", "option after the command", "env"],
)
def test_debug_adds_the_traceback_to_an_internal_error(tmp_path, args, env) -> None:
    done = run("-c", BUGGY_COMMAND, *args, env=env, capture_output=True, cwd=tmp_path)
    assert done.returncode == ExitCode.INTERNAL
    assert done.stderr.startswith("Traceback (most recent call last):\n")
    assert ", in crash\n" in done.stderr  # the frame of the bug
    assert done.stderr.endswith(
        "internal error: TypeError: 'NoneType' object is not subscriptable; please report it\n"
    )


def test_closed_output_pipe_ends_quietly_without_claiming_a_result(tmp_path) -> None:
    root = two_versions(tmp_path)
    reader, writer = os.pipe()
    os.close(reader)  # the reader is gone before tosmon writes a byte, as `| head -1` is after its line
    try:
        done = run("-m", "tosmon", "history", "--snapshots", root, stdout=writer, stderr=subprocess.PIPE)
    finally:
        os.close(writer)
    assert done.stderr == ""
    assert done.returncode == ExitCode.PIPE_CLOSED == 141


def test_closed_output_pipe_of_a_json_command_ends_quietly(tmp_path) -> None:
    root = two_versions(tmp_path)
    reader, writer = os.pipe()
    os.close(reader)
    try:
        done = run("-m", "tosmon", "export", "--snapshots", root, stdout=writer, stderr=subprocess.PIPE)
    finally:
        os.close(writer)
    assert (done.returncode, done.stderr) == (ExitCode.PIPE_CLOSED, "")


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_full_disk_on_stdout_is_one_line(tmp_path) -> None:
    root = two_versions(tmp_path)
    with open("/dev/full", "w") as full:
        done = run(
            "-m",
            "tosmon",
            "export",
            "--format",
            "csv",
            "--snapshots",
            root,
            stdout=full,
            stderr=subprocess.PIPE,
        )
    assert done.stderr == "Error: cannot write the output: No space left on device\n"
    assert done.returncode == ExitCode.OUTPUT == 9


def test_wrong_arguments_exit_with_the_usage_code(tmp_path) -> None:
    done = run("-m", "tosmon", "history", "--no-such-option", capture_output=True, cwd=tmp_path)
    assert done.returncode == ExitCode.USAGE
    assert done.stderr.splitlines()[-1] == "Error: No such option '--no-such-option'."


def test_ctrl_c_says_interrupted_and_exits_130(watchlist_file, tosmon_process) -> None:
    accepted = threading.Event()
    with socket.socket() as server:  # a server that takes the connection and never answers
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        held: list[socket.socket] = []

        def hold() -> None:
            held.append(server.accept()[0])
            accepted.set()

        threading.Thread(target=hold, daemon=True).start()
        watchlist = watchlist_file(f"services:\n  S:\n    Terms:\n      url: http://127.0.0.1:{port}/terms\n")
        process = tosmon_process("check", "--watchlist", watchlist)
        try:
            assert accepted.wait(60), "tosmon never connected"
            process.send_signal(signal.SIGINT)
            _, stderr = process.communicate(timeout=60)
        finally:
            process.kill()
            for connection in held:
                connection.close()
    assert process.returncode == ExitCode.INTERRUPTED == 130
    assert stderr.splitlines()[-1] == "Interrupted."
