"""Turn Open Terms Archive declarations into watchlist entries.

The Open Terms Archive community maintains declarations for thousands of documents: one JSON
file per service, `{"name": ..., "terms": {<document type>: {"fetch", "select", "remove",
"filter", "combine", "executeClientScripts"}}}`. tosmon's `select`/`remove` mean what OTA's do
(see tosmon.extract), so most declarations convert as they are. What cannot be converted is said,
document by document: pages combined into one document, JavaScript filters, invalid selectors.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from tosmon.extract import selector_problem
from tosmon.watchlist import RANGE_KEYS

KNOWN_KEYS = {"fetch", "select", "remove", "filter", "combine", "executeClientScripts"}


@dataclass
class Imported:
    """Watchlist entries made from declarations, and what could not be converted."""

    services: dict[str, dict[str, dict[str, object]]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)  # documents not converted, with why
    warnings: list[str] = field(default_factory=list)  # converted, but not exactly as OTA does

    @property
    def documents(self) -> int:
        return sum(len(documents) for documents in self.services.values())


def declaration_files(path: Path) -> list[Path]:
    """The declaration files at `path`: the file itself, or the JSON files of a folder."""
    if path.is_dir():
        return sorted(p for p in path.glob("*.json") if not p.name.endswith(".history.json"))
    return [path]


def import_declarations(paths: list[Path]) -> Imported:
    imported = Imported()
    for path in paths:
        for file in declaration_files(path):
            _import_file(file, imported)
    return imported


def _import_file(file: Path, imported: Imported) -> None:
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except OSError as error:
        imported.skipped.append(f"{file}: cannot read: {error.strerror}")
        return
    except (ValueError, UnicodeDecodeError) as error:
        imported.skipped.append(f"{file}: not valid JSON: {error}")
        return
    terms = data.get("terms", data.get("documents")) if isinstance(data, dict) else None
    if not isinstance(terms, dict):
        imported.skipped.append(f"{file}: not an OTA declaration (expected a `terms` object)")
        return
    service = str(data.get("name") or file.stem).strip()
    for name, declaration in terms.items():
        where = f"{file}: {service}/{name}"
        entry = _document(declaration, where, imported.warnings)
        if isinstance(entry, str):
            imported.skipped.append(f"{where}: {entry}")
        elif name in imported.services.get(service, {}):
            imported.skipped.append(f"{where}: declared twice; the first declaration is kept")
        else:
            imported.services.setdefault(service, {})[name] = entry


def _document(declaration: object, where: str, warnings: list[str]) -> dict[str, object] | str:
    """A watchlist entry for one declared document, or why it cannot be made."""
    if not isinstance(declaration, dict):
        return "expected an object"
    declaration = dict(declaration)
    if "combine" in declaration:
        pages = declaration.pop("combine")
        if not isinstance(pages, list) or len(pages) != 1 or not isinstance(pages[0], dict):
            count = len(pages) if isinstance(pages, list) else "several"
            return f"combines {count} pages into one document; tosmon watches one page per document"
        declaration = {**declaration, **pages[0]}
    for key in sorted(set(declaration) - KNOWN_KEYS):
        warnings.append(f"{where}: `{key}` is not an OTA declaration key tosmon knows; ignored")
    url = declaration.get("fetch")
    if not isinstance(url, str) or not re.match(r"https?://[^\s/?#]+", url, re.IGNORECASE):
        return f"`fetch` is not an http(s) URL: {url!r}"
    entry: dict[str, object] = {"url": url}
    for key in ("select", "remove"):
        if key in declaration:
            selectors = _selectors(declaration[key])
            if isinstance(selectors, str):
                return f"`{key}`: {selectors}"
            entry[key] = selectors
    filters = declaration.get("filter")
    if filters:
        names = ", ".join(map(str, filters)) if isinstance(filters, list) else str(filters)
        warnings.append(
            f"{where}: OTA filters ({names}) are JavaScript and were not converted; "
            "if the page churns, add `ignore` patterns"
        )
    if declaration.get("executeClientScripts"):
        warnings.append(
            f"{where}: OTA renders this page in a browser; tosmon fetches the HTML as served, "
            "so the text may be missing (the check will then report the page as a problem)"
        )
    return entry


def _selectors(value: object) -> list[object] | str:
    items = value if isinstance(value, list) else [value]
    result: list[object] = []
    for item in items:
        if isinstance(item, str):
            problem = selector_problem(item)
            if problem:
                return f"CSS selector {item!r} is not supported: {problem}"
            result.append(item)
        elif isinstance(item, dict) and item and set(item) <= set(RANGE_KEYS):
            for css in item.values():
                problem = selector_problem(css) if isinstance(css, str) else "expected a string"
                if problem:
                    return f"range selector {item!r} is not supported: {problem}"
            result.append(dict(item))
        else:
            return f"unexpected selector {item!r}"
    return result


def to_yaml(imported: Imported) -> str:
    """The `services:` section of a watchlist holding the converted documents."""
    return yaml.safe_dump(
        {"services": imported.services},
        sort_keys=False,
        allow_unicode=True,
        width=110,
        default_flow_style=False,
    )
