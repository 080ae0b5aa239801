"""Shared fixtures: the CLI run in-process, watchlists written to a temporary folder, the shared corpus,
the system's Chromium."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme
from click.testing import CliRunner
from hypothesis import settings

from tosmon.cli import main
from tosmon.fetch.browser import find_chromium

# CI explores the same examples on every run (a counterexample found while developing becomes a fix and a
# test, not a CI run that fails by chance); developers' runs explore new ones.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO.parent / "shared" / "corpus"


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str


@pytest.fixture
def tosmon() -> Callable[..., Outcome]:
    """Run a tosmon command in-process, as a user would type it, and return its exit code and output."""

    def run(*args: str | os.PathLike[str]) -> Outcome:
        # TOSMON_DEBUG: a bug met by a test prints its traceback, not only tosmon's one-line report of it
        result = CliRunner().invoke(
            main, [str(a) for a in args], catch_exceptions=False, env={"TOSMON_DEBUG": "1"}
        )
        return Outcome(result.exit_code, result.stdout, result.stderr)

    return run


@pytest.fixture
def tosmon_process() -> Callable[..., subprocess.Popen[str]]:
    """Start `python -m tosmon ...` as a real process (for signals, locks and schedules)."""

    def start(*args: str | os.PathLike[str], **kwargs: object) -> subprocess.Popen[str]:
        env = {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1", **kwargs.pop("env", {})}  # type: ignore[dict-item]
        return subprocess.Popen(  # type: ignore[call-overload]
            [sys.executable, "-m", "tosmon", *map(str, args)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            **kwargs,
        )

    return start


@pytest.fixture
def watchlist_file(tmp_path: Path) -> Callable[[str], Path]:
    """Write a watchlist into a fresh folder; its store is `snapshots/` beside it."""

    def write(text: str) -> Path:
        path = tmp_path / "watchlist.yaml"
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def corpus() -> Path:
    """The shared Open Terms Archive corpus; tests using it skip cleanly where it is absent."""
    if not CORPUS.is_dir():
        pytest.skip(f"the shared corpus is not at {CORPUS}")
    return CORPUS


@pytest.fixture
def chromium() -> str:
    """The system's Chromium; tests using it skip, saying why, where it or Playwright is missing."""
    pytest.importorskip("playwright", reason="Playwright is not installed: pip install 'tosmon[browser]'")
    path = find_chromium()
    if path is None:
        pytest.skip("no Chromium on this machine: apt-get install chromium")
    return path


@pytest.fixture
def server_tls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ssl.SSLContext:
    """A server certificate for 127.0.0.1 from a CA of the test's own, which clients trust via
    SSL_CERT_FILE (as a user with a company authority would)."""
    authority = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(server_context)
    ca_file = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    return server_context
