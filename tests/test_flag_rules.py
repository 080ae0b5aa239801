"""Each rule of the taxonomy, per language: the clauses it must flag and the look-alikes it must not
(tests/data/flag_rules.yaml); names, confidence, the watchlist's `flags:` additions, headings and rewordings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tosmon.diff import diff_versions
from tosmon.errors import ExitCode
from tosmon.flag.rules import flag_changes, load_taxonomy, taxonomy_problems
from tosmon.models import Flag

TABLES = yaml.safe_load((Path(__file__).parent / "data" / "flag_rules.yaml").read_text(encoding="utf-8"))
TAXONOMY = load_taxonomy()
PAGE = "# Terms\n\nWelcome to the service.\n\n## Your account\n\nKeep your password safe.\n"


def flags_for(case: dict[str, object]) -> list[Flag]:
    taxonomy = load_taxonomy(case["watchlist"]) if "watchlist" in case else TAXONOMY  # type: ignore[arg-type]
    section = f"\n## {case['heading']}\n" if "heading" in case else ""
    before = PAGE + (f"\n{case['before']}\n" if "before" in case else "")
    after = PAGE + section + f"\n{case['text']}\n"
    return flag_changes(diff_versions(before, after), taxonomy, previous=before)


def cases(kind: str) -> list[tuple[str, dict[str, object]]]:
    return [(rule, case) for rule, table in TABLES.items() for case in table.get(kind, ())]


def case_id(item: tuple[str, dict[str, object]]) -> str:
    rule, case = item
    return f"{rule} {case['lang']}: {case['text']}"[:90]


@pytest.mark.parametrize("item", cases("must_flag"), ids=case_id)
def test_rule_flags_its_clauses_in_every_language(item: tuple[str, dict[str, object]]) -> None:
    _, case = item
    flags = flags_for(case)
    assert sorted({f.category for f in flags}) == sorted(case["flags"]), flags  # type: ignore[arg-type]
    if "rule" in case:
        assert any(f.rule.startswith(str(case["rule"])) for f in flags), flags
    if "confidence" in case:
        assert {f.confidence for f in flags} == {case["confidence"]}, flags
    if "severity" in case:
        assert {f.severity for f in flags} == {case["severity"]}, flags


@pytest.mark.parametrize("item", cases("must_not_flag"), ids=case_id)
def test_rule_does_not_flag_look_alikes(item: tuple[str, dict[str, object]]) -> None:
    assert flags_for(item[1]) == []


def test_every_rule_has_cases_in_all_seven_languages() -> None:
    languages = {"en", "fr", "de", "es", "it", "pt", "nl"}
    for rule in (
        "generated-output",
        "ai-uses",
        "ai-product",
        "model-family",
        "train-services",
        "tdm-reservation",
        "grant-by-verbs",
        "lead-in",
        "windows",
        "reworded-mentions",
    ):
        for kind in ("must_flag", "must_not_flag"):
            assert {c["lang"] for c in TABLES[rule][kind]} == languages, (rule, kind)


def test_watched_service_name_is_no_ai_clause() -> None:
    changes = diff_versions("Hello.\n", "Hello.\n\nAcme AI will contact you about your order.\n")
    assert [f.category for f in flag_changes(changes, TAXONOMY)] == []  # "<Name> AI" is a name
    changes = diff_versions("Hello.\n", "Hello.\n\nWrite to the ACME AI team for help.\n")
    assert [f.category for f in flag_changes(changes, TAXONOMY)] == ["ai"]
    assert flag_changes(changes, TAXONOMY, names=["ACME AI"]) == []


def test_flag_resting_on_a_name_is_low_confidence_and_never_high() -> None:
    changes = diff_versions(
        "Hello.\n", "Hello.\n\nPerplexity AI may use your conversations to improve its answers.\n"
    )
    (flag,) = flag_changes(changes, TAXONOMY)
    assert (flag.category, flag.confidence, flag.severity) == ("training", "low", "medium")
    assert flag.to_json()["confidence"] == "low"


def test_strong_flag_says_high_confidence_in_json() -> None:
    changes = diff_versions("Hello.\n", "Hello.\n\nWe use your photos to train our AI models.\n")
    (flag,) = flag_changes(changes, TAXONOMY)
    assert flag.to_json()["confidence"] == "high"
    assert flag.severity == "high"


def test_min_confidence_high_keeps_only_strong_flags() -> None:
    after = "Hello.\n\nCopilot uses your prompts to answer.\n\nWe use machine learning to rank posts.\n"
    changes = diff_versions("Hello.\n", after)
    every = flag_changes(changes, TAXONOMY)
    strong = flag_changes(changes, load_taxonomy({"min_confidence": "high"}))
    assert {f.confidence for f in every} == {"low", "high"}
    assert [f.clause for f in strong] == ["We use machine learning to rank posts."]


def test_new_heading_is_flagged_as_a_clause_of_its_own() -> None:
    before = "# Terms\n\n## Content\n\nYou own your content.\n"
    after = before + "\n## No Text and Data Mining or AI Training\n\nYou may not do this.\n"
    flags = flag_changes(diff_versions(before, after), TAXONOMY, previous=before)
    assert {f.clause for f in flags} == {"No Text and Data Mining or AI Training"}
    assert {f.heading for f in flags} == {"Terms"}


def test_faq_question_is_flagged_as_the_title_of_a_new_answer() -> None:
    before = "# Privacy\n\nWe keep your chats for 18 months.\n"
    after = (
        before
        + "\nDoes Google use my chats to train its AI models?\n\nYes, unless you turn this setting off.\n"
    )
    flags = flag_changes(diff_versions(before, after), TAXONOMY, previous=before)
    assert [(f.clause, f.category, f.consent) for f in flags] == [
        ("Does Google use my chats to train its AI models?", "training", None),
        ("Yes, unless you turn this setting off.", "training", "opt-out"),
    ]


def test_faq_question_reworded_above_an_unchanged_answer_is_not_flagged() -> None:
    answer = "\n\nYou can choose this in Gemini Apps Activity.\n"
    before = "# Privacy\n\nHow can I control whether Google uses my audio to improve its services?" + answer
    after = (
        "# Privacy\n\nHow can I control whether Google uses my audio and Gemini Live videos to improve its services?"
        + answer
    )
    assert flag_changes(diff_versions(before, after), TAXONOMY, previous=before) == []


def test_existing_heading_over_a_new_clause_is_not_flagged_again() -> None:
    before = "# Terms\n\n## Artificial intelligence\n\nWe describe our practices.\n"
    after = (
        "# Terms\n\n## Artificial intelligence\n\nWe describe our practices.\n\nContact us with questions.\n"
    )
    assert flag_changes(diff_versions(before, after), TAXONOMY, previous=before) == []


def test_headings_are_judged_only_when_the_previous_text_is_given() -> None:
    before = "# Terms\n\n## Content\n\nYou own your content.\n"
    after = before + "\n## Artificial intelligence\n\nWe describe our practices.\n"
    assert flag_changes(diff_versions(before, after), TAXONOMY) == []


def test_reworded_lead_in_is_judged_with_its_unchanged_items_only() -> None:
    before = "# Terms\n\nYou grant us the following rights:\n\n- a licence to display your content.\n"
    after = "# Terms\n\nYou grant us and our partners the following rights:\n\n- a licence to display and translate your content.\n"
    flags = flag_changes(diff_versions(before, after), TAXONOMY, previous=before)
    # the changed item carries the change, read with its new lead-in; the lead-in has no unchanged item to speak for
    assert [(f.clause, f.category) for f in flags] == [
        ("a licence to display and translate your content.", "licensing")
    ]
    assert "partners" in flags[0].terms


def test_opt_out_right_after_a_new_training_clause_is_a_training_flag() -> None:
    before = "# Terms\n\n## Your data\n\nWe keep your data safe.\n"
    after = (
        before
        + "\nWe will use your posts to train our AI models.\n\nYou can exercise your right to object at any time.\n"
    )
    flags = flag_changes(diff_versions(before, after), TAXONOMY)
    objection = [f for f in flags if f.clause.startswith("You can exercise")]
    assert [(f.category, f.consent, f.rule) for f in objection] == [
        ("training", "opt-out", "training.consent-in-section")
    ]


def test_unrelated_opt_out_is_not_tied_to_a_training_clause() -> None:
    before = "# Terms\n\n## Disputes\n\nDisputes go to arbitration.\n"
    after = before + "\nYou may opt out of arbitration by writing to us.\n"
    assert flag_changes(diff_versions(before, after), TAXONOMY) == []


def test_widening_rewording_lists_the_words_that_changed() -> None:
    before = "We use your posts to train our AI models.\n"
    after = "We use your posts and private messages to train our AI models.\n"
    (flag,) = flag_changes(diff_versions(before, after), TAXONOMY)
    assert flag.change == "changed"
    assert "private" in flag.terms


@pytest.mark.parametrize(
    ("flags", "problem"),
    [
        ({"ignore": "Acme"}, "ignore: expected a list of patterns"),
        ({"names": ["(unclosed"]}, "names: invalid pattern '(unclosed'"),
        ({"min_confidence": "medium"}, "min_confidence: expected low"),
        (
            {"categories": {"x": {"rules": [{"name": "r", "terms": ["a"], "confidence": "maybe"}]}}},
            "categories.x.rules[0].confidence: expected high or low",
        ),
    ],
)
def test_bad_names_ignore_and_confidence_settings_are_reported(flags: object, problem: str) -> None:
    assert any(p.startswith(problem) for p in taxonomy_problems(flags)), taxonomy_problems(flags)


def test_diff_json_flags_say_their_confidence(tosmon, tmp_path: Path) -> None:
    old, new = tmp_path / "old.md", tmp_path / "new.md"
    old.write_text("# Terms\n\nHello.\n", encoding="utf-8")
    new.write_text("# Terms\n\nHello.\n\nCopilot uses your prompts to answer.\n", encoding="utf-8")
    outcome = tosmon("diff", old, new, "--json")
    (flag,) = json.loads(outcome.stdout)["flags"]
    assert (flag["category"], flag["confidence"], flag["severity"]) == ("ai", "low", "medium")


def test_bad_min_confidence_in_the_watchlist_is_reported_at_its_place(tosmon, watchlist_file) -> None:
    watchlist = watchlist_file("services: {}\nflags:\n  min_confidence: strong\n")
    outcome = tosmon("check", "--watchlist", watchlist)
    assert outcome.code == ExitCode.CONFIG
    assert outcome.stderr.splitlines() == [
        f"{watchlist}:3:3: flags: min_confidence: expected low (every flag, the default) or high (strong flags only)"
    ]


def test_reports_mark_low_confidence_flags(tosmon, tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from tosmon.models import CheckResult, CheckRun, Document
    from tosmon.outputs.notify import render_html, render_text

    weak = Flag(
        "ai",
        "Copilot uses your prompts.",
        None,
        ("Copilot", "prompts"),
        rule="ai.ai-product (any)",
        confidence="low",
    )
    strong = Flag("ai", "We use machine learning.", None, ("machine learning",), rule="ai.ai-system (en)")
    document = Document("Example", "Terms", "https://example.com/terms")
    run = CheckRun(
        datetime(2026, 1, 1, tzinfo=UTC), (CheckResult(document, "changed", flags=(weak, strong)),)
    )
    text = render_text(run, "tosmon")
    assert "[MEDIUM] new AI clause in Example Terms (low confidence)" in text
    assert "[MEDIUM] new AI clause in Example Terms\n" in text
    assert "(low confidence)" in render_html(run, "tosmon")
    old, new = tmp_path / "old.md", tmp_path / "new.md"
    old.write_text("Hello.\n", encoding="utf-8")
    new.write_text("Hello.\n\nCopilot uses your prompts to answer.\n", encoding="utf-8")
    assert "(rule ai.ai-product (any), low confidence)" in tosmon("diff", old, new).stdout
