"""Replay recorded legal pages through the real `tosmon check` and measure noise and extraction.

For each document of the replay corpus (../shared/corpus/replay by default), every recorded raw
snapshot is served in turn from a local HTTP server on 127.0.0.1 and `tosmon check --json` runs
against it with a real store, as a user's nightly run would. After each step the text tosmon holds
as the current version is compared with the text Open Terms Archive extracted from that snapshot.

Counted per document and overall:
- real changes detected / missed: steps where OTA's text changed (substantive or cosmetic) and
  tosmon reported `changed` / did not;
- artifacts reported / suppressed: the `fetch_artifact` steps (a cookie banner leaking in and out,
  an error page), counted apart as the corpus README asks: suppressing them is arguably better;
- false changes: `changed` reported on a step where OTA's text did not change;
- errors: steps tosmon reported as `error` (health problems count here);
- similarity: word-level similarity of tosmon's current version to OTA's expected text.

Similarity is 2*M/(A+B) over the word sequences of both texts (M words matched by a diff), after
the same normalisation on both sides: NFKC, no zero-width characters; Markdown link syntax
`[text](url)` becomes the words of `text` followed by the URL (in-page `#anchor` targets are
dropped: navigation, not terms); Markdown escapes, bold markers, `<br>` tags and the punctuation
Markdown adds around words (`# * _ > | = - \\` backticks) are stripped; a paragraph repeated verbatim later in the
same text is counted once (OTA repeats nested matches of selectors like `div`). Links tosmon
resolved against the local server are mapped back to the document's real origin.

Run from the repository root:  python benchmarks/replay.py [--mode selectors|default|both] [--only ID]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import threading
import time
import unicodedata
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import yaml
from click.testing import CliRunner
from diff_match_patch import diff_match_patch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.corpus import shared  # noqa: E402
from tosmon.cli import main  # noqa: E402
from tosmon.models import Document  # noqa: E402
from tosmon.store.files import Store  # noqa: E402

CORPUS = shared("corpus", "replay")
LINK = re.compile(r"!?\[([^\]]*)\]\(([^)\s]*)[^)]*\)")
ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|<>~])")
INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)


def words(text: str) -> list[str]:
    """The words compared for similarity; the same normalisation for both texts."""
    text = unicodedata.normalize("NFKC", text).translate(INVISIBLE)
    text = re.sub(r"</?br\s*/?>?", " ", text)
    text = re.sub(r"(?<!\\)(\*\*|__)", "", text)  # bold markers, wherever they sit in a word
    text = ESCAPE.sub(r"\1", text)
    text = LINK.sub(lambda m: f" {m.group(1)} {'' if m.group(2).startswith('#') else m.group(2)} ", text)
    seen: set[str] = set()
    kept = []
    for line in text.splitlines():
        key = " ".join(line.split())
        if len(key.split()) >= 5 and key in seen:
            continue
        seen.add(key)
        kept.append(line)
    return [w for w in (w.strip("#*_>|`=-\\") for w in " ".join(kept).split()) if w]


def similarity(ours: str, expected: str) -> float:
    a, b = words(ours), words(expected)
    if not a and not b:
        return 1.0
    vocabulary: dict[str, str] = {}
    encode = lambda ws: "".join(vocabulary.setdefault(w, chr(0x100 + len(vocabulary))) for w in ws)  # noqa: E731
    left, right = encode(a), encode(b)
    differ = diff_match_patch()
    differ.Diff_Timeout = 10
    matched = sum(len(chunk) for op, chunk in differ.diff_main(left, right, False) if op == 0)
    return 2 * matched / (len(left) + len(right))


class Page:
    """The snapshot the local server is serving now."""

    body = b""


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(Page.body)))
        self.end_headers()
        self.wfile.write(Page.body)

    def log_message(self, *args: object) -> None:
        pass


@dataclass
class Tally:
    detected: int = 0
    missed: int = 0
    artifacts_reported: int = 0
    artifacts_suppressed: int = 0
    false: int = 0
    noise_steps: int = 0
    errors: int = 0
    similarities: list[float] = field(default_factory=list)
    missed_steps: list[str] = field(default_factory=list)
    false_steps: list[str] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        for name in (
            "detected",
            "missed",
            "artifacts_reported",
            "artifacts_suppressed",
            "false",
            "noise_steps",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors += other.errors
        self.similarities += other.similarities


def replay(directory: Path, port: int, use_selectors: bool) -> Tally:
    declaration = json.loads((directory / "declaration.json").read_text(encoding="utf-8"))
    steps = [json.loads(line) for line in (directory / "steps.jsonl").read_text().splitlines() if line]
    real = urlsplit(declaration["url"])
    local_origin = f"http://127.0.0.1:{port}"
    url = local_origin + (real.path or "/") + (f"?{real.query}" if real.query else "")
    settings: dict[str, object] = {"url": url}
    if use_selectors:
        settings["select"] = declaration["select"]
        if declaration.get("remove"):
            settings["remove"] = declaration["remove"]
    tally = Tally()
    with tempfile.TemporaryDirectory(prefix="tosmon-replay-") as folder:
        watchlist = Path(folder) / "watchlist.yaml"
        watchlist.write_text(
            yaml.safe_dump({"services": {"Replay": {directory.name: settings}}}), encoding="utf-8"
        )
        store = Store(Path(folder) / "snapshots")
        document = Document("Replay", directory.name, url)
        for step in steps:
            Page.body = (directory / "snapshots" / f"{step['i']:04d}.html").read_bytes()
            outcome = CliRunner().invoke(main, ["check", "--watchlist", str(watchlist), "--json"])
            try:
                result = json.loads(outcome.stdout)["documents"][0]
            except (ValueError, KeyError, IndexError):
                raise SystemExit(
                    f"{directory.name} step {step['i']}: tosmon check failed: {outcome.output}"
                ) from None
            status = result["status"]
            label = f"{step['i']}:{status}"
            if status == "error":
                tally.errors += 1
            if step["text_changed"]:
                if step["change_kind"] == "fetch_artifact":
                    if status == "changed":
                        tally.artifacts_reported += 1
                    else:
                        tally.artifacts_suppressed += 1
                elif status == "changed":
                    tally.detected += 1
                else:
                    tally.missed += 1
                    tally.missed_steps.append(label)
            elif step["i"] > 0:
                tally.noise_steps += 1
                if status == "changed":
                    tally.false += 1
                    tally.false_steps.append(label)
            latest = store.latest_version(document)
            ours = latest.text.replace(local_origin, f"{real.scheme}://{real.netloc}") if latest else ""
            expected = (directory / "expected" / f"{step['i']:04d}.md").read_text(encoding="utf-8")
            tally.similarities.append(similarity(ours, expected))
    return tally


def row(name: str, tally: Tally) -> str:
    sims = tally.similarities or [0.0]
    return (
        f"{name:40} {tally.detected:>4} {tally.missed:>4} {tally.artifacts_reported:>4}/"
        f"{tally.artifacts_suppressed:<4} {tally.false:>3}/{tally.noise_steps:<4} {tally.errors:>4}"
        f" {min(sims):>6.3f} {sum(sims) / len(sims):>6.3f}"
    )


def run(corpus: Path, use_selectors: bool, only: str) -> Tally:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    title = "with each document's selectors" if use_selectors else "without selectors (default extraction)"
    print(f"\n== tosmon check replay, {title}")
    print(
        f"{'document':40} {'det':>4} {'miss':>4} {'artifacts':>9} {'false':>8} {'err':>4} {'simmin':>6} {'simavg':>6}"
    )
    print(f"{'':40} {'':>4} {'':>4} {'rep/supp':>9} {'/noise':>8}")
    total = Tally()
    started = time.monotonic()
    try:
        for directory in sorted(p for p in corpus.iterdir() if p.is_dir() and only in p.name):
            tally = replay(directory, port, use_selectors)
            total.add(tally)
            notes = " ".join(
                [*(f"missed {s}" for s in tally.missed_steps), *(f"false {s}" for s in tally.false_steps)]
            )
            print(row(directory.name, tally) + (f"  {notes}" if notes else ""))
    finally:
        server.shutdown()
    print(row("OVERALL", total))
    share = 100 * total.false / total.noise_steps if total.noise_steps else 0.0
    print(
        f"real changes {total.detected}/{total.detected + total.missed} detected, {total.missed} missed; "
        f"fetch artifacts {total.artifacts_reported} reported, {total.artifacts_suppressed} suppressed; "
        f"false changes {total.false}/{total.noise_steps} noise-only steps ({share:.1f} %); "
        f"errors {total.errors}; similarity mean {sum(total.similarities) / max(len(total.similarities), 1):.3f} "
        f"min {min(total.similarities or [0]):.3f}; {time.monotonic() - started:.0f} s"
    )
    return total


def main_() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="the replay corpus folder")
    parser.add_argument("--mode", choices=("selectors", "default", "both"), default="both")
    parser.add_argument("--only", default="", help="replay only documents whose id contains this")
    options = parser.parse_args()
    if not options.corpus.is_dir():
        raise SystemExit(f"the replay corpus is not at {options.corpus}")
    for use_selectors in {"selectors": (True,), "default": (False,), "both": (True, False)}[options.mode]:
        run(options.corpus, use_selectors, options.only)


if __name__ == "__main__":
    main_()
