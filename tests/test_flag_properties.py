"""Segmentation, diffing and flagging never crash, whatever text a page holds."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tosmon.diff import diff_versions, segment, visible_text, wording
from tosmon.flag.rules import flag_changes, load_taxonomy

TAXONOMY = load_taxonomy()
# Text biased towards what legal Markdown is made of, plus anything at all.
PIECES = st.sampled_from(
    [
        "# ",
        "## ",
        "**",
        "*   ",
        "1.  ",
        "| ",
        " | ",
        "<br>",
        "[",
        "](",
        ")",
        "\\.",
        ":",
        ";",
        ". ",
        "\n",
        "\n\n",
        "e.g. ",
        "U.S. ",
        "“",
        "”",
        "AI ",
        "train ",
        "models ",
        "licence ",
        "your content ",
        "opt out ",
        "IA ",
        "\u200b",
        "===",
        "---",
        "(a) ",
        "10.4 ",
    ]
)
LEGALISH = st.lists(st.one_of(PIECES, st.text(max_size=12)), max_size=60).map("".join)
TEXT = st.one_of(LEGALISH, st.text(max_size=400))


@settings(max_examples=200, deadline=None)
@given(TEXT)
def test_segment_never_crashes_and_keeps_only_wording(text: str) -> None:
    for clause in segment(text):
        assert clause.text.strip()
        assert all(heading for heading in clause.headings)


@settings(max_examples=200, deadline=None)
@given(TEXT, TEXT)
def test_diff_and_flag_never_crash(old: str, new: str) -> None:
    changes = diff_versions(old, new)
    for flag in flag_changes(changes, TAXONOMY):
        assert flag.category in {c.name for c in TAXONOMY.categories}
        assert flag.terms


@settings(max_examples=200, deadline=None)
@given(TEXT)
def test_a_version_compared_with_itself_has_no_change_and_no_flag(text: str) -> None:
    changes = diff_versions(text, text)
    assert changes == []
    assert flag_changes(changes, TAXONOMY) == []


@settings(max_examples=200, deadline=None)
@given(TEXT)
def test_wording_is_the_same_once_markup_is_gone(text: str) -> None:
    assert wording(text) == wording(visible_text(text))


@settings(max_examples=200, deadline=None)
@given(TEXT)
def test_terms_in_unchanged_text_never_flag(text: str) -> None:
    changes = diff_versions(text, text + "\n\nShipping takes three days.\n")
    assert flag_changes(changes, TAXONOMY) == []


# Plain prose (no Markdown structure, which a reordering could turn into headings).
PROSE = st.text(alphabet="abcdefghijklmnopqrstuvwxyz ABCDEFGHIJ.,;:'’éà0123456789", max_size=80)


@settings(max_examples=200, deadline=None)
@given(st.lists(PROSE, max_size=8))
def test_reordered_paragraphs_are_moved_and_never_flag(paragraphs: list[str]) -> None:
    paragraphs = [*paragraphs, "We train our AI models on your posts."]
    changes = diff_versions("\n\n".join(paragraphs), "\n\n".join(reversed(paragraphs)))
    assert all(c.kind == "moved" or c.cosmetic for c in changes)  # "I" and "i" read the same
    assert flag_changes(changes, TAXONOMY) == []
