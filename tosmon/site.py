"""A static HTML site of the store's history: an index, and one page per document with its timeline
and side-by-side diffs of consecutive versions, flagged clauses marked.

Pages are self-contained (inline CSS, no script, relative links) so they work when opened from
disk; links to the raw snapshots and version texts are relative to the store. All page text is
escaped.
"""

from __future__ import annotations

import html
import os
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote
from urllib.request import pathname2url

from tosmon.diff import diff_versions
from tosmon.history import Entry, summary
from tosmon.models import Change, Document
from tosmon.report import diff_html, safe_text, wording
from tosmon.store import Store, slug, write_atomic
from tosmon.variants import and_list, current, difference_from_json, sentence

STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 75em; padding: 0 1em; color: #1f2328; }
table { border-collapse: collapse; width: 100%; margin: .5em 0 1.5em; }
th, td { border: 1px solid #d0d7de; padding: .35em .6em; text-align: left; vertical-align: top; }
table.diff { table-layout: fixed; }
td.removed { background: #ffebe9; } td.added { background: #e6ffec; }
del { background: #ffcecb; } ins { background: #abf2bc; text-decoration: none; }
mark.flag { display: block; background: #fff8c5; outline: 2px solid #d1242f; padding: .2em; }
.flag-label { display: block; font-weight: bold; color: #d1242f; font-size: .85em; text-transform: uppercase; }
.meta { color: #59636e; font-size: .9em; }
"""


def page_path(document: Document) -> str:
    """Where a document's page is, relative to the site's root (file-safe names, as in the store)."""
    return f"{slug(document.service)}/{slug(document.name)}.html"


def version_url(site_url: str | None, document: Document, version: str | None) -> str | None:
    """The address of a version on the site published at `site_url`, when there is one."""
    if not site_url or not version:
        return None
    return f"{site_url.rstrip('/')}/{quote(page_path(document))}#v-{quote(version)}"


def e(text: object) -> str:
    """Escape page text for HTML, control characters removed."""
    return html.escape(safe_text(str(text)), quote=True)


def build_site(
    store: Store, timelines: dict[Document, list[Entry]], destination: Path, *, now: datetime
) -> list[Path]:
    """Write index.html and one page per document into `destination`; return the pages written."""
    pages = []
    rows = []
    for document, entries in timelines.items():
        variant = f"@{document.variant}" if document.variant else ""
        page = destination / slug(document.service) / f"{slug(document.name)}{variant}.html"
        write_atomic(page, document_page(store, document, entries, page.parent).encode())
        pages.append(page)
        flags = sum(len(entry.flags) for entry in entries)
        last = _date(entries[-1].version.date) if entries else ""
        rows.append(
            f'<tr><td><a href="{_href(page, destination)}">{e(document.id)}</a></td>'
            f"<td>{len(entries)}</td><td>{last}</td><td>{flags or ''}</td></tr>"
        )
    index = destination / "index.html"
    body = (
        "<h1>Terms history</h1>"
        f'<p class="meta">Written by tosmon on {_date(now)}.</p>'
        "<table><tr><th>Document</th><th>Versions</th><th>Last version</th><th>Flags</th></tr>"
        + "".join(rows)
        + "</table>"
        + variants_section(store)
    )
    write_atomic(index, _page("Terms history", body).encode())
    return [index, *pages]


def variants_section(store: Store) -> str:
    """How the variants of each document differ as last compared: flagged clauses in words first."""
    parts = []
    for state in current(store):
        differences = [difference_from_json(d) for d in state.get("differences") or []]  # type: ignore[union-attr]
        since = {
            str(d.get("clause")): str(d.get("since", ""))[:10]
            for d in state.get("differences") or []  # type: ignore[union-attr]
        }
        variants = [str(v) for v in state.get("variants") or []]  # type: ignore[union-attr]
        parts.append(
            f"<h3>{e(state.get('service'))} — {e(state.get('document'))}</h3>"
            f'<p class="meta">{e(and_list(variants))}, compared by {e(state.get("mode"))} on '
            f"{e(str(state.get('compared_at', ''))[:10])}.</p>"
        )
        if not differences:
            parts.append("<p>Every variant carries the same clauses.</p>")
            continue
        items = []
        for difference in sorted(differences, key=lambda d: not d.flags):
            label = sentence(difference) if difference.flags else ""
            label = label[:1].upper() + label[1:]
            flagged = f'<span class="flag-label">{e(label)}</span>' if label else ""
            items.append(
                f"<tr><td>{e(', '.join(difference.present))}</td><td>{e(', '.join(difference.absent))}</td>"
                f"<td>{flagged}{e(difference.clause)}</td><td>{e(since.get(difference.clause, ''))}</td></tr>"
            )
        parts.append(
            "<table><tr><th>In</th><th>Not in</th><th>Clause</th><th>Since</th></tr>"
            + "".join(items)
            + "</table>"
        )
    return '<h2 id="variants">Variants compared</h2>' + "".join(parts) if parts else ""


def document_page(store: Store, document: Document, entries: list[Entry], folder: Path) -> str:
    parts = [
        '<p><a href="../index.html">All documents</a></p>',
        f"<h1>{e(document.service)} — {e(document.name)}"
        + (f" ({e(document.variant)})" if document.variant else "")
        + "</h1>",
    ]
    if document.url.startswith(("http://", "https://")):
        parts.append(f'<p>Page: <a href="{e(document.url)}">{e(document.url)}</a></p>')
    if document.variant:
        parts.append(
            f'<p class="meta">The {e(document.variant)} variant of {e(document.service)} {e(document.name)}: '
            'see <a href="../index.html#variants">how its variants differ</a>.</p>'
        )
    parts.append(
        "<h2>Timeline</h2><table><tr><th>Date</th><th>Source</th><th>Size</th><th>What changed</th></tr>"
    )
    for entry in reversed(entries):
        parts.append(
            f'<tr><td><a href="#v-{e(entry.version.name)}">{_date(entry.version.date)}</a></td>'
            f"<td>{e(entry.version.source)}</td><td>{entry.size:,} B</td><td>{e(summary(entry))}</td></tr>"
        )
    parts.append("</table><h2>Versions</h2>")
    for entry in reversed(entries):
        parts.append(_version_section(store, entry, folder))
    return _page(f"{document.id} — terms history", "\n".join(parts))


def _version_section(store: Store, entry: Entry, folder: Path) -> str:
    version = entry.version
    text_link = _href(version.path, folder)
    parts = [
        f'<section id="v-{e(version.name)}"><h3>{_date(version.date)}: {e(summary(entry))}</h3>',
    ]
    meta = f'<p class="meta">Source: {e(version.source)}. <a href="{text_link}">Text of this version</a>.'
    if entry.snapshot:
        raw = store.directory(entry.document) / str(entry.snapshot.get("file", ""))
        meta += (
            f' Raw snapshot: <a href="{_href(raw, folder)}">{e(entry.snapshot.get("file"))}</a>, '
            f"sha256 <code>{e(entry.snapshot.get('sha256'))}</code>, "
            f"fetched {e(entry.snapshot.get('fetched_at'))} from {e(entry.snapshot.get('final_url'))}."
        )
    parts.append(meta + "</p>")
    if entry.previous is not None:
        changes = diff_versions(entry.previous.text, version.text)
        flagged: dict[str, list[dict[str, object]]] = {}
        for flag in entry.flags:
            flagged.setdefault(str(flag.get("clause")), []).append(flag)
        parts.append(
            f'<table class="diff"><tr><th>Before ({_date(entry.previous.date)})</th>'
            f"<th>After ({_date(version.date)})</th></tr>"
        )
        parts.extend(_diff_row(change, flagged) for change in changes if change.kind != "moved")
        parts.append("</table>")
    parts.append("</section>")
    return "\n".join(parts)


def _diff_row(change: Change, flagged: dict[str, list[dict[str, object]]]) -> str:
    old = change.old.text if change.old else ""
    new = change.new.text if change.new else ""
    if change.kind == "changed":
        words = wording(old, new)
        before, after = diff_html(words, side=-1), diff_html(words, side=1)
    else:
        before, after = e(old), e(new)
    flags = flagged.get(new)
    if flags:
        kinds = ", ".join(f"{f.get('category')} ({f.get('severity')})" for f in flags)
        terms = ", ".join(dict.fromkeys(str(t) for f in flags for t in f.get("terms") or []))  # type: ignore[attr-defined]
        label = f"flagged: {kinds}; matched: {terms}"
        after = f'<mark class="flag"><span class="flag-label">{e(label)}</span>{after}</mark>'
    heading = change.new.heading if change.new else change.old.heading if change.old else None
    if heading:
        after = f'<span class="meta">{e(heading)}</span><br>{after}' if after else after
    old_class = ' class="removed"' if old else ""
    new_class = ' class="added"' if new else ""
    return f"<tr><td{old_class}>{before}</td><td{new_class}>{after}</td></tr>"


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{e(title)}</title><style>{STYLE}</style></head>\n<body>\n{body}\n</body></html>\n"
    )


def _href(target: Path, folder: Path) -> str:
    return html.escape(pathname2url(os.path.relpath(target.resolve(), folder.resolve())), quote=True)


def _date(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
