"""Flag new or reworded clauses that touch AI, model training or content licensing.

The rules are data (`taxonomy.yaml`, extended by the watchlist's `flags:`); this module only applies
them. A rule matches a clause when one of its terms is found in the clause's visible text, a `near` term
(if the rule asks for one) stands within its window, and no negative context covers the term.

Only new wording flags. An added clause flags on any match. A changed clause flags when a term or near
term of a match lies in the words the change added, when its new words widen it (`widened_by`: a licence
now reaching "third parties"), when it gains or loses an opt-out or opt-in for training, or when a
training or licensing clause is reworded by enough meaningful words (`rewording_words`). Renames
("Bard" to "Gemini Apps"), spelling fixes, numbers, punctuation, link targets and web addresses never
count. A list item is read with its lead-in ("You grant us a licence to:" + "translate your posts"), and a
reworded lead-in with its unchanged items.
Moved and unchanged clauses never flag; a removed clause only flags when it takes away an opt-out or
opt-in for training. When a whole version is replaced by a translation, clauses restating a category
the old version already had are not news either.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from difflib import SequenceMatcher
from functools import lru_cache, partial
from importlib import resources
from typing import Literal

import yaml

from tosmon.diff import IMAGE, LINK, WORD, diff_sequences, segment, visible_text, wording
from tosmon.models import Change, Clause, Flag

DEFAULT_WINDOW = 12
MOVED_WORDS = 3  # a run of this many words or more found in removed wording was moved, not written
NEGATIVE_REACH = 120  # characters around a term where a negative context may start or end
PARENTHESES_REACH = 3  # words in parentheses do not count towards a window, within this many windows' length
MAX_WORD_CHARS = 40  # bounds the proximity search in a pathological clause (one long run of letters)
TOP_KEYS = {"version", "window", "categories", "consent", "names", "ignore", "negations", "min_confidence"}
CATEGORY_KEYS = {
    "rewording_words",
    "severity",
    "terms",
    "near",
    "negative",
    "high_when",
    "widened_by",
    "rules",
    "yields_to",
    "window",
}
RULE_KEYS = {"name", "terms", "near", "negative", "window", "confidence"}
Consent = Literal["opt-in", "opt-out"]
Confidence = Literal["high", "low"]
# Short, frequent words that tell the languages of a whole version apart (for translations).
STOPWORDS = {
    "en": "the and of to is that for with you your we our are this be or",
    "fr": "le la les et des du est que pour vous votre nous nos une sur dans",
    "de": "der die und das ist nicht zu den mit sie ihre wir unsere ein eine",
    "es": "el la los las y de que es para con usted tu nuestros una por del",
    "it": "il di che è per con non una sono della delle gli tuoi nostri",
    "pt": "o os da do das dos que é para com você seus nossos uma não",
    "nl": "de het en van een is dat voor met je uw wij onze niet",
}
# ... and a few more English ones, so that "to" -> "use it" is not two new words
FUNCTION_WORDS = frozenset(
    [w for words in STOPWORDS.values() for w in words.split()]
    + ["it", "its", "a", "an", "as", "by", "on", "in", "at"]
) - {
    "not",
    "nicht",
    "non",
    "não",
    "niet",
}
TRANSLATION_MIN_WORDS = 150
SPELLING_RATIO = 0.75
# the end of a link label cut from its "[" by sentence splitting, and nothing after it but punctuation
LINK_TAIL = re.compile(r"^[^\[\]]*\]\((?:[^()]|\([^()]*\))*\)\W*$")
# menu items glued together by a page's extraction: a word's end run into the next item's capital ("ToolsSafety",
# "tipsAdding"); a few names are written so ("WhatsApp"), a menu has many such joints
GLUED_MENU = re.compile(r"[a-z]{3,}[A-Z][a-z]{2,}")
GLUED_MENU_ITEMS = 4
# the title of a Markdown heading or of a bold line standing alone, as `diff.segment` reads them
HEADING_LINE = re.compile(
    r"^[ \t]*(?:#{1,6}[ \t]+(.+?)[ \t#]*|\*\*(.+?)\*\*:?[ \t]*|(.+)\n[ \t]*(?:=+|-+))$", re.MULTILINE
)
# a web address written out ("listed at perplexity.ai/hub/legal/third-party-models"): it says where, not what
BARE_URL = re.compile(r"(?:\bhttps?://|\bwww\.)[^\s<>\"]+|\b[\w-]+(?:\.[\w-]+)+/[^\s<>\"]*", re.IGNORECASE)
# an item of a list written inline after its lead-in: "(a) ...", "b) ...", "(iv) ...", "2. ..."
ITEM_MARK = re.compile(r"^\W*(?:\(?(?:[a-z]|[ivx]{1,4}|\d{1,2})\)|\d{1,2}\.)\s", re.IGNORECASE)
INFLECTION = re.compile(r"(?<=\w{3})(?:ing|ed|es|e|s|d)$")  # "personalizes", "Outputs": the word's mention
NEGATION_RUN = 3  # words around a negation a rewording may change and still only turn the clause around
CONSENT_REACH = 2  # an opt-out this many changed clauses after a training clause, or nearer, is about it  # one word replaced by another this similar is a spelling fix or a typo


@dataclass(frozen=True)
class Rule:
    name: str
    # every term of every language in one pattern (one scan of a clause per rule, not one per language),
    # the terms of the n-th language of `languages` in the group named `l<n>`
    terms: re.Pattern[str] | None
    languages: tuple[str, ...]
    near: re.Pattern[str] | None
    negative: re.Pattern[str] | None
    window: int
    confidence: Confidence = "high"  # "low": weak evidence on its own (a product name)


@dataclass(frozen=True)
class Category:
    name: str
    severity: str
    rules: tuple[Rule, ...]
    high_when: re.Pattern[str] | None
    widened_by: re.Pattern[str] | None = None
    rewording_words: int = 0  # a clause of the category reworded by this many words or more flags
    yields_to: tuple[str, ...] = ()


@dataclass(frozen=True)
class Taxonomy:
    categories: tuple[Category, ...]
    window: int
    opt_in: re.Pattern[str] | None
    opt_out: re.Pattern[str] | None
    names: re.Pattern[str] | None = None  # names holding an AI word ("Mistral AI"): weak evidence only
    ignore: re.Pattern[str] | None = None  # names and terms that are no evidence at all
    negations: re.Pattern[str] | None = None  # words that turn a clause around ("not", "never", "ne … pas")
    min_confidence: Confidence = "low"  # "high": low-confidence flags are not raised


@dataclass(frozen=True)
class Match:
    """Why a clause belongs to a category: the rule, the words matched, and where they are."""

    category: Category
    rule: str
    terms: tuple[str, ...]
    spans: tuple[tuple[int, int], ...]
    confidence: Confidence = "high"
    found_by: Rule | None = None  # the taxonomy's rule that matched (None for a user-made Match)


# -- loading and checking --------------------------------------------------------------------


def _terms_by_language(terms: object) -> list[tuple[str, str]]:
    if isinstance(terms, dict):
        return [(str(lang), str(t)) for lang, items in terms.items() for t in (items or [])]
    if isinstance(terms, list):
        return [("any", str(t)) for t in terms]
    return []


def _rules_of(name: str, rules: dict[str, object]) -> list[dict[str, object]]:
    """A category's rules, counting the `terms`/`near`/`negative` it gives directly as one rule."""
    listed = [dict(r) for r in rules.get("rules") or [] if isinstance(r, dict)]  # type: ignore[attr-defined]
    if rules.get("terms"):
        listed.append({"name": "terms", **{k: rules[k] for k in ("terms", "near", "window") if k in rules}})
    return listed


def taxonomy_problems(data: object) -> list[str]:
    """What is wrong with a taxonomy (the shipped one, or a watchlist's `flags:`), all at once."""
    if not isinstance(data, dict):
        return ["expected a mapping with `categories:`"]
    problems = [f"unknown key {key!r}" for key in sorted(set(data) - TOP_KEYS)]
    consent = data.get("consent", {})
    if not isinstance(consent, dict) or set(consent) - {"opt-in", "opt-out"}:
        problems.append("consent: expected `opt-in:` and `opt-out:` lists of patterns")
    else:
        for kind, patterns in consent.items():
            for pattern in patterns if isinstance(patterns, list) else [patterns]:
                try:
                    re.compile(str(pattern))
                except re.error as error:
                    problems.append(f"consent.{kind}: invalid pattern {pattern!r}: {error}")
    for key in ("names", "ignore", "negations"):
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(p, str) for p in value):
            problems.append(f"{key}: expected a list of patterns (a plain name works as is)")
            continue
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as error:
                problems.append(f"{key}: invalid pattern {pattern!r}: {error}")
    if data.get("min_confidence", "low") not in ("low", "high"):
        problems.append("min_confidence: expected low (every flag, the default) or high (strong flags only)")
    if "window" in data and (not isinstance(data["window"], int) or data["window"] < 1):
        problems.append("window: expected a positive number of words")
    categories = data.get("categories", {})
    if not isinstance(categories, dict):
        return [*problems, "`categories` must be a mapping of names to rules"]
    for name, rules in categories.items():
        where = f"categories.{name}"
        if not isinstance(rules, dict):
            problems.append(f"{where}: expected a mapping")
            continue
        problems.extend(f"{where}: unknown key {key!r}" for key in sorted(set(rules) - CATEGORY_KEYS))
        if rules.get("severity", "medium") not in ("low", "medium", "high"):
            problems.append(f"{where}.severity: expected low, medium or high")
        if not isinstance(rules.get("rules", []), list):
            problems.append(f"{where}.rules: expected a list of rules")
            continue
        patterns: list[tuple[str, object]] = []
        for key in ("negative", "high_when", "widened_by"):
            value = rules.get(key) or []
            if isinstance(value, list):
                patterns.extend((f"{where}.{key}", p) for p in value)
            else:
                problems.append(f"{where}.{key}: expected a list of patterns")
        for index, rule in enumerate(rules.get("rules") or []):
            if not isinstance(rule, dict):
                problems.append(f"{where}.rules[{index}]: expected a mapping")
                continue
            problems.extend(
                f"{where}.rules[{index}]: unknown key {k!r}" for k in sorted(set(rule) - RULE_KEYS)
            )
            if not rule.get("terms"):
                problems.append(f"{where}.rules[{index}]: a rule needs `terms`")
            if rule.get("confidence", "high") not in ("high", "low"):
                problems.append(f"{where}.rules[{index}].confidence: expected high or low")
        for rule in _rules_of(str(name), rules):
            label = f"{where}.{'rules.' + str(rule.get('name')) if rule.get('name') != 'terms' else 'terms'}"
            terms = rule.get("terms")
            if not isinstance(terms, dict | list):
                problems.append(f"{label}: expected a list of patterns, or lists by language")
            patterns.extend((label, t) for _, t in _terms_by_language(terms))
            near = rule.get("near") or []
            if not isinstance(near, list):
                problems.append(f"{label}.near: expected a list of patterns")
            else:
                patterns.extend((f"{label}.near", p) for p in near)
        for label, pattern in patterns:
            try:
                re.compile(str(pattern))
            except re.error as error:
                problems.append(f"{label}: invalid pattern {pattern!r}: {error}")
    return problems


@lru_cache(maxsize=1)
def _shipped() -> dict[str, object]:
    return yaml.safe_load(
        resources.files("tosmon.flag").joinpath("taxonomy.yaml").read_text(encoding="utf-8")
    )


def _alternation(patterns: Iterable[object], words: bool = False) -> re.Pattern[str] | None:
    patterns = [str(p) for p in patterns]
    if not patterns:
        return None
    body = "|".join(f"(?:{p})" for p in patterns)
    return re.compile(rf"(?<![\w-])(?:{body})(?!\w)" if words else body, re.IGNORECASE)


def _by_language(grouped: dict[str, list[str]]) -> re.Pattern[str] | None:
    """One pattern for the terms of all languages, each language's in a group of its own."""
    if not grouped:
        return None
    body = "|".join(
        f"(?P<l{index}>{'|'.join(f'(?:{t})' for t in terms)})" for index, terms in enumerate(grouped.values())
    )
    return re.compile(rf"(?<![\w-])(?:{body})(?!\w)", re.IGNORECASE)


def _merge(base: dict[str, object], extra: dict[str, object]) -> dict[str, object]:
    """A shipped category with a user's additions: more rules and contexts, never fewer.

    The user's `terms` (with their `near` and `window`) become one more rule of the category.
    """
    merged = dict(base)
    for key, value in extra.items():
        if key == "severity":
            merged[key] = value
        elif key not in ("terms", "near", "window"):
            merged[key] = [*(base.get(key) or []), *(value or [])]  # type: ignore[misc]
    if extra.get("terms"):
        own = {k: extra[k] for k in ("terms", "near", "window") if k in extra}
        merged["rules"] = [*(base.get("rules") or []), {"name": "user-terms", **own}]  # type: ignore[misc]
    return merged


def load_taxonomy(extra: dict[str, object] | None = None) -> Taxonomy:
    """The shipped taxonomy, with the user's terms, rules and categories (a watchlist's `flags:`) merged in."""
    data = _shipped()
    extra = extra or {}
    categories: dict[str, dict[str, object]] = {k: dict(v) for k, v in data["categories"].items()}  # type: ignore[union-attr]
    for name, rules in (extra.get("categories") or {}).items():  # type: ignore[union-attr]
        categories[name] = _merge(categories[name], rules) if name in categories else dict(rules)
    window = int(extra.get("window") or data.get("window") or DEFAULT_WINDOW)  # type: ignore[call-overload]
    built = []
    for name, rules in categories.items():
        shared_negative = list(rules.get("negative") or [])  # type: ignore[call-overload]
        compiled = []
        for rule in _rules_of(name, rules):
            grouped: dict[str, list[str]] = {}
            for language, term in _terms_by_language(rule.get("terms")):
                grouped.setdefault(language, []).append(term)
            compiled.append(
                Rule(
                    name=str(rule.get("name") or "terms"),
                    terms=_by_language(grouped),
                    languages=tuple(grouped),
                    near=_alternation(rule.get("near") or [], words=True),  # type: ignore[arg-type]
                    negative=_alternation([*shared_negative, *(rule.get("negative") or [])]),  # type: ignore[misc]
                    window=int(rule.get("window") or rules.get("window") or window),  # type: ignore[call-overload]
                    confidence="low" if rule.get("confidence") == "low" else "high",
                )
            )
        built.append(
            Category(
                name=name,
                severity=str(rules.get("severity", "medium")),
                rules=tuple(compiled),
                high_when=_alternation(rules.get("high_when") or []),  # type: ignore[arg-type]
                widened_by=_alternation(rules.get("widened_by") or [], words=True),  # type: ignore[arg-type]
                rewording_words=int(rules.get("rewording_words") or 0),  # type: ignore[call-overload]
                yields_to=tuple(rules.get("yields_to") or ()),  # type: ignore[arg-type]
            )
        )
    consent: dict[str, list[str]] = {}
    for source in (data.get("consent") or {}, extra.get("consent") or {}):
        for kind, patterns in source.items():  # type: ignore[attr-defined]
            consent.setdefault(kind, []).extend(patterns)
    listed = {
        key: [*(data.get(key) or []), *(extra.get(key) or [])]  # type: ignore[misc]
        for key in ("names", "ignore", "negations")
    }
    return Taxonomy(
        tuple(built),
        window,
        _alternation(consent.get("opt-in", []), words=True),
        _alternation(consent.get("opt-out", []), words=True),
        names=_alternation(listed["names"], words=True),
        ignore=_alternation(listed["ignore"], words=True),
        negations=_alternation(listed["negations"], words=True),
        min_confidence="high" if extra.get("min_confidence") == "high" else "low",
    )


# -- matching --------------------------------------------------------------------------------


def match_clause(text: str, taxonomy: Taxonomy) -> list[Match]:
    """The categories a clause's visible text belongs to, with the rule and terms that decided each."""
    found = []
    for category in taxonomy.categories:
        for match in _category_matches(text, category):
            found.append(match)
            break  # the first rule that matches decides the category
    return found


def evidence(text: str, taxonomy: Taxonomy, names: re.Pattern[str] | None = None) -> list[Match]:
    """The categories of a clause, with names taken into account.

    Ignored names and terms (`ignore:`) are no evidence at all. A name holding an AI word ("Mistral AI",
    "Meta AI", the watched service's own name, `names:`) does not make a clause about AI: the `ai`
    category never rests on one, and another category that needs one (a training clause whose only AI
    word is "Meta AI") is kept with low confidence.
    """
    kept = _mask(text, taxonomy.ignore)
    strong = _mask(_mask(kept, taxonomy.names), names)
    found = match_clause(strong, taxonomy)
    if strong != kept:
        seen = {m.category.name for m in found}
        for category in taxonomy.categories:
            if category.name in seen:
                continue
            # the `ai` category takes only its weak rules here (a product named inside a name: "Llama AI")
            weak = (
                m for m in _category_matches(kept, category) if category.name != "ai" or m.confidence == "low"
            )
            found.extend(replace(m, confidence="low") for m in itertools.islice(weak, 1))
    return found


def _mask(text: str, pattern: re.Pattern[str] | None) -> str:
    """`text` with what `pattern` finds blanked out, every other character in its place."""
    if pattern is None:
        return text
    return pattern.sub(lambda m: re.sub(r"\S", "_", m.group(0)), text)


def _category_matches(text: str, category: Category) -> Iterable[Match]:
    for rule in category.rules:
        terms: list[str] = []
        spans: list[tuple[int, int]] = []
        languages: set[int] = set()
        for term in rule.terms.finditer(text) if rule.terms else ():
            if rule.negative and _covered(rule.negative, text, term.span()):
                continue
            near = _near(rule, text, term.span()) if rule.near else None
            if rule.near and near is None:
                continue
            languages.add(int(str(term.lastgroup)[1:]))
            terms.append(" ".join(term.group(0).split()))
            spans.append(term.span())
            if near is not None:
                terms.append(near.group(0))
                spans.append(near.span())
        if spans:
            unique = tuple(dict.fromkeys(terms))
            name = f"{category.name}.{rule.name} ({rule.languages[min(languages)]})"
            yield Match(category, name, unique, tuple(spans), rule.confidence, rule)


def _covered(negative: re.Pattern[str], text: str, span: tuple[int, int]) -> bool:
    """Whether a negative context overlaps the term at `span` (looking only around it: they are short)."""
    around = negative.finditer(text, max(0, span[0] - NEGATIVE_REACH), span[1] + NEGATIVE_REACH)
    return any(m.start() < span[1] and span[0] < m.end() for m in around)


def _near(rule: Rule, text: str, span: tuple[int, int]) -> re.Match[str] | None:
    """The closest `near` term within the rule's window of words around `span`, if any."""
    start = _word_offset(text, span[0], -rule.window)
    end = _word_offset(text, span[1], rule.window)
    # A near term inside a long phrase term counts ("your content, using machine learning, to improve").
    hits = [m for m in rule.near.finditer(text, start, end) if m.span() != span]  # type: ignore[union-attr]
    return min(hits, key=lambda m: abs(m.start() - span[0])) if hits else None


def _word_offset(text: str, position: int, words: int) -> int:
    """Where the text `words` words before (negative) or after `position` begins or ends. Words inside
    parentheses do not count: "licence (including, without limitation, replication, ..., publication) such
    Submitted Contents" keeps its grant and its object as near as they are without the examples."""
    reach = abs(words) * MAX_WORD_CHARS * PARENTHESES_REACH  # look no further than that many words could span
    if words < 0:
        start = max(0, position - reach)
        tokens = list(re.finditer(r"\S+", text[start:position]))[::-1]
        opening, closing = ")", "("
    else:
        start = position
        tokens = list(re.finditer(r"\S+", text[position : position + reach]))
        opening, closing = "(", ")"
    depth = 0
    counted = 0
    for token in tokens:
        word = token.group(0)
        inside = depth > 0 or (word.endswith(opening) if words < 0 else word.startswith(opening))
        depth = max(0, depth + word.count(opening) - word.count(closing))
        if inside:
            continue
        counted += 1
        if counted > abs(words):
            return start + (token.end() if words < 0 else token.start())
    return start if words < 0 else min(len(text), position + reach)


def _consent(text: str, taxonomy: Taxonomy) -> Consent | None:
    """Whether a clause gives an opt-out or an opt-in (opt-out wins: "unless you opt out")."""
    if taxonomy.opt_out and taxonomy.opt_out.search(text):
        return "opt-out"
    if taxonomy.opt_in and taxonomy.opt_in.search(text):
        return "opt-in"
    return None


# -- what is new -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Edit:
    """What a rewording really changed: where its new words are, and how many words it changed."""

    added: tuple[tuple[int, int], ...]  # spans of the visible new text holding words that count
    words: int  # words added or replaced (the larger side of each replacement), cosmetic runs left out
    turned: tuple[str, ...] = ()  # negations a small edit took out or put in ("-not", "+never")


def _edit(
    old: str, new: str, elsewhere: Sequence[str] = (), negations: re.Pattern[str] | None = None
) -> Edit:
    """Compare two visible texts word by word, leaving out what does not change a clause's meaning.

    Left out: renames (a run of capitalised words replaced by another, the old name gone from the new
    text: "Zoom IQ" to "Zoom AI Companion", "Bard" to "Gemini Apps"), spelling and typos (one word
    replaced by a near-identical one: "authorised" to "authorized"), numbers (renumbering, dates), and
    runs of words found in `elsewhere` (the wording the change took out of other clauses: text moved
    between clauses, or paragraphs merged, is not new wording).

    `turned` lists the `negations` touched by a small edit (NEGATION_RUN words or fewer, typos left
    out), which turns the same wording around, when as many were not put in as taken out; a new phrase
    that happens to hold a "no" says something new, and is judged by its own words.
    """
    old_words = [m.group(0) for m in WORD.finditer(old)]
    new_matches = list(WORD.finditer(new))
    new_words = [m.group(0) for m in new_matches]
    old_set, new_set = {w.lower() for w in old_words}, {w.lower() for w in new_words}
    runs = diff_sequences([w.lower() for w in old_words], [w.lower() for w in new_words])
    added: list[tuple[int, int]] = []
    changed: list[int] = []  # words changed by each replacement or insertion or deletion
    turned: list[str] = []
    for index, (op, i, i_end, j, j_end) in enumerate(runs):
        if op == 0:
            continue
        mine = new_words[j:j_end] if op == 1 else old_words[i:i_end]
        facing = [runs[k] for k in (index - 1, index + 1) if 0 <= k < len(runs) and runs[k][0] == -op]
        other = [w for r in facing for w in (old_words[r[1] : r[2]] if op == 1 else new_words[r[3] : r[4]])]
        typo = len(mine) == len(other) == 1 and _spelling(mine[0], other[0])  # "MAY NOT BE" -> "MAY sNOT BE"
        if negations is not None and not typo and max(i_end - i, j_end - j) <= NEGATION_RUN:
            words, start, end = (new_words, j, j_end) if op == 1 else (old_words, i, i_end)
            sign = "+" if op == 1 else "-"
            turned += [
                f"{sign}{n}"
                for n, first, last in _negations(negations, words)
                if first < end and start <= last
            ]
        if _cosmetic(mine, other, new_set if op == 1 else old_set):
            continue
        if op == 1 and len(mine) >= MOVED_WORDS and _found_in(mine, elsewhere):
            continue  # words moved here from a clause the change removed or rewrote
        if op == 1:
            added.append((new_matches[j].start(), new_matches[j_end - 1].end()))
            changed.append(max(_content_words(mine), _content_words(other)))
        elif not other:  # a replacement is counted once, on its added side
            changed.append(_content_words(mine))
    taken_out = sum(t.startswith("-") for t in turned)
    turns = tuple(turned) if taken_out != len(turned) - taken_out else ()
    if sorted(w.lower() for w in old_words) == sorted(w.lower() for w in new_words):
        return Edit(tuple(added), 0)  # the same words in another order ("posts and comments"): a reorder
    return Edit(tuple(added), sum(changed), turns)


def _content_words(words: Sequence[str]) -> int:
    """How many of `words` carry meaning: not the short function words of any language ("to", "the"),
    nor a name's possessive ("the" -> "Microsoft's" names who, it does not change what)."""
    possessive = {i for i, w in enumerate(words) if w == "s" and i and words[i - 1][:1].isupper()}
    possessive |= {i - 1 for i in possessive}  # WORD splits "Microsoft's" into "Microsoft" and "s"
    return sum(w.lower() not in FUNCTION_WORDS and i not in possessive for i, w in enumerate(words))


def _readable(markdown: str) -> str:
    """A clause's visible text with the web addresses it writes out blanked (their words are not wording)."""
    text = visible_text(markdown)
    if "/" not in text and "www." not in text:
        return text
    return BARE_URL.sub(lambda m: " " * len(m.group(0)), text)


def _plain(markdown: str) -> str:
    """A clause's visible words, lower case, padded with spaces for whole-word substring tests."""
    return f" {' '.join(WORD.findall(visible_text(markdown).lower()))} "


def _found_in(words: Sequence[str], texts: Sequence[str]) -> bool:
    """Whether `words` appear together, in order, in one of the `_plain` texts."""
    run = f" {' '.join(words).lower()} "
    return any(run in text for text in texts)


def _cosmetic(mine: Sequence[str], other: Sequence[str], mine_side: set[str]) -> bool:
    """Whether a run of changed words is a rename, a spelling fix or only numbers.

    `other` is the run facing `mine` on the other side of the diff, `mine_side` all the words of the
    text `mine` belongs to: a renamed name (`other`) is gone from it.
    """
    if all(w.isdigit() for w in mine):
        return True
    if len(mine) == 1 and len(other) == 1 and _spelling(mine[0], other[0]):
        return True
    return _is_name(mine) and _is_name(other) and not all(w.lower() in mine_side for w in other)


def _spelling(word: str, other: str) -> bool:
    """Whether one word replaced by another is a spelling fix or a typo ("authorised" -> "authorized")."""
    return SequenceMatcher(None, word.lower(), other.lower()).ratio() >= SPELLING_RATIO


def _is_name(words: Sequence[str]) -> bool:
    return bool(words) and all(w[:1].isupper() or w[:1].isdigit() for w in words)


def _overlaps(spans: Iterable[tuple[int, int]], regions: list[tuple[int, int]]) -> bool:
    return any(s < e2 and s2 < e for s, e in spans for s2, e2 in regions)


def _is_navigation(markdown: str) -> bool:
    """A clause made only of links or images (a menu, a logo) is page furniture, not wording; so is the
    tail of a link whose label the sentence splitter cut in two ("Our approach to Responsible AI](https://…).")
    and a menu whose items the page's extraction glued together ("Account checkSafety Settings & ToolsSafety
    tipsAdding …")."""
    if LINK_TAIL.match(markdown) or len(set(GLUED_MENU.findall(markdown))) >= GLUED_MENU_ITEMS:
        return True
    return bool(LINK.search(markdown) or IMAGE.search(markdown)) and not WORD.search(
        LINK.sub(" ", IMAGE.sub(" ", markdown))
    )


def _language(texts: Iterable[str]) -> tuple[str | None, int]:
    """The most likely language of some text, by its commonest short words, and how many words it has."""
    counts = dict.fromkeys(STOPWORDS, 0)
    total = 0
    lookup: dict[str, list[str]] = {}
    for language, words in STOPWORDS.items():
        for word in words.split():
            lookup.setdefault(word, []).append(language)
    for text in texts:
        for word in WORD.findall(text.lower()):
            total += 1
            for language in lookup.get(word, ()):
                counts[language] += 1
    best = max(counts, key=counts.__getitem__)
    return (best if counts[best] else None), total


def _translated_categories(changes: Sequence[Change], taxonomy: Taxonomy) -> set[str]:
    """Categories the old wording already had, when the new wording is the same document translated."""
    removed = [c.old.text for c in changes if c.kind == "removed" and c.old]
    added = [c.new.text for c in changes if c.kind == "added" and c.new]
    old_language, old_words = _language(removed)
    new_language, new_words = _language(added)
    if min(old_words, new_words) < TRANSLATION_MIN_WORDS or old_language == new_language:
        return set()
    return {m.category.name for text in removed for m in evidence(_readable(text), taxonomy)}


# -- flagging --------------------------------------------------------------------------------


def flag_changes(
    changes: Sequence[Change], taxonomy: Taxonomy, *, names: Sequence[str] = (), previous: str | None = None
) -> list[Flag]:
    """Flags for the new wording among `changes`; unchanged, moved and cosmetic changes never flag.

    `names` are names the AI words of which are no evidence of an AI clause: the watched service's own.
    `previous` is the text the changes were made to: given, a heading it did not have is a clause of its own.
    """
    changes = [c for c in changes if not c.cosmetic]
    if names:
        taxonomy = _with_names(taxonomy, tuple(names))
    translated = _translated_categories(changes, taxonomy)
    taken_out = {id(c.old): _plain(c.old.text) for c in changes if c.kind in ("removed", "changed") and c.old}
    flags: dict[tuple[str, str, str | None], Flag] = {}  # a page repeating a clause gets one flag for it
    old_headings = _headings_of(previous)
    for change in changes:
        if change.kind == "added" and change.new and wording(change.new.text) in old_headings:
            continue  # a heading now set as a paragraph ("**Machine learning techniques**" -> "c) Machine …")
        if change.kind == "added" and change.new:
            found = _flags_for(change.new, None, change, taxonomy, translated, list(taken_out.values()))
        elif change.kind == "changed" and change.new and change.old:
            own = taken_out[id(change.old)]  # and its copies, when a page repeats a clause
            others = [w for w in taken_out.values() if w != own]
            found = _flags_for(change.new, change.old, change, taxonomy, set(), others)
        else:
            continue
        for flag in found:
            flags.setdefault((flag.category, flag.clause, flag.consent_change), flag)
    flagged = {f.clause for f in flags.values()}
    for flag in _reworded_lead_ins(changes, previous, taxonomy, flagged, taken_out):
        flags.setdefault((flag.category, flag.clause, flag.consent_change), flag)
    for heading in _new_headings(changes, previous, old_headings):  # "No Text and Data Mining or AI Training"
        for flag in _flags_for(heading, None, Change("added", None, heading), taxonomy, translated, ()):
            flags.setdefault((flag.category, flag.clause, flag.consent_change), flag)
    for flag in _consent_in_section(changes, taxonomy, list(flags.values())):
        flags.setdefault((flag.category, flag.clause, flag.consent_change), flag)
    kept = {f.consent for f in flags.values() if f.category == "training" and f.consent_change != "removed"}
    for change in changes:
        if change.kind == "removed" and change.old:
            for flag in _removed_consent(change.old, taxonomy, translated | {str(k) for k in kept}):
                flags.setdefault((flag.category, flag.clause, flag.consent_change), flag)
    if taxonomy.min_confidence == "high":
        return [f for f in flags.values() if f.confidence == "high"]
    return list(flags.values())


def _reworded_lead_ins(
    changes: Sequence[Change],
    previous: str | None,
    taxonomy: Taxonomy,
    flagged: set[str],
    taken_out: dict[int, str],
) -> list[Flag]:
    """A list's lead-in, reworded, changes what its items say even when they are unchanged ("You agree that
    for Amazon Comprehend, Amazon Lex ...:" gaining "Amazon CodeWhisperer" above "(a) we may use your
    content to improve the service"): it is judged with its items, as one clause, and flagged alone."""
    lead_ins = [
        c
        for c in changes
        if c.kind == "changed" and c.new and c.old and c.new.text not in flagged and _is_lead_in(c.new.text)
    ]
    if not lead_ins or previous is None:
        return []
    clauses = segment(previous)
    changed = set(taken_out.values())
    starts: dict[str, int] = {}
    for index, clause in enumerate(clauses):
        starts.setdefault(wording(clause.text), index)
    found = []
    for change in lead_ins:
        assert change.old and change.new
        lead = wording(change.old.text)
        start = starts.get(lead)
        if start is None:
            continue
        items = itertools.takewhile(partial(_is_item_of, lead), clauses[start + 1 :])
        # the items the change rewrote speak for themselves
        under = " ".join(c.text for c in items if _plain(c.text) not in changed)
        if not under:
            continue
        own = taken_out[id(change.old)]
        others = [w for w in taken_out.values() if w != own]
        new = Clause(f"{change.new.text} {under}", change.new.headings, change.new.lead_in)
        old = Clause(f"{change.old.text} {under}", change.old.headings, change.old.lead_in)
        found += [
            replace(f, clause=change.new.text) for f in _flags_for(new, old, change, taxonomy, set(), others)
        ]
    return found


def _is_lead_in(markdown: str) -> bool:
    return visible_text(markdown).rstrip().endswith(":")


def _is_item_of(lead: str, clause: Clause) -> bool:
    """Whether a clause is an item of the list the lead-in worded `lead` introduces: set under it, or
    written on after it as "(a) ...; (b) ..."."""
    return bool(clause.headings and wording(clause.headings[-1]) == lead) or bool(
        ITEM_MARK.match(clause.text)
    )


def _headings_of(text: str | None) -> frozenset[str]:
    """The wording (`diff.wording`) of every heading of a text."""
    if not text:
        return frozenset()
    return frozenset(wording(next(g for g in m.groups() if g)) for m in HEADING_LINE.finditer(text))


def _new_headings(
    changes: Sequence[Change], previous: str | None, old_headings: frozenset[str]
) -> list[Clause]:
    """Headings the change brought: not in the previous text, and every changed clause under them new.

    A list's lead-in ("We use your data to:") is part of its items' path too, but it is a clause already;
    so is a paragraph of the previous text now set as a heading. `old_headings`: `_headings_of(previous)`.
    """
    if previous is None:
        return []
    old = {wording(h) for c in changes if c.old for h in c.old.headings} | old_headings
    lead_ins = {wording(c.new.text) for c in changes if c.new}
    kinds: dict[tuple[str, ...], set[str]] = {}
    for change in changes:
        for depth in range(1, len(change.new.headings) + 1) if change.new else ():
            kinds.setdefault(change.new.headings[:depth], set()).add(change.kind)
    new = [
        Clause(path[-1], path[:-1])
        for path, found in kinds.items()
        if found == {"added"} and wording(path[-1]) not in old and wording(path[-1]) not in lead_ins
    ]
    if new:
        paragraphs = {wording(c.text) for c in segment(previous)}
        new = [heading for heading in new if wording(heading.text) not in paragraphs]
    return new


def _consent_in_section(changes: Sequence[Change], taxonomy: Taxonomy, flags: list[Flag]) -> list[Flag]:
    """An opt-out or objection added right after a new training clause, under the same heading, belongs to
    it even when it does not repeat the training words ("how you can exercise your right to object"); so
    does one under a new training heading ("Does Google use my chats to train its AI models?" - "Yes,
    unless you turn this setting off.")."""
    training = {f.clause for f in flags if f.category == "training"}
    flagged = {f.clause for f in flags}
    found = []
    last: tuple[int, str | None] | None = None  # where the last training clause was, and its heading
    for index, change in enumerate(changes):
        clause = change.new
        if clause and (clause.text in training or (clause.headings and clause.headings[-1] in training)):
            last = (index, clause.heading)
        if change.kind not in ("added", "changed") or not clause or clause.text in flagged:
            continue
        if last is None or index - last[0] > CONSENT_REACH or clause.heading != last[1]:
            continue
        text = _readable(clause.text)
        consent = _consent(text, taxonomy)
        if not consent or (change.old and _consent(_readable(change.old.text), taxonomy) == consent):
            continue
        wording = taxonomy.opt_out if consent == "opt-out" else taxonomy.opt_in
        found.append(
            Flag(
                category="training",
                clause=clause.text,
                heading=clause.heading,
                terms=(wording.search(text).group(0),),  # type: ignore[union-attr]
                severity="medium",
                rule="training.consent-in-section",
                consent=consent,
                change=change.kind,
                consent_change="added",
            )
        )
    return found


@lru_cache(maxsize=64)
def _with_names(taxonomy: Taxonomy, names: tuple[str, ...]) -> Taxonomy:
    """The taxonomy with a document's own names (its service's), those that hold a term of a category."""
    own = [re.escape(n.strip()) for n in names if match_clause(n, taxonomy)]
    if not own:
        return taxonomy
    shipped = [taxonomy.names.pattern] if taxonomy.names else []
    return replace(taxonomy, names=re.compile("|".join(f"(?:{p})" for p in [*shipped, *own]), re.IGNORECASE))


def _flags_for(
    clause: Clause,
    old: Clause | None,
    change: Change,
    taxonomy: Taxonomy,
    translated: set[str],
    elsewhere: Sequence[str],
) -> list[Flag]:
    """The flags of one added or changed clause; `elsewhere` is the wording the change took out."""
    if _is_navigation(clause.text):
        return []
    lead = _lead_in_of(clause)
    text = lead + _readable(clause.text)
    old_text = _lead_in_of(old) + _readable(old.text) if old else ""
    if old:
        edit = _edit(old_text, text, elsewhere, taxonomy.negations)
    else:
        words = WORD.findall(text[len(lead) :])
        if len(words) >= MOVED_WORDS and _found_in(words, elsewhere):
            return []  # a sentence cut out of a clause the change rewrote or removed: not new wording
        edit = Edit(((len(lead), len(text)),), len(words))
    added = list(edit.added)
    matches = evidence(text, taxonomy)
    consent = _consent(text, taxonomy)
    old_consent = _consent(old_text, taxonomy) if old else None
    consent_change: Literal["added", "removed"] | None = None
    if consent and consent != old_consent:
        consent_change = "added"
    elif old_consent and not consent:
        consent, consent_change = old_consent, "removed"
    new_matches = []
    for match in matches:
        is_training = match.category.name == "training"
        if match.category.name in translated:
            continue
        if (_overlaps(match.spans, added) and not (old and _no_new_mention(match, text, old_text))) or (
            is_training and consent_change
        ):
            new_matches.append(match)
        elif edit.turned:
            # "We do not use your content to train our models" losing its "not": nothing added, all changed
            new_matches.append(
                replace(match, rule=f"{match.category.name}.negation", terms=(*match.terms, *edit.turned))
            )
        elif old and (widening := _widening(match.category, _mask(text, taxonomy.ignore), added)):
            rule = f"{match.category.name}.widened_by"
            new_matches.append(replace(match, rule=rule, terms=(*match.terms, *widening)))
        elif old and match.category.rewording_words and edit.words >= match.category.rewording_words:
            new_words = tuple(dict.fromkeys(w for s, e in added for w in WORD.findall(text[s:e])))
            rule = f"{match.category.name}.reworded"
            new_matches.append(replace(match, rule=rule, terms=(*match.terms, *(f"+{w}" for w in new_words))))
    flagged = {m.category.name for m in new_matches}
    flags = []
    for match in new_matches:
        category = match.category
        if flagged & set(category.yields_to):
            continue
        is_training = category.name == "training"
        # A list item's lead-in ("We use your content to:") tells whose data it is about; names do not.
        context = _mask(_mask(" ".join((*clause.headings, text)), taxonomy.ignore), taxonomy.names)
        severity = "high" if category.high_when and category.high_when.search(context) else category.severity
        if match.confidence == "low" and severity == "high":
            severity = "medium"  # a flag resting on a name or a product alone is never high
        flags.append(
            Flag(
                category=category.name,
                clause=clause.text,
                heading=clause.heading,
                terms=match.terms,
                severity=severity,  # type: ignore[arg-type]
                rule=match.rule,
                consent=consent if is_training else None,
                change=change.kind,
                consent_change=consent_change if is_training else None,
                confidence=match.confidence,
            )
        )
    return flags


def _lead_in_of(clause: Clause) -> str:
    """What a list item is read after: its lead-in ("you grant us a licence to:" + "use your Content to ...")."""
    return f"{clause.headings[-1]}: " if clause.lead_in else ""


def _no_new_mention(match: Match, text: str, old_text: str) -> bool:
    """Whether a rewording names nothing its rule looks for that the old wording did not name as often: the
    words around the mentions changed ("Gemini personalizes" -> "Gemini can personalize", "the Output may
    not be unique" -> "Outputs are probabilistic and may not be unique"), not what the clause is about.
    A mention is known by its first word without inflection; "machine learning" -> "AI" is a new one."""
    rule = match.found_by
    if rule is None:
        return False

    def mentions(t: str) -> Counter[str]:
        return Counter(
            INFLECTION.sub("", WORD.findall(m.group(0).lower())[0])
            for pattern in (rule.terms, rule.near)
            if pattern
            for m in pattern.finditer(t)
            if WORD.search(m.group(0)) and not (rule.negative and _covered(rule.negative, t, m.span()))
        )

    return not mentions(text) - mentions(old_text)


def _negations(negations: re.Pattern[str], words: Sequence[str]) -> Iterable[tuple[str, int, int]]:
    """The negations among `words`, with the index of their first and last word ("can't" is two)."""
    text = " ".join(words)
    starts = list(itertools.accumulate((len(w) + 1 for w in words), initial=0))
    for match in negations.finditer(text):
        first = bisect.bisect_right(starts, match.start()) - 1
        last = bisect.bisect_right(starts, match.end() - 1) - 1
        yield re.sub(r"n t$", "n't", match.group(0).lower()), first, last  # "don t" as written: "don't"


def _widening(category: Category, text: str, added: list[tuple[int, int]]) -> tuple[str, ...]:
    """New words that widen a clause already in the category (a licence now reaching third parties)."""
    if not category.widened_by:
        return ()
    return tuple(m.group(0) for m in category.widened_by.finditer(text) if _overlaps([m.span()], added))


def _removed_consent(clause: Clause, taxonomy: Taxonomy, still_given: set[str]) -> list[Flag]:
    """A removed training clause that gave an opt-out or an opt-in takes that choice away, unless the new
    wording still gives the same choice (`still_given` holds the choices and categories still there)."""
    text = _readable(clause.text)
    consent = _consent(text, taxonomy)
    if not consent or consent in still_given or "training" in still_given:
        return []
    return [
        Flag(
            category="training",
            clause=clause.text,
            heading=clause.heading,
            terms=match.terms,
            severity="high",
            rule=match.rule,
            consent=consent,
            change="removed",
            consent_change="removed",
        )
        for match in evidence(text, taxonomy)
        if match.category.name == "training" and match.confidence == "high"
    ]
