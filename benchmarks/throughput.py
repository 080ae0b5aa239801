"""Throughput of a nightly `tosmon check` over thousands of documents, beside urlwatch and a plain loop.

A benchmark, not a test: it prints numbers and asserts nothing. A local server on 127.0.0.2-51 (one
port, one listening socket per loopback address, nothing beyond this machine) serves N real legal pages
from ../shared/corpus/replay/, each response delayed by --delay seconds, with an ETag and a
Last-Modified date. Each tool runs as a user would run it, in its own process, twice on the same
store: cold (everything new), then warm (nothing changed). Wall time, CPU time (user + system, whole
process including interpreter start-up, divided by N) and peak memory (max RSS) come from wait4().

    python benchmarks/throughput.py                 # N = 1,000 over 50 hosts, 200 ms per response
    python benchmarks/throughput.py --n 10000 --only tosmon
    python benchmarks/throughput.py --only tosmon urlwatch --repeat 3   # medians of runs taking turns

urlwatch runs with its CSS filter and html2text and its shipped 10 worker threads when it is
installed (`pip install urlwatch html2text`; not a tosmon dependency); otherwise it is skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import functools
import hashlib
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from benchmarks.corpus import shared  # noqa: E402

CORPUS = shared("corpus", "replay")
LAST_MODIFIED = formatdate(1_764_000_000, usegmt=True)

# The "plain sequential loop": what one would write in ten minutes without a monitor.
SEQUENTIAL = """
import hashlib, json, sys, urllib.request
from pathlib import Path
import lxml.html
jobs, out = json.loads(Path(sys.argv[1]).read_text()), Path(sys.argv[2])
out.mkdir(exist_ok=True)
for i, (url, select) in enumerate(jobs):
    with urllib.request.urlopen(url, timeout=30) as response:
        root = lxml.html.fromstring(response.read())
    text = "\\n".join(el.text_content() for el in root.cssselect(select))
    path = out / f"{i}.txt"
    if not path.exists() or hashlib.sha256(path.read_bytes()).digest() != hashlib.sha256(text.encode()).digest():
        path.write_text(text)
"""


@dataclass(frozen=True)
class Page:
    body: bytes
    select: tuple[str, ...]
    remove: tuple[str, ...]


@dataclass(frozen=True)
class Measure:
    wall: float
    cpu: float
    system: float  # the part of `cpu` spent in the kernel (files, sockets, page faults)
    peak_mb: float
    code: int


def corpus_pages() -> list[Page]:
    pages = []
    for declaration_path in sorted(CORPUS.glob("*/declaration.json")):
        declaration = json.loads(declaration_path.read_text(encoding="utf-8"))
        select = tuple(s for s in declaration["select"] if isinstance(s, str))
        remove = tuple(s for s in declaration["remove"] if isinstance(s, str))
        for snapshot in sorted((declaration_path.parent / "snapshots").glob("*.html")):
            pages.append(Page(snapshot.read_bytes(), select, remove))
    return pages


class Server:
    """Serves /doc/<i> (page i modulo the corpus) on every host, after a delay; 304 when the ETag matches."""

    def __init__(self, pages: list[Page], hosts: list[str], delay: float) -> None:
        self.pages, self.hosts, self.delay = pages, hosts, delay
        self.requests = self.not_modified = 0
        with socket.create_server((hosts[0], 0)) as probe:
            self.port = probe.getsockname()[1]
        self.etags = [f'"{hashlib.sha256(p.body).hexdigest()[:16]}"' for p in pages]
        self.loop = asyncio.new_event_loop()
        started = threading.Event()
        threading.Thread(target=self._run, args=(started,), daemon=True).start()
        started.wait()

    def url(self, i: int) -> str:
        return f"http://{self.hosts[i % len(self.hosts)]}:{self.port}/doc/{i}"

    def _run(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(
            asyncio.start_server(self._serve, host=self.hosts, port=self.port, backlog=1024)
        )
        started.set()
        self.loop.run_until_complete(server.serve_forever())

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                headers = {
                    k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:] if x)
                }
                index = int(lines[0].split()[1].rsplit("/", 1)[-1]) % len(self.pages)
                self.requests += 1
                await asyncio.sleep(self.delay)
                etag = self.etags[index]
                common = f"ETag: {etag}\r\nLast-Modified: {LAST_MODIFIED}\r\n"
                if headers.get("if-none-match") == etag:
                    self.not_modified += 1
                    writer.write(f"HTTP/1.1 304 Not Modified\r\n{common}\r\n".encode())
                else:
                    body = self.pages[index].body
                    writer.write(
                        (
                            "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
                            f"Content-Length: {len(body)}\r\n{common}\r\n"
                        ).encode()
                        + body
                    )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def measure(command: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> Measure:
    """Run a command to completion and read its wall time, CPU time and peak memory from wait4()."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    assert process.stderr is not None
    errors = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1, 2):
        print(f"  ! {command[:3]} exited {code}: {errors[-500:]}", file=sys.stderr)
    return Measure(wall, usage.ru_utime + usage.ru_stime, usage.ru_stime, usage.ru_maxrss / 1024, code)


def run_tosmon(
    folder: Path, server: Server, pages: list[Page], n: int, profile: Path | None = None
) -> dict[str, Measure]:
    lines = ["services:"]
    for i in range(n):
        page = pages[i % len(pages)]
        lines += [f"  Service {i}:", "    Terms:", f"      url: {server.url(i)}"]
        lines.append(f"      select: {json.dumps(list(page.select))}")
        if page.remove:
            lines.append(f"      remove: {json.dumps(list(page.remove))}")
    (folder / "watchlist.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    # Byte-compiled as pip would install it (PYTHONDONTWRITEBYTECODE may be set, as on this machine):
    # otherwise every run would compile tosmon's sources again, and urlwatch's come compiled.
    compileall.compile_dir(REPO / "tosmon", quiet=1)
    env = {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1"}
    command = ["-m", "tosmon", "check", "--json", "--watchlist", str(folder / "watchlist.yaml")]

    def run(name: str) -> Measure:
        if profile is None:
            return measure([sys.executable, *command], env)
        profile.mkdir(parents=True, exist_ok=True)  # --profile: one cProfile statistics file per run
        return measure([sys.executable, "-m", "cProfile", "-o", str(profile / f"{name}.prof"), *command], env)

    return {name: run(name) for name in ("cold", "warm")}


def run_urlwatch(folder: Path, server: Server, pages: list[Page], n: int) -> dict[str, Measure] | None:
    urlwatch = shutil.which("urlwatch") or str(Path(sys.executable).with_name("urlwatch"))
    if not Path(urlwatch).exists():
        print(
            "urlwatch is not installed (pip install urlwatch html2text): comparison skipped", file=sys.stderr
        )
        return None
    jobs = []
    for i in range(n):
        page = pages[i % len(pages)]
        css: dict[str, str] = {"selector": ", ".join(page.select)}
        if page.remove:
            css["exclude"] = ", ".join(page.remove)
        jobs.append(
            json.dumps({"name": f"Service {i}", "url": server.url(i), "filter": [{"css": css}, "html2text"]})
        )
    (folder / "urls.yaml").write_text("\n---\n".join(jobs) + "\n", encoding="utf-8")
    command = [urlwatch, "--urls", "urls.yaml", "--config", "config.yaml", "--cache", "cache.db"]
    return {run: measure(command, cwd=folder) for run in ("cold", "warm")}


def run_sequential(folder: Path, server: Server, pages: list[Page], n: int) -> dict[str, Measure]:
    jobs = [[server.url(i), ", ".join(pages[i % len(pages)].select)] for i in range(n)]
    (folder / "jobs.json").write_text(json.dumps(jobs), encoding="utf-8")
    command = [sys.executable, "-c", SEQUENTIAL, str(folder / "jobs.json"), str(folder / "texts")]
    return {run: measure(command) for run in ("cold", "warm")}


def worst_case_diffs() -> list[tuple[str, float, int]]:
    """Two unrelated 500 KB texts (a page replaced by another), and one 500 KB text with its
    paragraphs shuffled (a reorganised page): CPU seconds and changes of diff_versions for each."""
    sys.path.insert(0, str(REPO))
    from tosmon.diff import diff_versions

    folders = sorted(CORPUS.glob("*/expected"))
    texts = ["", ""]
    for i, folder in enumerate(folders):
        texts[i % 2] += "\n".join(p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.md"))[:3])
    old, new = (t.encode()[:500_000].decode("utf-8", "ignore") for t in texts)
    paragraphs = old.split("\n\n")
    random.Random(1).shuffle(paragraphs)
    measured = []
    for case, before, after in (
        ("two unrelated 500 KB texts", old, new),
        ("a 500 KB text, paragraphs shuffled", old, "\n\n".join(paragraphs)),
    ):
        cpu = time.process_time()
        changes = diff_versions(before, after)
        measured.append((case, time.process_time() - cpu, len(changes)))
    return measured


def median(measures: list[Measure]) -> Measure:
    """Each figure's median over the runs (the exit code of the first)."""
    return Measure(
        statistics.median(m.wall for m in measures),
        statistics.median(m.cpu for m in measures),
        statistics.median(m.system for m in measures),
        statistics.median(m.peak_mb for m in measures),
        measures[0].code,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="documents [1000]")
    parser.add_argument("--hosts", type=int, default=50, help="host names, 127.0.0.2 upwards [50]")
    parser.add_argument("--delay", type=float, default=0.2, help="seconds before each response [0.2]")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=["tosmon", "urlwatch", "sequential"],
        default=["tosmon", "urlwatch", "sequential"],
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs of each tool, taking turns; medians [1]")
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="run tosmon under cProfile and write cold.prof and warm.prof to DIR (the times then include its cost)",
    )
    options = parser.parse_args()
    if not CORPUS.is_dir():
        sys.exit(f"the corpus is not at {CORPUS}")
    pages = corpus_pages()
    hosts = [f"127.0.0.{2 + i}" for i in range(options.hosts)]
    server = Server(pages, hosts, options.delay)
    n = options.n
    print(
        f"{n} documents ({len(pages)} distinct corpus pages, median {statistics.median(len(p.body) for p in pages) / 1000:.0f} KB)"
        f" over {len(hosts)} hosts, {options.delay * 1000:.0f} ms per response; CPU = user + system of the whole process"
    )
    measured: dict[str, dict[str, list[Measure]]] = {}
    runners = {
        "tosmon": functools.partial(run_tosmon, profile=options.profile),
        "urlwatch": run_urlwatch,
        "sequential": run_sequential,
    }
    # The tools take turns, and every store is kept until the end: this machine's speed drifts and
    # deleting a store slows the disk for a while, which would fall on whichever tool runs next.
    with tempfile.TemporaryDirectory(prefix="bench-") as scratch:
        for repeat in range(options.repeat):
            for name in options.only:
                folder = Path(scratch) / f"{name}-{repeat}"
                folder.mkdir()
                requests_before = server.requests
                print(f"running {name} ({repeat + 1}/{options.repeat})...", file=sys.stderr, flush=True)
                runs = runners[name](folder, server, pages, n)
                if runs is not None:
                    for run, m in runs.items():
                        measured.setdefault(name, {}).setdefault(run, []).append(m)
                    print(f"  {name}: {server.requests - requests_before} requests", file=sys.stderr)
    results = {name: {run: median(ms) for run, ms in runs.items()} for name, runs in measured.items()}
    times = f", median of {options.repeat} runs each" if options.repeat > 1 else ""
    print(
        f"\n{'tool':<12}{'run':<6}{'wall s':>9}{'CPU ms/doc':>12}{'of it sys':>10}{'peak MB':>9}{'exit':>6}{times}"
    )
    for name, runs in results.items():
        for run, m in runs.items():
            spread = ""
            if options.repeat > 1:
                cpus = sorted(x.cpu / n * 1000 for x in measured[name][run])
                spread = f"   CPU runs: {', '.join(f'{c:.2f}' for c in cpus)}"
            print(
                f"{name:<12}{run:<6}{m.wall:>9.2f}{m.cpu / n * 1000:>12.2f}{m.system / n * 1000:>10.2f}"
                f"{m.peak_mb:>9.0f}{m.code:>6}{spread}"
            )
    if "tosmon" in results:
        ours = results["tosmon"]
        for name in [k for k in results if k != "tosmon"]:
            for run in ("cold", "warm"):
                theirs, mine = results[name][run], ours[run]
                print(
                    f"{name}/tosmon {run}: wall {theirs.wall / mine.wall:.1f}x, CPU {theirs.cpu / mine.cpu:.1f}x, "
                    f"memory {theirs.peak_mb / mine.peak_mb:.1f}x"
                )
    for case, cpu, changes in worst_case_diffs():
        print(f"worst-case diff, {case}: {cpu:.2f} s CPU, {changes} changes")


if __name__ == "__main__":
    main()
