"""Turn Open Terms Archive declarations into watchlist entries that record the same text.

The Open Terms Archive community maintains declarations for thousands of documents: one JSON file
per service, `{"name": ..., "terms": {<document type>: {"fetch", "select", "remove", "filter",
"combine", "executeClientScripts"}}}`. An imported entry is *faithful*: it fetches the same URL(s)
the same way (`executeClientScripts: true` becomes `fetcher: browser`, on the document or on one
page of a `combine:`), keeps and drops the same parts of the page (`select`/`remove` as they are:
tosmon's selectors mean what OTA's do, see tosmon.extract.html), and does what each of OTA's JavaScript
`filter`s does, as tosmon's own normalisation or as `remove` selectors or `ignore` patterns (the
table is tosmon/sources/ota_filters.yaml). A declaration that cannot be carried over faithfully is not
imported, and the reason is given with what to do: a document is never silently different.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path

import yaml

from tosmon.extract.html import TRACKING_PARAMS, selector_problem
from tosmon.watchlist import RANGE_KEYS

DOCUMENT_KEYS = {"fetch", "select", "remove", "filter", "combine", "executeClientScripts"}
PAGE_KEYS = DOCUMENT_KEYS - {"combine"}
PAGE_SETTINGS = ("select", "remove", "ignore", "fetcher")  # in the order they are written
Entry = dict[str, object]


@dataclass(frozen=True)
class Converted:
    """One declared document: its watchlist entry, or why it has none."""

    file: Path
    service: str
    name: str
    entry: Entry | None  # None when refused
    refused: str | None = None  # why, and what the user can do
    notes: tuple[str, ...] = ()  # how OTA's filters were carried over

    @property
    def id(self) -> str:
        return f"{self.service}/{self.name}"


@dataclass
class Imported:
    """The documents of some declaration files, and the files that could not be read."""

    documents: list[Converted] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # "FILE: why"

    @property
    def converted(self) -> list[Converted]:
        return [d for d in self.documents if d.entry is not None]

    @property
    def refused(self) -> list[Converted]:
        return [d for d in self.documents if d.entry is None]

    @property
    def services(self) -> dict[str, dict[str, Entry]]:
        """`services:` of a watchlist: service -> document type -> entry, in the files' order."""
        services: dict[str, dict[str, Entry]] = {}
        for document in self.converted:
            services.setdefault(document.service, {})[document.name] = document.entry  # type: ignore[assignment]
        return services


def declaration_files(path: Path) -> list[Path]:
    """The declaration files at `path`: the file itself, or the declarations of a folder."""
    if path.is_dir():
        return sorted(p for p in path.glob("*.json") if not p.name.endswith(".history.json"))
    return [path]


def import_declarations(paths: list[Path]) -> Imported:
    imported = Imported()
    seen: dict[str, Path] = {}
    for path in paths:
        if not path.exists():
            imported.unreadable.append(f"{path}: no such file or folder")
            continue
        files = declaration_files(path)
        if not files:
            imported.unreadable.append(
                f"{path}: no declaration (*.json) in this folder; give Open Terms Archive's "
                "`declarations` folder or one of its files"
            )
        for file in files:
            for document in _import_file(file, imported):
                if document.entry is not None and document.id in seen:
                    document = Converted(
                        file,
                        document.service,
                        document.name,
                        None,
                        f"also declared in {seen[document.id]}, which was imported; "
                        "import one of the two declarations at a time",
                    )
                elif document.entry is not None:
                    seen[document.id] = file
                imported.documents.append(document)
    return imported


def _import_file(file: Path, imported: Imported) -> list[Converted]:
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except OSError as error:
        imported.unreadable.append(f"{file}: cannot read: {error.strerror}")
        return []
    except (ValueError, UnicodeDecodeError) as error:
        imported.unreadable.append(f"{file}: not valid JSON: {error}")
        return []
    terms = data.get("terms", data.get("documents")) if isinstance(data, dict) else None
    if not isinstance(terms, dict):
        imported.unreadable.append(f"{file}: not an OTA declaration (expected a `terms` object)")
        return []
    service = str(data.get("name") or file.stem).strip()
    documents = []
    for name, declaration in terms.items():
        notes: list[str] = []
        entry = convert(declaration, service, notes)
        if isinstance(entry, str):
            documents.append(Converted(file, service, name, None, entry))
        else:
            # the pages of a combined document each note the document's filters: once is enough
            documents.append(Converted(file, service, name, entry, notes=tuple(dict.fromkeys(notes))))
    return documents


def convert(declaration: object, service: str = "", notes: list[str] | None = None) -> Entry | str:
    """The watchlist entry that records what OTA records for one declared document, or why none can."""
    if not isinstance(declaration, dict):
        return "expected an object"
    unknown = sorted(set(declaration) - DOCUMENT_KEYS)
    if unknown:
        return f"unknown declaration key(s) {', '.join(map(repr, unknown))}: this OTA format is not supported"
    if "combine" in declaration:
        pages = declaration["combine"]
        if not isinstance(pages, list) or not pages or not all(isinstance(p, dict) for p in pages):
            return "`combine` must be a list of pages ({fetch, select, remove, ...})"
        if "fetch" in declaration:
            return "gives both `fetch` and `combine`"
        for page in pages:
            unknown = sorted(set(page) - PAGE_KEYS)
            if unknown:
                return f"a page of `combine` has unknown key(s) {', '.join(map(repr, unknown))}"
        # OTA's pages inherit every setting of the document that they do not give themselves
        settings = [{**{k: v for k, v in declaration.items() if k != "combine"}, **page} for page in pages]
    else:
        settings = [declaration]
    converted = []
    for page in settings:
        result = _page(page, service, notes if notes is not None else [])
        if isinstance(result, str):
            return result
        converted.append(result)
    if len(converted) == 1 and "combine" not in declaration:
        return converted[0]
    return _combined(converted)


def _page(declaration: dict[str, object], service: str, notes: list[str]) -> Entry | str:
    url = declaration.get("fetch")
    if not isinstance(url, str) or not re.match(r"https?://[^\s/?#]+", url, re.IGNORECASE):
        return f"`fetch` is not an http(s) URL: {url!r}"
    entry: Entry = {"url": url}
    for key in ("select", "remove"):
        if key in declaration:
            selectors = _selectors(declaration[key])
            if isinstance(selectors, str):
                return f"`{key}`: {selectors}"
            entry[key] = selectors
    if declaration.get("filter") is not None:
        carried = _filters(declaration["filter"], service, notes)
        if isinstance(carried, str):
            return carried
        remove, ignore = carried
        if remove:
            entry["remove"] = [*entry.get("remove", []), *remove]  # type: ignore[misc]
        if ignore:
            entry["ignore"] = ignore
    browser = declaration.get("executeClientScripts", False)
    if not isinstance(browser, bool):
        return f"`executeClientScripts` must be true or false, found {browser!r}"
    if browser:
        entry["fetcher"] = "browser"
    return entry


def _combined(pages: list[Entry]) -> Entry:
    """One `combine:` entry: a setting all pages share is written once, on the document.

    A page without a setting inherits the document's; where the pages differ, the document gives
    none, so a page that had none in OTA has none here either (a page without `fetcher` is fetched
    as the watchlist's default says: never rendered before plain HTTP is tried, as in OTA).
    """
    shared = {}
    for key in PAGE_SETTINGS:
        values = [page.get(key) for page in pages]
        if values[0] is not None and all(v == values[0] for v in values):
            shared[key] = values[0]
    combine = [
        {"url": page["url"], **{k: page[k] for k in PAGE_SETTINGS if k in page and k not in shared}}
        for page in pages
    ]
    return {"combine": combine, **shared}


def _selectors(value: object) -> list[object] | str:
    items = value if isinstance(value, list) else [value]
    if not items:
        return "an empty list of selectors"
    result: list[object] = []
    for item in items:
        if isinstance(item, str):
            problem = selector_problem(item)
            if problem:
                return f"the CSS selector {item!r} cannot be run: {problem}"
            result.append(item)
        elif isinstance(item, dict) and item and set(item) <= set(RANGE_KEYS):
            starts = [k for k in item if k.startswith("start")]
            ends = [k for k in item if k.startswith("end")]
            if len(starts) > 1 or len(ends) > 1:
                return f"the range {item!r} has two starts or two ends"
            for css in item.values():
                problem = selector_problem(css) if isinstance(css, str) else "expected a string"
                if problem:
                    return f"the range {item!r} cannot be run: {problem}"
            result.append(dict(item))
        else:
            return f"unexpected selector {item!r}"
    return result


@cache
def filter_table() -> dict[str, dict[str, object]]:
    """How each OTA filter is carried over (tosmon/sources/ota_filters.yaml)."""
    text = resources.files("tosmon.sources").joinpath("ota_filters.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def _filters(value: object, service: str, notes: list[str]) -> tuple[list[object], list[str]] | str:
    """The `remove` selectors and `ignore` patterns doing what OTA's filters do, or why none can."""
    filters = value if isinstance(value, list) else [value]
    names = {f for f in filters if isinstance(f, str)}
    remove: list[object] = []
    ignore: list[str] = []
    for item in filters:
        if isinstance(item, dict) and set(item) == {"removeQueryParams"}:
            params = item["removeQueryParams"]
            if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
                return f"OTA filter {item!r}: expected a list of parameter names"
            kept = [p for p in params if not TRACKING_PARAMS.match(p)]
            if kept:
                ignore.extend(query_param_patterns(kept))
                notes.append(f"OTA filter removeQueryParams {params}: as `ignore` patterns")
            else:
                notes.append(
                    f"OTA filter removeQueryParams {params}: tosmon drops these tracking parameters itself"
                )
            continue
        if isinstance(item, dict) and len(item) == 1:
            name, _ = next(iter(item.items()))  # a filter given arguments: {name: argument}
        elif isinstance(item, str):
            name = item
        else:
            return f"unexpected filter {item!r}"
        rule = filter_table().get(name)
        if rule is None:
            return (
                f"OTA filter `{name}` (JavaScript in {service}.filters.js) has no tosmon equivalent: "
                "read it, then add the document by hand with `remove` selectors or `ignore` patterns "
                "doing the same"
            )
        if "refuse" in rule:
            return (
                f"OTA filter `{name}` ({rule['does']}) cannot be carried over: {rule['refuse']}; "
                "add the document by hand if the difference is acceptable"
            )
        if "moot_with" in rule:
            if rule["moot_with"] not in names:
                return f"OTA filter `{name}` ({rule['does']}) cannot be carried over without `{rule['moot_with']}`"
            notes.append(f"OTA filter {name}: nothing to do, `{rule['moot_with']}` undoes it")
        elif "tosmon" in rule:
            notes.append(f"OTA filter {name}: {rule['tosmon']}")
        else:
            remove.extend(rule.get("remove", []))  # type: ignore[arg-type]
            ignore.extend(rule.get("ignore", []))  # type: ignore[arg-type]
            notes.append(
                f"OTA filter {name} ({rule['does']}): as `{'remove' if 'remove' in rule else 'ignore'}`"
            )
    return remove, ignore


def query_param_patterns(params: list[str]) -> list[str]:
    """`ignore` patterns that drop query parameters from the links of tosmon's text."""
    if not params:
        return []
    names = "|".join(re.escape(p) for p in params)
    names = f"(?:{names})" if len(params) > 1 else names
    return [
        rf"(?<=[?&;]){names}=[^&;#)\s]*[&;]",  # followed by another parameter
        rf"[?&;]{names}=[^&;#)\s]*(?=[#)\s]|$)",  # the last one, with its separator
    ]


class _Dumper(yaml.SafeDumper):
    """A watchlist's YAML: lists indented under their key, a range on one line, no aliases."""

    def ignore_aliases(self, data: object) -> bool:
        return True  # a value shared by several entries is written in full: a watchlist refuses aliases

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _mapping(dumper: yaml.SafeDumper, data: dict[str, object]) -> yaml.Node:
    flow = bool(data) and set(data) <= set(RANGE_KEYS)
    return dumper.represent_mapping("tag:yaml.org,2002:map", data, flow_style=flow)


_Dumper.add_representer(dict, _mapping)


def dump(data: object) -> str:
    """`data` as watchlist YAML, in the order given."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=110)


def to_yaml(imported: Imported) -> str:
    """The `services:` section of a watchlist holding the converted documents."""
    return dump({"services": imported.services})
