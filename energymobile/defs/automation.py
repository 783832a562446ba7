"""Declarative automation: downstream assets follow their upstream, for every cohort.

The landing sensor requests the whole chain for a delivered cohort in one run; automation
covers everything else that changes a cohort: a re-materialization of `raw_logs` or
`hourly_readings` from the UI, a reload of the warehouse, a late cohort materialized by hand.
Each downstream asset then updates for exactly the cohorts whose parents changed.

`AutomationCondition.eager()` only considers the latest time partition: a cohort delivered
late (any cohort but the newest) would never follow. `eager_any_cohort()` removes that clause
and adds the blocking-check guard, so a cohort whose checks failed upstream is not picked up.

A site's combined CSV over its cohorts follows with `once_exports_settle()`: one rebuild after
any number of the site's cohort exports, so a backfill of N cohorts rebuilds it once, not N
times, and a site whose exports did not change is not rebuilt. A cohort's
netCDF file follows its archive with `follows_archive()`: when a new delivery is archived.
"""

from __future__ import annotations

import dagster as dg

SENSOR_NAME = "cohort_automation"
MINIMUM_INTERVAL_SECONDS = 30
CHAIN_RUN_TAG = "energymobile/whole_chain"
"""Carried by every run of the cohort job (the landing sensor's, the CLI's, one launched from the
UI): the run covers the cohort's whole chain, so what it updates is no cause for another."""
CHAIN_RUN_TAGS = {CHAIN_RUN_TAG: "true"}


def eager_any_cohort() -> dg.AutomationCondition:
    """`eager()` for every cohort (not only the latest), once upstream blocking checks pass.

    `eager()`'s own parts, with two changes: no `in_latest_time_window()`, and a parent's
    update counts only when made by a run other than one of the whole chain. `eager()` ignores a
    parent update from a run that "also targets" this asset by the run's asset selection, which
    a run of a whole job does not record: seen on a tick between the parent's update and this
    asset's own in the same run, it asked for this asset again (a second load of the
    warehouse, measured in `dagster dev`). Like `eager()`, it waits while a parent is missing or
    in progress.
    """
    updated_elsewhere = (
        dg.AutomationCondition.newly_updated()
        & ~dg.AutomationCondition.executed_with_root_target()
        & ~dg.AutomationCondition.executed_with_tags(tag_values=CHAIN_RUN_TAGS)
    ).with_label("newly_updated, not by a run of the whole chain")
    any_deps_updated = dg.AutomationCondition.any_deps_match(
        updated_elsewhere | dg.AutomationCondition.will_be_requested()
    ).with_label("any_deps_updated")
    return (
        (dg.AutomationCondition.newly_missing() | any_deps_updated).since_last_handled()
        & ~dg.AutomationCondition.any_deps_missing()
        & ~dg.AutomationCondition.any_deps_in_progress()
        & ~dg.AutomationCondition.in_progress()
        & ~_any_deps_blocking_check_failed()
    ).with_label("eager_any_cohort")


def follows_archive() -> dg.AutomationCondition:
    """For netcdf_arrays: true for a cohort whose archived delivery changed since its netCDF file
    was last requested or written, once nothing upstream is missing or in progress and no
    blocking check upstream has failed.

    "Changed" is raw_archive's data version, which is the delivery id (defs/assets.py): the
    same delivery archived again (a reload after a killed run, a re-run from the UI) asks
    nothing, since the file would be the same bytes. Unlike `eager()`, a cohort whose netCDF is
    merely missing is not requested: cohorts loaded by the CLI (which writes netCDF files only
    when asked, `backfill --netcdf`) or before the file existed are not exported behind the
    user's back when the UI starts; materialize them from the UI or the CLI when wanted.
    """
    return (
        dg.AutomationCondition.any_deps_match(
            dg.AutomationCondition.data_version_changed()
            & ~dg.AutomationCondition.executed_with_root_target()
        )
        .since_last_handled()
        .with_label("archived delivery changed")
        & ~dg.AutomationCondition.any_deps_missing()
        & ~dg.AutomationCondition.any_deps_in_progress()
        & ~dg.AutomationCondition.in_progress()
        & ~_any_deps_blocking_check_failed()
    ).with_label("follows_archive")


def _any_deps_blocking_check_failed() -> dg.AutomationCondition:
    return dg.AutomationCondition.any_deps_match(
        dg.AutomationCondition.any_checks_match(
            dg.AutomationCondition.check_failed(), blocking_only=True
        )
        & ~dg.AutomationCondition.will_be_requested()
    ).with_label("any_deps_blocking_check_failed")


def once_exports_settle() -> dg.AutomationCondition:
    """For an asset whose partition covers many partitions of its parent (a site's combined
    CSV over every (cohort, site) export of that site): true for a partition once any of its
    parent partitions has updated since it was last requested or updated, while none of them
    is in progress or requested on this tick, and the partition is not in progress itself.
    Each clause looks through the partition mapping, so only the sites whose exports changed
    are requested, and one site's exports in progress do not hold back another's rebuild.

    `eager()` would not do: it waits while any parent partition is missing (most cohorts
    are, on any real landing), and its `any_deps_updated` counts a parent requested on the
    same tick, which would start the rebuild beside the exports instead of after them. Runs
    still queued count as in progress, so the cohorts of a backfill finish first, then one
    rebuild follows.
    """
    return (
        dg.AutomationCondition.any_deps_match(dg.AutomationCondition.newly_updated())
        .since_last_handled()
        .with_label("any cohort updated since the last rebuild")
        & ~dg.AutomationCondition.any_deps_in_progress()
        & ~dg.AutomationCondition.any_deps_match(
            dg.AutomationCondition.will_be_requested()
        ).with_label("any_deps_requested")
        & ~dg.AutomationCondition.in_progress()
    ).with_label("once_exports_settle")


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


cohort_automation = build_automation_sensor()
