"""Compare two versions clause by clause.

A version is cut into clauses (sentences, list items, paragraphs, each with its heading path), the
clause sequences are diffed with diff-match-patch, and deleted/inserted clauses are paired into
`changed` when they are rewordings of each other and into `moved` when the same clause reappears
elsewhere. Diffing clauses first keeps the worst case (a page replaced by an unrelated one) fast:
character-level diffs only ever run inside one pair of similar clauses.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from difflib import SequenceMatcher

from diff_match_patch import diff_match_patch

from tosmon.models import Change, Clause

ABBREVIATIONS = frozenset(
    [
        "e.g",
        "i.e",
        "etc",
        "vs",
        "cf",
        "al",
        "inc",
        "ltd",
        "llc",
        "co",
        "corp",
        "plc",
        "gmbh",
        "s.a",
        "s.l",
        "sarl",
        "sas",
        "b.v",
        "n.v",
        "ag",
        "no",
        "nos",
        "nr",
        "art",
        "arts",
        "sec",
        "para",
        "paras",
        "ch",
        "cl",
        "approx",
        "dept",
        "est",
        "fig",
        "jr",
        "sr",
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "st",
        "ave",
        "u.s",
        "u.k",
        "u.s.a",
        "e.u",
        "p.ex",
        "ex",
        "env",
        "z.b",
        "bzw",
        "ggf",
        "usw",
        "d.h",
        "u.a",
        "vgl",
        "abs",
        "ca",
        "nr",
        "inkl",
        "evtl",
        "sog",
        "ff",
        "p",
        "pp",
        "vol",
        "op",
        "ibid",
        "viz",
        "resp",
        "incl",
        "min",
        "max",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
    ]
)
HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
LIST_MARKER = re.compile(r"^(\s*)(?:[-*+•]|\d{1,3}[.)]|[a-zA-Z][.)]|\(\w{1,4}\))\s+")
BOLD_LINE = re.compile(r"^\*\*([^*]{1,150})\*\*:?$")
SENTENCE_END = re.compile(r"""([.!?;])(["'”’»)\]]*)\s+(?=[("“«'‘\[]?[A-ZÀ-ÖØ-Þ¿¡0-9])""")
WORD = re.compile(r"\w+|[^\w\s]", re.UNICODE)
PAIRING_THRESHOLD = 0.5


def segment(text: str) -> list[Clause]:
    """Cut a version into clauses, each knowing the headings it sits under."""
    clauses: list[Clause] = []
    headings: list[tuple[int, str]] = []
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if not line:
            continue
        heading = HEADING.match(line)
        bold = BOLD_LINE.match(line)
        if heading or (bold and not bold.group(1).rstrip().endswith((".", ";"))):
            level = len(heading.group(1)) if heading else 7
            title = (heading.group(2) if heading else bold.group(1)).strip().strip("*").strip()
            while headings and headings[-1][0] >= level:
                headings.pop()
            headings.append((level, title))
            continue
        path = tuple(title for _, title in headings)
        body = LIST_MARKER.sub("", line, count=1)
        for sentence in split_sentences(body):
            clauses.append(Clause(sentence, path))
    return clauses


def split_sentences(paragraph: str) -> list[str]:
    """Split on sentence ends, but not after abbreviations, initials or section numbers."""
    sentences: list[str] = []
    start = 0
    for match in SENTENCE_END.finditer(paragraph):
        end = match.end(2)
        if match.group(1) == ".":
            before = paragraph[start : match.start(1)]
            last_word = re.split(r"[\s(\[\"“]", before)[-1].lower()
            if (
                last_word in ABBREVIATIONS
                or len(last_word) == 1
                or re.fullmatch(r"[\d.]+|[a-z](\.[a-z])+", last_word)
            ):
                continue
        elif match.group(1) == ";" and end - start < 40:
            continue
        sentence = paragraph[start:end].strip()
        if sentence:
            sentences.append(sentence)
        start = match.end()
    tail = paragraph[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences


def diff_versions(old: str, new: str) -> list[Change]:
    return diff_clauses(segment(old), segment(new))


def diff_clauses(old: list[Clause], new: list[Clause]) -> list[Change]:
    """Clause-level changes from `old` to `new`, in the order of the new version."""
    codes: dict[str, str] = {}

    def encode(clauses: list[Clause]) -> str:
        # One private character per distinct clause, so diff-match-patch diffs clause sequences.
        out = []
        for clause in clauses:
            if clause.text not in codes:
                n = len(codes) + 0x100
                codes[clause.text] = chr(n + 0x800 if n >= 0xD800 else n)
            out.append(codes[clause.text])
        return "".join(out)

    matcher = diff_match_patch()
    matcher.Diff_Timeout = 0
    diffs = matcher.diff_main(encode(old), encode(new), False)
    deleted: list[Clause] = []
    inserted: list[Clause] = []
    i = j = 0
    for op, chunk in diffs:
        if op == 0:
            i += len(chunk)
            j += len(chunk)
        elif op == -1:
            deleted.extend(old[i : i + len(chunk)])
            i += len(chunk)
        else:
            inserted.extend(new[j : j + len(chunk)])
            j += len(chunk)
    return _pair(deleted, inserted)


def _pair(deleted: list[Clause], inserted: list[Clause]) -> list[Change]:
    changes: list[Change] = []
    remaining_deleted = Counter(c.text for c in deleted)
    unmatched_inserts: list[Clause] = []
    for clause in inserted:
        if remaining_deleted[clause.text] > 0:
            remaining_deleted[clause.text] -= 1
            old = next(c for c in deleted if c.text == clause.text)
            changes.append(Change("moved", old, clause))
        else:
            unmatched_inserts.append(clause)
    leftover = []
    for clause in deleted:
        if remaining_deleted[clause.text] > 0:
            remaining_deleted[clause.text] -= 1
            leftover.append(clause)
    pairs = _similar_pairs(leftover, unmatched_inserts)
    paired_old = {id(o) for o, _ in pairs.values()}
    for index, clause in enumerate(unmatched_inserts):
        if index in pairs:
            old, _ = pairs[index]
            added, removed = word_changes(old.text, clause.text)
            changes.append(Change("changed", old, clause, added, removed))
        else:
            changes.append(Change("added", None, clause))
    for clause in leftover:
        if id(clause) not in paired_old:
            changes.append(Change("removed", clause, None))
    return changes


def _words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def _similar_pairs(deleted: list[Clause], inserted: list[Clause]) -> dict[int, tuple[Clause, float]]:
    """Pair each inserted clause with the most similar deleted one, through an index of shared words."""
    if not deleted or not inserted:
        return {}
    postings: dict[str, list[int]] = defaultdict(list)
    deleted_words = [_words(c.text) for c in deleted]
    for index, words in enumerate(deleted_words):
        for word in set(words):
            if len(word) > 2:
                postings[word].append(index)
    too_common = max(50, len(deleted) // 10)
    candidates: list[tuple[float, int, int]] = []
    for new_index, clause in enumerate(inserted):
        words = _words(clause.text)
        shared: Counter[int] = Counter()
        for word in set(words):
            hits = postings.get(word, ())
            if len(word) > 2 and len(hits) <= too_common:
                shared.update(hits)
        for old_index, _ in shared.most_common(5):
            ratio = SequenceMatcher(None, deleted_words[old_index], words, autojunk=False).ratio()
            if ratio >= PAIRING_THRESHOLD:
                candidates.append((ratio, new_index, old_index))
    candidates.sort(reverse=True)
    used_old: set[int] = set()
    pairs: dict[int, tuple[Clause, float]] = {}
    for ratio, new_index, old_index in candidates:
        if new_index not in pairs and old_index not in used_old:
            pairs[new_index] = (deleted[old_index], ratio)
            used_old.add(old_index)
    return pairs


def word_diff(old: str, new: str) -> list[tuple[int, str]]:
    """A word-level diff of two clauses: (-1 removed | 0 same | 1 added, text) runs, for readable reports."""
    tokens: dict[str, str] = {}

    def encode(text: str) -> str:
        out = []
        for part in re.findall(r"\S+|\s+", text):
            if part not in tokens:
                n = len(tokens) + 0x100
                tokens[part] = chr(n + 0x800 if n >= 0xD800 else n)
            out.append(tokens[part])
        return "".join(out)

    matcher = diff_match_patch()
    matcher.Diff_Timeout = 0
    old_code, new_code = encode(old), encode(new)
    decode = {v: k for k, v in tokens.items()}
    diffs = matcher.diff_main(old_code, new_code, False)
    matcher.diff_cleanupSemantic(diffs)
    return [(op, "".join(decode[c] for c in chunk)) for op, chunk in diffs]


def word_changes(old: str, new: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The runs of words a rewording added and removed."""
    runs = word_diff(old, new)
    added = tuple(t.strip() for op, t in runs if op == 1 and t.strip())
    removed = tuple(t.strip() for op, t in runs if op == -1 and t.strip())
    return added, removed
