"""Crontab expressions, read the way crontab(5) reads them, for the watchlist and the scheduler.

Its own module so that the watchlist can validate a `schedule:` without importing the scheduler.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import tzinfo

from apscheduler.triggers.cron import CronTrigger

WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
# crontab(5)'s shorthands
MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


@dataclass(frozen=True)
class Field:
    """One field of a crontab line: its name, its range, and the names it accepts for numbers."""

    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()  # names[i] stands for low + i
    hint: str = ""


SECOND = Field("second", 0, 59)
FIELDS = (
    Field("minute", 0, 59),
    Field("hour", 0, 23),
    Field("day", 1, 31),
    Field("month", 1, 12, MONTHS, "jan-dec"),
    Field("weekday", 0, 7, WEEKDAYS, "sun-sat; Sunday is 0 or 7"),
)
ITEM = re.compile(r"(\*|\w+)(?:-(\w+))?(?:/(\w+))?")


def cron_trigger(expression: str, timezone: tzinfo | None = None) -> CronTrigger:
    """The trigger of a crontab expression: `minute hour day month weekday`, as crontab(5) reads it,
    or one of its shorthands (`@daily`, `@hourly`, `@weekly`, `@monthly`, `@yearly`).

    Six fields put a seconds field first, as Quartz and Spring do: the only way to say "every two
    seconds", which the scheduler's own tests need. Raises ValueError saying what is wrong, in
    crontab's words (never APScheduler's).
    """
    text = expression.strip()
    if text.startswith("@"):
        if text.lower() not in MACROS:
            known = ", ".join(MACROS)
            raise ValueError(f"unknown shorthand {text!r}; tosmon knows {known}")
        text = MACROS[text.lower()]
    fields = text.split()
    if len(fields) not in (5, 6):
        raise ValueError(
            f"expected 5 fields (minute hour day month weekday), or 6 with seconds first; found {len(fields)}"
        )
    second = fields.pop(0) if len(fields) == 6 else "0"
    for spec, value in zip((SECOND, *FIELDS), (second, *fields), strict=True):
        _check_field(spec, value)
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


def _check_field(spec: Field, value: str) -> None:
    """Raise ValueError naming the field and the culprit when `value` is not a crontab field."""
    allowed = f"{spec.low}-{spec.high}" + (f" or {spec.hint}" if spec.hint else "")
    for item in value.lower().split(","):
        match = ITEM.fullmatch(item)
        if not match:
            raise ValueError(
                f"{spec.name} {value!r}: expected a number ({allowed}), *, a range (1-5), a list (1,15) "
                "or a step (*/15)"
            )
        start, end, step = match.groups()
        numbers = [_number(spec, part, allowed) for part in (start, end) if part and part != "*"]
        if len(numbers) == 2 and numbers[0] > numbers[1]:
            raise ValueError(f"{spec.name} {item!r}: the range goes backwards")
        if step is not None and (not step.isdigit() or int(step) == 0):
            raise ValueError(f"{spec.name} {item!r}: the step after / must be a whole number above 0")
        if start == "*" and end:
            raise ValueError(f"{spec.name} {item!r}: * is already the whole range")


def _number(spec: Field, part: str, allowed: str) -> int:
    if part.isdigit():
        number = int(part)
    elif part[:3] in spec.names and len(part) == 3:
        number = spec.low + spec.names.index(part)
    else:
        raise ValueError(f"{spec.name} {part!r}: expected {allowed}")
    if not spec.low <= number <= spec.high:
        raise ValueError(f"{spec.name} {number} is out of range: expected {allowed}")
    return number


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
