"""Noise is not a change: pages that differ only by tokens, tracking or encoding give the same text."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tosmon.extract import apply_ignore, extract

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
