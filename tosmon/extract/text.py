"""Text normalisation that every format's extraction shares (HTML, PDF): stable Unicode, spaces and lines.

Its own module so that `extract` and `pdf` both depend on it instead of on each other.
"""

from __future__ import annotations

import re
import unicodedata

# zero-width spaces and joiners, word joiner, BOM, soft hyphen, direction marks, invisible operators;
# a regex, as str.translate was 1.5 ms a page
INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad\u200e\u200f\u2061\u2062\u2063\u2064\u180e]")
# Terminal escape sequences (CSI, OSC), C0/C1 control characters and bidi overrides: never legal text,
# and never to reach a user's terminal.
CONTROL_SEQUENCE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]"
)
SPACES = re.compile(r"[\u00a0\u2000-\u200a\u202f\u205f\u3000\t\f\v]+")
SPACE_RUN = re.compile("  +")  # a regex with a literal start: a look-behind made it 20 times slower
# Every character INVISIBLE, CONTROL_SEQUENCE (escape sequences start with \x1b) or SPACES matches, and \r.
UNUSUAL = re.compile(
    "[\t\x00-\x08\x0b-\x1f\x7f-\x9f\u00a0\u00ad\u180e\u2000-\u200f\u202a-\u202f\u205f-\u2064\u2066-\u2069\u3000\ufeff]"
)


def normalize_text(text: str) -> str:
    """Stable text: NFC, no invisible characters, unified spaces and line ends, no trailing blanks."""
    text = unicodedata.normalize("NFC", text)
    if UNUSUAL.search(text):  # one scan instead of four on the many texts that need none of them
        text = INVISIBLE.sub("", text)
        text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", " ").replace("\v", " ")
        text = CONTROL_SEQUENCE.sub("", text)
        text = SPACES.sub(" ", text)
    if "  " in text:
        # collapse runs of spaces inside a line, but keep the indentation of nested list items
        text = SPACE_RUN.sub(
            lambda m: " " if m.start() and not m.string[m.start() - 1].isspace() else m[0], text
        )
    out: list[str] = []
    for line in text.split("\n"):
        line = line.rstrip()
        if line.strip() or (out and out[-1]):
            out.append(line if line.strip() else "")
    return "\n".join(out).strip("\n") + ("\n" if out else "")


def plural(count: int, word: str, many: str | None = None) -> str:
    """`1 word`, `2 words`: the count with its noun, never `word(s)`."""
    return f"{count:,} {word if count == 1 else many or word + 's'}"
