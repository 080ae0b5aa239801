"""Properties that hold for any input, checked with hypothesis: extraction, segmentation, diffing and
flagging never crash on arbitrary pages and texts; a diff applied to its old side rebuilds the new one;
text made safe for the terminal holds no control character."""

from __future__ import annotations

import contextlib
from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tosmon.diff import diff_versions, segment, word_diff
from tosmon.errors import ExtractError
from tosmon.extract.html import extract
from tosmon.extract.text import CONTROL_SEQUENCE
from tosmon.flag.rules import flag_changes, load_taxonomy
from tosmon.outputs.report import safe_text

TAXONOMY = load_taxonomy()
SETTINGS = settings(deadline=None, max_examples=150, suppress_health_check=[HealthCheck.too_slow])

TAGS = [
    "html",
    "head",
    "body",
    "main",
    "article",
    "div",
    "p",
    "span",
    "a",
    "ul",
    "ol",
    "li",
    "table",
    "tr",
    "td",
    "th",
    "h1",
    "h2",
    "h3",
    "br",
    "script",
    "style",
    "nav",
    "footer",
    "header",
    "section",
    "pre",
    "blockquote",
    "noscript",
    "template",
    "svg",
    "math",
    "iframe",
    "select",
    "option",
    "dialog",
    "x-y",
]
ATTRIBUTES = ["id", "class", "href", "hidden", "role", "aria-hidden", "data-cfemail", "start", "style"]
TEXT = st.text(st.characters(codec="utf-8"), max_size=40)


@st.composite
def html_fragments(draw: st.DrawFn) -> str:
    """Tag soup: opening, closing and broken tags, attributes, entities, comments and any text."""
    parts = []
    for _ in range(draw(st.integers(0, 40))):
        kind = draw(st.sampled_from(["open", "close", "text", "entity", "comment", "junk"]))
        if kind == "open":
            attributes = "".join(
                f' {draw(st.sampled_from(ATTRIBUTES))}="{draw(TEXT)}"' for _ in range(draw(st.integers(0, 2)))
            )
            parts.append(f"<{draw(st.sampled_from(TAGS))}{attributes}>")
        elif kind == "close":
            parts.append(f"</{draw(st.sampled_from(TAGS))}>")
        elif kind == "entity":
            parts.append(draw(st.sampled_from(["&amp;", "&#0;", "&#x110000;", "&nbsp;", "&bogus;", "&#65;"])))
        elif kind == "comment":
            parts.append(f"<!--{draw(TEXT)}-->")
        elif kind == "junk":
            parts.append(
                draw(st.sampled_from(["<", ">", "<!", "<?xml?>", "<![CDATA[", "]]>", "\x00", "\ufeff"]))
            )
        else:
            parts.append(draw(TEXT))
    return "".join(parts)


SELECTORS = st.sampled_from([(), ("main",), ("p",), ("div > p", "li"), ("#terms",), ("body",)])
CONTENT_TYPES = st.sampled_from(
    ["text/html", "text/html; charset=iso-8859-1", "text/plain", "", "application/pdf"]
)


@SETTINGS
@given(html_fragments(), SELECTORS, SELECTORS, CONTENT_TYPES)
def test_extraction_never_crashes_on_any_html(
    page: str, select: tuple[str, ...], remove: tuple[str, ...], content_type: str
) -> None:
    try:
        text = extract(
            page.encode("utf-8", "surrogatepass"),
            content_type=content_type,
            base_url="https://example.com/a/b",
            select=select,
            remove=remove,
        )
    except ExtractError:
        return
    assert isinstance(text, str)
    assert text == "" or text.endswith("\n")


@SETTINGS
@given(st.binary(max_size=2000), CONTENT_TYPES)
def test_extraction_never_crashes_on_any_bytes(body: bytes, content_type: str) -> None:
    with contextlib.suppress(ExtractError):
        assert isinstance(extract(body, content_type=content_type), str)


LINES = st.lists(
    st.one_of(
        st.sampled_from(
            [
                "# Terms",
                "## Your content",
                "- We may use your content to train our models.",
                "1. You keep your rights.",
                "**Licence**",
                "We may change these terms. You will be told.",
                "e.g. Inc. No. 5 applies; see art. 3.",
                "We use AI.",
                "",
            ]
        ),
        st.text(max_size=60),
    ),
    max_size=25,
)


@SETTINGS
@given(LINES, LINES)
def test_the_clause_diff_applied_to_the_old_version_gives_the_new_one(
    old_lines: list[str], new_lines: list[str]
) -> None:
    old, new = "\n".join(old_lines), "\n".join(new_lines)
    changes = diff_versions(old, new)
    rebuilt = Counter(c.text for c in segment(old))
    rebuilt.subtract(c.old.text for c in changes if c.old is not None)
    rebuilt.update(c.new.text for c in changes if c.new is not None)
    assert +rebuilt == Counter(c.text for c in segment(new))
    assert (changes == []) == ([c.text for c in segment(old)] == [c.text for c in segment(new)])


@SETTINGS
@given(st.text(max_size=300), st.text(max_size=300))
def test_the_word_diff_rebuilds_both_sides(old: str, new: str) -> None:
    runs = word_diff(old, new)
    assert "".join(text for op, text in runs if op != 1) == old
    assert "".join(text for op, text in runs if op != -1) == new


@SETTINGS
@given(LINES, LINES)
def test_segmentation_and_flagging_never_crash(old_lines: list[str], new_lines: list[str]) -> None:
    old, new = "\n".join(old_lines), "\n".join(new_lines)
    for clause in segment(new):
        assert clause.text.strip() == clause.text and clause.text
    for flag in flag_changes(diff_versions(old, new), TAXONOMY):
        assert flag.clause and flag.severity in ("high", "medium", "low")


@SETTINGS
@given(st.text())
def test_text_made_safe_for_the_terminal_has_no_control_character(text: str) -> None:
    cleaned = safe_text(text)
    assert CONTROL_SEQUENCE.search(cleaned) is None
    assert not any(ord(c) < 32 and c not in "\t\n" for c in cleaned)
