"""Compare the variants of a document: what one country or language is told and another is not.

A document declared with `variants:` is checked once per variant, each with its own history (see
tosmon.watchlist). After each check the latest versions of a document's variants are compared:

- in one language (`mode: "text"`), clause by clause on their wording (`diff.wording`: case,
  punctuation, numbering and link targets do not count): a clause some variants carry and others
  lack is a difference, flagged by the taxonomy as if it were new;
- in several languages (`mode: "structure"`), words cannot be compared: the clauses the taxonomy
  flags are matched between variants by category and place in the text (their relative position;
  a translation keeps the order of its clauses), and a flagged clause one language has and
  another lacks is a difference.

What was last reported is kept in `<store>/<service>/<document>@variants.json`, with the date each
difference was first seen: a difference is reported when it appears and when it goes, never again
while it stays.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from tosmon.diff import segment, wording
from tosmon.errors import StoreError
from tosmon.flag.rules import Taxonomy, flag_changes
from tosmon.health import language
from tosmon.models import Change, Clause, Document, Flag, VariantComparison, VariantDifference
from tosmon.store.files import Store, read_json, write_json

SCHEMA_VERSION = 1
PLACE_TOLERANCE = 0.2  # how far apart (share of the text) two translations of a clause may stand
PAIRING_THRESHOLD = 0.5  # share of words two wordings of a clause have in common (as diff pairs them)
SHARED_MINIMUM = 0.2  # variants sharing less of their clauses than this are not in one language
MAX_RESOLVED = 200  # past differences kept in a comparison's file, the latest
MAX_PAIRED = 500  # differences beyond which the variants are too far apart to look for rewordings
CATEGORY_WORDS = {
    "ai": "AI clause",
    "training": "AI training clause",
    "licensing": "content licensing clause",
}
SEVERITY_RANK = {"high": 0, "medium": 1, "low": 2}
MODE_WORDS = {"text": "clause by clause", "structure": "by structure and flags (languages differ)"}


def groups(documents: Iterable[Document]) -> dict[tuple[str, str], list[Document]]:
    """The documents that have variants, by (service, document), variants in watchlist order."""
    found: dict[tuple[str, str], list[Document]] = {}
    for document in documents:
        if document.variant:
            found.setdefault((document.service, document.name), []).append(document)
    return {key: members for key, members in found.items() if len(members) > 1}


def compare_variants(
    documents: Iterable[Document], store: Store, taxonomy: Taxonomy, now: Callable[[], datetime]
) -> tuple[VariantComparison, ...]:
    """Compare the latest versions of each checked document's variants; return what changed since
    the last comparison (only comparisons with news, or an error)."""
    news = []
    for (service, name), members in groups(documents).items():
        try:
            comparison = _compare_group(service, name, members, store, taxonomy, now())
        except StoreError as error:
            comparison = VariantComparison(
                service, name, tuple(d.variant or "" for d in members), {}, "text", error=str(error)
            )
        if comparison is not None:
            news.append(comparison)
    return tuple(news)


def _compare_group(
    service: str, name: str, members: list[Document], store: Store, taxonomy: Taxonomy, now: datetime
) -> VariantComparison | None:
    latest = {str(d.variant): store.latest_version(d) for d in members}
    versions = {variant: version.name for variant, version in latest.items() if version is not None}
    missing = [variant for variant, version in latest.items() if version is None]
    if len(versions) < 2:
        return None  # nothing to compare yet; the variants that have failed so far are reported as errors
    path = store.comparison_path(service, name)
    earlier = read_json(path) if path.exists() else {}
    if earlier.get("versions") == versions and earlier.get("missing") == missing:
        return None  # the same versions as last compared: nothing new to tell, nothing to read
    texts = {variant: version.text for variant, version in latest.items() if version is not None}
    mode, differences, languages = compare_texts(texts, taxonomy, names=(service,))
    before = {str(d["key"]): d for d in earlier.get("differences") or [] if isinstance(d, dict)}  # type: ignore[union-attr]
    current = {key_of(d): d for d in differences}
    appeared = tuple(d for key, d in current.items() if key not in before)
    resolved = tuple(difference_from_json(d) for key, d in before.items() if key not in current)
    stored = [
        {
            **difference_to_json(d),
            "key": key,
            "since": str(before[key]["since"]) if key in before else now.isoformat(),
        }
        for key, d in current.items()
    ]
    gone = [{**before[key], "until": now.isoformat()} for key in before if key not in current]
    past = [d for d in earlier.get("resolved") or [] if isinstance(d, dict)]  # type: ignore[union-attr]
    state = {
        "schema_version": SCHEMA_VERSION,
        "service": service,
        "document": name,
        "variants": list(texts),
        "missing": missing,
        "mode": mode,
        "languages": languages,
        "versions": versions,
        "differences": stored,
        "resolved": (past + gone)[-MAX_RESOLVED:],  # the differences that went, and when
    }
    if {k: v for k, v in earlier.items() if k != "compared_at"} != state:
        write_json(path, {**state, "compared_at": now.isoformat()})  # written only when something differs
    if not appeared and not resolved:
        return None
    return VariantComparison(
        service,
        name,
        tuple(texts),
        versions,
        mode,
        appeared,
        resolved,
        tuple(missing),
        languages,
    )


def compare_texts(
    texts: dict[str, str], taxonomy: Taxonomy, *, names: Sequence[str] = ()
) -> tuple[str, list[VariantDifference], dict[str, str | None]]:
    """How the texts of a document's variants differ: by wording when they share a language, by the
    place and category of their flagged clauses when they do not. `names` are the service's own
    names, whose AI words are no evidence of an AI clause (as in `check.record`)."""
    languages = {variant: language(text) for variant, text in texts.items()}
    placed = {variant: _placed(text) for variant, text in texts.items()}  # each text cut once
    found = list(dict.fromkeys(found for found in languages.values() if found))
    if len(found) < 2 and not _strangers(placed):
        return "text", _by_wording(placed, taxonomy, names), languages
    if len(found) < 2:  # a language tosmon cannot name (Japanese?): its words are no guide either
        found = []
    differences, matched = _by_structure(placed, taxonomy, names)
    for spoken in found:  # and, between the variants in one language, their words
        members = {v: clauses for v, clauses in placed.items() if languages[v] == spoken}
        if len(members) > 1:
            differences += [
                d
                for d in _by_wording(members, taxonomy, names)
                if not (d.flags and wording(d.clause) in matched)
            ]
    return "structure", differences, languages


def _strangers(placed: dict[str, dict[str, _Placed]]) -> bool:
    """Whether some variant shares almost no clause with the others: another language, one that
    `health.language` does not know."""
    for variant, mine in placed.items():
        others = set().union(*(k for v, k in placed.items() if v != variant))
        if mine and len(mine.keys() & others) < SHARED_MINIMUM * len(mine):
            return True
    return False


@dataclass
class _Placed:
    clause: Clause
    position: float


def _placed(text: str) -> dict[str, _Placed]:
    """A text's clauses by wording (the first of repeated ones), each with its relative place."""
    clauses = segment(text)
    last = max(len(clauses) - 1, 1)
    found: dict[str, _Placed] = {}
    for index, clause in enumerate(clauses):
        key = wording(clause.text)
        if key and key not in found:
            found[key] = _Placed(clause, index / last)
    return found


def _by_wording(
    placed: dict[str, dict[str, _Placed]], taxonomy: Taxonomy, names: Sequence[str]
) -> list[VariantDifference]:
    variants = list(placed)
    seen: dict[str, None] = {}
    for variant in variants:
        seen.update(dict.fromkeys(placed[variant]))
    differences = []
    for key in seen:
        present = tuple(v for v in variants if key in placed[v])
        if len(present) == len(variants):
            continue
        first = placed[present[0]][key]
        differences.append(
            VariantDifference(
                first.clause.text,
                first.clause.heading,
                present,
                tuple(v for v in variants if v not in present),
                position=round(first.position, 3),
            )
        )
    clauses = [Clause(d.clause, _headings(d.heading)) for d in differences]
    own = {
        v: [p for k, p in placed[v].items() if any(k not in placed[o] for o in variants)] for v in variants
    }
    flags = _flags_of([*clauses, *(p.clause for found in own.values() for p in found)], taxonomy, names)
    result = []
    for difference in differences:
        found = tuple(flags.get(difference.clause, ()))
        counterparts = _counterparts(difference, own, placed) if len(differences) <= MAX_PAIRED else {}
        if found and len(counterparts) == len(difference.absent):
            # worded differently everywhere else: a difference of flags only if theirs differ
            theirs = [flags.get(c.text, ()) for c in counterparts.values()]
            if all(_covered(found, other) for other in theirs):
                found = ()
        result.append(
            replace(
                difference,
                flags=found,
                counterparts=tuple((v, c.text) for v, c in counterparts.items()),
            )
        )
    return result


def _counterparts(
    difference: VariantDifference, own: dict[str, list[_Placed]], placed: dict[str, dict[str, _Placed]]
) -> dict[str, Clause]:
    """In each variant that lacks the clause, the clause of its own that says the same in other
    words, if there is one: about the same place, most of the same words."""
    words = Counter(wording(difference.clause).split())
    found = {}
    for variant in difference.absent:
        best = (PAIRING_THRESHOLD, None)
        for item in own[variant]:
            if abs(item.position - difference.position) > PLACE_TOLERANCE:
                continue
            if any(wording(item.clause.text) in placed[v] for v in difference.present):
                continue  # the present variants have this one too: it is not a rewording of ours
            other = Counter(wording(item.clause.text).split())
            common = sum((words & other).values())
            ratio = 2 * common / max(words.total() + other.total(), 1)
            if ratio >= best[0]:
                best = (ratio, item.clause)
        if best[1] is not None:
            found[variant] = best[1]
    return found


def _covered(mine: tuple[Flag, ...], theirs: tuple[Flag, ...]) -> bool:
    """Whether another wording raises every flag this one does: each category, and each choice
    (opt-in, opt-out) this one gives. Then this wording tells that variant nothing it is not told."""
    categories = {f.category for f in theirs}
    choices = {(f.category, f.consent) for f in theirs}
    return all(
        f.category in categories and (not f.consent or (f.category, f.consent) in choices) for f in mine
    )


def _by_structure(
    placed: dict[str, dict[str, _Placed]], taxonomy: Taxonomy, names: Sequence[str]
) -> tuple[list[VariantDifference], set[str]]:
    """Flagged clauses matched across languages: same category, about the same place in the text.
    Also the wordings of every clause in those differences, which need no other report."""
    variants = list(placed)
    clusters: list[dict[str, tuple[_Placed, tuple[Flag, ...]]]] = []
    for variant in variants:
        items = list(placed[variant].values())
        flags = _flags_of([p.clause for p in items], taxonomy, names)
        for item in items:
            found = flags.get(item.clause.text)
            if not found:
                continue
            categories = {f.category for f in found}
            candidates = [
                (abs(_centre(cluster) - item.position), index)
                for index, cluster in enumerate(clusters)
                if variant not in cluster
                and categories & {f.category for _, fs in cluster.values() for f in fs}
                and abs(_centre(cluster) - item.position) <= PLACE_TOLERANCE
            ]
            if candidates:
                clusters[min(candidates)[1]][variant] = (item, found)
            else:
                clusters.append({variant: (item, found)})
    differences = []
    matched = set()
    for cluster in clusters:
        if len(cluster) == len(variants):
            continue
        matched.update(wording(item.clause.text) for item, _ in cluster.values())
        first, flags = next(iter(cluster.values()))
        differences.append(
            VariantDifference(
                first.clause.text,
                first.clause.heading,
                tuple(v for v in variants if v in cluster),
                tuple(v for v in variants if v not in cluster),
                flags,
                round(first.position, 3),
                by="structure",
            )
        )
    return differences, matched


def _centre(cluster: dict[str, tuple[_Placed, tuple[Flag, ...]]]) -> float:
    return sum(item.position for item, _ in cluster.values()) / len(cluster)


def _headings(heading: str | None) -> tuple[str, ...]:
    return tuple(heading.split(" > ")) if heading else ()


def _flags_of(clauses: list[Clause], taxonomy: Taxonomy, names: Sequence[str]) -> dict[str, tuple[Flag, ...]]:
    """What each clause would raise as a new clause, most severe first, by clause text; `names`
    are the service's own ("Mistral AI" alone is no AI clause on Mistral AI's pages)."""
    found: dict[str, list[Flag]] = {}
    for flag in flag_changes([Change("added", None, clause) for clause in clauses], taxonomy, names=names):
        found.setdefault(flag.clause, []).append(flag)
    return {
        clause: tuple(sorted(flags, key=lambda f: SEVERITY_RANK.get(f.severity, 3)))
        for clause, flags in found.items()
    }


def key_of(difference: VariantDifference) -> str:
    """What makes a difference the same one from one comparison to the next: its wording (or, across
    languages, its categories and first wording) and which variants carry it."""
    what = wording(difference.clause)
    if difference.by == "structure":
        what = "/".join(sorted({f.category for f in difference.flags})) + ":" + what
    return f"{what}|{','.join(difference.present)}|{','.join(difference.absent)}"


# -- as data --------------------------------------------------------------------------------------


def flag_json(flag: Flag) -> dict[str, object]:
    """A flag as comparisons show it: a clause that differs is not a change, so no `change` to report."""
    return {**flag.to_json(), "change": None, "consent_change": None}


def difference_to_json(difference: VariantDifference) -> dict[str, object]:
    return {
        "clause": difference.clause,
        "heading": difference.heading,
        "in": list(difference.present),
        "not_in": list(difference.absent),
        "position": difference.position,
        "flags": [flag_json(f) for f in difference.flags],
        "worded_differently": dict(difference.counterparts),
        "by": difference.by,
    }


def difference_from_json(data: dict[str, object]) -> VariantDifference:
    return VariantDifference(
        str(data.get("clause", "")),
        str(data["heading"]) if data.get("heading") else None,
        tuple(data.get("in") or ()),  # type: ignore[arg-type]
        tuple(data.get("not_in") or ()),  # type: ignore[arg-type]
        tuple(Flag.from_json(f) for f in data.get("flags") or ()),  # type: ignore[union-attr, arg-type]
        float(data.get("position") or 0.0),  # type: ignore[arg-type]
        tuple(dict(data.get("worded_differently") or {}).items()),  # type: ignore[call-overload]
        str(data.get("by") or "wording"),
    )


def comparison_to_json(comparison: VariantComparison) -> dict[str, object]:
    """One comparison in `check --json`'s `variants` list: what appeared (`only_in`, `flags`,
    `differences`) and what went (`resolved`) since the last comparison."""
    only_in: dict[str, list[str]] = {}
    for difference in comparison.appeared:
        for variant in difference.present:
            only_in.setdefault(variant, []).append(difference.clause)
    return {
        "service": comparison.service,
        "document": comparison.document,
        "variants": list(comparison.variants),
        "mode": comparison.mode,
        "versions": comparison.versions,
        "languages": comparison.languages,
        "missing": list(comparison.missing),
        "only_in": only_in,
        "flags": [
            {**flag_json(f), "in": list(d.present), "not_in": list(d.absent), "position": d.position}
            for d in comparison.appeared
            for f in d.flags
        ],
        "differences": [difference_to_json(d) for d in comparison.appeared],
        "resolved": [difference_to_json(d) for d in comparison.resolved],
        "summary": summary(comparison),
        "error": comparison.error,
    }


def recent(documents: Iterable[Document], store: Store, since: datetime) -> tuple[VariantComparison, ...]:
    """The differences between variants that appeared or went since `since`, from the store alone
    (for `tosmon report`)."""
    found = []
    for service, name in groups(documents):
        path = store.comparison_path(service, name)
        try:
            state = read_json(path) if path.exists() else {}
        except StoreError:
            continue  # `tosmon verify` reports it
        appeared = tuple(
            difference_from_json(d)
            for d in state.get("differences") or []  # type: ignore[union-attr]
            if datetime.fromisoformat(str(d.get("since"))) >= since
        )
        resolved = tuple(
            difference_from_json(d)
            for d in state.get("resolved") or []  # type: ignore[union-attr]
            if datetime.fromisoformat(str(d.get("until"))) >= since
        )
        if appeared or resolved:
            found.append(
                VariantComparison(
                    service,
                    name,
                    tuple(state.get("variants") or ()),  # type: ignore[arg-type]
                    dict(state.get("versions") or {}),  # type: ignore[call-overload]
                    str(state.get("mode", "text")),
                    appeared,
                    resolved,
                    tuple(state.get("missing") or ()),  # type: ignore[arg-type]
                    dict(state.get("languages") or {}),  # type: ignore[call-overload]
                )
            )
    return tuple(found)


def current(store: Store) -> list[dict[str, object]]:
    """Every document's variants as last compared (the store's `@variants.json` files), for the site."""
    found = []
    for path in sorted(store.root.glob("[!.]*/[!.]*@variants.json")):
        try:
            found.append(read_json(path))
        except StoreError:
            continue  # `tosmon verify` reports it
    return found


# -- in words -------------------------------------------------------------------------------------


def and_list(names: Iterable[str]) -> str:
    """US, GB and CA."""
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def difference_title(difference: VariantDifference) -> str:
    """ "the AI training clause" for a flagged difference, "a clause" otherwise."""
    if not difference.flags:
        return "a clause"
    flag = difference.flags[0]
    title = CATEGORY_WORDS.get(flag.category, f"{flag.category} clause")
    if flag.consent:  # an objection offered here, not there: the news of Meta's EU and US policies
        title = title.replace(" clause", f" clause with an {flag.consent}")
    return "the " + title


def reworded_everywhere(difference: VariantDifference) -> bool:
    """Whether every variant without the clause says the same in other words."""
    return len(difference.counterparts) == len(difference.absent)


def sides(difference: VariantDifference) -> str:
    """ "in US and GB, not in CA", or "US's wording" for a clause the others word differently."""
    if reworded_everywhere(difference):
        return f"{and_list(difference.present)}'s wording"
    return f"in {and_list(difference.present)}, not in {and_list(difference.absent)}"


def sentence(difference: VariantDifference, *, resolved: bool = False) -> str:
    """ "the AI training clause appears in US and GB, not in CA"."""
    where = f"in {and_list(difference.present)}, not in {and_list(difference.absent)}"
    if resolved:
        return f"no longer a difference: {difference_title(difference)} that appeared {where}"
    return f"{difference_title(difference)} appears {where}"


def placing(difference: VariantDifference) -> str:
    """Where a clause stands, for readers of another language: "under Terms > Your content, 45% in"."""
    under = f"under {difference.heading}, " if difference.heading else ""
    return f"{under}{round(difference.position * 100)}% into the text"


def summary(comparison: VariantComparison) -> list[str]:
    """One line per flagged difference that appeared or went, and a count of the others."""
    if comparison.error:
        return [f"could not compare the variants: {comparison.error}"]
    lines = [
        sentence(d) + (f" ({placing(d)})" if d.by == "structure" else "")
        for d in comparison.appeared
        if d.flags
    ]
    counts: dict[tuple[tuple[str, ...], tuple[str, ...]], int] = {}
    reworded: dict[str, None] = {}
    for difference in comparison.appeared:
        if difference.flags:
            continue
        if reworded_everywhere(difference):
            reworded.update(dict.fromkeys((*difference.present, *difference.absent)))
            continue
        sides = (difference.present, difference.absent)
        counts[sides] = counts.get(sides, 0) + 1
    for (present, absent), n in counts.items():
        clauses = "1 clause" if n == 1 else f"{n} clauses"
        lines.append(f"{clauses} in {and_list(present)}, not in {and_list(absent)}")
    if reworded:
        n = sum(1 for d in comparison.appeared if not d.flags and reworded_everywhere(d))
        lines.append(f"{n} {'wording differs' if n == 1 else 'wordings differ'} between {and_list(reworded)}")
    lines += [sentence(d, resolved=True) for d in comparison.resolved if d.flags]
    gone = sum(1 for d in comparison.resolved if not d.flags)
    if gone:
        lines.append(f"{gone} other clause(s) no longer differ")
    if comparison.missing:
        lines.append(f"not compared yet (no version recorded): {and_list(comparison.missing)}")
    return lines
