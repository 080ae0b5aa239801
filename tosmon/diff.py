"""Compare two versions clause by clause.

A version is cut into clauses (sentences, list items, table cells, each with its heading path). Clauses
are compared on their wording only (`wording`: words of the visible text, without link targets, Markdown
emphasis, invisible characters or punctuation), so reformatting, a new link target or a curly apostrophe
is no change. The clause sequences are diffed with diff-match-patch; deleted and inserted clauses are
then paired into `moved` (the same wording elsewhere) and `changed` (a rewording of each other).
`restore` then marks as `restored` the new wordings the document already carried (tosmon.store.memory).
Diffing clauses first keeps the worst case (a page replaced by an unrelated one) fast: word-level diffs
only ever run inside one pair of similar clauses.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import replace
from functools import lru_cache
from itertools import chain, islice
from operator import itemgetter

from diff_match_patch import diff_match_patch

from tosmon.models import Change, Clause

# Words after which a full stop does not end a sentence (lower case, without the final dot).
ABBREVIATIONS = frozenset(
    """e.g i.e etc vs cf al inc ltd llc co corp plc gmbh s.a s.l sarl sas b.v n.v ag no nos nr art arts sec
    para paras ch cl approx dept est fig jr sr mr mrs ms dr prof st ave u.s u.k u.s.a e.u p.ex ex env z.b bzw
    ggf usw d.h u.a vgl abs ca inkl evtl sog ff p pp vol op ibid viz resp incl min max jan feb mar apr jun
    jul aug sep sept oct nov dec mme mlle cie sté av dir ecc sig sra sres dña núm pág bijv mevr dhr o.a
    zgn""".split()  # noqa: SIM905 (a word list reads better as words)
)
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*$")
SETEXT = re.compile(r"^(?:=+|-+)$")
RULE = re.compile(r"^(?:[-*_]\s*){3,}$")
LIST_MARKER = re.compile(r"^(?:[-*+•·▪◦]|\d{1,3}\\?[.)]|[a-zA-Z]\\?[.)]|\(\w{1,4}\))\s+")
BOLD_LINE = re.compile(r"^(?:\*\*|__)([^*_]{1,150}?)(?:\*\*|__):?$")
TABLE_SEPARATOR = re.compile(r"^\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?$")
LINE_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
SENTENCE_END = re.compile(
    r"""([.!?;:])(["'”’»)\]*_]*)\s+(?=[*_]*(?:[("“«'‘\[¿¡]?[A-ZÀ-ÖØ-Þ0-9]|\([a-z]{1,4}\)\s))"""
)
LINK_TARGET = re.compile(r"\]\((?:[^()\s]|\([^()]*\))*(?:\s+\"[^\"]*\")?\)")
IMAGE = re.compile(r"!\[[^\]]*\]\((?:[^()]|\([^()]*\))*\)")
LINK = re.compile(r"\[([^\]]*)\]\((?:[^()]|\([^()]*\))*\)")
INVISIBLE = re.compile("[\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]")
MARKUP = re.compile(r"<[^>]{1,80}>|(?<!\w)[*_]+|[*_]+(?!\w)|\\(?=[^\w\s])")
QUOTES = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "«": '"', "»": '"', "\u00a0": " "})
WORD = re.compile(r"\w+", re.UNICODE)
# A word diff's tokens: words, runs of spaces, and each punctuation mark on its own, so that deleting
# ", unless you have activated zero data retention" before a full stop shows as exactly that.
WORD_OR_MARK = re.compile(r"\w+|\s+|[^\w\s]")
NUMBERING = re.compile(r"^(?:(?:\d{1,3}|[a-z]|[ivx]{1,4}) )+")
PAIRING_THRESHOLD = 0.5
QUESTION_TITLE_WORDS = 30  # a question alone on its line, this short, titles the answer below it
MIN_CLAUSE_CHARS = 60  # a semicolon or colon only ends a clause this long
LONG_SEQUENCE = 1000  # keys in both sequences together, beyond which diff_sequences cuts at anchors


@lru_cache(maxsize=65536)
def visible_text(markdown: str) -> str:
    """The words a reader sees: no link targets, images, emphasis, HTML tags or invisible characters."""
    text = INVISIBLE.sub("", markdown) if not markdown.isascii() else markdown
    if "](" in text:
        text = LINK.sub(r"\1", IMAGE.sub(" ", text))
    text = MARKUP.sub("", text)
    if not text.isascii():
        text = text.translate(QUOTES)
    return " ".join(text.split())


@lru_cache(maxsize=16384)  # most clauses of a new version are those of the last one, cut again
def wording(text: str) -> str:
    """What two clauses must share to count as the same clause: their visible words, in order, without
    a leading number ("2.1", "(b)", "iv."), so renumbering is no change."""
    return NUMBERING.sub("", " ".join(WORD.findall(visible_text(text).lower())))


def segment(text: str) -> list[Clause]:
    """Cut a version into clauses, each knowing the headings it sits under.

    A paragraph or list item ending with a colon introduces the list items below it ("We use your
    data to:"), so it is part of their path, like a heading.
    """
    clauses: list[Clause] = []
    headings: list[tuple[int, str]] = []
    lead_ins: list[tuple[int, str]] = []  # (indent, text) of the lines introducing the current lists
    raw_lines = text.splitlines()
    lines = [line.strip() for line in raw_lines]
    for index, line in enumerate(lines):
        if not line or SETEXT.match(line) or RULE.match(line) or TABLE_SEPARATOR.match(line):
            continue
        following = lines[index + 1] if index + 1 < len(lines) else ""
        heading = HEADING.match(line)
        bold = BOLD_LINE.match(line)
        level = 0
        if heading:
            level, title = len(heading.group(1)), heading.group(2)
        elif SETEXT.match(following) and len(following) >= 3 and not line.startswith("|"):
            level, title = (1 if following[0] == "=" else 2), line
        elif bold and not bold.group(1).rstrip().endswith((".", ";", ",")):
            level, title = 7, bold.group(1)
        elif line.rstrip("*_ ").endswith("?") and _is_question_title(line, _next_text(lines, index)):
            level, title = 8, line
        if level:
            title = visible_text(title).strip(" :")
            while headings and headings[-1][0] >= level:
                headings.pop()
            if title:
                headings.append((level, title))
            lead_ins.clear()
            continue
        indent = len(raw_lines[index]) - len(raw_lines[index].lstrip())
        is_item = bool(LIST_MARKER.match(line))
        while lead_ins and not (is_item and indent > lead_ins[-1][0]):
            lead_ins.pop()
        path = tuple(title for _, title in headings) + tuple(text for _, text in lead_ins)
        found = _line_clauses(line)
        clauses.extend(Clause(sentence, path, bool(lead_ins)) for sentence in found)
        if found and visible_text(found[-1]).endswith(":") and not line.startswith("|"):
            lead_ins.append((indent if is_item else -1, visible_text(found[-1]).rstrip(":")))
    return clauses


def _next_text(lines: list[str], index: int) -> str:
    return next((line for line in islice(lines, index + 1, None) if line), "")


def _is_question_title(line: str, following: str) -> bool:
    """A question standing alone on its line above a paragraph is the title of the answer below it, as in a
    privacy FAQ ("How can I control whether Google uses my audio to improve its services?"): a heading."""
    if not following or line.startswith("|") or LIST_MARKER.match(line) or HEADING.match(following):
        return False
    text = visible_text(line)
    return (
        text.endswith("?")
        and len(WORD.findall(text)) <= QUESTION_TITLE_WORDS
        and len(split_sentences(text)) == 1
    )


def _line_clauses(line: str) -> list[str]:
    """The sentences of one paragraph, list item or table row (one cell, one line break at a time)."""
    parts = _cells(line) if line.startswith("|") else [line]
    sentences = []
    for part in parts:
        for piece in LINE_BREAK.split(part):
            piece = LIST_MARKER.sub("", piece.strip(), count=1)
            sentences.extend(s for s in split_sentences(piece) if WORD.search(s))
    return sentences


def _cells(row: str) -> list[str]:
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", row.strip().strip("|"))]


def split_sentences(paragraph: str) -> list[str]:
    """Split on sentence ends, but not after abbreviations, initials, section numbers or inside links."""
    masked = LINK_TARGET.sub(lambda m: "]" + "x" * (len(m.group(0)) - 1), paragraph)
    sentences: list[str] = []
    start = 0
    for match in SENTENCE_END.finditer(masked):
        mark = match.group(1)
        before = masked[start : match.start(1)]
        if mark == ".":
            last_word = re.split(r"[\s(\[\"“'*_]", before)[-1].lower()
            if (
                last_word in ABBREVIATIONS
                or len(last_word) == 1
                or re.fullmatch(r"[\d.\\]+|[a-z](\.[a-z])+|\w+\\", last_word)
            ):
                continue
        elif mark in ";:" and len(before) < MIN_CLAUSE_CHARS:
            continue  # "(a) copy; (b) sell" and "Note: ..." stay whole; long enumerations are cut
        sentence = paragraph[start : match.end(2)].strip()
        if sentence:
            sentences.append(sentence)
        start = match.end()
    tail = paragraph[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences


def diff_versions(old: str, new: str) -> list[Change]:
    """Clause-level changes between two versions of a document's text."""
    return diff_clauses(segment(old), segment(new))


def _encode(keys: list[str], codes: dict[str, str]) -> str:
    """One private character per distinct key, so diff-match-patch diffs sequences of clauses or words."""
    out = []
    for key in keys:
        if key not in codes:
            n = len(codes) + 0x100
            codes[key] = chr(n + 0x800 if n >= 0xD800 else n)
        out.append(codes[key])
    return "".join(out)


def diff_sequences(old: list[str], new: list[str]) -> list[tuple[int, int, int, int, int]]:
    """(op, old start, old end, new start, new end) runs of a diff of two sequences of keys.

    diff-match-patch's cost grows with length times differences: a long page replaced by an unrelated
    one, or with its sections reordered, would take seconds to minutes. So long sequences are first
    cut at anchors (patience diff: the keys found exactly once on each side, in the longest run in
    the same order on both) and only the stretches between anchors go through it, with the keys
    found on one side only left out and put back where they stood. Short sequences (the words of a
    clause) are diffed whole: where several alignments are equally short, diff-match-patch's choice
    of one is what flag.py's rules expect.
    """
    codes: dict[str, str] = {}
    old_code, new_code = _encode(old, codes), _encode(new, codes)
    if len(old) + len(new) > LONG_SEQUENCE:
        full: list[tuple[int, str]] = []
        i = j = 0
        for old_at, new_at in [*_anchors(old_code, new_code), (len(old_code), len(new_code))]:
            full += _diff_codes(old_code[i:old_at], new_code[j:new_at], shared_only=True)
            full.append((0, old_code[old_at : old_at + 1]))
            i, j = old_at + 1, new_at + 1
    else:
        full = _diff_codes(old_code, new_code, shared_only=False)
    full = [(op, chunk) for op, chunk in full if chunk]
    diff_match_patch().diff_cleanupMerge(full)  # one run per equality, deletion and insertion
    runs = []
    i = j = 0
    for op, chunk in full:
        di = len(chunk) if op <= 0 else 0
        dj = len(chunk) if op >= 0 else 0
        runs.append((op, i, i + di, j, j + dj))
        i, j = i + di, j + dj
    return runs


def _anchors(old_code: str, new_code: str) -> list[tuple[int, int]]:
    """Positions of the keys found exactly once on each side, in the longest run that keeps their
    order on both sides (a longest increasing subsequence, by patience sorting)."""
    old_count, new_count = Counter(old_code), Counter(new_code)
    new_at = {c: j for j, c in enumerate(new_code) if new_count[c] == 1}
    unique = [(i, new_at[c]) for i, c in enumerate(old_code) if old_count[c] == 1 and c in new_at]
    tops: list[int] = []  # new position at the top of each pile
    piles: list[int] = []  # index in `unique` of the top of each pile
    back: list[int] = []  # index in `unique` of the top of the pile before, when each was placed
    for index, (_, j) in enumerate(unique):
        pile = bisect.bisect_left(tops, j)
        back.append(piles[pile - 1] if pile else -1)
        if pile == len(tops):
            tops.append(j)
            piles.append(index)
        else:
            tops[pile], piles[pile] = j, index
    longest = []
    index = piles[-1] if piles else -1
    while index >= 0:
        longest.append(unique[index])
        index = back[index]
    return longest[::-1]


def _diff_codes(old_code: str, new_code: str, *, shared_only: bool) -> list[tuple[int, str]]:
    """diff-match-patch's diff of two encoded sequences; with `shared_only`, the keys found on one
    side only (which can never match) are kept out of it and put back where they stood."""
    shared = set(old_code) & set(new_code) if shared_only else set(old_code) | set(new_code)
    old_kept = [i for i, c in enumerate(old_code) if c in shared]
    new_kept = [j for j, c in enumerate(new_code) if c in shared]
    matcher = diff_match_patch()
    matcher.Diff_Timeout = 0
    diffs = matcher.diff_main(
        "".join(old_code[i] for i in old_kept), "".join(new_code[j] for j in new_kept), False
    )
    full: list[tuple[int, str]] = []
    i = j = a = b = 0  # next unplaced position in old and new, and in their shared keys
    for op, chunk in diffs:
        if op == 0:
            for old_at, new_at in zip(
                old_kept[a : a + len(chunk)], new_kept[b : b + len(chunk)], strict=True
            ):
                full += [(-1, old_code[i:old_at]), (1, new_code[j:new_at]), (0, old_code[old_at])]
                i, j = old_at + 1, new_at + 1
        a += len(chunk) if op <= 0 else 0
        b += len(chunk) if op >= 0 else 0
    return [*full, (-1, old_code[i:]), (1, new_code[j:])]


def diff_clauses(old: list[Clause], new: list[Clause]) -> list[Change]:
    """Clause-level changes from `old` to `new`: added and changed in the order of the new version,
    then moved, then removed. Clauses with the same wording are the same clause; where their text
    still differs (a link target, emphasis, case) the change is reported as cosmetic."""
    old_keys = [wording(c.text) for c in old]
    new_keys = [wording(c.text) for c in new]
    deleted: list[tuple[str, Clause]] = []
    inserted: list[tuple[str, Clause]] = []
    cosmetic: list[Change] = []
    for op, i, i_end, j, j_end in diff_sequences(old_keys, new_keys):
        if op == 0:
            for before, after in zip(old[i:i_end], new[j:j_end], strict=True):
                if before.text != after.text:
                    added, removed = word_changes(before.text, after.text)
                    cosmetic.append(Change("changed", before, after, added, removed, cosmetic=True))
        elif op == -1:
            deleted.extend(zip(old_keys[i:i_end], old[i:i_end], strict=True))
        elif op == 1:
            inserted.extend(zip(new_keys[j:j_end], new[j:j_end], strict=True))
    return [*_pair(deleted, inserted), *cosmetic]


def restore(changes: list[Change], last_seen: Callable[[str], str | None]) -> list[Change]:
    """`changes` with each added clause and each rewording whose new wording the document already
    carried marked `restored`; `last_seen` names the version that carried a wording, if any."""
    marked = []
    for change in changes:
        if change.kind in ("added", "changed") and change.new and not change.cosmetic:
            seen = last_seen(wording(change.new.text))
            if seen is not None:
                change = replace(change, kind="restored", last_seen=seen)
        marked.append(change)
    return marked


def _pair(deleted: list[tuple[str, Clause]], inserted: list[tuple[str, Clause]]) -> list[Change]:
    by_key: dict[str, list[Clause]] = defaultdict(list)
    for key, clause in deleted:
        by_key[key].append(clause)
    moved: list[Change] = []
    unmatched: list[tuple[str, Clause]] = []
    for key, clause in inserted:
        if by_key.get(key):
            moved.append(Change("moved", by_key[key].pop(0), clause))
        else:
            unmatched.append((key, clause))
    leftover = [(key, clause) for key, clause in deleted if any(c is clause for c in by_key[key])]
    pairs = _similar_pairs([k for k, _ in leftover], [k for k, _ in unmatched])
    changes: list[Change] = []
    for index, (_, clause) in enumerate(unmatched):
        if index in pairs:
            old = leftover[pairs[index]][1]
            added, removed = word_changes(old.text, clause.text)
            changes.append(Change("changed", old, clause, added, removed))
        else:
            changes.append(Change("added", None, clause))
    paired = set(pairs.values())
    removed_changes = [Change("removed", c, None) for i, (_, c) in enumerate(leftover) if i not in paired]
    return [*changes, *moved, *removed_changes]


def _similar_pairs(deleted: list[str], inserted: list[str]) -> dict[int, int]:
    """Pair each inserted clause with the most similar deleted one (by shared words), best pairs first."""
    if not deleted or not inserted:
        return {}
    postings: dict[str, list[int]] = defaultdict(list)
    deleted_words = [Counter(key.split()) for key in deleted]
    for index, words in enumerate(deleted_words):
        for word in words:
            postings[word].append(index)
    too_common = max(50, len(deleted) // 10)
    deleted_totals = [words.total() for words in deleted_words]
    candidates: list[tuple[float, int, int]] = []
    for new_index, key in enumerate(inserted):
        words = Counter(key.split())
        total = words.total()
        hits = (postings.get(word, ()) for word in words)
        shared = Counter(chain.from_iterable(h for h in hits if len(h) <= too_common))
        # the five deleted clauses sharing most words (sorted is stable: ties keep first-hit order)
        for old_index, _ in sorted(shared.items(), key=itemgetter(1), reverse=True)[:5]:
            old_words, old_total = deleted_words[old_index], deleted_totals[old_index]
            if 4 * min(total, old_total) < total + old_total:
                continue  # even all of the shorter one in common could not reach the threshold
            common = sum(min(count, old_words[word]) for word, count in words.items() if word in old_words)
            ratio = 2 * common / (total + old_total)
            if ratio >= PAIRING_THRESHOLD:
                candidates.append((ratio, new_index, old_index))
    candidates.sort(key=lambda c: (-c[0], c[1], c[2]))
    used_old: set[int] = set()
    pairs: dict[int, int] = {}
    for _, new_index, old_index in candidates:
        if new_index not in pairs and old_index not in used_old:
            pairs[new_index] = old_index
            used_old.add(old_index)
    return pairs


def word_diff(old: str, new: str) -> list[tuple[int, str]]:
    """A word-level diff of two clauses: (-1 removed | 0 same | 1 added, text) runs, for readable reports."""
    codes: dict[str, str] = {}
    old_code = _encode(WORD_OR_MARK.findall(old), codes)
    new_code = _encode(WORD_OR_MARK.findall(new), codes)
    decode = {v: k for k, v in codes.items()}
    matcher = diff_match_patch()
    matcher.Diff_Timeout = 0
    diffs = matcher.diff_main(old_code, new_code, False)
    matcher.diff_cleanupSemantic(diffs)  # whole phrases replaced read better than word salad
    return [(op, "".join(decode[c] for c in chunk)) for op, chunk in diffs]


def word_changes(old: str, new: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The runs of visible words a rewording added and removed (link targets and markup are not wording)."""
    old_words = WORD.findall(visible_text(old))
    new_words = WORD.findall(visible_text(new))
    added: list[str] = []
    removed: list[str] = []
    for op, i, i_end, j, j_end in diff_sequences(old_words, new_words):
        if op == 1:
            added.append(" ".join(new_words[j:j_end]))
        elif op == -1:
            removed.append(" ".join(old_words[i:i_end]))
    return tuple(added), tuple(removed)
