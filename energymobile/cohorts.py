"""Quarterly cohorts: keys, windows and expected sizes. Pure arithmetic, no Dagster.

A cohort starts at midnight UTC on the 26th of March, June, September or December (from
2008-03-26) and lasts until the next such date. Each cycle is one hour, so a cohort of W hours
holds at most W cycles; the last day is a few hours short for maintenance.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

FIRST_COHORT = date(2008, 3, 26)
COHORT_DAY = 26
COHORT_MONTHS = (3, 6, 9, 12)
CRON_SCHEDULE = "0 0 26 3,6,9,12 *"
"""Cron for the cohort boundaries. `*/3` in the month field would mean Jan/Apr/Jul/Oct."""
KEY_FORMAT = "%Y-%m-%d"
MAINTENANCE_HOURS = 3
"""Hours the sample generator leaves out at the end of each cohort (2205 rows for 92 days)."""

_KEY_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}")


class InvalidCohortKey(ValueError):
    """A folder or partition name that is not the start date of a cohort."""


def parse_cohort_key(key: str) -> date:
    """Return the cohort's start date, or raise InvalidCohortKey saying what is wrong."""
    if not _KEY_PATTERN.fullmatch(key):
        raise InvalidCohortKey(f"{key!r} is not a cohort key: expected YYYY-MM-DD, e.g. 2008-03-26")
    try:
        start = datetime.strptime(key, KEY_FORMAT).date()
    except ValueError as err:
        raise InvalidCohortKey(f"{key!r} is not a valid date: {err}") from None
    if start.day != COHORT_DAY or start.month not in COHORT_MONTHS:
        raise InvalidCohortKey(
            f"{key!r} is not a cohort start: cohorts start on the 26th of March, June, "
            "September and December"
        )
    if start < FIRST_COHORT:
        raise InvalidCohortKey(f"{key!r} is before the first cohort, {FIRST_COHORT:%Y-%m-%d}")
    return start


def is_cohort_key(key: str) -> bool:
    try:
        parse_cohort_key(key)
    except InvalidCohortKey:
        return False
    return True


def _add_quarter(day: date) -> date:
    month = day.month + 3
    return day.replace(year=day.year + (month - 1) // 12, month=(month - 1) % 12 + 1)


def cohort_window(key: str) -> tuple[datetime, datetime]:
    """The cohort's [start, end) window as naive UTC datetimes."""
    start = parse_cohort_key(key)
    end = _add_quarter(start)
    return datetime(start.year, start.month, start.day), datetime(end.year, end.month, end.day)


def window_hours(key: str) -> int:
    start, end = cohort_window(key)
    return int((end - start) / timedelta(hours=1))


def default_cycles(key: str) -> int:
    """Cycles in a full delivery: the window's hours less the maintenance hours."""
    return window_hours(key) - MAINTENANCE_HOURS


def cohort_keys(first: str, count: int) -> list[str]:
    """`count` consecutive cohort keys starting at `first`."""
    day = parse_cohort_key(first)
    keys = []
    for _ in range(count):
        keys.append(day.strftime(KEY_FORMAT))
        day = _add_quarter(day)
    return keys


def cohort_keys_between(first: str, last: str) -> list[str]:
    """Every cohort key from `first` to `last`, both included."""
    start, stop = parse_cohort_key(first), parse_cohort_key(last)
    if stop < start:
        raise InvalidCohortKey(f"{last!r} is before {first!r}")
    keys, day = [], start
    while day <= stop:
        keys.append(day.strftime(KEY_FORMAT))
        day = _add_quarter(day)
    return keys


def latest_complete_cohort(now: datetime) -> str | None:
    """The key of the last cohort whose window has ended by `now` (naive UTC); None before the
    first one ends. Only complete cohorts are partitions (a cohort is delivered after its end)."""
    day, latest = FIRST_COHORT, None
    while cohort_window(day.strftime(KEY_FORMAT))[1] <= now:
        latest, day = day.strftime(KEY_FORMAT), _add_quarter(day)
    return latest


def check_complete(key: str, now: datetime) -> str:
    """The key, if its cohort's window has ended by `now`; InvalidCohortKey otherwise."""
    _, end = cohort_window(key)
    if end > now:
        latest = latest_complete_cohort(now)
        raise InvalidCohortKey(
            f"cohort {key} is not complete: its window ends {end:%Y-%m-%d}, and it can be "
            f"loaded only after that; the latest complete cohort is {latest}"
        )
    return key


def cycle_times(key: str, cycles: int) -> list[datetime]:
    """Timestamps of cycles 0..cycles-1: the cohort's midnight plus one hour per cycle."""
    start, _ = cohort_window(key)
    return [start + timedelta(hours=i) for i in range(cycles)]
