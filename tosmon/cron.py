"""Crontab expressions, read the way crontab(5) reads them, for the watchlist and the scheduler.

Its own module so that the watchlist can validate a `schedule:` without importing the scheduler.
"""

from __future__ import annotations

import re
from datetime import tzinfo

from apscheduler.triggers.cron import CronTrigger

WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")


def cron_trigger(expression: str, timezone: tzinfo | None = None) -> CronTrigger:
    """The trigger of a crontab expression: `minute hour day month weekday`, as crontab(5) reads it.

    Six fields put a seconds field first, as Quartz and Spring do: the only way to say "every two
    seconds", which the scheduler's own tests need. Raises ValueError saying what is wrong.
    """
    fields = expression.split()
    if len(fields) not in (5, 6):
        raise ValueError(
            f"expected 5 fields (minute hour day month weekday), or 6 with seconds first; found {len(fields)}"
        )
    second = fields.pop(0) if len(fields) == 6 else "0"
    minute, hour, day, month, weekday = fields
    return CronTrigger(
        second=second,
        minute=minute,
        hour=hour,
        day=day,
        month=month,
        day_of_week=_crontab_weekdays(weekday),
        timezone=timezone,
    )


def _crontab_weekdays(field: str) -> str:
    """Crontab counts weekdays from Sunday (0 or 7), APScheduler 3 from Monday: spell numbers as names."""
    if not re.fullmatch(r"[\d*,/-]+", field) or field == "*":
        return field  # names (mon-fri) mean the same to both
    days: list[str] = []
    for item in field.split(","):
        match = re.fullmatch(r"(\*|\d+)(?:-(\d+))?(?:/(\d+))?", item)
        if not match:
            raise ValueError(f"invalid weekday {item!r}")
        start, end, step = match.groups()
        first = 0 if start == "*" else int(start)
        last = 6 if start == "*" else int(end) if end else (7 if step else first)
        if not 0 <= first <= last <= 7:
            raise ValueError(f"invalid weekday {item!r} (weekdays are 0-7, Sunday is 0 or 7)")
        days += [WEEKDAYS[n] for n in range(first, last + 1, int(step or 1))]
    return ",".join(dict.fromkeys(days))
