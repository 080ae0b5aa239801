"""Which new clauses tosmon flags, and what each flag says about itself."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tosmon.diff import diff_versions
from tosmon.flag.rules import flag_changes, load_taxonomy, taxonomy_problems
from tosmon.models import Flag

CASES = yaml.safe_load((Path(__file__).parent / "data" / "flag_cases.yaml").read_text(encoding="utf-8"))
TAXONOMY = load_taxonomy()
PAGE = "# Terms\n\nWelcome to the service.\n\n## Your content\n\nYou own what you post.\n"


def flags_for(case: dict[str, object]) -> list[Flag]:
    before = PAGE + (f"\n{case['before']}\n" if "before" in case else "")
    after = PAGE + f"\n{case['text']}\n"
    return flag_changes(diff_versions(before, after), TAXONOMY)


def case_id(case: dict[str, object]) -> str:
    return f"{case['lang']}: {case['text']}"[:80]


@pytest.mark.parametrize("case", CASES["must_flag"], ids=case_id)
def test_new_ai_training_or_licensing_clause_flags(case: dict[str, object]) -> None:
    flags = flags_for(case)
    assert sorted({f.category for f in flags}) == sorted(case["flags"])  # type: ignore[arg-type]
    assert all(f.clause.strip() == str(case["text"]).strip() for f in flags)
    if "severity" in case:
        assert {f.severity for f in flags} == {case["severity"]}
    if "consent" in case:
        assert {f.consent for f in flags if f.category == "training"} == {case["consent"]}


@pytest.mark.parametrize("case", CASES["must_not_flag"], ids=case_id)
def test_look_alike_or_cosmetic_change_does_not_flag(case: dict[str, object]) -> None:
    assert flags_for(case) == []


def test_flag_names_the_terms_and_the_rule_that_decided_it() -> None:
    (flag,) = flags_for({"lang": "en", "text": "We use your photos to train our AI models."})
    assert flag.category == "training"
    assert "train" in flag.terms and "AI" in flag.terms
    assert flag.rule.startswith("training.")
    assert flag.to_json()["terms"] == list(flag.terms)


def test_flag_points_at_the_clause_under_its_headings() -> None:
    before = "# Terms\n\n## Licence\n\nYou own your content. We host it for you.\n"
    after = "# Terms\n\n## Licence\n\nYou own your content. We host it for you. We may use it to train AI models.\n"
    (flag,) = flag_changes(diff_versions(before, after), TAXONOMY)
    assert flag.clause == "We may use it to train AI models."
    assert flag.heading == "Terms > Licence"
    assert flag.change == "added"


def test_term_in_an_unchanged_clause_never_flags() -> None:
    before = "We train our AI models on your posts.\n\nShipping takes three days.\n"
    after = "We train our AI models on your posts.\n\nShipping takes five days.\n"
    assert flag_changes(diff_versions(before, after), TAXONOMY) == []


def test_moved_clause_never_flags() -> None:
    before = "# A\n\nWe train our AI models on your posts.\n\n# B\n\nShipping takes three days.\n"
    after = "# A\n\nShipping takes three days.\n\n# B\n\nWe train our AI models on your posts.\n"
    changes = diff_versions(before, after)
    assert "moved" in {c.kind for c in changes}
    assert flag_changes(changes, TAXONOMY) == []


def test_wording_moved_between_clauses_does_not_flag() -> None:
    before = "We use your data to:\n\n*   train our AI models.\n\nShipping is free.\n"
    after = "We use your data to: train our AI models.\n\nShipping is free.\n"
    changes = diff_versions(before, after)
    assert {c.kind for c in changes} == {"changed", "removed"}
    assert flag_changes(changes, TAXONOMY) == []


def test_removed_opt_out_is_flagged_as_removed() -> None:
    before = "Shipping is free.\n\nYou can opt out of the use of your posts to train our AI models.\n"
    after = "Shipping is free.\n"
    (flag,) = flag_changes(diff_versions(before, after), TAXONOMY)
    assert (flag.category, flag.consent, flag.consent_change, flag.change) == (
        "training",
        "opt-out",
        "removed",
        "removed",
    )


def test_opt_out_dropped_from_a_training_clause_is_flagged() -> None:
    before = "We use your posts to train our AI models, unless you opt out in your settings.\n"
    after = "We use your posts to train our AI models.\n"
    (flag,) = flag_changes(diff_versions(before, after), TAXONOMY)
    assert (flag.consent, flag.consent_change, flag.change) == ("opt-out", "removed", "changed")


def test_added_opt_in_says_so() -> None:
    (flag,) = flags_for(
        {"lang": "en", "text": "We will only use your voice recordings to train our models if you opt in."}
    )
    assert (flag.consent, flag.consent_change) == ("opt-in", "added")


def test_deleting_an_ai_clause_alone_does_not_flag() -> None:
    before = "We train our AI models on your posts.\n\nShipping takes three days.\n"
    after = "Shipping takes three days.\n"
    assert flag_changes(diff_versions(before, after), TAXONOMY) == []


def test_translated_document_does_not_flag_what_it_already_said() -> None:
    english = (
        "We may use your personal information with artificial intelligence technology to improve our services. "
        "You grant us a worldwide licence to use the content you post. "
    ) + "We are committed to protecting your privacy and we respect the law of your country. " * 20
    french = (
        "Nous pouvons utiliser vos informations personnelles avec des technologies d'intelligence artificielle "
        "pour améliorer nos services. Vous nous accordez une licence mondiale sur les contenus que vous publiez. "
    ) + "Nous nous engageons à protéger votre vie privée et nous respectons la loi de votre pays. " * 20
    assert flag_changes(diff_versions(english, french), TAXONOMY) == []


def test_user_terms_and_categories_from_the_watchlist_flag() -> None:
    taxonomy = load_taxonomy(
        {
            "categories": {
                "loyalty": {"severity": "high", "terms": ["loyalty points?", "reward points?"]},
                "ai": {"terms": ["Copilot"]},
            }
        }
    )
    changes = diff_versions(
        "Hello.\n", "Hello.\n\nWe award loyalty points at login.\n\nCopilot can draft replies.\n"
    )
    flags = {(f.category, f.severity, f.rule) for f in flag_changes(changes, taxonomy)}
    assert flags == {
        ("loyalty", "high", "loyalty.terms (any)"),
        ("ai", "medium", "ai.user-terms (any)"),
    }


def test_user_consent_wording_from_the_watchlist_is_recognised() -> None:
    taxonomy = load_taxonomy({"consent": {"opt-out": ["untick the research box"]}})
    changes = diff_versions(
        "Hello.\n", "Hello.\n\nWe train our AI models on your posts; untick the research box.\n"
    )
    (flag,) = flag_changes(changes, taxonomy)
    assert (flag.consent, flag.consent_change) == ("opt-out", "added")


def test_shipped_taxonomy_is_valid() -> None:
    import importlib.resources

    data = yaml.safe_load(
        importlib.resources.files("tosmon.flag").joinpath("taxonomy.yaml").read_text(encoding="utf-8")
    )
    assert taxonomy_problems(data) == []
    assert {"ai", "training", "licensing"} <= set(data["categories"])


@pytest.mark.parametrize(
    ("flags", "problem"),
    [
        ([], "expected a mapping with `categories:`"),
        ({"categorys": {}}, "unknown key 'categorys'"),
        ({"categories": {"x": {"terms": ["(unclosed"]}}}, "categories.x.terms: invalid pattern '(unclosed'"),
        (
            {"categories": {"x": {"severity": "urgent", "terms": ["a"]}}},
            "categories.x.severity: expected low",
        ),
        ({"categories": {"x": {"terms": ["a"], "nearby": ["b"]}}}, "categories.x: unknown key 'nearby'"),
        ({"categories": {"x": {"rules": [{"name": "r"}]}}}, "categories.x.rules[0]: a rule needs `terms`"),
        ({"window": 0, "categories": {}}, "window: expected a positive number of words"),
        ({"consent": {"opt-maybe": ["x"]}}, "consent: expected `opt-in:` and `opt-out:` lists"),
        ({"consent": {"opt-in": ["(x"]}}, "consent.opt-in: invalid pattern '(x'"),
    ],
)
def test_bad_watchlist_flags_are_reported(flags: object, problem: str) -> None:
    assert any(p.startswith(problem) for p in taxonomy_problems(flags)), taxonomy_problems(flags)
