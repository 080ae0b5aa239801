"""A static HTML site of the store's history, ready to publish: an index that opens on the latest
flagged changes (most severe first), one page per document with its timeline and side-by-side
diffs of consecutive versions, flagged clauses marked, and an Atom feed (`feed.xml`).

The site is self-contained: the evidence it cites, every raw snapshot and version text, is copied
into `evidence/` (once; stored files never change) and shown with its sha256, so that a published
copy still proves what it says. Each version has a "cite this version" block. Raw HTML is copied as
`<file>.txt`: the bytes are those fetched (same sha256), but a page's scripts never run on the
site. Pages use inline CSS, no script and relative links, so they work from disk as well as from a
web server. All page text is escaped.

    DIR/index.html  DIR/feed.xml  DIR/<service>/<document>.html
    DIR/evidence/<service>/<document>/raw/<stamp>.<ext>  .../versions/<stamp>.md

The site is never written inside the snapshot store: `tosmon verify` would find files it does not know.
"""

from __future__ import annotations

import hashlib
import html
import os
import shutil
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote
from urllib.request import pathname2url

import orjson

from tosmon import __version__
from tosmon.diff import diff_versions, restore
from tosmon.errors import TosmonError
from tosmon.flag.rules import Taxonomy
from tosmon.models import Change, Document
from tosmon.outputs.feed import atom_feed, reworded_changes
from tosmon.outputs.report import SEVERITY_ORDER, diff_html, flag_wording, safe_text, wording
from tosmon.store.files import Store, slug, write_atomic
from tosmon.store.history import Entry, flag_from_json, flag_label, summary, timeline
from tosmon.store.memory import ClauseIndex, recall
from tosmon.variants import and_list, current, difference_from_json, sentence

EVIDENCE = "evidence"
MANIFEST = ".tosmon-site.json"  # what each page was built from, so that unchanged pages are kept
SITE_FORMAT = 2  # raise when pages change shape: every page is then rebuilt
LATEST_FLAGGED = 20  # flagged versions on the index, the most severe first, then the newest

STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 75em; padding: 0 1em; color: #1f2328; }
table { border-collapse: collapse; width: 100%; margin: .5em 0 1.5em; }
th, td { border: 1px solid #d0d7de; padding: .35em .6em; text-align: left; vertical-align: top; }
table.diff { table-layout: fixed; }
td.removed { background: #ffebe9; } td.added { background: #e6ffec; } td.restored { background: #ddf4ff; }
del { background: #ffcecb; } ins { background: #abf2bc; text-decoration: none; }
mark.flag { display: block; background: #fff8c5; outline: 2px solid #d1242f; padding: .2em; }
.flag-label { display: block; font-weight: bold; color: #d1242f; font-size: .85em; text-transform: uppercase; }
.meta { color: #59636e; font-size: .9em; }
.sev { color: #fff; font-size: .75em; font-weight: bold; padding: .1em .4em; border-radius: .2em; }
.sev-high { background: #cf222e; } .sev-medium { background: #bc4c00; } .sev-low { background: #9a6700; }
ul.flags { list-style: none; padding: 0; } ul.flags li { margin: 0 0 1em; }
blockquote { margin: .3em 0; padding-left: .8em; border-left: 3px solid #d0d7de; }
.cite { background: #f6f8fa; border: 1px solid #d0d7de; padding: .5em .8em; margin: .5em 0 1em; }
.cite dl { display: grid; grid-template-columns: max-content auto; gap: .1em 1em; margin: .3em 0; }
.cite dt { font-weight: bold; } .cite dd { margin: 0; overflow-wrap: anywhere; }
"""


def page_path(document: Document) -> str:
    """Where a document's page is, relative to the site's root (file-safe names, as in the store;
    a variant's page is `Name@VARIANT.html`)."""
    variant = f"@{document.variant}" if document.variant else ""
    return f"{slug(document.service)}/{slug(document.name)}{variant}.html"


def version_url(site_url: str | None, document: Document, version: str | None) -> str | None:
    """The address of a version on the site published at `site_url`, when there is one."""
    if not site_url or not version:
        return None
    return f"{site_url.rstrip('/')}/{version_href(document, version)}"


def version_href(document: Document, version: str) -> str:
    """A version's place relative to the site's root: its document's page, at its section."""
    return f"{quote(page_path(document))}#v-{quote(version)}"


def e(text: object) -> str:
    """Escape page text for HTML, control characters removed."""
    return html.escape(safe_text(str(text)), quote=True)


def refuse_inside(destination: Path, store: Store) -> None:
    """A site inside the store would be taken for damage by `tosmon verify`: say so before writing."""
    root, target = store.root.resolve(), destination.resolve()
    if target == root or target.is_relative_to(root):
        raise TosmonError(
            f"{destination}: the site cannot be written inside the snapshot store {store.root}; "
            "choose a directory outside it"
        )


def write_site(
    store: Store,
    documents: Sequence[Document],
    taxonomy: Taxonomy,
    destination: Path,
    *,
    now: datetime | None = None,
    site_url: str | None = None,
) -> list[Path]:
    """The site of every document of the watchlist or the store that has recorded versions.

    Raise TosmonError, in one line, when it cannot be written there.
    """
    refuse_inside(destination, store)
    known = {d.id: d for d in store.documents()} | {d.id: d for d in documents}
    timelines = {d: timeline(store, d, taxonomy) for d in sorted(known.values(), key=lambda d: d.id)}
    try:
        return build_site(
            store,
            {d: t for d, t in timelines.items() if t},
            destination,
            now=now or datetime.now(UTC),
            site_url=site_url,
        )
    except OSError as error:
        where = error.filename or destination
        raise TosmonError(f"{where}: cannot write the site: {error.strerror or error}") from None


def build_site(
    store: Store,
    timelines: dict[Document, list[Entry]],
    destination: Path,
    *,
    now: datetime,
    site_url: str | None = None,
) -> list[Path]:
    """Write index.html, feed.xml, one page per document and the evidence into `destination`;
    return the pages written."""
    refuse_inside(destination, store)
    pages = []
    rows = []
    built = _manifest(destination)
    written: dict[str, str] = {}
    for document, entries in timelines.items():
        page = destination / page_path(document)
        fingerprint = written[page_path(document)] = _fingerprint(document, entries)
        evidence = destination.joinpath(EVIDENCE, store.directory(document).relative_to(store.root))
        # A page whose versions are the same as last time is the same page: rebuilding it (a diff
        # per version) is what makes a site of years of history slow, and `check --site` runs nightly.
        if built.get(page_path(document)) != fingerprint or not (page.is_file() and evidence.is_dir()):
            write_atomic(page, document_page(store, document, entries, destination).encode())
        pages.append(page)
        flags = sum(len(entry.flags) for entry in entries)
        last = _date(entries[-1].version.date) if entries else ""
        rows.append(
            f'<tr><td><a href="{_href(page, destination)}">{e(document.id)}</a></td>'
            f"<td>{len(entries)}</td><td>{last}</td><td>{flags or ''}</td></tr>"
        )
    entries = [entry for t in timelines.values() for entry in t]
    # Links in feed.xml are relative to where it is (the site's root) unless the site's address is known.
    feed = atom_feed(
        "Terms history — tosmon",
        site_url or str(destination.resolve()),
        entries,
        now=now,
        version_link=lambda entry: version_url(site_url or ".", entry.document, entry.version.name),
        comparisons=current(store),
        comparisons_link=f"{(site_url or '.').rstrip('/')}/index.html#variants",
    )
    write_atomic(destination / "feed.xml", feed)
    index = destination / "index.html"
    body = (
        "<h1>Terms history</h1>"
        f'<p class="meta">Written by tosmon on {_date(now)}. '
        '<a href="feed.xml">Atom feed</a> of new versions.</p>'
        + _latest_flagged(entries)
        + "<h2>Documents</h2>"
        "<table><tr><th>Document</th><th>Versions</th><th>Last version</th><th>Flags</th></tr>"
        + "".join(rows)
        + "</table>"
        + variants_section(store)
    )
    write_atomic(index, _page("Terms history", body, feed=True).encode())
    write_atomic(destination / MANIFEST, orjson.dumps({"format": SITE_FORMAT, "pages": written}))
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


def _manifest(destination: Path) -> dict[str, str]:
    """The fingerprint of each page the last build wrote (none if it was another format or unreadable)."""
    try:
        data = orjson.loads((destination / MANIFEST).read_bytes())
    except (OSError, ValueError):
        return {}
    pages = data.get("pages") if isinstance(data, dict) and data.get("format") == SITE_FORMAT else None
    return pages if isinstance(pages, dict) else {}


def _fingerprint(document: Document, entries: list[Entry]) -> str:
    """What a document's page is made of: its versions, what they were compared with, their flags and evidence."""
    made_of = [
        __version__,
        document.id,
        document.url,
        [
            (
                e.version.name,
                e.previous.name if e.previous else None,
                e.flags,
                e.version.meta.get("sha256"),
                (e.snapshot or {}).get("sha256"),
            )
            for e in entries
        ],
    ]
    return hashlib.sha256(orjson.dumps(made_of, default=str)).hexdigest()


def _latest_flagged(entries: list[Entry]) -> str:
    """The newest flagged versions, the most severe first: what a reader of the site came for."""
    flagged = sorted((e for e in entries if e.flags), key=lambda e: e.version.date, reverse=True)
    if not flagged:
        return "<h2>Latest flagged changes</h2><p>No clause has been flagged yet.</p>"
    items = []
    for entry in flagged[:LATEST_FLAGGED]:
        groups: dict[str, list[dict[str, object]]] = {}
        for flag in entry.flags:
            groups.setdefault(str(flag.get("clause")), []).append(flag)
        changes = reworded_changes(entry)
        for flags in groups.values():
            flags.sort(key=_rank)
            items.append((_rank(flags[0]), entry, flags, changes))
    items.sort(key=lambda item: (item[0], -item[1].version.date.timestamp()))
    parts = ["<h2>Latest flagged changes</h2>", '<ul class="flags">']
    for _, entry, flags, changes in items:
        severity = str(flags[0].get("severity", "medium"))
        link = version_href(entry.document, entry.version.name)
        words = flag_wording(flag_from_json(flags[0]), changes)
        heading = (
            f' <span class="meta">under “{e(flags[0]["heading"])}”</span>' if flags[0].get("heading") else ""
        )
        parts.append(
            f'<li><span class="sev sev-{e(severity)}">{e(severity.upper())}</span> '
            f"<strong>{e(', '.join(dict.fromkeys(flag_label(f) for f in flags)))}</strong> in "
            f'<a href="{e(link)}">{e(entry.document.id)}</a>, {_date(entry.version.date)}{heading}'
            f"<blockquote>{diff_html(words)}</blockquote></li>"
        )
    parts.append("</ul>")
    return "".join(parts)


def _rank(flag: dict[str, object]) -> int:
    return SEVERITY_ORDER.get(str(flag.get("severity")), 3)


def document_page(store: Store, document: Document, entries: list[Entry], root: Path) -> str:
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
    # The document's clause memory, read once for the page: each diff asks it what the document
    # carried before that version (a first version alone has nothing to restore, and builds none).
    memory = recall(store, document, [entry.version for entry in entries]).index if len(entries) > 1 else None
    for entry in reversed(entries):
        parts.append(_version_section(store, entry, root, memory))
    return _page(f"{document.id} — terms history", "\n".join(parts))


def _evidence(store: Store, source: Path, root: Path, document: Document, *parts: str) -> Path:
    """Copy a stored file into the site (once: stored files never change) and return its place,
    `evidence/` laid out as the store is."""
    target = root.joinpath(EVIDENCE, store.directory(document).relative_to(store.root), *parts)
    if not (target.is_file() and target.stat().st_size == source.stat().st_size):
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.tmp")
        shutil.copyfile(source, temporary)
        temporary.replace(target)
    return target


def _version_section(store: Store, entry: Entry, root: Path, memory: ClauseIndex | None) -> str:
    version, document = entry.version, entry.document
    folder = (root / page_path(document)).parent
    text = _evidence(store, version.path, root, document, "versions", version.path.name)
    parts = [
        f'<section id="v-{e(version.name)}"><h3>{_date(version.date)}: {e(summary(entry))}</h3>',
    ]
    meta = (
        f'<p class="meta">Source: {e(version.source)}. <a href="{_href(text, folder)}">Text of this version</a>'
        f", sha256 <code>{e(version.meta.get('sha256'))}</code>."
    )
    cite = [
        ("Document", e(document.id)),
        ("URL", e(document.url)),
        ("Version", f"<code>{e(version.name)}</code> ({_date(version.date)})"),
    ]
    if entry.snapshot:
        file = str(entry.snapshot.get("file", ""))
        stored = store.directory(document) / file
        published = file + ".txt" if file.endswith((".html", ".htm")) else file
        raw = _evidence(store, stored, root, document, *Path(published).parts) if stored.is_file() else None
        link = f'<a href="{_href(raw, folder)}">{e(published)}</a>' if raw else e(file)
        meta += (
            f" Raw snapshot: {link}, sha256 <code>{e(entry.snapshot.get('sha256'))}</code>, "
            f"fetched {e(entry.snapshot.get('fetched_at'))} from {e(entry.snapshot.get('final_url'))}."
        )
        cite += [
            ("Fetched at", e(entry.snapshot.get("fetched_at"))),
            ("From", e(entry.snapshot.get("final_url"))),
            ("sha256", f"<code>{e(entry.snapshot.get('sha256'))}</code>"),
            ("Archived file", link),
        ]
    text_link = f'<a href="{_href(text, folder)}">versions/{e(version.path.name)}</a>'
    cite.append(("Text", f"{text_link}, sha256 <code>{e(version.meta.get('sha256'))}</code>"))
    if entry.snapshot:
        evidence = (
            f"fetched {entry.snapshot.get('fetched_at')}, archived as {published}, "
            f"sha256 {entry.snapshot.get('sha256')}"
        )
    else:
        evidence = f"version of {_date(version.date)}, text sha256 {version.meta.get('sha256')}"
    cite.append(("Citation", e(f"{document.service}, “{document.name}”, {document.url} ({evidence}).")))
    parts.append(meta + "</p>")
    parts.append(
        '<details class="cite"><summary>Cite this version</summary><dl>'
        + "".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in cite)
        + "</dl></details>"
    )
    if entry.previous is not None:
        changes = diff_versions(entry.previous.text, version.text)
        if memory is not None:  # wording the document carried lately is restored, as check records it
            changes = restore(changes, memory.recall(version.date, entry.number - 1))
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
    if change.kind == "restored":  # never flagged: the document carried this wording lately
        after += " " + _restored_label(change)
        flags = None
    else:
        flags = flagged.get(new) or (flagged.get(old) if change.kind == "removed" else None)
    if flags:
        kinds = ", ".join(f"{f.get('category')} ({f.get('severity')})" for f in flags)
        terms = ", ".join(dict.fromkeys(str(t) for f in flags for t in f.get("terms") or []))  # type: ignore[attr-defined]
        label = f"flagged: {kinds}; matched: {terms}"
        after = f'<mark class="flag"><span class="flag-label">{e(label)}</span>{after}</mark>'
    heading = change.new.heading if change.new else change.old.heading if change.old else None
    if heading:
        after = f'<span class="meta">{e(heading)}</span><br>{after}' if after else after
    old_class = ' class="removed"' if old else ""
    new_class = f' class="{"restored" if change.kind == "restored" else "added"}"' if new else ""
    return f"<tr><td{old_class}>{before}</td><td{new_class}>{after}</td></tr>"


def _restored_label(change: Change) -> str:
    """The words the terminal and e-mail use, the version that last carried the clause linked."""
    if not change.last_seen:
        return '<span class="meta">(restored)</span>'
    seen = f'<a href="#v-{e(change.last_seen)}">{e(change.last_seen[:10])}</a>'
    return f'<span class="meta">(restored: carried until {seen})</span>'


def _page(title: str, body: str, *, feed: bool = False) -> str:
    link = '<link rel="alternate" type="application/atom+xml" href="feed.xml">' if feed else ""
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{e(title)}</title>{link}<style>{STYLE}</style></head>\n<body>\n{body}\n</body></html>\n"
    )


def _href(target: Path, folder: Path) -> str:
    return html.escape(pathname2url(os.path.relpath(target.resolve(), folder.resolve())), quote=True)


def _date(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
