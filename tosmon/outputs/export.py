"""Export recorded versions and their flags for analysis: JSON Lines or CSV.

JSON Lines: one version per line, exactly as `history --json` describes it. CSV: one row per flag,
repeating its version's columns, and one row with empty flag columns for a version without flags,
so a spreadsheet can filter on `flag_category`. Text cells that a spreadsheet would run as a formula
(starting with = + - @ or a tab) get a leading apostrophe, the usual defence against CSV injection.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable

from tosmon.store.files import Store
from tosmon.store.history import Entry, entry_fields, entry_to_json

VERSION_COLUMNS = ("service", "document", "url", "version", "date", "source", "size", "sha256", "previous")
FLAG_COLUMNS = ("category", "severity", "change", "consent", "rule", "terms", "heading", "clause")
# Columns are only ever added, after the others: spreadsheets and scripts read them by position.
CSV_CHANGE_KINDS = ("added", "removed", "changed", "moved")
COLUMNS = (
    *VERSION_COLUMNS,
    *CSV_CHANGE_KINDS,
    "snapshot_sha256",
    "snapshot_url",
    *(f"flag_{c}" for c in FLAG_COLUMNS),
    "variant",
    "restored",
    "flag_confidence",
)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def to_jsonl(entries: list[Entry], store: Store) -> str:
    return "".join(json.dumps(entry_to_json(e, store), ensure_ascii=False) + "\n" for e in entries)


def to_csv(entries: list[Entry], store: Store) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for entry in entries:
        data = entry_fields(entry, store)
        snapshot = entry.snapshot or {}
        row = [
            *(data[c] for c in VERSION_COLUMNS),
            *(entry.changes.get(kind, 0) for kind in CSV_CHANGE_KINDS),
            snapshot.get("sha256"),
            snapshot.get("final_url"),
        ]
        for flag in entry.flags or ({},):
            flag_cells = (_flag_value(flag, c) for c in FLAG_COLUMNS)
            extra = (entry.document.variant, entry.changes.get("restored", 0), flag.get("confidence"))
            writer.writerow(_cell(v) for v in [*row, *flag_cells, *extra])
    return out.getvalue()


def _flag_value(flag: dict[str, object], column: str) -> object:
    value = flag.get(column)
    return "; ".join(map(str, value)) if isinstance(value, list) else value


def _cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return "" if value is None else value


EXPORTERS: dict[str, Callable[[list[Entry], Store], str]] = {"jsonl": to_jsonl, "csv": to_csv}
