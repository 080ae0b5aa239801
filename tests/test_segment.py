"""How tosmon cuts real legal text into clauses, each knowing its headings."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tosmon.diff import segment

CASES = yaml.safe_load((Path(__file__).parent / "data" / "segment_cases.yaml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_segment_cuts_legal_text_into_clauses_with_heading_paths(case: dict[str, object]) -> None:
    found = [[c.text, c.heading or ""] for c in segment(str(case["text"]))]
    assert found == case["clauses"]


def test_segment_of_empty_text_has_no_clauses() -> None:
    assert segment("") == []
    assert segment("\n\n   \n# Only a heading\n") == []


def test_segment_tells_a_list_lead_in_from_a_heading() -> None:
    text = "# Licence\n\nYou grant us a licence to:\n\n- display your posts;\n- translate them.\n\nThat is all.\n"
    clauses = {c.text: c for c in segment(text)}
    assert clauses["display your posts;"].headings == ("Licence", "You grant us a licence to")
    assert clauses["display your posts;"].lead_in
    assert not clauses["That is all."].lead_in
    assert not clauses["You grant us a licence to:"].lead_in
