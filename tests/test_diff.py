"""How tosmon compares two versions clause by clause."""

from __future__ import annotations

import pytest

from tosmon.diff import diff_versions, word_changes, word_diff
from tosmon.flag.rules import flag_changes, load_taxonomy

BEFORE = """# Terms

## Content

You own your content. We host it for you.

## Fees

The Service is free. We may show ads.
"""


def kinds(old: str, new: str) -> list[tuple[str, str | None, str | None]]:
    return [(c.kind, c.old and c.old.text, c.new and c.new.text) for c in diff_versions(old, new)]


def test_identical_versions_have_no_changes() -> None:
    assert diff_versions(BEFORE, BEFORE) == []


def test_moved_clause_is_reported_as_moved() -> None:
    after = BEFORE.replace(" We may show ads.", "").replace("You own", "We may show ads. You own")
    (change,) = diff_versions(BEFORE, after)
    assert (change.kind, change.new.text, change.new.heading) == (
        "moved",
        "We may show ads.",
        "Terms > Content",
    )  # type: ignore[union-attr]
    assert change.old.heading == "Terms > Fees"  # type: ignore[union-attr]


def test_reworded_clause_is_changed_with_the_words_that_changed() -> None:
    after = BEFORE.replace("We host it for you.", "We host and back it up for you.")
    (change,) = diff_versions(BEFORE, after)
    assert change.kind == "changed"
    assert change.old.text == "We host it for you."  # type: ignore[union-attr]
    assert change.new.text == "We host and back it up for you."  # type: ignore[union-attr]
    assert change.words_added == ("and back", "up")
    assert change.words_removed == ()
    assert change.new.heading == "Terms > Content"  # type: ignore[union-attr]


def test_new_and_deleted_clauses_are_added_and_removed() -> None:
    after = BEFORE.replace("The Service is free.", "Payment is due monthly in advance by card.")
    assert kinds(BEFORE, after) == [
        ("added", None, "Payment is due monthly in advance by card."),
        ("removed", "The Service is free.", None),
    ]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("We host **your content** for you.", "We host your content for you."),
        ("Read [the policy](https://a.example/v1).", 'Read [the policy](https://a.example/v2 "a.example").'),
        ("We don't sell your data.", "We don’t sell your data."),
        ("We host\u200b your con\u200dtent.", "We host your content."),
        ("•   We host your content.", "*   We host your content."),
        ("2.1 We host your content.", "(a) We host your content."),
        ("**4\\. Fees.** We may show ads.", "**5\\. Fees.** We may show ads."),
        ("| Data | Use<br>• ads |", "| Data | Use<br>*   ads |"),
        ("We host  your   content.", "We host your content."),
    ],
    ids=[
        "bold",
        "link target",
        "apostrophe",
        "invisible characters",
        "bullet",
        "numbering",
        "escaped number",
        "table bullet",
        "whitespace",
    ],
)
def test_formatting_alone_is_only_a_cosmetic_change(old: str, new: str) -> None:
    changes = diff_versions(old, new)
    assert all(c.kind == "changed" and c.cosmetic for c in changes)
    assert flag_changes(changes, load_taxonomy()) == []


def test_word_diff_runs_rebuild_both_clauses() -> None:
    old, new = "We may use your data to improve the Service.", "We may use your content to train AI models."
    runs = word_diff(old, new)
    assert "".join(t for op, t in runs if op <= 0) == old
    assert "".join(t for op, t in runs if op >= 0) == new


def test_word_changes_ignore_link_targets_and_markup() -> None:
    assert word_changes("See [terms](https://a.example/1).", "See **[terms](https://b.example/2)**.") == (
        (),
        (),
    )
    assert word_changes("We use AI.", "We use AI and machine learning.") == (("and machine learning",), ())


def test_unrelated_replacement_is_all_added_and_removed() -> None:
    old = "\n\n".join(f"Old clause number {i} about shipping times." for i in range(300))
    new = "\n\n".join(f"Brand new wording {i} on refunds and returns." for i in range(300))
    changes = diff_versions(old, new)
    assert {c.kind for c in changes} == {"added", "removed"}
    assert len(changes) == 600


def long_terms(sections: int) -> list[str]:
    """Paragraphs of a long document (over 1,000 clauses), each clause worded differently."""
    return [
        f"## Section {n}\n\nClause {n}.1 sets the {n}th rule on accounts. Clause {n}.2 explains rule {n} further."
        for n in range(sections)
    ]


def test_a_long_document_with_its_sections_reordered_reports_only_moved_clauses() -> None:
    sections = long_terms(400)
    shuffled = sections[1::2] + sections[::2]

    changes = diff_versions("\n\n".join(sections), "\n\n".join(shuffled))

    assert changes and {c.kind for c in changes} == {"moved"}
    assert flag_changes(changes, load_taxonomy()) == []


def test_a_long_reordered_document_still_shows_its_one_new_clause() -> None:
    sections = long_terms(400)
    edited = sections[200:] + sections[:200]
    edited[10] += "\n\nWe may use your content to train our artificial intelligence models."

    changes = diff_versions("\n\n".join(sections), "\n\n".join(edited))

    added = [c.new.text for c in changes if c.kind == "added" and c.new]
    assert added == ["We may use your content to train our artificial intelligence models."]
    assert {c.kind for c in changes} == {"added", "moved"}
    assert [f.category for f in flag_changes(changes, load_taxonomy())] == ["training"]
