"""Turn a fetched page into stable, readable text that keeps the structure of the legal document.

The declarations mean what they mean in Open Terms Archive: `remove` selectors drop parts of the
page, then every match of every `select` entry is kept (a range keeps everything between two
anchors). Without `select`, the page's main content is found and navigation, headers, footers,
scripts, styles and cookie banners are dropped. The text comes out Markdown-like: headings as `#`
lines, one paragraph or list item per line, links as `[text](absolute url)`, table rows as
`cell | cell`.

What churns without being a change is normalised here: Unicode forms, invisible characters and
spacing, tracking parameters, per-request tokens and redirect wrappers in links, relative versus
absolute links, Cloudflare-obfuscated e-mail addresses, relative dates ("3 days ago").

lxml does the parsing and selection (it is the hot path of a nightly run); beautifulsoup4's
UnicodeDammit decodes bytes whose charset is missing or wrong.
"""

from __future__ import annotations

import contextlib
import copy
import re
from functools import lru_cache
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import lxml.html
from cssselect import HTMLTranslator, SelectorError
from cssselect.parser import Function, parse_series
from cssselect.xpath import ExpressionError, XPathExpr
from lxml import etree

from tosmon.errors import ExtractError
from tosmon.extract.text import normalize_text
from tosmon.models import Document, RangeSelector, Selector, Snapshot

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
    "[aria-modal=true], .sr-only, .visually-hidden, .screen-reader-text"
)
CHROME_SHARE = 0.25  # chrome is a small part of a page's text
MENU_LINKS = 3
MENU_LINK_SHARE = 0.8
CHROME_WORDS = frozenset(
    "header footer nav navbar navigation menu sidebar breadcrumb breadcrumbs topbar masthead".split()  # noqa: SIM905
)
CONSENT_WORDS = frozenset(
    "cookie cookies consent gdpr cmp onetrust didomi cookiebot usercentrics truste osano iubenda klaro".split()  # noqa: SIM905
)
NAME_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])")
TRACKING_PARAMS = re.compile(
    r"^(utm_\w+|fbclid|gclid|dclid|gbraid|wbraid|msclkid|mc_cid|mc_eid|_ga|_gl|yclid|igshid|ref_src|"
    r"trk|trkinfo|sessionid|session_id|sid|token|nonce|_hs\w+|hsctatracking|vero_\w+|oly_\w+|rb_clickid|s_cid|"
    r"_|cb|cachebust|cache_bust|nocache|rnd|random|timestamp)$",
    re.IGNORECASE,
)
PATH_SESSION = re.compile(r";(jsessionid|phpsessid|sid)=[^/?#]*", re.IGNORECASE)
RELATIVE_TIME = re.compile(r"\b(ago|yesterday|today|just now)\b", re.IGNORECASE)
REDIRECT_TARGET = re.compile(r"https?://[^\s/?#]+\.[^\s/?#]+", re.IGNORECASE)
TOKEN = re.compile(r"[A-Za-z0-9_\-.~+/=%]+")
# Cloudflare's e-mail protection, on few pages: found by one query rather than two checks per link
_CLOUDFLARE_LINKS = etree.XPath(
    "descendant-or-self::a[@href][string(@data-cfemail) or contains(@href, '/cdn-cgi/l/email-protection')]"
)
_CLOUDFLARE_SPANS = etree.XPath("descendant-or-self::span[string(@data-cfemail)]")
XPATH_FUNCTIONS = "https://tosmon.invalid/xpath"  # the namespace of tosmon's own XPath functions
# An unquoted attribute value that is a valid CSS identifier for browsers but not for cssselect
# (`a[href$=--espanol]`: identifiers may start with `--` since CSS Syntax 3)
UNQUOTED_VALUE = re.compile(r"\[\s*([-\w]+)\s*([~|^$*]?=)\s*([^\]\"'\s]+)\s*\]")


class _Translator(HTMLTranslator):
    """cssselect, plus the `-of-type` pseudo-classes on any element (`.notice:nth-of-type(2)`).

    cssselect refuses them without an element name, as XPath 1.0 cannot count the siblings of the
    element's own type; Open Terms Archive's declarations use them, and browsers run them. The
    count is made by `_nth_of_type`, an XPath extension function.
    """

    def _of_type(self, xpath: XPathExpr, a: int, b: int, last: bool) -> XPathExpr:
        return xpath.add_condition(f"t:nth-of-type({a}, {b}, {'true()' if last else 'false()'})")

    def _series(self, function: Function) -> tuple[int, int]:
        try:
            return parse_series(function.arguments)
        except ValueError:
            raise ExpressionError(f"invalid series: {function.arguments!r}") from None

    def xpath_nth_of_type_function(self, xpath: XPathExpr, function: Function) -> XPathExpr:
        if xpath.element != "*":
            return super().xpath_nth_of_type_function(xpath, function)
        return self._of_type(xpath, *self._series(function), last=False)

    def xpath_nth_last_of_type_function(self, xpath: XPathExpr, function: Function) -> XPathExpr:
        if xpath.element != "*":
            return super().xpath_nth_last_of_type_function(xpath, function)
        return self._of_type(xpath, *self._series(function), last=True)

    def xpath_first_of_type_pseudo(self, xpath: XPathExpr) -> XPathExpr:
        if xpath.element != "*":
            return super().xpath_first_of_type_pseudo(xpath)
        return self._of_type(xpath, 0, 1, last=False)

    def xpath_last_of_type_pseudo(self, xpath: XPathExpr) -> XPathExpr:
        if xpath.element != "*":
            return super().xpath_last_of_type_pseudo(xpath)
        return self._of_type(xpath, 0, 1, last=True)

    def xpath_only_of_type_pseudo(self, xpath: XPathExpr) -> XPathExpr:
        if xpath.element != "*":
            return super().xpath_only_of_type_pseudo(xpath)
        return self._of_type(self._of_type(xpath, 0, 1, last=False), 0, 1, last=True)


def _nth_of_type(context: object, a: float, b: float, last: bool) -> bool:
    """Whether the context element is the (a*n + b)th of its type among its siblings, for some n >= 0."""
    element = context.context_node  # type: ignore[attr-defined]
    siblings = element.itersiblings(element.tag, preceding=not last)
    position = sum(1 for _ in siblings) + 1
    if a == 0:
        return position == b
    steps = (position - b) / a
    return steps >= 0 and steps == int(steps)


_translator = _Translator()
_EXTENSIONS = {(XPATH_FUNCTIONS, "nth-of-type"): _nth_of_type}
XML_INCOMPATIBLE_CHARS = "".join(map(chr, [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20)]))
XML_INCOMPATIBLE = re.compile(f"[{XML_INCOMPATIBLE_CHARS}]")
XML_INCOMPATIBLE_BYTES = [char.encode() for char in XML_INCOMPATIBLE_CHARS]
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
    try:
        expression = _translator.css_to_xpath(css)
    except SelectorError:
        quoted = UNQUOTED_VALUE.sub(r'[\1\2"\3"]', css)
        if quoted == css:
            raise
        expression = _translator.css_to_xpath(quoted)
    if "t:nth-of-type(" not in expression:  # the extension costs every evaluation 10 %: only when used
        return etree.XPath(expression)
    return etree.XPath(expression, namespaces={"t": XPATH_FUNCTIONS}, extensions=_EXTENSIONS)


def decode(body: bytes, content_type: str = "") -> str:
    """Decode a response body, trusting the declared charset only when the bytes agree with it.

    Without a declaration, bytes that are valid UTF-8 are UTF-8: a statistical guess is tried only
    after it, as it may read a short UTF-8 page as Mac Roman, and differently from one install to
    another."""
    return _decode(body, content_type)[0]


def _decode(body: bytes, content_type: str) -> tuple[str, bool]:
    """The text, and whether the bytes were UTF-8 (lxml then parses them as they are, 20% faster)."""
    declared = re.search(r"charset=[\"']?([\w.:-]+)", content_type, re.IGNORECASE)
    known = [declared.group(1)] if declared else []
    # Bytes that are valid UTF-8 are UTF-8 whatever the header says: a wrong header is common, valid
    # UTF-8 by accident is not. UTF-16/32 are the exception (their bytes can pass as UTF-8).
    if not any(k.lower().replace("-", "").startswith(("utf16", "utf32")) for k in known):
        known.insert(0, "utf-8")
        if not body.startswith((b"\xfe\xff", b"\xff\xfe", b"\x00\x00\xfe\xff")):  # no UTF-16/32 mark
            with contextlib.suppress(UnicodeDecodeError):  # what UnicodeDammit would do first, directly
                text = body.removeprefix(b"\xef\xbb\xbf").decode("utf-8")
                return text, not text.startswith("\ufeff")  # libxml2 would drop a second mark
    from bs4.dammit import UnicodeDammit  # bs4 costs 70 ms to import: only for pages that are not UTF-8

    dammit = UnicodeDammit(body, known_definite_encodings=known, is_html=True)
    if dammit.unicode_markup is None:
        return body.decode("utf-8", errors="replace"), False
    return dammit.unicode_markup, False


def is_pdf(content_type: str, body: bytes) -> bool:
    """PDFs are often served as application/octet-stream: the magic number decides too."""
    kind = content_type.split(";")[0].strip().lower()
    return kind == "application/pdf" or body[:1024].lstrip().startswith(b"%PDF-")


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
    """The legal text of a page; raise ExtractError when a declared selector matches nothing.

    The declarations mean what they mean in Open Terms Archive, so that its thousands of
    declarations can be reused as they are: `remove` is applied to the whole page first, then every
    match of every `select` entry is kept, in the order of the entries (a match nested in another
    match is kept twice, as OTA does).
    """
    if is_pdf(content_type, body):
        from tosmon.extract.pdf import pdf_text  # pypdf costs 0.1 s to import: only when a PDF comes

        return pdf_text(body)
    if is_binary(body):
        raise ExtractError("the response is binary data, not a text or HTML page")
    if not is_html(content_type, body):
        return normalize_text(decode(body, content_type))
    # Control characters (a stray \x1f in a real page) would make lxml refuse any text set later;
    # a browser shows none of them, and \v and \f are white space.
    html, utf8 = _decode(body, content_type)
    # 27 searches are 4 times faster than a regex, and faster again in UTF-8 bytes (the same bytes)
    found = (
        any(byte in body for byte in XML_INCOMPATIBLE_BYTES)
        if utf8
        else any(char in html for char in XML_INCOMPATIBLE_CHARS)
    )
    if found:
        html = XML_INCOMPATIBLE.sub(lambda m: " " if m[0] in "\v\f" else "", html)
        utf8 = False
    if not html.strip():
        return ""
    # huge_tree lifts libxml2's nesting limit from 256 levels to 2048; past the limit the parser
    # silently drops the rest of the page, which would read as a mass removal: refuse instead.
    parser = lxml.html.HTMLParser(huge_tree=True, encoding="utf-8" if utf8 else None)
    try:
        root = lxml.html.document_fromstring(body if utf8 else html, parser=parser)
    except (etree.ParserError, ValueError):
        return ""
    if any(error.type_name == "ERR_RESOURCE_LIMIT" for error in parser.error_log):
        raise ExtractError("the page nests elements too deeply (over 2048 levels)")
    _fix_relative_times(root)
    # comments and processing instructions go with the elements that never hold text, their tails kept
    etree.strip_elements(root, etree.Comment, etree.ProcessingInstruction, *NEVER_TEXT, with_tail=False)
    _remove(root, remove)
    if select:
        parts = _select(root, select)
        if not parts:
            raise ExtractError(f"the selector {_describe(select)} matches nothing on the page")
    else:
        parts = [_main_content(root)]
    container = etree.Element("div")
    for part in parts:
        container.append(part)
    if not select:
        _drop_boilerplate(container, base_url)
    # Links last: only those of the legal text (half the extraction time when it was every link of
    # the page), and `remove` selectors such as `[href="/legal"]` match the page as published.
    if base_url:
        _absolutize_links(container, base_url)
    return normalize_text(to_text(container))


def _describe(selectors: tuple[Selector, ...]) -> str:
    return ", ".join(repr(s) if isinstance(s, str) else repr(s.__dict__) for s in selectors)


def _select(root: etree._Element, selectors: tuple[Selector, ...]) -> list[etree._Element]:
    """Every match of every selector, entry after entry, each in document order.

    Copies, as a match may hold another (kept twice, as OTA does); the one match of the common
    single-selector case is taken out of the page instead (copying it cost 0.1 ms a page).
    """
    matches: list[etree._Element | list[etree._Element]] = []
    for selector in selectors:
        if isinstance(selector, RangeSelector):
            matches.append(_range_copy(root, selector))  # copies already
        else:
            matches.extend(_xpath(selector)(root))
    if len(matches) == 1 and isinstance(matches[0], etree._Element):
        only = matches[0]
        only.tail = None
        return [only]
    parts: list[etree._Element] = []
    for match in matches:
        parts.extend(match if isinstance(match, list) else [_deepcopy(match)])
    return parts


def _remove(root: etree._Element, selectors: tuple[Selector, ...]) -> None:
    """Drop the matches of every selector; ranges last, as their anchors may be among the matches."""
    ranges = [_range_elements(root, s) for s in selectors if isinstance(s, RangeSelector)]
    for selector in selectors:
        if not isinstance(selector, RangeSelector):
            for element in _xpath(selector)(root):
                _drop(element)
    for elements in ranges:
        for element in elements:
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
    if found and start is not None and end is not None and start is not end:
        # a range whose end comes before its start is empty, as a DOM Range would be
        found = _follows(end, start)
    return start, end, found


def _follows(element: etree._Element, anchor: etree._Element) -> bool:
    """Whether `element` comes after `anchor` in document order."""
    for node in anchor.iter():
        if node is element:
            return True
    for ancestor in [anchor, *anchor.iterancestors()]:
        for sibling in ancestor.itersiblings():
            if sibling is element or any(node is element for node in sibling.iter()):
                return True
    return False


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
            _drop(end)
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
    """The outermost elements that lie wholly between the two anchors, for `remove`."""
    start, end, found = _anchors(root, selector)
    if not found:
        return []
    elements = list(root.iter())
    position = {el: i for i, el in enumerate(elements)}

    def after(element: etree._Element) -> int:
        return position[element] + sum(1 for _ in element.iter())

    begin = 0 if start is None else position[start] if selector.start_before else after(start)
    stop = len(elements) if end is None else after(end) if selector.end_after else position[end]
    inside = [el for el in elements[begin:stop] if after(el) <= stop]
    chosen = set(inside)
    return [el for el in inside if el.getparent() not in chosen]


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


def _drop_boilerplate(container: etree._Element, base_url: str) -> None:
    """Drop navigation, headers, footers and cookie banners from the default extraction.

    Semantic tags go first. Then, as many sites build their chrome from plain divs, an element is
    dropped when it is named like chrome (`headerWrap`, `cookie-banner`) or is mostly links (a menu,
    a site map), and holds a small part of the text: on a cookie policy the cookie-named element is
    the document itself. A header holding the page's `<h1>` is the document's title block (with its
    effective date), not chrome. Hidden elements stay: collapsed accordions hold legal text.
    """
    for element in _xpath(BOILERPLATE)(container):
        if not _holds_title(element):
            _drop(element)
    site = urlsplit(base_url).hostname or ""
    total = _text_length(container)
    pending = list(container)
    while pending:
        element = pending.pop()
        if not isinstance(element.tag, str):
            continue
        length = _text_length(element)
        if length < total * CHROME_SHARE and (
            (_named_like_chrome(element) and not _holds_title(element))
            or _mostly_site_links(element, length, site)
        ):
            _drop(element)
        else:
            pending.extend(element)


def _holds_title(element: etree._Element) -> bool:
    return element.tag != "nav" and element.find(".//h1") is not None


def _named_like_chrome(element: etree._Element) -> bool:
    """`header`, `headerWrap`, `site-footer`, `nav--x1y2` are chrome; `scroll-mt-header` is a style.
    A cookie-named element is a banner when it asks for a choice (it holds a button)."""
    for name in f"{element.get('id', '')} {element.get('class', '')}".split():
        words = [w.lower() for w in NAME_WORDS.findall(re.split(r"--|__", name)[0])]
        if not words:
            continue
        if words[0] in CHROME_WORDS or (len(words) == 2 and words[1] in CHROME_WORDS):
            return True
        if CONSENT_WORDS.intersection(words) and _xpath("button, [role=button]")(element):
            return True
    return False


def _mostly_site_links(element: etree._Element, length: int, site: str) -> bool:
    """A menu: its text is nearly all links, most of them to the site itself (a list of external
    references inside the terms is content)."""
    links = element.findall(".//a")
    if len(links) < MENU_LINKS or not length:
        return False
    internal = sum(1 for link in links if urlsplit(link.get("href") or "").hostname in (None, site))
    return internal * 2 > len(links) and sum(_text_length(link) for link in links) >= length * MENU_LINK_SHARE


def _text_length(element: etree._Element) -> int:
    return sum(len(text.strip()) for text in element.itertext())


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


def _fix_relative_times(root: etree._Element) -> None:
    """`<time datetime="2025-06-17">3 days ago</time>` reads differently every day: keep the date."""
    for element in root.iter("time"):
        stamp = element.get("datetime", "")
        if stamp and RELATIVE_TIME.search("".join(element.itertext())):
            for child in list(element):
                element.remove(child)
            element.text = stamp[:10]


def _absolutize_links(root: etree._Element, base_url: str) -> None:
    protected = [(link, link.get("href", "")) for link in _CLOUDFLARE_LINKS(root)]  # as published
    cleaned: dict[str, str] = {}  # a page links to the same few places many times
    for link in root.iter("a"):
        href = link.get("href")
        if href is not None:
            url = cleaned.get(href)
            if url is None:
                url = cleaned[href] = clean_url(href.strip(), base_url)
            link.set("href", url)
    for link, href in protected:
        address = _cloudflare_email(link.get("data-cfemail") or href.rsplit("#", 1)[-1])
        if address:
            link.set("href", f"mailto:{address}")
            if not "".join(link.itertext()).strip() or "[email" in "".join(link.itertext()):
                for child in list(link):
                    link.remove(child)
                link.text = address
    for span in _CLOUDFLARE_SPANS(root):  # after the links: a link's own span went with its text
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
    """An absolute URL without tracking parameters or per-request tokens, so link churn is not a change.

    A redirect wrapper (`l.php?u=<url>&h=<token>`, `/url?q=<url>`) is replaced by its destination:
    the wrapper's signature changes on every request while the destination is what the terms link to.
    """
    if href.startswith(("#", "javascript:", "mailto:", "tel:")):
        return href
    try:
        url = urljoin(base_url, href)
        if "?" not in url and ";" not in url:  # nothing to clean (most links): no query parsing
            scheme, authority, rest = url.partition("://")
            if authority and not rest.partition("#")[0].count("/"):
                host, hash_, fragment = rest.partition("#")
                return f"{scheme}://{host}/{hash_}{fragment}"
            return url
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
    except ValueError:
        return href
    for _, value in query:
        if REDIRECT_TARGET.match(value) and value != href:
            return clean_url(value, base_url)
    if query:
        kept = [(k, v) for k, v in query if not TRACKING_PARAMS.match(k) and not _looks_like_token(v)]
        parts = parts._replace(query=urlencode(kept))
    parts = parts._replace(path=PATH_SESSION.sub("", parts.path))
    if parts.netloc and not parts.path:
        parts = parts._replace(path="/")  # https://example.com and https://example.com/ are one link
    return urlunsplit(parts)


def _looks_like_token(value: str) -> bool:
    """A long random-looking value (signatures, session ids): mixed case and digits, no words."""
    return (
        len(value) >= 32
        and TOKEN.fullmatch(value) is not None
        and any(c.isupper() for c in value)
        and any(c.islower() for c in value)
        and any(c.isdigit() for c in value)
    )


_STRUCTURAL = BLOCK_TAGS | {"br", "a", "td", "th"}
_LISTS = frozenset(["ul", "ol", "menu", "dir"])
_PLAIN_BLOCKS = BLOCK_TAGS - HEADING_LEVELS.keys() - _LISTS - {"li", "blockquote"}  # only end lines


class _Writer:
    """Collects inline text into lines; block elements end lines.

    start() and end() are called for the elements that shape lines only, and return the buffer
    that text goes to next (flush() starts a new one)."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.buffer: list[str] = []
        self.prefix = ""
        self.lists: list[list[object]] = []  # [tag, counter]
        self.cells = 0  # depth of table cells: blocks inside a cell do not break the row
        self.links: list[tuple[int, str]] = []

    def flush(self) -> None:
        if self.buffer:
            line = " ".join("".join(self.buffer).split())  # as re.sub(r"\s+", " ").strip(), faster
            self.buffer = []
            if line.strip("| "):
                self.lines.append(self.prefix + line)
        self.prefix = ""

    def start(self, tag: str, element: etree._Element) -> list[str]:
        if tag in _PLAIN_BLOCKS:  # p, div, tr... (the most common)
            if self.cells:
                self.buffer.append(" ")
            else:
                self.flush()
            return self.buffer
        if tag == "a":
            self.links.append((len(self.buffer), element.get("href") or ""))
        elif tag in ("td", "th"):
            if self.cells == 0 and _ends_without_bar(self.buffer):
                self.buffer.append(" | ")
            self.cells += 1
        elif tag == "br":
            if not self.cells:
                self.flush()
            else:
                self.buffer.append(" ")
        elif self.cells:
            self.buffer.append(" ")
        else:
            self.flush()
            if tag in HEADING_LEVELS:
                self.prefix = "#" * HEADING_LEVELS[tag] + " "
            elif tag in _LISTS:
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
        return self.buffer

    def end(self, tag: str) -> list[str]:
        if tag == "a":
            position, href = self.links.pop()
            inner = "".join(self.buffer[position:]).strip()
            if inner and href and not href.startswith(("#", "javascript:")):
                self.buffer[position:] = [f"[{' '.join(inner.split())}]({href})"]
        elif tag in ("td", "th"):
            self.cells -= 1
            if self.cells == 0:
                self.buffer.append(" | ")
        elif tag != "br" and not self.cells:
            if tag in _LISTS and self.lists:
                self.lists.pop()
            elif tag == "tr":
                self.buffer = [" ".join("".join(self.buffer).split()).rstrip("|").strip()]
            self.flush()
        return self.buffer


def _ends_without_bar(buffer: list[str]) -> bool:
    """Whether the text so far is not empty and does not end a table cell (" | ")."""
    for piece in reversed(buffer):
        if piece := piece.rstrip():
            return not piece.endswith("|")
    return False


def to_text(root: etree._Element) -> str:
    writer = _Writer()
    start, end = writer.start, writer.end
    structural = _STRUCTURAL  # other elements (span, em, ...) only carry text: no call for them
    buffer = writer.buffer
    for event, element in etree.iterwalk(root, events=("start", "end")):
        tag = element.tag  # each read of .tag, .text or .tail makes a new string: read once
        if event == "start":
            if tag in structural:
                buffer = start(tag, element)
            elif not isinstance(tag, str):
                continue
            if text := element.text:
                buffer.append(text)
        else:
            if tag in structural:
                buffer = end(tag)
            elif not isinstance(tag, str):
                continue
            if tail := element.tail:
                buffer.append(tail)
    writer.flush()
    return "\n".join(writer.lines)


def apply_ignore(text: str, patterns: tuple[str, ...]) -> str:
    """Drop the user's ignore patterns (build dates, counters...) before the text is compared."""
    had_blank_lines = "\n\n" in text.strip("\n")
    for pattern in patterns:
        text = re.sub(pattern, "", text, flags=re.MULTILINE)
    if not had_blank_lines:  # a line the patterns emptied is gone, not a new paragraph break
        text = "\n".join(line for line in text.split("\n") if line.strip())
    return normalize_text(text)


def page_text(document: Document, snapshot: Snapshot) -> str:
    """The text tosmon compares: the extraction of the page, less the document's ignore patterns."""
    text = extract(
        snapshot.body,
        content_type=snapshot.content_type,
        base_url=snapshot.final_url,
        select=document.select,
        remove=document.remove,
    )
    return apply_ignore(text, document.ignore) if document.ignore else text
