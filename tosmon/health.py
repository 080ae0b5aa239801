"""Health guards: is a fetched page the document, or a problem to report instead of a new version?

A bot challenge, a login wall, an empty page, a page in another language or a page that suddenly
lost most of its text is not a new version of the terms, nor is a short notice served in its place
with status 200: the site's error page ("Page not found", "Something went wrong, try again later")
or a shell saying it needs JavaScript. Their words, in seven languages, are data: notices.yaml. The raw snapshot is kept as evidence;
the text is not recorded. The document then stays in a problem state (kept in its state.json)
until a good page comes back, so the user hears once when it breaks and once when it recovers.

A page that suddenly holds its text twice (a whole copy, or a large block repeated) or only part of
it (a quarter or more of the text gone, nothing new in its place) is the same kind of fault: a
rendering, not an edit. Both are compared clause by clause with the last version, and only when the
lengths of the two texts say they may be one (so a healthy page costs nothing more).

Flip-flops are the other false alarm: a page that alternates between two known texts (an A/B
test, a banner that comes and goes) is reported the first time it goes back, then no more.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections import Counter
from dataclasses import dataclass
from importlib import resources

import yaml

from tosmon.diff import segment, wording
from tosmon.extract.text import plural

MIN_WORDS = 20  # fewer words than this is not a legal document
LOST_SHARE = 0.4  # keeping less than this share of the last version's words is a broken page
SHORT_PAGE_WORDS = 400  # challenge and login pages are short; long legal texts may mention captchas
CONFIRMATIONS = 3  # a tiny, shrunken or translated text seen this many checks in a row is the new normal
# On the stream corpus, the versions whose extra copies of known clauses outweigh their new wording
# and reach 30 % of the last version's words are pages served twice (Facebook's privacy policy dozens
# of times, AWS's brand guidelines, X's terms, Le Chat's DPA) or a block repeated (six times over on
# Instagram's policy): 49 versions, which raised 149 of the 1,613 flags. Of the versions that lost a
# quarter or more of their words and added almost nothing, 93 % came back within a month.
DOUBLED_SHARE = 0.3  # copies of known clauses worth this share of the last version's words: doubled
PARTIAL_SHARE = 0.25  # losing this share of the last version's words with nothing new: partial
NOTHING_NEW = 0.02  # new wording under this share of a page's words is nothing new (an error line)
NOTICE_WORDS = 150  # an error page or a script shell says what it says in fewer words than this

# Words a visitor reads on a challenge page (its text or title). Raw markup is not a sign: many
# healthy pages load Cloudflare's `challenge-platform` script.
CHALLENGE = re.compile(
    r"just a moment\.\.\.|checking (if the site connection is secure|your browser)|"
    r"attention required! \| cloudflare|verify(ing)? (that )?you are (a )?human|are you a robot|captcha|"
    r"needs to review the security of your connection|ddos protection by|access denied|"
    r"request unsuccessful\. incapsula|enable javascript and cookies to continue|"
    r"unusual traffic from your computer",
    re.IGNORECASE,
)
TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
PASSWORD_FIELD = re.compile(rb"<input[^>]+type\s*=\s*[\"']?password", re.IGNORECASE)
LOGIN_WORDS = re.compile(r"\b(sign in|log in|login|sign-in|log-in|password)\b", re.IGNORECASE)

# The most frequent short words of each language: enough to tell which one a legal text is in.
STOPWORDS = {
    "en": "the of and to in or you your that for is be by with this are any not we may as",
    "fr": "le la les de des et du en vous votre à pour est que qui une dans sur par ne pas nous",
    "es": "el la los las de del y en que por para con su sus una se no es usted nuestro",
    "de": "der die das und zu den von mit sie ist nicht ein eine für auf wir ihre dem oder auch",
    "it": "il di e la che per un una del della le dei non sono con si questo nostro può",
    "pt": "o a os as de do da e em que para com não uma um por seu sua você nossos",
    "nl": "de het een en van in op te dat voor met zijn niet u uw wij ons of door",
}
_LANGUAGE_WORDS = {language: set(words.split()) for language, words in STOPWORDS.items()}
WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
_STOPWORDS = frozenset().union(*_LANGUAGE_WORDS.values())


@dataclass(frozen=True)
class Problem:
    """Why a fetched page is not a version of the document."""

    kind: (
        str  # "challenge", "login", "error-page", "script", "empty", "tiny", "shrunk", "language", "doubled",
        # "partial", "selector"
    )
    reason: str

    @property
    def confirmable(self) -> bool:
        """Whether a text that keeps coming back unchanged may in the end be the document."""
        return self.kind in ("tiny", "shrunk", "language", "doubled", "partial")


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def count_words(text: str, enough: float | None = None) -> int:
    """How many words a text has, counting no further than `enough`: whether a page is long
    needs only its start (a full count was a tenth of the CPU a new page costs)."""
    if enough is None:
        return _all_words(text)
    count = 0
    for count, _ in enumerate(WORD.finditer(text), 1):
        if count >= enough:
            break
    return count


# The last version is measured against every page fetched or imported: an import of interleaved
# documents asks for the same few hundred texts' counts and languages record after record (a fifth
# of its time on long policies). Only the last versions' full counts and pages' languages are kept.
@functools.lru_cache(maxsize=256)
def _all_words(text: str) -> int:
    return len(WORD.findall(text))


@functools.lru_cache(maxsize=256)
def language(text: str) -> str | None:
    """The language a text is written in, when its common words say so clearly."""
    counts = Counter(filter(_STOPWORDS.__contains__, words(text)))  # only the words scored, counted in C
    scores = {lang: sum(counts[w] for w in vocabulary) for lang, vocabulary in _LANGUAGE_WORDS.items()}
    best, score = max(scores.items(), key=lambda item: item[1])
    runner_up = max((s for lang, s in scores.items() if lang != best), default=0)
    if score < 20 or score < 2 * runner_up:
        return None
    return best


def page_problem(text: str, body: bytes, previous: str | None) -> Problem | None:
    """What is wrong with a page's text, compared with the last recorded version, if anything."""
    if text == previous:  # the text the last version was accepted with
        return None
    before = count_words(previous) if previous is not None else 0
    found = count_words(text, enough=max(SHORT_PAGE_WORDS, MIN_WORDS, before * LOST_SHARE))
    if found < SHORT_PAGE_WORDS:
        title = TITLE.search(body[:50_000])
        seen = text + " " + (title.group(1).decode("utf-8", "replace") if title else "")
        if CHALLENGE.search(seen):
            return Problem("challenge", "the site answered with a bot challenge instead of the page")
        if PASSWORD_FIELD.search(body) and LOGIN_WORDS.search(text):
            return Problem("login", "the site answered with a login page instead of the document")
        notice = notice_problem(text, body)
        if notice is not None:
            return notice
    if not found:
        return Problem("empty", "the page has no text (empty page?)")
    if found < MIN_WORDS:
        return Problem("tiny", f"the page has almost no text ({plural(found, 'word')})")
    if previous is None:
        return None
    if found < before * LOST_SHARE:
        return Problem(
            "shrunk", f"the text lost most of its content ({plural(before, 'word')} before, {found:,} now)"
        )
    was, now = language(previous), language(text)
    if was and now and was != now:
        return Problem("language", f"the page is now in another language ({now}; it was in {was})")
    return rendering_problem(text, previous)


@functools.lru_cache(maxsize=4)  # an import compares record after record with the same version in force
def _wordings(text: str) -> Counter[str]:
    return Counter(wording(c.text) for c in segment(text))


def rendering_problem(text: str, previous: str) -> Problem | None:
    """A page holding the last version's text twice, or only part of it with nothing new."""
    if (
        (1 - PARTIAL_SHARE + NOTHING_NEW) * len(previous)
        < len(text)
        < (1 + DOUBLED_SHARE / 2) * len(previous)
    ):
        return None  # too close in length to the last version to be either (lengths cost nothing to compare)
    old, new = _wordings(previous), _wordings(text)
    size = {key: len(key.split()) for key in old.keys() | new.keys()}
    old_words = sum(size[key] * n for key, n in old.items()) or 1
    new_words = sum(size[key] * n for key, n in new.items()) or 1
    fresh = sum(size[key] * n for key, n in new.items() if key not in old)
    copies = sum(size[key] * (n - max(old[key], 1)) for key, n in new.items() if n > max(old[key], 1))
    lost = sum(size[key] * (n - new[key]) for key, n in old.items() if n > new[key])
    if copies >= DOUBLED_SHARE * old_words and copies >= fresh:
        return Problem(
            "doubled",
            f"the page holds much of its text twice ({copies} words repeated); a rendering fault, not an edit",
        )
    if lost >= PARTIAL_SHARE * old_words and fresh <= NOTHING_NEW * new_words:
        return Problem(
            "partial",
            f"the page lost {lost / old_words:.0%} of its text and added nothing new "
            f"({old_words} words before, {new_words} now): a partial page?",
        )
    return None


# -- notices served in the page's place: error pages and script shells (the words: notices.yaml) --

NOSCRIPT = re.compile(rb"<noscript[^>]*>(.*?)</noscript>", re.IGNORECASE | re.DOTALL)


@functools.cache
def _notices() -> dict[str, re.Pattern[str]]:
    """notices.yaml's phrases, one pattern per kind of notice; read when a short page first needs them."""
    data = yaml.safe_load(resources.files("tosmon").joinpath("notices.yaml").read_text(encoding="utf-8"))
    patterns = {kind: _phrases(by_language) for kind, by_language in data.items() if kind != "loading"}
    patterns["loading"] = _phrases(data["loading"], then=r"\s*(?:\.{2,3}|…)")
    return patterns


def _phrases(by_language: dict[str, list[str]], then: str = r"(?!\w)") -> re.Pattern[str]:
    """Any of the phrases, as whole words, with any spacing and either apostrophe, followed by `then`."""
    alternatives = (
        r"\s+".join(re.escape(word).replace("'", "['’]") for word in phrase.split())
        for phrases in by_language.values()
        for phrase in phrases
    )
    return re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + ")" + then, re.IGNORECASE)


def notice_problem(text: str, body: bytes) -> Problem | None:
    """A short text that is the site's error page, or a shell saying the page needs JavaScript.

    Neither is ever confirmed into a version, however many checks in a row it comes back: sites
    serve error pages with status 200 for days. The page's title counts (an empty page titled
    "Page not found"), and so does what a nearly empty page says to browsers without scripts
    (`<noscript>`; a rendered page keeps it too, beside its text).
    """
    found_words = count_words(text, enough=NOTICE_WORDS)
    if found_words >= NOTICE_WORDS:
        return None
    title = TITLE.search(body[:50_000])
    seen = text + " " + (title.group(1).decode("utf-8", "replace") if title else "")
    found = _notices()["error_page"].search(seen)
    if found:
        quoted = " ".join(found.group(0).split())
        return Problem(
            "error-page", f'the site answered with an error page ("{quoted}") instead of the document'
        )
    if found_words < MIN_WORDS:  # what a page says to browsers without scripts, if it says little else
        seen += " " + b" ".join(NOSCRIPT.findall(body[:200_000])).decode("utf-8", "replace")
    found = _notices()["script_shell"].search(seen)
    if found:
        quoted = " ".join(found.group(0).split())
        return Problem("script", f'the page is an empty shell that needs JavaScript ("{quoted}")')
    return None


def placeholder(text: str) -> str | None:
    """The placeholder a page shows while its text is on its way ("Loading…"), if a text is one."""
    found = _notices()["loading"].search(text)
    return found.group(0) if found else None
