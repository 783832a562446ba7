"""Asset checks for gaps in the hourly series, declared on the assets they guard.

They are `check_specs` of the assets (evaluated with the materialization, per partition) and
blocking: an ERROR stops everything downstream of that cohort, so a bad cohort never reaches
the warehouse or the CSV.
"""

from __future__ import annotations

import dagster as dg

from energymobile.ingest.validate import RuleOutcome

EQUAL_ROW_COUNTS = "equal_row_counts"
CONTIGUOUS_HOURS = "contiguous_hours"
WITHIN_WINDOW = "within_cohort_window"
MAINTENANCE_SHORTFALL = "maintenance_shortfall"
PROFILE_COVERS_CYCLES = "profile_covers_cycles"
PROFILE_CODES_DOCUMENTED = "profile_codes_documented"

_DESCRIPTIONS = {
    EQUAL_ROW_COUNTS: "The 17 sensor files hold the same number of cycles.",
    CONTIGUOUS_HOURS: "Cycle i is at the cohort's midnight + i hours: no gap, no repeat.",
    WITHIN_WINDOW: "No cycle falls after the end of the cohort's 3-month window.",
    MAINTENANCE_SHORTFALL: "The maintenance gap at the end of the cohort is within the bound "
    "(ENERGYMOBILE_MAX_SHORTFALL_HOURS, default 24 h).",
    PROFILE_COVERS_CYCLES: "profile.txt has a row for every cycle of the cohort.",
    PROFILE_CODES_DOCUMENTED: "Every condition code is one the dataset documentation lists.",
}


def blocking_specs(asset: str, *names: str) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(name, asset=asset, blocking=True, description=_DESCRIPTIONS[name])
        for name in names
    ]


def check_result(name: str, outcome: RuleOutcome) -> dg.AssetCheckResult:
    """An ERROR-severity result carrying the rule's sentence and where the problem is."""
    return dg.AssetCheckResult(
        check_name=name,
        passed=outcome.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=outcome.description,
        metadata={"summary": outcome.description, **outcome.metadata},
    )
