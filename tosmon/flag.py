"""Flag new or reworded clauses that touch AI, model training or content licensing.

The rules are data (`taxonomy.yaml`, extended by the watchlist's `flags:`); this module only
applies them. A clause flags for a category when one of its terms matches, a `near` term (if the
category asks for one) stands within the window, and no negative context covers the match. Only
new wording flags: an added clause, or a changed clause whose new words bring a term the old
wording did not have. Moved clauses never flag.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import yaml

from tosmon.models import Change, Flag

DEFAULT_WINDOW = 12


@dataclass(frozen=True)
class Category:
    name: str
    severity: str
    terms: tuple[tuple[str, re.Pattern[str]], ...]  # (language, pattern)
    near: re.Pattern[str] | None
    negative: re.Pattern[str] | None
    high_when: re.Pattern[str] | None


@dataclass(frozen=True)
class Taxonomy:
    categories: tuple[Category, ...]
    window: int
    opt_in: re.Pattern[str] | None
    opt_out: re.Pattern[str] | None


def _alternation(patterns: list[str]) -> re.Pattern[str] | None:
    if not patterns:
        return None
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)


def _term_pattern(term: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w-])(?:{term})(?![\w])", re.IGNORECASE)


def _terms_by_language(terms: object) -> list[tuple[str, str]]:
    if isinstance(terms, dict):
        return [(str(lang), str(t)) for lang, items in terms.items() for t in (items or [])]
    return [("any", str(t)) for t in (terms or [])]  # type: ignore[union-attr]


def taxonomy_problems(data: object) -> list[str]:
    """What is wrong with a taxonomy (the shipped one, or a watchlist's `flags:`)."""
    if not isinstance(data, dict):
        return ["expected a mapping with `categories:`"]
    problems = []
    unknown = set(data) - {"version", "window", "categories", "consent"}
    problems.extend(f"unknown key {key!r}" for key in sorted(unknown))
    categories = data.get("categories", {})
    if not isinstance(categories, dict):
        return [*problems, "`categories` must be a mapping of names to rules"]
    for name, rules in categories.items():
        if not isinstance(rules, dict):
            problems.append(f"categories.{name}: expected a mapping")
            continue
        for key in set(rules) - {"severity", "terms", "near", "negative", "high_when"}:
            problems.append(f"categories.{name}: unknown key {key!r}")
        if rules.get("severity", "medium") not in ("low", "medium", "high"):
            problems.append(f"categories.{name}.severity: expected low, medium or high")
        patterns = [t for _, t in _terms_by_language(rules.get("terms"))]
        for key in ("near", "negative", "high_when"):
            value = rules.get(key) or []
            if not isinstance(value, list):
                problems.append(f"categories.{name}.{key}: expected a list of patterns")
            else:
                patterns.extend(map(str, value))
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as error:
                problems.append(f"categories.{name}: invalid pattern {pattern!r}: {error}")
    return problems


@lru_cache(maxsize=1)
def _shipped() -> dict[str, object]:
    return yaml.safe_load(resources.files("tosmon").joinpath("taxonomy.yaml").read_text(encoding="utf-8"))


def load_taxonomy(extra: dict[str, object] | None = None) -> Taxonomy:
    """The shipped taxonomy, with the user's terms and categories merged in."""
    data = _shipped()
    categories: dict[str, dict[str, object]] = {k: dict(v) for k, v in data["categories"].items()}  # type: ignore[union-attr]
    for name, rules in ((extra or {}).get("categories") or {}).items():  # type: ignore[union-attr]
        merged = categories.setdefault(name, {"severity": "medium"})
        for key, value in rules.items():
            if key == "severity":
                merged[key] = value
            elif key == "terms":
                base = _terms_by_language(merged.get("terms"))
                merged[key] = {"user": [t for _, t in _terms_by_language(value)], **_group(base)}
            else:
                merged[key] = [*(merged.get(key) or []), *value]  # type: ignore[misc]
    consent = data.get("consent", {})
    built = []
    for name, rules in categories.items():
        built.append(
            Category(
                name=name,
                severity=str(rules.get("severity", "medium")),
                terms=tuple(
                    (lang, _term_pattern(term)) for lang, term in _terms_by_language(rules.get("terms"))
                ),
                near=_alternation(list(rules.get("near") or [])),  # type: ignore[arg-type]
                negative=_alternation(list(rules.get("negative") or [])),  # type: ignore[arg-type]
                high_when=_alternation(list(rules.get("high_when") or [])),  # type: ignore[arg-type]
            )
        )
    window = int((extra or {}).get("window") or data.get("window") or DEFAULT_WINDOW)  # type: ignore[arg-type]
    return Taxonomy(
        tuple(built),
        window,
        _alternation(consent.get("opt-in", [])),  # type: ignore[union-attr]
        _alternation(consent.get("opt-out", [])),
    )  # type: ignore[union-attr]


def _group(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for lang, term in pairs:
        grouped.setdefault(lang, []).append(term)
    return grouped


@dataclass(frozen=True)
class Match:
    category: Category
    terms: tuple[str, ...]
    rule: str


def match_clause(text: str, taxonomy: Taxonomy) -> list[Match]:
    """The categories a clause belongs to, with the terms and the rule that decided each."""
    found = []
    for category in taxonomy.categories:
        terms: list[str] = []
        rules: list[str] = []
        for language, pattern in category.terms:
            for term in pattern.finditer(text):
                if category.negative and _covered(category.negative, text, term.span()):
                    continue
                if category.near and not _near(category.near, text, term.span(), taxonomy.window):
                    continue
                if term.group(0) not in terms:
                    terms.append(term.group(0))
                    rules.append(f"{category.name}.terms.{language}" + (" + near" if category.near else ""))
        if terms:
            found.append(Match(category, tuple(terms), rules[0]))
    return found


def _covered(negative: re.Pattern[str], text: str, span: tuple[int, int]) -> bool:
    return any(
        (m.start() <= span[0] and span[1] <= m.end()) or (m.start() < span[1] and span[0] < m.end())
        for m in negative.finditer(text)
    )


def _near(near: re.Pattern[str], text: str, span: tuple[int, int], window: int) -> bool:
    start = _word_offset(text, span[0], -window)
    end = _word_offset(text, span[1], window)
    return any(m.span() != span for m in near.finditer(text, start, end))


def _word_offset(text: str, position: int, words: int) -> int:
    if words < 0:
        spaces = [m.start() for m in re.finditer(r"\s+", text[:position])]
        return spaces[words] if len(spaces) >= -words else 0
    found = list(re.finditer(r"\s+", text[position:]))
    return position + found[words - 1].end() if len(found) >= words else len(text)


def _consent(text: str, taxonomy: Taxonomy) -> str | None:
    if taxonomy.opt_in and taxonomy.opt_in.search(text):
        return "opt-in"
    if taxonomy.opt_out and taxonomy.opt_out.search(text):
        return "opt-out"
    return None


def flag_changes(changes: list[Change] | tuple[Change, ...], taxonomy: Taxonomy) -> list[Flag]:
    """Flags for the new wording among `changes`; unchanged, moved and removed clauses never flag."""
    flags = []
    for change in changes:
        if change.kind not in ("added", "changed") or change.new is None:
            continue
        text = change.new.text
        old_terms: set[str] = set()
        if change.kind == "changed" and change.old is not None:
            old_terms = {
                (m.category.name, t.lower()) for m in match_clause(change.old.text, taxonomy) for t in m.terms
            }
        for match in match_clause(text, taxonomy):
            new_terms = tuple(t for t in match.terms if (match.category.name, t.lower()) not in old_terms)
            if not new_terms:
                continue
            category = match.category
            severity = "high" if category.high_when and category.high_when.search(text) else category.severity
            flags.append(
                Flag(
                    category=category.name,
                    clause=text,
                    heading=change.new.heading,
                    terms=new_terms,
                    severity=severity,  # type: ignore[arg-type]
                    rule=match.rule,
                    consent=_consent(text, taxonomy) if category.name == "training" else None,  # type: ignore[arg-type]
                    change=change.kind,
                )
            )
    return flags
