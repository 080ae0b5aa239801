"""Turn a fetched page into stable, readable text that keeps the structure of the legal document.

The declared `select` selectors pick the legal text (all matches, outermost first, in document
order; a range keeps everything between two anchors), `remove` selectors drop parts of it. Without
`select`, the page's main content is found and navigation, headers, footers, scripts, styles and
cookie banners are dropped. The text comes out Markdown-like: headings as `#` lines, one paragraph
or list item per line, links as `[text](absolute url)`, table rows as `cell | cell`.

lxml does the parsing and selection (it is the hot path of a nightly run); beautifulsoup4's
UnicodeDammit decodes bytes whose charset is missing or wrong.
"""

from __future__ import annotations

import copy
import re
import unicodedata
from functools import lru_cache
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import lxml.html
from bs4.dammit import UnicodeDammit
from cssselect import HTMLTranslator, SelectorError
from lxml import etree

from tosmon.errors import ExtractError
from tosmon.models import RangeSelector, Selector

BLOCK_TAGS = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "body",
        "center",
        "dd",
        "details",
        "dialog",
        "dir",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hgroup",
        "hr",
        "html",
        "li",
        "main",
        "menu",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "summary",
        "table",
        "tbody",
        "thead",
        "tfoot",
        "tr",
        "ul",
        "caption",
        "legend",
    ]
)
HEADING_LEVELS = {f"h{n}": n for n in range(1, 7)}
NEVER_TEXT = (
    "script",
    "style",
    "noscript",
    "template",
    "svg",
    "iframe",
    "object",
    "embed",
    "canvas",
    "head",
    "select",
    "button",
    "input",
    "textarea",
    "video",
    "audio",
    "picture",
    "source",
    "img",
)
BOILERPLATE = (
    "nav, header, footer, aside, [role=navigation], [role=banner], [role=contentinfo], dialog, [role=dialog], "
    "[aria-modal=true], [hidden], [aria-hidden=true]"
)
COOKIE_WORDS = re.compile(r"cookie|consent|gdpr|onetrust|didomi|cookiebot|truste|usercentrics", re.IGNORECASE)
TRACKING_PARAMS = re.compile(
    r"^(utm_\w+|fbclid|gclid|dclid|gbraid|wbraid|msclkid|mc_cid|mc_eid|_ga|_gl|yclid|igshid|ref_src|"
    r"trk|trkinfo|sessionid|session_id|sid|token|nonce|_hs\w+|hsctatracking|vero_\w+|oly_\w+|rb_clickid|s_cid)$",
    re.IGNORECASE,
)
INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")  # a regex: str.translate was 1.5 ms a page
_translator = HTMLTranslator()
XML_INCOMPATIBLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
TEXT_BYTES = bytes(range(32, 256)) + b"\t\n\v\f\r\x1b"


def selector_problem(css: str) -> str | None:
    """Why a CSS selector cannot be used, or None when it is fine."""
    if not css.strip():
        return "empty selector"
    try:
        _xpath(css)
    except SelectorError as error:
        return str(error) or type(error).__name__
    return None


@lru_cache(maxsize=1024)
def _xpath(css: str) -> etree.XPath:
    return etree.XPath(_translator.css_to_xpath(css))


def decode(body: bytes, content_type: str = "") -> str:
    """Decode a response body, trusting the declared charset only when the bytes agree with it."""
    declared = re.search(r"charset=[\"']?([\w.:-]+)", content_type, re.IGNORECASE)
    known = [declared.group(1)] if declared else []
    # Bytes that are valid UTF-8 are UTF-8 whatever the header says: a wrong header is common, valid
    # UTF-8 by accident is not. UTF-16/32 are the exception (their bytes can pass as UTF-8).
    if not any(k.lower().replace("-", "").startswith(("utf16", "utf32")) for k in known):
        known.insert(0, "utf-8")
    dammit = UnicodeDammit(body, known_definite_encodings=known, is_html=True)
    if dammit.unicode_markup is None:
        return body.decode("utf-8", errors="replace")
    return dammit.unicode_markup


def is_binary(body: bytes) -> bool:
    """True for bodies no text page has: a NUL byte or many control bytes near the start (as git does)."""
    sample = body[:8192]
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16/32 byte order marks
        return False
    return b"\x00" in sample or len(sample.translate(None, TEXT_BYTES)) > len(sample) // 20


def is_html(content_type: str, body: bytes) -> bool:
    kind = content_type.split(";")[0].strip().lower()
    if kind in ("text/html", "application/xhtml+xml"):
        return True
    if kind == "text/markdown":
        return False
    # Sniffed even when labelled text/plain: servers label HTML that way by mistake.
    return bool(
        re.match(rb"\s*(<!--.*?-->\s*)*<(!doctype html|html|head|body|div|p)\b", body[:1024], re.I | re.S)
    )


def extract(
    body: bytes,
    *,
    content_type: str = "text/html",
    base_url: str = "",
    select: tuple[Selector, ...] = (),
    remove: tuple[Selector, ...] = (),
) -> str:
    """The legal text of a page; raise ExtractError when a declared selector matches nothing."""
    if is_binary(body):
        raise ExtractError("the response is binary data, not a text or HTML page; not recorded")
    if not is_html(content_type, body):
        return normalize_text(decode(body, content_type))
    # Control characters (a stray \x1f in a real page) would make lxml refuse any text set later;
    # a browser shows none of them, and \v and \f are white space.
    html = XML_INCOMPATIBLE.sub(lambda m: " " if m[0] in "\v\f" else "", decode(body, content_type))
    if not html.strip():
        return ""
    # huge_tree lifts libxml2's nesting limit from 256 levels to 2048; past the limit the parser
    # silently drops the rest of the page, which would read as a mass removal: refuse instead.
    parser = lxml.html.HTMLParser(huge_tree=True)
    try:
        root = lxml.html.document_fromstring(html, parser=parser)
    except (etree.ParserError, ValueError):
        return ""
    if any(error.type_name == "ERR_RESOURCE_LIMIT" for error in parser.error_log):
        raise ExtractError("the page nests elements too deeply (over 2048 levels); not recorded")
    for element in root.iter(etree.Comment, etree.ProcessingInstruction):
        _drop(element)
    etree.strip_elements(root, *NEVER_TEXT, with_tail=False)
    if select:
        parts = _select(root, select)
        if not parts:
            raise ExtractError(f"the selector {_describe(select)} matches nothing on the page")
    else:
        parts = [_main_content(root)]
    container = etree.Element("div")
    for part in parts:
        container.append(part)
    _remove(container, remove)
    if not select:
        _drop_boilerplate(container)
    # Links last: only those of the legal text (half the extraction time when it was every link of
    # the page), and `remove` selectors such as `[href="/legal"]` match the page as published.
    if base_url:
        _absolutize_links(container, base_url)
    return normalize_text(to_text(container))


def _describe(selectors: tuple[Selector, ...]) -> str:
    return ", ".join(repr(s) if isinstance(s, str) else repr(s.__dict__) for s in selectors)


def _select(root: etree._Element, selectors: tuple[Selector, ...]) -> list[etree._Element]:
    """Copies of the matches of every selector, outermost first, in document order, each once."""
    matched: list[etree._Element] = []
    ranges: list[etree._Element] = []
    for selector in selectors:
        if isinstance(selector, RangeSelector):
            ranges.extend(_range_copy(root, selector))
        else:
            matched.extend(_xpath(selector)(root))
    return [_deepcopy(el) for el in _outermost(root, matched)] + ranges


def _outermost(root: etree._Element, matched: list[etree._Element]) -> list[etree._Element]:
    chosen = set(matched)
    outermost = [
        el for el in dict.fromkeys(matched) if not any(ancestor in chosen for ancestor in el.iterancestors())
    ]
    if len(outermost) > 1:
        order = {el: i for i, el in enumerate(root.iter())}
        outermost.sort(key=order.__getitem__)
    return outermost


def _remove(root: etree._Element, selectors: tuple[Selector, ...]) -> None:
    matched: list[etree._Element] = []
    for selector in selectors:
        if isinstance(selector, RangeSelector):
            matched.extend(_range_elements(root, selector))
        else:
            matched.extend(_xpath(selector)(root))
    for element in _outermost(root, matched):
        _drop(element)


def _deepcopy(element: etree._Element) -> etree._Element:
    clone = copy.deepcopy(element)
    clone.tail = None
    return clone


def _anchors(
    root: etree._Element, selector: RangeSelector
) -> tuple[etree._Element | None, etree._Element | None, bool]:
    start_css = selector.start_before or selector.start_after
    end_css = selector.end_before or selector.end_after
    start = next(iter(_xpath(start_css)(root)), None) if start_css else None
    end = next(iter(_xpath(end_css)(root)), None) if end_css else None
    found = (start is not None or not start_css) and (end is not None or not end_css)
    return start, end, found


def _range_copy(root: etree._Element, selector: RangeSelector) -> list[etree._Element]:
    """A copy of the page cut down to what lies between the two anchors."""
    clone = copy.deepcopy(root)
    start, end, found = _anchors(clone, selector)
    if not found:
        return []
    if end is not None:
        for element in [end, *end.iterancestors()]:
            for sibling in list(element.itersiblings()):
                element.getparent().remove(sibling)
            element.tail = None
        if selector.end_before and end.getparent() is not None:
            end.getparent().remove(end)
    if start is not None:
        for element in [start, *start.iterancestors()]:
            parent = element.getparent()
            if parent is None:
                break
            for sibling in list(element.itersiblings(preceding=True)):
                parent.remove(sibling)
            parent.text = None
        if selector.start_after:
            _drop(start)
    return [clone]


def _range_elements(root: etree._Element, selector: RangeSelector) -> list[etree._Element]:
    """The elements that lie wholly between the two anchors, for `remove`."""
    start, end, found = _anchors(root, selector)
    if not found:
        return []
    elements = list(root.iter())
    position = {el: i for i, el in enumerate(elements)}

    def after(element: etree._Element) -> int:
        return position[element] + sum(1 for _ in element.iter())

    begin = 0 if start is None else position[start] if selector.start_before else after(start)
    stop = len(elements) if end is None else after(end) if selector.end_after else position[end]
    return [el for el in elements[begin:stop] if after(el) <= stop]


def _main_content(root: etree._Element) -> etree._Element:
    """The element holding the page's main text: <main>, role=main, a lone <article>, or the body."""
    for css in ("main", "[role=main]", "article"):
        found = _xpath(css)(root)
        if found:
            best = max(found, key=lambda el: len(el.text_content()))
            if len(best.text_content().strip()) > 200:
                return _take(best)
    body = root.find("body")
    return _take(body if body is not None else root)


def _take(element: etree._Element) -> etree._Element:
    """The element itself, to be moved out of its page: the page is discarded, so a copy would only
    double the memory of a huge page."""
    element.tail = None
    return element


def _drop_boilerplate(container: etree._Element) -> None:
    for element in _xpath(BOILERPLATE)(container):
        _drop(element)
    for element in list(container.iter()):
        attributes = f"{element.get('id', '')} {element.get('class', '')}"
        if element is not container and COOKIE_WORDS.search(attributes) and element.getparent() is not None:
            _drop(element)


def _drop(element: etree._Element) -> None:
    """Remove an element but keep the text that follows it."""
    parent = element.getparent()
    if parent is None:
        return
    if element.tail:
        previous = element.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + element.tail
        else:
            parent.text = (parent.text or "") + element.tail
    parent.remove(element)


def _absolutize_links(root: etree._Element, base_url: str) -> None:
    for link in root.iter("a"):
        href = link.get("href")
        if href is None:
            continue
        link.set("href", clean_url(href.strip(), base_url))
        if link.get("data-cfemail") or "/cdn-cgi/l/email-protection" in href:
            address = _cloudflare_email(link.get("data-cfemail") or href.rsplit("#", 1)[-1])
            if address:
                link.set("href", f"mailto:{address}")
                if not link.text_content().strip() or "[email" in link.text_content():
                    for child in list(link):
                        link.remove(child)
                    link.text = address
    for span in root.iter("span"):
        if span.get("data-cfemail"):
            address = _cloudflare_email(span.get("data-cfemail", ""))
            if address:
                for child in list(span):
                    span.remove(child)
                span.text = address


def _cloudflare_email(encoded: str) -> str | None:
    """Cloudflare hides addresses as hex XOR-ed with the first byte; decode so they never churn."""
    try:
        data = bytes.fromhex(encoded)
    except ValueError:
        return None
    if len(data) < 2:
        return None
    return bytes(b ^ data[0] for b in data[1:]).decode("utf-8", errors="replace")


def clean_url(href: str, base_url: str) -> str:
    """An absolute URL without tracking parameters, so link churn does not read as a change."""
    if href.startswith(("#", "javascript:", "mailto:", "tel:")):
        return href
    try:
        url = urljoin(base_url, href)
        parts = urlsplit(url)
    except ValueError:
        return href
    if parts.query:
        query = [
            (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not TRACKING_PARAMS.match(k)
        ]
        parts = parts._replace(query=urlencode(query))
    return urlunsplit(parts)


class _Writer:
    """Collects inline text into lines; block elements end lines."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.buffer: list[str] = []
        self.prefix = ""
        self.lists: list[list[object]] = []  # [tag, counter]
        self.cells = 0  # depth of table cells: blocks inside a cell do not break the row
        self.links: list[tuple[int, str]] = []

    def text(self, text: str) -> None:
        self.buffer.append(text)

    def flush(self) -> None:
        line = re.sub(r"\s+", " ", "".join(self.buffer)).strip()
        self.buffer = []
        if line.strip("| "):
            self.lines.append(self.prefix + line)
        self.prefix = ""

    def start(self, element: etree._Element) -> None:
        tag = element.tag
        if tag == "br":
            if not self.cells:
                self.flush()
            else:
                self.buffer.append(" ")
            return
        if tag == "a":
            self.links.append((len(self.buffer), element.get("href") or ""))
            return
        if tag in ("td", "th"):
            if self.cells == 0 and self.buffer and "".join(self.buffer).strip():
                self.buffer.append(" | ")
            self.cells += 1
            return
        if tag not in BLOCK_TAGS:
            return
        if self.cells:
            self.buffer.append(" ")
            return
        self.flush()
        if tag in HEADING_LEVELS:
            self.prefix = "#" * HEADING_LEVELS[tag] + " "
        elif tag in ("ul", "ol", "menu", "dir"):
            self.lists.append(
                [
                    tag,
                    int(element.get("start", "1") or 1)
                    if tag == "ol" and (element.get("start") or "1").isdigit()
                    else 1,
                ]
            )
        elif tag == "li":
            depth = max(len(self.lists) - 1, 0)
            if self.lists and self.lists[-1][0] == "ol":
                marker = f"{self.lists[-1][1]}. "
                self.lists[-1][1] = int(self.lists[-1][1]) + 1  # type: ignore[call-overload]
            else:
                marker = "- "
            self.prefix = "  " * depth + marker
        elif tag == "blockquote":
            self.prefix = "> "

    def end(self, element: etree._Element) -> None:
        tag = element.tag
        if tag == "a":
            position, href = self.links.pop()
            inner = "".join(self.buffer[position:]).strip()
            if inner and href and not href.startswith(("#", "javascript:")):
                label = re.sub(r"\s+", " ", inner)
                self.buffer[position:] = [f"[{label}]({href})"]
            return
        if tag in ("td", "th"):
            self.cells -= 1
            if self.cells == 0:
                self.buffer.append(" | ")
            return
        if tag not in BLOCK_TAGS or self.cells:
            return
        if tag in ("ul", "ol", "menu", "dir") and self.lists:
            self.lists.pop()
        if tag == "tr":
            line = re.sub(r"\s+", " ", "".join(self.buffer)).strip().rstrip("|").strip()
            self.buffer = [line]
        self.flush()


def to_text(root: etree._Element) -> str:
    writer = _Writer()
    for event, element in etree.iterwalk(root, events=("start", "end")):
        if not isinstance(element.tag, str):
            continue
        if event == "start":
            writer.start(element)
            if element.text:
                writer.text(element.text)
        else:
            writer.end(element)
            if element.tail:
                writer.text(element.tail)
    writer.flush()
    return "\n".join(writer.lines)


def normalize_text(text: str) -> str:
    """Stable text: NFC, no invisible characters, unified spaces and line ends, no trailing blanks."""
    text = INVISIBLE.sub("", unicodedata.normalize("NFC", text))
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = re.sub(r"[\u00a0\u2000-\u200a\u202f\u205f\u3000\t\f\v]+", " ", text)
    lines = [re.sub(r" {2,}", " ", line).rstrip() for line in text.split("\n")]
    out: list[str] = []
    for line in lines:
        if line.strip() or (out and out[-1]):
            out.append(line if line.strip() else "")
    return "\n".join(out).strip("\n") + ("\n" if out else "")


def apply_ignore(text: str, patterns: tuple[str, ...]) -> str:
    """Drop the user's ignore patterns (build dates, counters...) before the text is compared."""
    for pattern in patterns:
        text = re.sub(pattern, "", text, flags=re.MULTILINE)
    return normalize_text(text)
