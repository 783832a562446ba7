"""Rules judging what a store holds after a write, as pure functions returning a `RuleOutcome`.

The delivery rules (validate.py) judge the files before anything is stored. These judge what
the warehouse, the archive and the combined file hold once written, read back from them by
storage/ and compared here, so a lost row, a missing object or a stale file fails a check
instead of passing silently.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta

from energymobile.cohorts import cohort_window
from energymobile.ingest.validate import RuleOutcome

MAX_LISTED = 5
"""How many cohorts or objects a failure names before it says "and N more"."""


def _listed(items: Sequence[str]) -> str:
    head = ", ".join(items[:MAX_LISTED])
    return head + (f" and {len(items) - MAX_LISTED} more" if len(items) > MAX_LISTED else "")


def _problems(*findings: tuple[str, Sequence[str]]) -> list[str]:
    """One sentence per kind of finding that found anything: its lead-in, then the items
    (`_listed`)."""
    return [f"{lead}{_listed(items)}" for lead, items in findings if items]


def warehouse_hours_contiguous(
    key: str, loaded_rows: int | None, cycles: Sequence[int], times: Sequence[datetime]
) -> RuleOutcome:
    """The warehouse holds cycles 0 … n-1 of the cohort once each, n being the rows its load
    recorded (`cohorts.row_count`), cycle i at the cohort's midnight + i hours.

    `cycles` and `times` are the stored fact rows in cycle order."""
    start, _ = cohort_window(key)
    meta: dict[str, object] = {"loaded_rows": loaded_rows, "stored_rows": len(cycles)}
    if loaded_rows is None:
        return RuleOutcome(False, f"cohort {key} is not in the warehouse", meta)
    for expected, (cycle, stamp) in enumerate(zip(cycles, times, strict=True)):
        if cycle != expected:
            what = f"cycle {cycle} twice" if cycle < expected else f"cycle {expected} missing"
            return RuleOutcome(
                False,
                f"{what}: the warehouse holds {len(cycles)} rows of cohort {key}, its load "
                f"recorded {loaded_rows} (cycles 0 to {loaded_rows - 1})",
                meta | {"cycle": expected},
            )
        hour = start + timedelta(hours=expected)
        if stamp != hour:
            return RuleOutcome(
                False,
                f"cycle {cycle} is stored at {stamp:%Y-%m-%d %H:%M}, expected "
                f"{hour:%Y-%m-%d %H:%M} (the cohort's start + {cycle} h)",
                meta | {"cycle": cycle, "expected": str(hour), "found": str(stamp)},
            )
    if len(cycles) != loaded_rows:
        return RuleOutcome(
            False,
            f"the warehouse holds {len(cycles)} rows of cohort {key}, its load recorded "
            f"{loaded_rows}: cycles {len(cycles)} to {loaded_rows - 1} are missing",
            meta,
        )
    if not cycles:
        return RuleOutcome(False, f"cohort {key} has no rows in the warehouse", meta)
    return RuleOutcome(
        True,
        f"cycles 0 to {len(cycles) - 1}, each once, hourly from {start:%Y-%m-%d %H:%M}",
        meta,
    )


def archive_complete(
    delivered: Collection[str],
    objects: Mapping[str, str],
    written_bytes: Mapping[str, int],
    stored: Mapping[str, int],
) -> RuleOutcome:
    """Every delivered file has an object in the manifest, and every such object is in the
    store with the bytes written to it.

    `delivered`: the files the manifest's receipts name; `objects`: file -> object key;
    `written_bytes`: file -> bytes written (empty for archives older than that record);
    `stored`: object key -> size, as the store lists them."""
    unlisted = sorted(set(delivered) - set(objects))
    missing = sorted(key for key in objects.values() if key not in stored)
    resized = sorted(
        f"{objects[name]} holds {stored[objects[name]]} bytes, {size} were written"
        for name, size in written_bytes.items()
        if name in objects and objects[name] in stored and stored[objects[name]] != size
    )
    meta: dict[str, object] = {
        "files": len(objects),
        "stored_bytes": sum(stored.get(key, 0) for key in objects.values()),
    }
    problems = _problems(
        ("no archived object for ", unlisted),
        ("missing from the store: ", missing),
        ("", resized),
    )
    if problems:
        return RuleOutcome(
            False,
            "the archive is incomplete: " + "; ".join(problems),
            meta | {"missing": missing, "resized": resized, "unlisted": unlisted},
        )
    return RuleOutcome(True, f"all {len(objects)} delivered files are stored whole", meta)


def combined_matches_warehouse(
    in_file: Mapping[str, int],
    in_warehouse: Mapping[str, int],
    pending: Collection[str] = (),
) -> RuleOutcome:
    """The combined file holds every cohort the warehouse holds, each with as many rows,
    and no other: cohort key -> rows on each side. A cohort in `pending` (loaded, but its
    export not yet written when the file was: another run is on its way to the next rebuild)
    may be absent from the file; it is named, not failed."""
    waiting = sorted(set(pending) & (set(in_warehouse) - set(in_file)))
    absent = sorted(set(in_warehouse) - set(in_file) - set(waiting))
    extra = sorted(set(in_file) - set(in_warehouse))
    differ = sorted(
        f"{key} ({in_file[key]} rows in the file, {in_warehouse[key]} in the warehouse)"
        for key in set(in_file) & set(in_warehouse)
        if in_file[key] != in_warehouse[key]
    )
    meta: dict[str, object] = {
        "cohorts_in_file": len(in_file),
        "cohorts_in_warehouse": len(in_warehouse),
        "rows_in_file": sum(in_file.values()),
        "rows_in_warehouse": sum(in_warehouse.values()),
        "pending": waiting,
    }
    problems = _problems(
        ("cohorts in the warehouse but not in the file: ", absent),
        ("cohorts in the file but not in the warehouse: ", extra),
        ("row counts differ: ", differ),
    )
    if problems:
        return RuleOutcome(
            False,
            "; ".join(problems),
            meta | {"absent": absent, "extra": extra, "differ": differ},
        )
    later = f"; exported after the file, in its next rebuild: {_listed(waiting)}" if waiting else ""
    return RuleOutcome(
        True,
        f"{len(in_file)} cohorts, {sum(in_file.values())} rows, as in the warehouse{later}",
        meta,
    )
