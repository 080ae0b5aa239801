"""Turn a PDF into the same Markdown-like text as a web page: headings, paragraphs and list items.

A PDF only knows where each piece of text is drawn and in which font. pypdf reports both; lines
are rebuilt from them, then grouped into paragraphs by their spacing (a gap wider than the usual
line spacing, a change of font size, a list marker) and promoted to headings by their size (larger
than the body text) or weight (a short bold line). Page numbers and the running headers and
footers repeated on most pages are dropped, and a paragraph cut by a page break is joined again,
so that re-paginating a document does not read as a change. A PDF without any text (a scan) is an
error, never an empty version.
"""

from __future__ import annotations

import io
import itertools
import math
import re
from collections import Counter
from dataclasses import dataclass, field

import pypdf

from tosmon.errors import ExtractError
from tosmon.extract.text import normalize_text

BOLD_FONT = re.compile(r"bold|black|heavy|semibold|demi", re.IGNORECASE)
PAGE_NUMBER = re.compile(r"^\W*(page\s+)?\d+(\s*(of|/)\s*\d+)?\W*$", re.IGNORECASE)
LIST_MARKER = re.compile(r"^([•◦▪▫●○■□‣⁃∙·–—*-]|\(?\d{1,3}[.)]|\(?[a-z][.)]|\(?[ivx]{1,5}[.)])\s")
BULLET = re.compile(r"^[•◦▪▫●○■□‣⁃∙·–—*]\s+")
SENTENCE_END = re.compile(r"[.!?:;]['\")\]]?$")
HEADING_RATIO = 1.15  # a line this much larger than the body text is a heading
PARAGRAPH_GAP = 1.3  # a gap this much wider than the usual line spacing ends a paragraph


@dataclass
class _Line:
    text: str = ""
    y: float | None = None  # baseline, upwards from the bottom of the page
    size: float = 0.0  # effective font size, after the text and page matrices
    bold: int = 0  # characters drawn in a bold font
    page: int = 0
    chars: int = field(default=0, repr=False)

    def add(self, piece: str, y: float, size: float, bold: bool) -> None:
        if self.y is None and piece.strip():
            self.y, self.size = y, size
        self.text += piece
        visible = len(piece.strip())
        self.chars += visible
        self.bold += visible if bold else 0

    @property
    def is_bold(self) -> bool:
        return self.chars > 0 and self.bold == self.chars


def pdf_text(body: bytes) -> str:
    """The text of a PDF with its structure; raise ExtractError for a damaged PDF or one without text."""
    pages = _read_lines(body)
    if not any(line.text.strip() for page in pages for line in page):
        raise ExtractError("the PDF has no extractable text (a scanned image?)")
    lines = _drop_running_lines(pages)
    return normalize_text("\n".join(_blocks(lines)))


def _read_lines(body: bytes) -> list[list[_Line]]:
    try:
        reader = pypdf.PdfReader(io.BytesIO(body))
        if reader.is_encrypted and not reader.decrypt(""):
            raise ExtractError("the PDF is protected by a password; its text cannot be read")
        pages = []
        for number, page in enumerate(reader.pages):
            lines = [_Line(page=number)]

            def visit(
                text: str, cm: list[float], tm: list[float], font: dict[str, object] | None, size: float
            ) -> None:
                matrix = _multiply(tm, cm)
                effective = size * math.hypot(matrix[2], matrix[3]) or size
                bold = bool(BOLD_FONT.search(str((font or {}).get("/BaseFont", ""))))
                for i, piece in enumerate(text.split("\n")):
                    if i:
                        lines.append(_Line(page=number))  # noqa: B023 - called while this page is read
                    if piece:
                        lines[-1].add(piece, matrix[5], effective, bold)  # noqa: B023

            page.extract_text(visitor_text=visit)
            pages.append([line for line in lines if line.text.strip()])
    except ExtractError:
        raise
    except Exception as error:  # pypdf raises many types on damaged files; all mean the same here
        raise ExtractError(f"unreadable PDF: {type(error).__name__}: {error}") from None
    return pages


def _multiply(m: list[float], n: list[float]) -> tuple[float, ...]:
    """The product of two PDF transformation matrices [a b c d e f]."""
    return (
        m[0] * n[0] + m[1] * n[2],
        m[0] * n[1] + m[1] * n[3],
        m[2] * n[0] + m[3] * n[2],
        m[2] * n[1] + m[3] * n[3],
        m[4] * n[0] + m[5] * n[2] + n[4],
        m[4] * n[1] + m[5] * n[3] + n[5],
    )


def _drop_running_lines(pages: list[list[_Line]]) -> list[_Line]:
    """All lines in order, without page numbers or the headers and footers most pages repeat."""

    def key(line: _Line) -> str:
        return re.sub(r"\d+", "#", " ".join(line.text.split()).lower())

    running: set[str] = set()
    if len(pages) >= 3:
        edges = Counter(text for page in pages if page for text in {key(page[0]), key(page[-1])})
        running = {text for text, count in edges.items() if count > len(pages) / 2}
    kept = []
    for page in pages:
        for i, line in enumerate(page):
            at_edge = i in (0, len(page) - 1)
            if at_edge and (PAGE_NUMBER.match(line.text.strip()) or key(line) in running):
                continue
            kept.append(line)
    return kept


def _blocks(lines: list[_Line]) -> list[str]:
    """Group lines into headings, list items and paragraphs, one per output line."""
    if not lines:
        return []
    sizes: Counter[float] = Counter()
    for line in lines:
        sizes[_rounded(line.size)] += line.chars
    body = sizes.most_common(1)[0][0]
    # Where most of the text is bold, weight says nothing about headings.
    bold_headings = sum(line.bold for line in lines) < sum(line.chars for line in lines) / 2
    heading_sizes = sorted((s for s in sizes if s > body * HEADING_RATIO), reverse=True)
    spacing = _line_spacing(lines)
    lengths = sorted(len(line.text.strip()) for line in lines)
    full = lengths[int(len(lengths) * 0.9)]  # the length of a line that runs to the right margin

    def level(line: _Line) -> int:
        size = _rounded(line.size)
        if size in heading_sizes:
            return min(heading_sizes.index(size) + 1, 6)
        text = line.text.strip()
        if bold_headings and line.is_bold and len(text) < 120 and not SENTENCE_END.search(text):
            return min(len(heading_sizes) + 1, 6)
        return 0

    blocks: list[tuple[int, list[str]]] = []
    previous: _Line | None = None
    for line in lines:
        text = " ".join(line.text.split())
        depth = level(line)
        if previous is None or not _continues(previous, line, depth, blocks[-1], spacing, full):
            blocks.append((depth, [text]))
        else:
            blocks[-1][1].append(text)
        previous = line
    return [_render(depth, parts) for depth, parts in blocks]


def _line_spacing(lines: list[_Line]) -> dict[float, float]:
    """The usual distance between two lines of one paragraph, for each font size."""
    gaps: dict[float, list[float]] = {}
    for before, after in itertools.pairwise(lines):
        if before.page == after.page and abs(before.size - after.size) < 0.5 and before.y and after.y:
            gap = before.y - after.y
            if 0 < gap < 3 * before.size:
                gaps.setdefault(_rounded(before.size), []).append(gap)
    # Too few lines of a size say nothing about its spacing: the caller then assumes 1.2 times the size.
    return {size: sorted(found)[len(found) // 2] for size, found in gaps.items() if len(found) >= 3}


def _continues(
    previous: _Line,
    line: _Line,
    depth: int,
    block: tuple[int, list[str]],
    spacing: dict[float, float],
    full: int,
) -> bool:
    """Whether `line` carries on the block that `previous` ended."""
    if depth != block[0] or abs(previous.size - line.size) >= 0.5 or LIST_MARKER.match(line.text.strip()):
        return False
    ended = SENTENCE_END.search(block[1][-1])
    if ended and not depth and len(previous.text.strip()) < 0.75 * full:
        return False  # a sentence that stops well before the margin ends its paragraph
    if previous.page != line.page:  # a paragraph cut by the page break goes on
        return not ended
    if previous.y is None or line.y is None:
        return False
    gap = previous.y - line.y
    usual = spacing.get(_rounded(line.size), line.size * 1.2)
    return 0 < gap <= usual * PARAGRAPH_GAP


def _rounded(size: float) -> float:
    """Font sizes to the half point: the same style drawn at 10.98 and 11.0 is one size."""
    return round(size * 2) / 2


def _render(depth: int, parts: list[str]) -> str:
    text = parts[0]
    for part in parts[1:]:
        # "non-" + "exclusive": a word broken at its hyphen is joined without a space
        text += part if re.search(r"\w-$", text) else " " + part
    if depth:
        return "#" * depth + " " + text
    return BULLET.sub("- ", text)
