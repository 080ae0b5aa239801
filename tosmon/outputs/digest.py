"""A digest of every change and flag in a time window, rebuilt from the store alone.

Each version recorded in the window becomes one result, as the check that recorded it saw it:
its changes are the diff with the version before it, its flags those the check stored in the
version's metadata (the taxonomy of that day, not of today). The digest is a CheckRun, so the
e-mail report renders it like any run, with the differences between variants that appeared or
went in the window.
"""

from __future__ import annotations

import re
from calendar import monthrange
from datetime import UTC, datetime, timedelta

from tosmon.diff import diff_versions, restore
from tosmon.models import CheckResult, CheckRun, Document, Flag
from tosmon.store.files import Store
from tosmon.store.memory import recall
from tosmon.variants import recent

UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
SINCE_HELP = "a duration such as 7d, 24h, 2w, 90m or 3mo, or a date such as 2026-11-01"


def parse_window(text: str) -> timedelta:
    """`90m`, `24h`, `7d` or `2w`; raise ValueError saying what is expected."""
    match = re.fullmatch(r"\s*(\d+)\s*([mhdw])\s*", text)
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"expected a duration such as 7d, 24h, 2w or 90m, found {text!r}")
    return timedelta(**{UNITS[match.group(2)]: int(match.group(1))})


def parse_since(text: str, now: datetime) -> datetime:
    """The start of a window: `now` minus a duration (`90m`, `24h`, `7d`, `2w`, `3mo` calendar
    months), or a date (`2026-11-01`, midnight UTC) or a time (`2026-11-01T08:00Z`).
    Raise ValueError saying what is expected."""
    months = re.fullmatch(r"\s*(\d+)\s*mo\s*", text)
    if months and int(months.group(1)):
        total = now.year * 12 + now.month - 1 - int(months.group(1))
        year, month = divmod(total, 12)
        return now.replace(year=year, month=month + 1, day=min(now.day, monthrange(year, month + 1)[1]))
    if re.fullmatch(r"\s*\d{4}-\d{2}-\d{2}([T ].*)?", text):
        try:
            start = datetime.fromisoformat(text.strip())
        except ValueError:
            raise ValueError(f"{text.strip()!r} is not a date (expected YYYY-MM-DD)") from None
        start = start if start.tzinfo else start.replace(tzinfo=UTC)
        if start > now:
            raise ValueError(f"{text.strip()} is in the future")
        return start
    try:
        return now - parse_window(text)
    except ValueError:
        raise ValueError(f"expected {SINCE_HELP}, found {text!r}") from None


def flag_from_json(data: dict[str, object]) -> Flag:
    """A flag as check.record stored it in a version's metadata."""
    terms = data.get("terms")
    return Flag(
        category=str(data["category"]),
        clause=str(data["clause"]),
        heading=str(data["heading"]) if data.get("heading") is not None else None,
        terms=tuple(str(t) for t in terms) if isinstance(terms, list) else (),
        severity=data.get("severity", "medium"),  # type: ignore[arg-type]
        rule=str(data.get("rule", "")),
        consent=data.get("consent"),  # type: ignore[arg-type]
        change=data.get("change", "added"),  # type: ignore[arg-type]
        confidence=data.get("confidence", "high"),  # type: ignore[arg-type]
    )


def digest(documents: tuple[Document, ...], store: Store, *, since: datetime) -> CheckRun:
    """Every version recorded since `since`, document by document in watchlist order, oldest first."""
    results = []
    for document in documents:
        versions = store.versions(document)
        for index, version in enumerate(versions):
            if version.date < since:
                continue
            if index == 0:
                results.append(CheckResult(document, "new", version=version.name, checked_at=version.date))
                continue
            flags = version.meta.get("flags")
            results.append(
                CheckResult(
                    document,
                    "changed",
                    tuple(
                        restore(
                            diff_versions(versions[index - 1].text, version.text),
                            recall(store, document, versions[:index]).last_seen(version.date),
                        )
                    ),
                    tuple(flag_from_json(f) for f in flags if isinstance(f, dict))
                    if isinstance(flags, list)
                    else (),
                    version=version.name,
                    checked_at=version.date,
                )
            )
    return CheckRun(since, tuple(results), recent(documents, store, since))
