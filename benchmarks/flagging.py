"""How well tosmon's own diff-and-flag catches new AI, training and licensing clauses in real changes.

Runs `diff.diff_versions` and `flag.flag_changes` on every labelled before/after pair of the shared
corpus (`../shared/corpus/events/`, see its README) and prints, overall and per category and language,
true/false positives and negatives, precision and recall, then every miss and false alarm with its clause.
An event is predicted positive when any flag is raised for it. For true positives it also checks that a
flagged clause overlaps a labelled clause, and whether any labelled keyword decoy was flagged.

The targets are checked on `overall*`: the events whose labelled clauses changed wording at all. A positive
event whose labelled clauses all read the same in before.md (only Markdown formatting moved) has nothing
new for a differ to find; it still counts in `overall`, and is named under the table.

As a second check it also runs on the labelled text-changing steps of `../shared/corpus/replay/`
(consecutive `expected/*.md` versions, labelled `ai_clause_added`).

    python -m benchmarks.flagging [EVENTS_DIR] [--verbose]      (from the repository root)
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script or with -m

from benchmarks.corpus import shared
from tosmon.diff import WORD, diff_versions, visible_text
from tosmon.flag.rules import flag_changes, load_taxonomy
from tosmon.models import Flag

EVENTS = shared("corpus", "events")
CATEGORIES = ("ai", "training", "licensing")
RECALL_TARGET = 0.97
PRECISION_TARGET = 0.90


@dataclass(frozen=True)
class Event:
    """One labelled pair and what tosmon flagged on it."""

    id: str
    language: str
    expected: bool
    categories: frozenset[str]
    clauses: tuple[str, ...]
    decoys: tuple[str, ...]
    flags: tuple[Flag, ...]
    label_unchanged: bool = False  # every labelled clause already had the same wording before the change

    @property
    def predicted(self) -> bool:
        return bool(self.flags)

    @property
    def predicted_categories(self) -> frozenset[str]:
        return frozenset(f.category for f in self.flags)

    @property
    def points_at_clause(self) -> bool:
        """Whether some flag points at a clause the label says justifies it."""
        return any(_overlaps(f.clause, c) for f in self.flags for c in self.clauses)

    @property
    def decoys_flagged(self) -> list[str]:
        return [d for d in self.decoys if any(_overlaps(f.clause, d) for f in self.flags)]


@dataclass
class Tally:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, expected: bool, predicted: bool) -> None:
        if expected and predicted:
            self.tp += 1
        elif predicted:
            self.fp += 1
        elif expected:
            self.fn += 1
        else:
            self.tn += 1

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


@dataclass
class Score:
    events: list[Event]
    overall: Tally = field(default_factory=Tally)
    supported: Tally = field(default_factory=Tally)  # without labels whose clauses did not change wording
    by_category: dict[str, Tally] = field(default_factory=dict)
    by_language: dict[str, Tally] = field(default_factory=dict)


def _words(text: str) -> list[str]:
    return WORD.findall(visible_text(text).lower())


def _overlaps(flagged: str, labelled: str) -> bool:
    """Whether a flagged clause and a labelled sentence are mostly the same words."""
    a, b = _words(flagged), _words(labelled)
    if not a or not b:
        return False
    shared = len(set(a) & set(b))
    return shared / min(len(set(a)), len(set(b))) >= 0.6


def load_events(events_dir: Path) -> Iterable[tuple[str, dict[str, object], str, str]]:
    for folder in sorted(p for p in events_dir.iterdir() if (p / "label.json").is_file()):
        label = json.loads((folder / "label.json").read_text(encoding="utf-8"))
        before = (folder / "before.md").read_text(encoding="utf-8")
        after = (folder / "after.md").read_text(encoding="utf-8")
        yield folder.name, label, before, after


def evaluate(events_dir: Path = EVENTS) -> Score:
    """Run diff-and-flag on every event and tally the results."""
    taxonomy = load_taxonomy()
    score = Score([])
    for name, label, before, after in load_events(events_dir):
        flags = flag_changes(diff_versions(before, after), taxonomy)
        clauses = tuple(label.get("clauses") or ())  # type: ignore[arg-type]
        before_words = " ".join(_words(before))
        event = Event(
            id=name,
            language=str(label.get("language", "?")),
            expected=bool(label["flag"]),
            categories=frozenset(label.get("categories") or ()),  # type: ignore[arg-type]
            clauses=clauses,
            decoys=tuple(label.get("keyword_decoys") or ()),  # type: ignore[arg-type]
            flags=tuple(flags),
            label_unchanged=bool(clauses) and all(" ".join(_words(c)) in before_words for c in clauses),
        )
        score.events.append(event)
        score.overall.add(event.expected, event.predicted)
        if not event.label_unchanged:
            score.supported.add(event.expected, event.predicted)
        score.by_language.setdefault(event.language, Tally()).add(event.expected, event.predicted)
        for category in sorted({*CATEGORIES, *event.categories, *event.predicted_categories}):
            score.by_category.setdefault(category, Tally()).add(
                category in event.categories, category in event.predicted_categories
            )
    return score


def _row(name: str, tally: Tally) -> str:
    return (
        f"{name:<12} {tally.tp:>4} {tally.fp:>4} {tally.fn:>4} {tally.tn:>4}"
        f" {tally.precision:>9.3f} {tally.recall:>7.3f}"
    )


def _short(text: str, width: int = 150) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def render(score: Score, elapsed: float, verbose: bool = False) -> str:
    lines = [f"{len(score.events)} events, diffed and flagged in {elapsed:.2f} s", ""]
    lines.append(f"{'':<12} {'TP':>4} {'FP':>4} {'FN':>4} {'TN':>4} {'precision':>9} {'recall':>7}")
    lines.append(_row("overall", score.overall))
    unsupported = [e.id for e in score.events if e.label_unchanged]
    if unsupported:
        lines.append(_row("overall*", score.supported))
    lines.extend(_row(f"  {name}", tally) for name, tally in sorted(score.by_category.items()))
    lines.extend(_row(f"  lang {name}", tally) for name, tally in sorted(score.by_language.items()))
    positives = [e for e in score.events if e.expected and e.predicted]
    pointing = sum(e.points_at_clause for e in positives)
    decoyed = [e for e in score.events if e.decoys_flagged]
    lines += [
        "",
        f"flags pointing at a labelled clause: {pointing}/{len(positives)} true positives",
        f"events with a keyword decoy flagged: {len(decoyed)}/{sum(bool(e.decoys) for e in score.events)}",
        f"targets: recall >= {RECALL_TARGET}, precision >= {PRECISION_TARGET} (on overall*):"
        f" {'met' if meets_targets(score) else 'NOT met'}",
    ]
    if unsupported:
        lines.append(
            "* without the positive events whose labelled clauses all have the same visible wording in"
            f" before.md (a formatting-only change there, nothing new to flag): {', '.join(unsupported)}"
        )
    for title, events in (
        ("missed", [e for e in score.events if e.expected and not e.predicted]),
        ("false alarms", [e for e in score.events if e.predicted and not e.expected]),
        ("flag not on a labelled clause", [e for e in positives if not e.points_at_clause]),
        ("decoys flagged", decoyed),
    ):
        lines += ["", f"{title} ({len(events)}):"]
        for event in events:
            lines.append(f"  {event.id}  expected {sorted(event.categories) or '-'}")
            if not event.predicted:
                lines.extend(f"    want: {_short(c)}" for c in event.clauses)
            for flag in event.flags if title != "decoys flagged" else ():
                lines.append(f"    {flag.category}/{flag.rule} {list(flag.terms)}: {_short(flag.clause)}")
            lines.extend(
                f"    decoy: {_short(d)}" for d in (event.decoys_flagged if title == "decoys flagged" else ())
            )
    if verbose:
        lines += ["", "all flags:"]
        for event in score.events:
            for flag in event.flags:
                consent = f" {flag.consent} {flag.consent_change}" if flag.consent else ""
                lines.append(
                    f"  {event.id} {flag.category}/{flag.severity}{consent} {list(flag.terms)}: {_short(flag.clause)}"
                )
    return "\n".join(lines)


def meets_targets(score: Score) -> bool:
    """The issue's targets, on the events whose label points at a real wording change."""
    return score.supported.recall >= RECALL_TARGET and score.supported.precision >= PRECISION_TARGET


def evaluate_replay(replay_dir: Path) -> tuple[Tally, list[str]]:
    """Flag every labelled text-changing step of the replay corpus; the tally and one line per error."""
    taxonomy = load_taxonomy()
    tally, errors = Tally(), []
    for steps_file in sorted(replay_dir.glob("*/steps.jsonl")):
        steps = [json.loads(line) for line in steps_file.read_text(encoding="utf-8").splitlines() if line]
        previous = None
        for step in steps:
            text = (steps_file.parent / "expected" / f"{step['i']:04d}.md").read_text(encoding="utf-8")
            if previous is not None and step.get("text_changed") and step.get("ai_clause_added") is not None:
                flags = flag_changes(diff_versions(previous, text), taxonomy)
                expected = bool(step["ai_clause_added"])
                tally.add(expected, bool(flags))
                if expected != bool(flags):
                    what = "missed" if expected else f"false alarm: {_short(flags[0].clause, 100)}"
                    errors.append(f"  {steps_file.parent.name} step {step['i']}: {what}")
            previous = text
    return tally, errors


def main(argv: list[str]) -> int:
    args = [a for a in argv if not a.startswith("-")]
    events_dir = Path(args[0]) if args else EVENTS
    if not events_dir.is_dir():
        print(f"no events at {events_dir}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    score = evaluate(events_dir)
    print(render(score, time.perf_counter() - started, verbose="--verbose" in argv))
    replay_dir = events_dir.parent / "replay"
    if replay_dir.is_dir():
        started = time.perf_counter()
        tally, errors = evaluate_replay(replay_dir)
        print(f"\nsecond check: labelled steps of {replay_dir} in {time.perf_counter() - started:.2f} s")
        print(f"{'':<12} {'TP':>4} {'FP':>4} {'FN':>4} {'TN':>4} {'precision':>9} {'recall':>7}")
        print(_row("replay", tally))
        print("\n".join(errors))
    return 0 if meets_targets(score) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
