"""Declarative automation: downstream assets follow their upstream, for every cohort.

The landing sensor requests the whole chain for a delivered cohort in one run; automation
covers everything else that changes a cohort: a re-materialization of `raw_logs` or
`hourly_readings` from the UI, a reload of the warehouse, a late cohort materialized by hand.
Each downstream asset then updates for exactly the cohorts whose parents changed, and
`s3_historical_csv` rebuilds the combined CSV each time one of its cohorts is written.

`AutomationCondition.eager()` only considers the latest time partition: a cohort delivered
late (any cohort but the newest) would never follow. `eager_any_cohort()` removes that clause
and adds the blocking-check guard, so a cohort whose checks failed upstream is not picked up.
"""

from __future__ import annotations

import dagster as dg

SENSOR_NAME = "cohort_automation"
MINIMUM_INTERVAL_SECONDS = 30


def eager_any_cohort() -> dg.AutomationCondition:
    """`eager()` for every cohort (not only the latest), once upstream blocking checks pass.

    Like `eager()`, it waits while a parent is missing or in progress and ignores parent
    updates from a run that also updates this asset (the landing sensor's runs), so a cohort
    is never loaded twice.
    """
    return (
        dg.AutomationCondition.eager()
        .without(dg.AutomationCondition.in_latest_time_window())
        .with_label("eager, every cohort")
        & ~dg.AutomationCondition.any_deps_match(
            dg.AutomationCondition.any_checks_match(
                dg.AutomationCondition.check_failed(), blocking_only=True
            )
            & ~dg.AutomationCondition.will_be_requested()
        ).with_label("any_deps_blocking_check_failed")
    ).with_label("eager_any_cohort")


def build_automation_sensor(
    default_status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.RUNNING,
) -> dg.AutomationConditionSensorDefinition:
    """Evaluates every asset's condition; on by default in this project. One run per cohort
    (no backfills), so each run carries the cohort's `dagster/partition` tag and the per-cohort
    run limit in dagster.yaml applies to it."""
    return dg.AutomationConditionSensorDefinition(
        SENSOR_NAME,
        target=dg.AssetSelection.all(),
        default_status=default_status,
        minimum_interval_seconds=MINIMUM_INTERVAL_SECONDS,
        emit_backfills=False,
        description="Downstream assets follow upstream changes of any cohort (eager_any_cohort).",
    )
