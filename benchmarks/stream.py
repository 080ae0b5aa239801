"""How tosmon's flags fare on the real, unselected stream of changes (../shared/corpus/stream).

The corpus holds the whole version histories of 102 documents (`versions.bundle`, a git bundle in Open
Terms Archive's versions layout) and 1,576 hand-labelled sentences of randomly sampled changes
(`labels.jsonl`); its README.md says how to score them, and this script does exactly that:

1. Clone the bundle to a temporary folder and import it with the real pipeline,
   `tosmon import-ota-versions` (history included), into a temporary store, with an empty watchlist
   (`services: {}`) so the shipped taxonomy alone decides.
2. For each labelled sentence, take the flags recorded on the version dated `committed_at` and match the
   sentence to a flag's clause: both normalised (Markdown links to their text, markup and punctuation
   dropped, lower case), then equal, or one containing the other, or a similarity of 0.9 or more.
3. A `true` or `miss` label matched by a flag is a true positive, unmatched a miss; a `false_alarm` or
   `ok` label matched by a flag is a false alarm. Precision = TP / (TP + FP). Recall weighs each `true`
   label by 1212/300 (only 300 of the 1,212 flags of the audited changes were labelled, every miss was)
   and each `miss` label by 1; overall, and strict (borderline misses left out).

Reference (README, tosmon as of December 2026): precision 0.29 (51/174), recall 0.64 overall, 0.80 strict.
Targets (issue 14): precision >= 0.85, strict recall >= 0.95, overall recall >= 0.85.

Flags on sentences nobody labelled are neither right nor wrong: they are counted apart. Misses and false
alarms are listed (the reason the labeller gave, the flag's rule and terms) unless --quiet.

--fast scores an APPROXIMATION in seconds instead of minutes: each labelled version is diffed and flagged
against the version just before it in the bundle (`diff_versions` + `flag_changes`), without the store,
the health guards or any memory of older versions that the import applies. Use it to iterate on rules;
confirm with the full run.

    python benchmarks/stream.py [--fast] [--quiet] [--corpus DIR] [--json]       (from the repository root)
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from difflib import SequenceMatcher
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.corpus import shared  # noqa: E402
from tosmon.diff import diff_versions  # noqa: E402
from tosmon.flag.rules import flag_changes, load_taxonomy  # noqa: E402
from tosmon.models import Document  # noqa: E402
from tosmon.sources.otaversions import read_repository  # noqa: E402
from tosmon.store.files import Store  # noqa: E402

CORPUS = shared("corpus", "stream")
TRUE_WEIGHT = 1212 / 300  # every miss was labelled, only a random 300 of the 1,212 flags were
SIMILARITY = 0.9
TARGETS = {"precision": 0.85, "recall_strict": 0.95, "recall": 0.85}
REFERENCE = "precision 0.29 (51/174), recall 0.64 overall, 0.80 strict"
CATEGORIES = ("ai", "training", "licensing")

LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
NOT_WORD = re.compile(r"[\W_]+")


def normalise(text: str) -> str:
    """Markdown links to their text, markup and punctuation dropped, lower case, spaces collapsed."""
    text = LINK.sub(r"\1", unicodedata.normalize("NFKC", text))
    return " ".join(NOT_WORD.sub(" ", text.lower()).split())


def matches(sentence: str, clause: str) -> bool:
    """The README's rule: equal, one contains the other, or a similarity of 0.9 (both normalised)."""
    if not sentence or not clause:
        return False
    if sentence == clause or sentence in clause or clause in sentence:
        return True
    shorter, longer = sorted((len(sentence), len(clause)))
    if shorter / longer < SIMILARITY * 0.9:  # a ratio of 0.9 is out of reach: skip the slow comparison
        return False
    similar = SequenceMatcher(None, sentence, clause, autojunk=False)
    return similar.quick_ratio() >= SIMILARITY and similar.ratio() >= SIMILARITY  # quick_ratio bounds ratio


@dataclass
class Label:
    data: dict[str, object]
    sentence: str  # normalised
    flags: list[dict[str, object]] = field(default_factory=list)  # the flags whose clause matches it

    @property
    def label(self) -> str:
        return str(self.data["label"])

    @property
    def positive(self) -> bool:
        return self.label in ("true", "miss")

    @property
    def weight(self) -> float:
        return TRUE_WEIGHT if self.label == "true" else 1.0


@dataclass
class Score:
    labels: list[Label]
    unlabelled: list[tuple[str, dict[str, object]]]  # flags on labelled versions matching no label
    versions_flagged: int  # flags raised in the whole import (all versions), for scale
    flags_total: int
    missing_versions: list[str]  # labelled (document, date) pairs the import recorded no version for
    elapsed: float
    versions: int

    def tally(self, labels: list[Label]) -> dict[str, float]:
        tp = sum(1 for x in labels if x.positive and x.flags)
        fp = sum(1 for x in labels if not x.positive and x.flags)
        hit = sum(x.weight for x in labels if x.positive and x.flags)
        wanted = sum(x.weight for x in labels if x.positive)
        strict = [x for x in labels if x.positive and not (x.label == "miss" and x.data.get("borderline"))]
        strict_hit = sum(x.weight for x in strict if x.flags)
        strict_wanted = sum(x.weight for x in strict)
        return {
            "tp": tp,
            "fp": fp,
            "fn": sum(1 for x in labels if x.positive and not x.flags),
            "precision": tp / (tp + fp) if tp + fp else 1.0,
            "recall": hit / wanted if wanted else 1.0,
            "recall_strict": strict_hit / strict_wanted if strict_wanted else 1.0,
        }


def load_labels(corpus: Path) -> list[Label]:
    rows = [
        json.loads(line)
        for line in (corpus / "labels.jsonl").read_text(encoding="utf-8").splitlines()
        if line
    ]
    return [Label(row, normalise(str(row["sentence"]))) for row in rows]


def _key(path: str, date: datetime | str) -> tuple[str, str]:
    moment = date if isinstance(date, datetime) else datetime.fromisoformat(date)
    return path.removesuffix(".md"), moment.isoformat()


def clone(corpus: Path, into: Path) -> Path:
    target = into / "stream"
    subprocess.run(["git", "clone", "-q", str(corpus / "versions.bundle"), str(target)], check=True)
    return target


def flags_by_import(
    repository: Path, work: Path
) -> tuple[dict[tuple[str, str], list[dict[str, object]]], int]:
    """Import the repository with `tosmon import-ota-versions`; every recorded version's flags, and the
    number of versions recorded."""
    watchlist = work / "watchlist.yaml"
    watchlist.write_text("services: {}\n", encoding="utf-8")
    store_dir = work / "store"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tosmon",
            "import-ota-versions",
            str(repository),
            "--watchlist",
            str(watchlist),
            "--snapshots",
            str(store_dir),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    if not store_dir.is_dir():
        raise SystemExit(f"the import recorded nothing (exit {done.returncode}):\n{done.stderr[-2000:]}")
    if done.stderr.strip():
        print(f"import said ({done.stderr.count(chr(10))} line(s)):\n{done.stderr[-1500:]}", file=sys.stderr)
    store = Store(store_dir)
    found: dict[tuple[str, str], list[dict[str, object]]] = {}
    count = 0
    for document in store.documents():
        for version in store.versions(document):
            count += 1
            found[_key(document.id, version.date)] = list(version.meta.get("flags") or [])  # type: ignore[call-overload]
    return found, count


def flags_by_pairs(
    repository: Path, wanted: set[tuple[str, str]]
) -> tuple[dict[tuple[str, str], list[dict[str, object]]], int]:
    """--fast: each labelled version flagged against the version before it in the repository alone."""
    taxonomy = load_taxonomy()
    previous: dict[str, str] = {}
    found: dict[tuple[str, str], list[dict[str, object]]] = {}
    count = 0
    for record in read_repository(repository):
        document = Document(record.service, record.name, "")
        text = record.text.decode("utf-8", errors="replace")
        key = _key(document.id, record.date)
        if key in wanted and document.id in previous and previous[document.id].split() != text.split():
            count += 1
            before = previous[document.id]
            flags = flag_changes(
                diff_versions(before, text), taxonomy, names=(record.service,), previous=before
            )
            found[key] = [f.to_json() for f in flags]
        if text.split() != previous.get(document.id, "").split():
            previous[document.id] = text
    return found, count


def evaluate(corpus: Path, fast: bool) -> Score:
    labels = load_labels(corpus)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="tosmon-stream-") as temp:
        repository = clone(corpus, Path(temp))
        wanted = {_key(str(x.data["stream_path"]), str(x.data["committed_at"])) for x in labels}
        if fast:
            flags, versions = flags_by_pairs(repository, wanted)
        else:
            flags, versions = flags_by_import(repository, Path(temp))
    elapsed = time.perf_counter() - started
    by_version: dict[tuple[str, str], list[Label]] = defaultdict(list)
    for label in labels:
        by_version[_key(str(label.data["stream_path"]), str(label.data["committed_at"]))].append(label)
    unlabelled = []
    missing = []
    for key, group in sorted(by_version.items()):
        if key not in flags:
            missing.append(f"{key[0]} at {key[1]}")
            continue
        for flag in flags[key]:
            clause = normalise(str(flag.get("clause", "")))
            hit = [x for x in group if matches(x.sentence, clause)]
            for label in hit:
                label.flags.append(flag)
            if not hit:
                unlabelled.append((key[0], flag))
    return Score(
        labels,
        unlabelled,
        sum(1 for f in flags.values() if f),
        sum(len(f) for f in flags.values()),
        missing,
        elapsed,
        versions,
    )


# -- rendering ---------------------------------------------------------------------------------


def _short(text: object, width: int = 160) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _row(name: str, t: dict[str, float]) -> str:
    return (
        f"{name:<22} {t['tp']:>4} {t['fp']:>4} {t['fn']:>4} {t['precision']:>9.2f} {t['recall']:>7.2f}"
        f" {t['recall_strict']:>7.2f}"
    )


def render(score: Score, fast: bool, quiet: bool) -> str:
    overall = score.tally(score.labels)
    mode = (
        "FAST APPROXIMATION: each labelled version against its predecessor only (no store, no health guards,"
        " no history); confirm with the full run"
        if fast
        else "full import with `tosmon import-ota-versions` (history included)"
    )
    lines = [
        f"stream: {mode}",
        f"{len(score.labels)} labelled sentences; {score.versions} versions {'flagged' if fast else 'recorded'} "
        f"in {score.elapsed:.0f} s; {score.flags_total} flags on {score.versions_flagged} versions",
        "",
        f"{'':<22} {'TP':>4} {'FP':>4} {'miss':>4} {'precision':>9} {'recall':>7} {'strict':>7}",
        _row("overall", overall),
    ]
    for category in CATEGORIES:  # recall by the label's category; precision by the flags' categories
        positives = [x for x in score.labels if x.positive and x.data.get("category") == category]
        negatives = [
            x for x in score.labels if not x.positive and any(f.get("category") == category for f in x.flags)
        ]
        tally = score.tally(positives + negatives)
        tally["tp"] = sum(1 for x in positives if any(f.get("category") == category for f in x.flags))
        tally["fp"] = len(negatives)
        tp, fp = tally["tp"], tally["fp"]
        tally["precision"] = tp / (tp + fp) if tp + fp else 1.0
        lines.append(_row(f"  {category}", tally))
    labelled_flags = sum(len(x.flags) for x in score.labels)
    lines += [
        "",
        "  (per category: TP = its labels hit by a flag of the same category, FP = negative labels hit by a flag"
        " of that category; recall columns count a hit by a flag of any category)",
        "",
        f"by label: {dict(sorted(_counts(score).items()))}",
        f"flags matched to a label: {labelled_flags}; flags on unlabelled sentences of labelled versions"
        f" (neither right nor wrong): {len(score.unlabelled)}",
        f"reference (README, unchanged code, full run): {REFERENCE}",
        "targets: "
        + ", ".join(f"{k} >= {v}" for k, v in TARGETS.items())
        + ": "
        + ("met" if all(overall[k] >= v for k, v in TARGETS.items()) else "NOT met"),
    ]
    if score.missing_versions:
        lines.append(f"labelled versions with no recorded version ({len(score.missing_versions)}):")
        lines.extend(f"  {m}" for m in score.missing_versions)
    if quiet:
        return "\n".join(lines)
    misses = [x for x in score.labels if x.positive and not x.flags]
    alarms = [x for x in score.labels if not x.positive and x.flags]
    lines += ["", f"misses ({len(misses)}):"]
    for x in sorted(misses, key=lambda x: (x.label, str(x.data["stream_path"]))):
        border = " borderline" if x.data.get("borderline") else ""
        lines.append(
            f"  [{x.label}{border} {x.data.get('category')}] {x.data['stream_path']} {x.data['committed_at'][:10]}"
        )
        lines.append(f"      {_short(x.data['sentence'])}")
        lines.append(f"      why: {_short(x.data.get('reason'))}")
    lines += ["", f"false alarms ({len(alarms)}):"]
    for x in sorted(alarms, key=lambda x: (x.label, str(x.data["stream_path"]))):
        flag = x.flags[0]
        lines.append(
            f"  [{x.label}] {x.data['stream_path']} {x.data['committed_at'][:10]}"
            f" {flag.get('category')}/{flag.get('rule')} {flag.get('terms')} {flag.get('severity')}"
            f" {flag.get('confidence', '')}".rstrip()
        )
        lines.append(f"      {_short(x.data['sentence'])}")
        if x.data.get("reason"):
            lines.append(f"      why: {_short(x.data.get('reason'))}")
    return "\n".join(lines)


def _counts(score: Score) -> dict[str, str]:
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for x in score.labels:
        counts[x.label][0] += bool(x.flags)
        counts[x.label][1] += 1
    return {k: f"{hit}/{total} flagged" for k, (hit, total) in counts.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        epilog="Exit status 0 when the issue's targets are met, 1 when not, 2 when the corpus is missing.",
    )
    parser.add_argument(
        "--fast", action="store_true", help="approximation: labelled versions against their predecessor only"
    )
    parser.add_argument(
        "--quiet", action="store_true", help="the figures only, without the misses and false alarms"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--corpus", type=Path, default=CORPUS, help=f"the stream corpus (default {CORPUS})")
    args = parser.parse_args(argv)
    if not (args.corpus / "labels.jsonl").is_file():
        print(f"no stream corpus at {args.corpus}", file=sys.stderr)
        return 2
    score = evaluate(args.corpus, args.fast)
    overall = score.tally(score.labels)
    if args.json:
        print(
            json.dumps(
                {
                    "mode": "fast" if args.fast else "full",
                    **overall,
                    "unlabelled_flags": len(score.unlabelled),
                    "seconds": round(score.elapsed, 1),
                    "versions": score.versions,
                }
            )
        )
    else:
        print(render(score, args.fast, args.quiet))
    return 0 if all(overall[k] >= v for k, v in TARGETS.items()) else 1


if __name__ == "__main__":
    sys.exit(main())
