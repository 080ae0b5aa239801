"""Noise is not a change: pages that differ only by tokens, tracking or encoding give the same text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tosmon.extract.html import apply_ignore, extract
from tosmon.models import RangeSelector, Selector

PAIRS = yaml.safe_load(
    (Path(__file__).parent / "data" / "extraction" / "noise.yaml").read_text(encoding="utf-8")
)
BASE = "https://example.com/legal/terms"


@pytest.mark.parametrize("pair", PAIRS, ids=[p["name"] for p in PAIRS])
def test_noise_gives_the_same_text(pair: dict[str, str]) -> None:
    a = extract(pair["a"].encode(), base_url=BASE, select=("main",))
    b = extract(pair["b"].encode(), base_url=BASE, select=("main",))
    assert a.strip()
    assert a == b


def test_real_link_target_change_is_still_a_change() -> None:
    a = extract(
        b'<main><p>See <a href="http://x.org/help">help</a>.</p></main>', base_url=BASE, select=("main",)
    )
    b = extract(
        b'<main><p>See <a href="https://x.org/help">help</a>.</p></main>', base_url=BASE, select=("main",)
    )
    assert a != b


def test_ignore_patterns_drop_text_before_comparing() -> None:
    text = "Terms.\nPage generated at 04:00:12 by build 7f3a.\nYou agree.\n"
    assert apply_ignore(text, (r"^Page generated at .*$",)) == "Terms.\nYou agree.\n"


@pytest.mark.parametrize("use_selectors", [True, False], ids=["declared selectors", "default extraction"])
def test_recorded_noise_steps_give_the_same_text(corpus: Path, use_selectors: bool) -> None:
    """Every noise-only step of the replay corpus (raw HTML changed, OTA's text did not) must give the
    same text as the step before it, and every real text change a different text. Fetch artifacts
    (a banner coming and going) may go either way."""
    keys = {
        "startBefore": "start_before",
        "startAfter": "start_after",
        "endBefore": "end_before",
        "endAfter": "end_after",
    }

    def declared(items: list[object]) -> tuple[Selector, ...]:
        if not use_selectors:
            return ()
        return tuple(
            RangeSelector(**{keys[k]: v for k, v in i.items()}) if isinstance(i, dict) else str(i)
            for i in items
        )

    wrong = []
    for directory in sorted(p for p in (corpus / "replay").iterdir() if p.is_dir()):
        declaration = json.loads((directory / "declaration.json").read_text(encoding="utf-8"))
        previous = None
        for line in (directory / "steps.jsonl").read_text(encoding="utf-8").splitlines():
            step = json.loads(line)
            text = extract(
                (directory / "snapshots" / f"{step['i']:04d}.html").read_bytes(),
                base_url=declaration["url"],
                select=declared(declaration["select"]),
                remove=declared(declaration.get("remove", [])),
            )
            changed = previous is not None and text.split() != previous.split()
            if step["i"] and step["change_kind"] != "fetch_artifact" and changed != step["text_changed"]:
                wrong.append(f"{directory.name} step {step['i']} ({step['change_kind']})")
            previous = text
    assert wrong == []
