"""tosmon's diff-and-flag on real labelled changes (the shared Open Terms Archive corpus)."""

from __future__ import annotations

import importlib.util
import sys
from functools import cache
from pathlib import Path
from types import ModuleType

BENCHMARK = Path(__file__).resolve().parent.parent / "benchmarks" / "flagging.py"


@cache
def load_benchmark() -> ModuleType:
    spec = importlib.util.spec_from_file_location("flagging_benchmark", BENCHMARK)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules[spec.name] = module  # type: ignore[union-attr]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


@cache
def scored(events: Path) -> object:
    """The benchmark's score, computed once for all the tests of this module."""
    return load_benchmark().evaluate(events)


def test_flagging_meets_recall_and_precision_targets_on_real_changes(corpus: Path) -> None:
    benchmark = load_benchmark()
    score = scored(corpus / "events")
    summary = benchmark.render(score, 0.0)
    assert score.supported.recall >= benchmark.RECALL_TARGET, summary
    assert score.supported.precision >= benchmark.PRECISION_TARGET, summary


def test_no_new_clause_training_models_on_user_content_is_missed(corpus: Path) -> None:
    score = scored(corpus / "events")
    missed = [
        e.id
        for e in score.events
        if "training" in e.categories and not e.label_unchanged and "training" not in e.predicted_categories
    ]
    assert missed == []


def test_flags_point_at_the_labelled_clauses(corpus: Path) -> None:
    score = scored(corpus / "events")
    caught = [e for e in score.events if e.expected and e.predicted]
    assert sum(e.points_at_clause for e in caught) >= 0.9 * len(caught)
