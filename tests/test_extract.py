"""Extraction follows the declarations exactly and gives stable, readable text (cases in tests/data/extraction)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tosmon.errors import ExtractError
from tosmon.extract.html import extract
from tosmon.models import RangeSelector, Selector
from tosmon.watchlist import RANGE_KEYS

CASES = yaml.safe_load(
    (Path(__file__).parent / "data" / "extraction" / "cases.yaml").read_text(encoding="utf-8")
)


def selectors(items: list[object]) -> tuple[Selector, ...]:
    return tuple(
        RangeSelector(**{RANGE_KEYS[k]: v for k, v in item.items()}) if isinstance(item, dict) else str(item)
        for item in items
    )


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_extraction_case(case: dict[str, object]) -> None:
    text = extract(
        str(case["html"]).encode(),
        base_url="https://example.com/legal/terms",
        select=selectors(case.get("select", [])),  # type: ignore[arg-type]
        remove=selectors(case.get("remove", [])),  # type: ignore[arg-type]
    )
    assert text == case["expected"]


def test_selector_that_matches_nothing_is_an_error_naming_it() -> None:
    with pytest.raises(ExtractError, match=r"the selector '#gone' matches nothing on the page"):
        extract(b"<body><p>Terms.</p></body>", select=("#gone",))


def test_range_that_ends_before_it_starts_matches_nothing() -> None:
    with pytest.raises(ExtractError, match="matches nothing"):
        extract(
            b"<body><p id='b'>B</p><p id='a'>A</p></body>",
            select=(RangeSelector(start_before="#a", end_after="#b"),),
        )


def test_range_whose_anchor_is_missing_matches_nothing() -> None:
    with pytest.raises(ExtractError, match="matches nothing"):
        extract(b"<body><p id='a'>A</p></body>", select=(RangeSelector(start_before="#a", end_before="#zz"),))


def test_page_decodes_with_its_meta_charset_and_as_utf8_without_one() -> None:
    latin = "<html><head><meta charset='windows-1252'></head><body><p>Données – café</p></body></html>"
    assert extract(latin.encode("cp1252"), select=("p",)) == "Données – café\n"
    assert extract("<body><p>Données – café</p></body>".encode(), select=("p",)) == "Données – café\n"
