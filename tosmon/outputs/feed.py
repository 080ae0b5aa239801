"""Atom feeds (RFC 4287) of recorded versions: one per document, one for the whole store.

Each version is an entry dated by its recording, titled by what was flagged, linking to the page
(or, given where the site is published, to the version on the site) and to the raw snapshot it came
from. A reworded flagged clause is shown as a word diff, with `<del>` and `<ins>`. Ids are `urn:uuid:` names derived from the document and
the version, so they never change when a feed is written again. Written with xml.etree, which
escapes all page text; characters XML cannot carry are dropped first.
"""

from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from tosmon import __version__
from tosmon.diff import diff_versions
from tosmon.models import Change, VariantComparison
from tosmon.outputs.report import diff_html, flag_wording, safe_text
from tosmon.store.history import Entry, counts, flag_from_json, flag_label, summary
from tosmon.variants import and_list, difference_from_json
from tosmon.variants import summary as variant_summary

ATOM = "http://www.w3.org/2005/Atom"
XHTML = "http://www.w3.org/1999/xhtml"
MAX_ENTRIES = 100  # the newest versions; a feed is for following, the export is for the whole history
NOT_XML = re.compile("[\ud800-\udfff\ufffe\uffff]")


def xml_text(text: str) -> str:
    """Page text XML 1.0 can carry: no control characters, no lone surrogates."""
    return NOT_XML.sub("", safe_text(text))


def feed_id(name: str) -> str:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"tosmon:{name}").urn


def atom_feed(
    title: str,
    name: str,
    entries: list[Entry],
    *,
    now: datetime,
    version_link: Callable[[Entry], str | None] = lambda entry: None,
    comparisons: Sequence[dict[str, object]] = (),
    comparisons_link: str | None = None,
) -> bytes:
    """The feed of `entries` (newest first, at most MAX_ENTRIES); `name` makes its id, `now` dates an
    empty one; `version_link` gives the address of a version on the published site, if any.
    `comparisons` are variant comparisons as stored (`variants.current`): each time differences
    between a document's variants appeared or went is an entry too, linking to `comparisons_link`."""
    items = [(e.version.date, e) for e in entries] + _comparison_items(comparisons)
    newest = sorted(items, key=lambda item: item[0], reverse=True)[:MAX_ENTRIES]
    # Plain tags under an xmlns attribute: the usual `<feed xmlns=...>` form, without changing
    # xml.etree's global prefix registry.
    feed = ET.Element("feed", xmlns=ATOM)
    _text(feed, "id", feed_id(name))
    _text(feed, "title", xml_text(title))
    _text(feed, "updated", _date(newest[0][0] if newest else now))
    author = ET.SubElement(feed, "author")
    _text(author, "name", "tosmon")
    generator = _text(feed, "generator", "tosmon")
    generator.set("version", __version__)
    documents = {e.document.id: e.document for _, e in newest if isinstance(e, Entry)}
    if len(documents) == 1:
        _link(feed, "alternate", next(iter(documents.values())).url)
    for date, entry in newest:
        if isinstance(entry, Entry):
            feed.append(_entry(entry, version_link(entry)))
        else:
            feed.append(_comparison_entry(date, entry, comparisons_link))
    ET.indent(feed)
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True) + b"\n"


def _entry(entry: Entry, site_link: str | None) -> ET.Element:
    document, version = entry.document, entry.version
    element = ET.Element("entry")
    _text(element, "id", feed_id(f"{document.id}#{version.name}"))
    _text(element, "title", xml_text(f"{document.id}: {summary(entry)}"))
    _text(element, "updated", _date(version.date))
    _text(element, "published", _date(version.date))
    if site_link:  # the version as it was, with its evidence; the live page has moved on since
        ET.SubElement(element, "link", rel="alternate", type="text/html", href=xml_text(site_link))
        _link(element, "related", document.url)
    else:
        _link(element, "alternate", document.url)
    if entry.snapshot:
        _link(element, "via", str(entry.snapshot.get("final_url", "")))
    for term in dict.fromkeys(str(flag.get("category")) for flag in entry.flags):
        ET.SubElement(element, "category", term=xml_text(term))
    content = ET.SubElement(element, "content", type="xhtml")
    div = ET.SubElement(content, "div", xmlns=XHTML)
    changes = reworded_changes(entry)
    by_clause: dict[str, list[dict[str, object]]] = {}
    for flag in entry.flags:  # one paragraph per clause, however many rules flagged it
        by_clause.setdefault(str(flag.get("clause", "")), []).append(flag)
    for flags in by_clause.values():
        paragraph = ET.SubElement(div, "p")
        strong = ET.SubElement(paragraph, "strong")
        strong.text = xml_text(", ".join(dict.fromkeys(flag_label(f) for f in flags)))
        where = f" under “{flags[0]['heading']}”" if flags[0].get("heading") else ""
        strong.tail = xml_text(f"{where}: ")
        runs = flag_wording(flag_from_json(flags[0]), changes)
        paragraph.append(ET.fromstring(f"<q>{diff_html([(op, xml_text(t)) for op, t in runs])}</q>"))
    ET.SubElement(div, "p").text = xml_text(counts(entry).capitalize() + ".")
    source = ET.SubElement(div, "p")
    source.text = f"Source: {version.source}."
    if entry.snapshot:
        source.text += xml_text(
            f" Snapshot sha256 {entry.snapshot.get('sha256')}, {entry.snapshot.get('final_url')}"
        )
    return element


def _comparison_items(states: Sequence[dict[str, object]]) -> list[tuple[datetime, VariantComparison]]:
    """One comparison per moment differences between a document's variants appeared or went."""
    items = []
    for state in states:
        moments: dict[str, tuple[list[dict[str, object]], list[dict[str, object]]]] = {}
        for data in state.get("differences") or []:  # type: ignore[union-attr]
            moments.setdefault(str(data.get("since")), ([], []))[0].append(data)
        for data in state.get("resolved") or []:  # type: ignore[union-attr]
            moments.setdefault(str(data.get("until")), ([], []))[1].append(data)
            if data.get("since"):  # it was news when it appeared, too
                moments.setdefault(str(data.get("since")), ([], []))[0].append(data)
        for moment, (appeared, resolved) in moments.items():
            try:
                date = datetime.fromisoformat(moment)
            except ValueError:
                continue  # a hand-edited comparison file; `tosmon verify` is for the store
            comparison = VariantComparison(
                str(state.get("service")),
                str(state.get("document")),
                tuple(state.get("variants") or ()),  # type: ignore[arg-type]
                {},
                str(state.get("mode", "text")),
                tuple(difference_from_json(d) for d in appeared),
                tuple(difference_from_json(d) for d in resolved),
            )
            items.append((date, comparison))
    return items


def _comparison_entry(date: datetime, comparison: VariantComparison, link: str | None) -> ET.Element:
    name = f"{comparison.service}/{comparison.document}"
    lines = variant_summary(comparison)
    element = ET.Element("entry")
    _text(element, "id", feed_id(f"{name}@variants#{date.isoformat()}"))
    _text(element, "title", xml_text(f"{name}: {lines[0] if lines else 'variants compared'}"))
    _text(element, "updated", _date(date))
    _text(element, "published", _date(date))
    if link:
        ET.SubElement(element, "link", rel="alternate", type="text/html", href=xml_text(link))
    for term in dict.fromkeys(f.category for d in comparison.appeared for f in d.flags):
        ET.SubElement(element, "category", term=xml_text(term))
    content = ET.SubElement(element, "content", type="xhtml")
    div = ET.SubElement(content, "div", xmlns=XHTML)
    ET.SubElement(div, "p").text = xml_text(f"{name}: {and_list(comparison.variants)} compared.")
    for line in lines:
        ET.SubElement(div, "p").text = xml_text(line[:1].upper() + line[1:] + ".")
    for difference in comparison.appeared:
        if difference.flags:
            paragraph = ET.SubElement(div, "p")
            paragraph.text = xml_text(f"In {and_list(difference.present)}: ")
            ET.SubElement(paragraph, "q").text = xml_text(difference.clause)
    return element


def reworded_changes(entry: Entry) -> list[Change]:
    """A version's changes when a reworded flagged clause needs the wording it replaced (diffed only then)."""
    if entry.previous is None or not any(f.get("change") == "changed" for f in entry.flags):
        return []
    return diff_versions(entry.previous.text, entry.version.text)


def _text(parent: ET.Element, tag: str, text: str) -> ET.Element:
    element = ET.SubElement(parent, tag)
    element.text = text
    return element


def _link(parent: ET.Element, rel: str, href: str) -> None:
    if href.startswith(("http://", "https://", "file://")):
        ET.SubElement(parent, "link", rel=rel, href=xml_text(href))


def _date(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
