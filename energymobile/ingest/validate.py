"""Cohort-level rules, as pure functions returning an outcome the asset checks report.

Each returns a `RuleOutcome`: passed or not, one sentence a data engineer can act on, and
metadata saying where the problem is (which file, which cycle, which hour).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np

from energymobile.channels import CONDITIONS, PROFILE_FILE_NAME
from energymobile.cohorts import cohort_window, window_hours
from energymobile.ingest.reduce import FileReceipt
from energymobile.rigs import Rig


@dataclass(frozen=True)
class RuleOutcome:
    passed: bool
    description: str
    metadata: dict[str, object] = field(default_factory=dict)


def equal_row_counts(receipts: Sequence[FileReceipt]) -> RuleOutcome:
    """All sensor files of a cohort must describe the same cycles."""
    rows = {r.name: r.rows for r in receipts}
    counts = sorted(set(rows.values()))
    if len(counts) <= 1:
        return RuleOutcome(
            True,
            f"all {len(rows)} files hold {counts[0] if counts else 0} rows",
            {"rows": counts[0] if counts else 0},
        )
    majority = max(counts, key=lambda n: sum(1 for v in rows.values() if v == n))
    odd = {name: n for name, n in rows.items() if n != majority}
    names = ", ".join(f"{name} has {n}" for name, n in sorted(odd.items()))
    return RuleOutcome(
        False,
        f"files disagree on the number of cycles: most have {majority} rows, but {names}",
        {"rows_by_file": rows, "expected_rows": majority},
    )


def within_window(key: str, cycles: int) -> RuleOutcome:
    """A cohort cannot hold more hourly cycles than its window has hours."""
    hours = window_hours(key)
    _, end = cohort_window(key)
    meta = {"cycles": cycles, "window_hours": hours, "window_end": str(end)}
    if cycles > hours:
        return RuleOutcome(
            False,
            f"{cycles} cycles do not fit the cohort's {hours}-hour window: cycle {hours} onwards "
            f"would fall after {end:%Y-%m-%d %H:%M}",
            meta,
        )
    return RuleOutcome(True, f"{cycles} cycles within the {hours}-hour window", meta)


def shortfall_within_bound(key: str, cycles: int, max_shortfall_hours: int) -> RuleOutcome:
    """The maintenance gap at the end of the cohort must stay within the configured bound."""
    hours = window_hours(key)
    shortfall = max(hours - cycles, 0)
    meta = {
        "shortfall_hours": shortfall,
        "max_shortfall_hours": max_shortfall_hours,
        "cycles": cycles,
        "window_hours": hours,
    }
    if shortfall > max_shortfall_hours:
        start, _ = cohort_window(key)
        gap_from = start + timedelta(hours=cycles)
        return RuleOutcome(
            False,
            f"the series stops {shortfall} h before the window ends (from "
            f"{gap_from:%Y-%m-%d %H:%M}); at most {max_shortfall_hours} h of maintenance allowed",
            meta,
        )
    return RuleOutcome(
        True, f"{shortfall} h of maintenance at the end (bound {max_shortfall_hours} h)", meta
    )


def profile_covers_cycles(profile_rows: int, cycles: int) -> RuleOutcome:
    """profile.txt must hold a row for every cycle of the cohort (it is reused row for row)."""
    meta = {"profile_rows": profile_rows, "cycles": cycles}
    if profile_rows < cycles:
        return RuleOutcome(
            False,
            f"{PROFILE_FILE_NAME} has {profile_rows} rows but the cohort has {cycles} cycles: "
            f"cycles {profile_rows} to {cycles - 1} (lines {profile_rows + 1} to {cycles}) have "
            "no condition profile",
            meta,
        )
    return RuleOutcome(True, f"a profile row for each of the {cycles} cycles", meta)


def profile_codes_documented(profile: np.ndarray, cycles: int) -> RuleOutcome:
    """Every condition code used by the cohort's cycles must be one the documentation lists."""
    used = profile[:cycles]
    for col, condition in enumerate(CONDITIONS):
        bad = np.flatnonzero(~np.isin(used[:, col], list(condition.codes)))
        if bad.size:
            row = int(bad[0])
            value = int(used[row, col])
            return RuleOutcome(
                False,
                f"{PROFILE_FILE_NAME}:{row + 1}:{col + 1}: {condition.title} code {value} is not "
                f"documented (known: {sorted(condition.codes)})",
                {
                    "line": row + 1,
                    "column": col + 1,
                    "value": value,
                    "condition": condition.column,
                    "rows_affected": int(bad.size),
                },
            )
    return RuleOutcome(True, "every condition code is documented", {"cycles": cycles})


def delivery_rules(
    key: str, receipts: Sequence[FileReceipt], profile: np.ndarray, max_shortfall_hours: int
) -> list[RuleOutcome]:
    """Every rule a delivery can be judged by before anything is stored, each evaluated once:
    raw_logs reports them as its checks, in this order (defs/checks.py), and archives the
    delivery only if all pass.
    """
    rows = equal_row_counts(receipts)
    cycles = int(rows.metadata.get("rows", rows.metadata.get("expected_rows", 0)))
    profile_rows = profile.shape[0]
    return [
        rows,
        within_window(key, cycles),
        shortfall_within_bound(key, cycles, max_shortfall_hours),
        profile_covers_cycles(profile_rows, cycles),
        profile_codes_documented(profile, min(cycles, profile_rows)),
    ]


def across_rigs(by_rig: Mapping[Rig, Sequence[RuleOutcome]]) -> list[RuleOutcome]:
    """One outcome per rule for the rigs of one (cohort, site) partition, rule by rule: passed
    when every rig's passed; the sentence and metadata of the one rig as they are, or of each
    failing rig (else the first), naming the rig."""
    rigs = list(by_rig)
    if len(rigs) == 1:
        return list(by_rig[rigs[0]])
    combined = []
    for outcomes in zip(*(by_rig[rig] for rig in rigs), strict=True):
        failed = [(rig, o) for rig, o in zip(rigs, outcomes, strict=True) if not o.passed]
        shown = failed or [(rigs[0], outcomes[0])]
        description = "; ".join(f"rig {rig}: {o.description}" for rig, o in shown)
        if not failed:
            description = f"every rig of the site ({len(rigs)}) passed; {description}"
        metadata = {**shown[0][1].metadata, "rigs": len(rigs), "failed_rigs": len(failed)}
        combined.append(RuleOutcome(not failed, description, metadata))
    return combined
