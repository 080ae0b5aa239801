"""What `tosmon check` prints: most important first, whole lines in logs, one line to sum it up."""

from __future__ import annotations

import io
import os
import shlex
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from rich.console import Console
from rich.text import Text
from werkzeug import Response

from tosmon.cli.console import CHANGES_PER_DOCUMENT, hang
from tosmon.errors import ExitCode
from tosmon.fetch.http import plain_os_error
from tosmon.models import CheckResult, Document
from tosmon.outputs.report import common_failure

REPO = Path(__file__).resolve().parent.parent
SERVICE = "Ærøskøbing Bibliothèque Numérique — Plateforme de Musique Indépendante"
DOCUMENT = "Conditions Générales d'Utilisation et de Licence des Contenus Téléversés"
CLAUSE = (
    "En téléversant vos morceaux, vous acceptez expressément que vos contenus soient utilisés pour "
    "entraîner, développer et améliorer nos modèles d'intelligence artificielle et d'apprentissage "
    "automatique, ainsi que ceux de nos partenaires commerciaux, dans le monde entier et sans limite."
)
PAGE = """<html lang="fr"><body><main><h1>Conditions</h1>
<p>Vous restez propriétaire de la musique que vous publiez sur la plateforme.</p>
<p>N'envoyez pas de musique que vous n'avez pas le droit de partager avec les autres membres.</p>
{extra}</main></body></html>"""


def check_piped(watchlist: Path) -> subprocess.CompletedProcess[str]:
    """`tosmon check` as cron runs it: stdout is a pipe into a log, not a terminal."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "TOSMON_DEBUG")}
    return subprocess.run(
        [sys.executable, "-m", "tosmon", "check", "--watchlist", watchlist],
        env=env | {"PYTHONPATH": str(REPO), "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        encoding="utf-8",
    )


def two_nights(
    httpserver: HTTPServer, watchlist_file, extra: str
) -> tuple[Path, subprocess.CompletedProcess[str]]:
    page = {"body": PAGE.format(extra="")}
    httpserver.expect_request("/cgu").respond_with_handler(
        lambda _: Response(page["body"], content_type="text/html; charset=utf-8")
    )
    watchlist = watchlist_file(
        f"services:\n  {SERVICE}:\n    {DOCUMENT}:\n      url: {httpserver.url_for('/cgu')}\n"
    )
    first = check_piped(watchlist)
    assert first.returncode == ExitCode.CHANGED, first.stderr
    page["body"] = PAGE.format(extra=extra)
    return watchlist, check_piped(watchlist)


def test_piped_output_never_breaks_long_non_ascii_names_or_clauses(httpserver, watchlist_file) -> None:
    _, second = two_nights(httpserver, watchlist_file, f"<p>{CLAUSE}</p>")
    assert second.returncode == ExitCode.FLAGGED, second.stderr
    lines = second.stdout.splitlines()
    document_id = f"{SERVICE}/{DOCUMENT}"
    naming = [line for line in lines if "Ærøskøbing" in line]
    assert len(naming) >= 3  # the flag, the changes' heading, the table row
    assert all(document_id in line for line in naming)
    assert any(line.strip() == f"» {CLAUSE}" for line in lines)
    assert any(line.strip() == f"+ {CLAUSE}" for line in lines)
    assert not any(line.startswith(("Ter", "Vous")) for line in lines)  # no continuation at the margin


def test_check_prints_flags_then_changes_then_table_then_a_summary(httpserver, watchlist_file) -> None:
    _, second = two_nights(httpserver, watchlist_file, f"<p>{CLAUSE}</p>")
    lines = second.stdout.splitlines()
    flags = lines.index("1 flagged clause")
    changes = next(i for i, line in enumerate(lines) if line.endswith(": 1 clause change"))
    table = lines.index("tosmon check")
    assert flags < changes < table
    assert lines[-1] == "1 document: 1 changed; 1 flagged clause"


def test_first_check_says_how_much_a_new_document_holds(httpserver, watchlist_file) -> None:
    httpserver.expect_request("/cgu").respond_with_data(
        PAGE.format(extra=""), content_type="text/html; charset=utf-8"
    )
    watchlist = watchlist_file(
        f"services:\n  Tunehaven:\n    Terms:\n      url: {httpserver.url_for('/cgu')}\n"
    )
    first = check_piped(watchlist)
    text = next((watchlist.parent / "snapshots").rglob("versions/*.md")).read_text(encoding="utf-8")
    row = next(line for line in first.stdout.splitlines() if "Tunehaven/Terms" in line)
    assert f"first version: {len(text.encode())} bytes, 2 clauses" in row  # the heading is not a clause
    assert first.stdout.splitlines()[-1] == "1 document: 1 new; nothing flagged"


def test_changes_are_capped_per_document_with_the_command_that_shows_them_all(
    httpserver, watchlist_file
) -> None:
    added = "".join(
        f"<p>Article {n}: the platform may close an account after notice number {n}.</p>" for n in range(30)
    )
    watchlist, second = two_nights(httpserver, watchlist_file, added)
    lines = second.stdout.splitlines()
    assert sum(line.startswith("  + Article") for line in lines) == CHANGES_PER_DOCUMENT
    hidden = 30 - CHANGES_PER_DOCUMENT
    assert (
        f"  … and {hidden} more changes: tosmon diff {shlex.quote(f'{SERVICE}/{DOCUMENT}')} "
        f"--watchlist {watchlist}" in lines
    )


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_every_document_failing_the_same_way_is_said_in_one_line(watchlist_file) -> None:
    port = closed_port()
    watchlist = watchlist_file(
        "fetch: {retries: 0}\nservices:\n"
        + "".join(f"  S{n}:\n    Terms:\n      url: http://127.0.0.1:{port}/{n}\n" for n in range(3))
    )
    done = check_piped(watchlist)
    assert done.returncode == ExitCode.DOCUMENT_FAILED
    assert done.stdout.splitlines()[-2:] == [
        "every document failed: connection refused (a proxy or firewall?)",
        "3 documents: 3 failed; nothing flagged",
    ]


def test_dns_failures_everywhere_look_like_no_network() -> None:
    reason = plain_os_error(
        socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution"), "a.example"
    )
    results = [
        CheckResult(Document(f"S{n}", "Terms", f"https://s{n}.example/"), "error", error=reason)
        for n in range(97)
    ]
    assert common_failure(results) == "no network? every document failed: cannot resolve host names"
    assert common_failure(results[:1]) is None  # one document failing says nothing about the network
    mixed = [
        *results,
        CheckResult(Document("S", "T", "https://s.example/"), "error", error="HTTP 404 Not Found"),
    ]
    assert common_failure(mixed) is None
    blocked = [CheckResult(r.document, "error", error="HTTP 403 Forbidden") for r in results]
    assert common_failure(blocked) == "every document failed the same way: HTTP 403 Forbidden"


def test_wrapped_lines_hang_under_their_first_word_on_a_terminal() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=40, no_color=True, soft_wrap=False)
    hang(console, Text("  » "), Text("one two three four five six seven eight nine ten eleven twelve"))
    lines = buffer.getvalue().splitlines()
    assert len(lines) > 1
    assert lines[0].startswith("  » one")
    assert all(line.startswith("    ") and line[4] != " " for line in lines[1:])


def test_a_run_without_any_network_says_so_in_one_line(watchlist_file) -> None:
    if (
        not shutil.which("unshare")
        or subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode
    ):
        pytest.skip("cannot make an empty network namespace here (unshare -n needs root)")
    watchlist = watchlist_file(
        "fetch: {retries: 0}\nservices:\n"
        + "".join(
            f"  S{n}:\n    Terms:\n      url: https://s{n}.tosmon-test.example/terms\n" for n in range(3)
        )
    )
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "TOSMON_DEBUG")}
    # In an empty network namespace nothing leaves the machine: the resolver is unreachable, as offline.
    done = subprocess.run(
        ["unshare", "-n", sys.executable, "-m", "tosmon", "check", "--watchlist", watchlist],
        env=env | {"PYTHONPATH": str(REPO), "NO_COLOR": "1"},
        capture_output=True,
        text=True,
    )
    assert done.returncode == ExitCode.DOCUMENT_FAILED, done.stderr
    assert done.stdout.splitlines()[-2:] == [
        "no network? every document failed: cannot resolve host names",
        "3 documents: 3 failed; nothing flagged",
    ]
    assert "[Errno" not in done.stdout
