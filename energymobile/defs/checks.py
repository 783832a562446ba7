"""Asset checks: each rule judged once, as a check of the asset it is about.

- The delivery rules (ingest/validate.py) judge what raw_logs read, before anything is stored:
  `check_specs` of raw_logs, evaluated in its step, because raw_logs archives a delivery only
  when they all pass.
- The read-back rules (ingest/consistency.py) judge what an IO manager stored, so they run as
  their own steps after it: per cohort on raw_archive (`archive_complete`) and mysql_tables
  (`warehouse_hours_contiguous`), and per site on its combined file
  (`combined_matches_warehouse`).
  They can be run alone from the UI to re-verify what is stored now.

All report ERROR; all but `combined_matches_warehouse` (nothing is downstream of it) are
blocking: a failure stops everything downstream of that cohort in the run, and automation
does not pick the cohort up (defs/automation.py).

The per-partition checks use `@asset_check(partitions_def=…)`, a Dagster 1.13 preview: the stable
alternative, yielding the result from the asset's own step after its output, could neither be
re-run alone nor fail on anything but a fault between the write and the read-back.
"""

import warnings
from collections.abc import Callable

import dagster as dg

from energymobile.defs.partitions import (
    cohort_site_partitions,
    partition_key,
    site_partitions,
    split_key,
)
from energymobile.ingest import consistency
from energymobile.ingest.formats import delivered_files
from energymobile.ingest.validate import RuleOutcome, across_rigs
from energymobile.rigs import DEFAULT_RIG, DEFAULT_SITE
from energymobile.storage.archive import archive_prefix
from energymobile.storage.exports import combined_cohort_rows
from energymobile.storage.io_managers import SiteArchives
from energymobile.storage.resources import ObjectStoreResource, WarehouseResource

EQUAL_ROW_COUNTS = "equal_row_counts"
WITHIN_WINDOW = "within_cohort_window"
MAINTENANCE_SHORTFALL = "maintenance_shortfall"
PROFILE_COVERS_CYCLES = "profile_covers_cycles"
PROFILE_CODES_DOCUMENTED = "profile_codes_documented"
DELIVERY_RULES = (
    EQUAL_ROW_COUNTS,
    WITHIN_WINDOW,
    MAINTENANCE_SHORTFALL,
    PROFILE_COVERS_CYCLES,
    PROFILE_CODES_DOCUMENTED,
)
"""The checks of raw_logs, in the order `validate.delivery_rules` returns their outcomes."""
ARCHIVE_COMPLETE = "archive_complete"
WAREHOUSE_HOURS_CONTIGUOUS = "warehouse_hours_contiguous"
COMBINED_MATCHES_WAREHOUSE = "combined_matches_warehouse"

_DESCRIPTIONS = {
    EQUAL_ROW_COUNTS: "The 17 sensor files hold the same number of cycles.",
    WITHIN_WINDOW: "No cycle falls after the end of the cohort's 3-month window.",
    MAINTENANCE_SHORTFALL: "The maintenance gap at the end of the cohort is within the bound "
    "(ENERGYMOBILE_MAX_SHORTFALL_HOURS, default 24 h).",
    PROFILE_COVERS_CYCLES: "profile.txt has a row for every cycle of the cohort.",
    PROFILE_CODES_DOCUMENTED: "Every condition code is one the dataset documentation lists.",
    ARCHIVE_COMPLETE: "Read back from the object store: every file of the current delivery "
    "has its object, present with the bytes written to it.",
    WAREHOUSE_HOURS_CONTIGUOUS: "Read back from the warehouse: cycles 0 to n-1 of the cohort, "
    "each once (n: the rows its load recorded), cycle i at the cohort's midnight + i hours.",
    COMBINED_MATCHES_WAREHOUSE: "Read back from the object store: the site's combined CSV holds "
    "every cohort of the site's rigs in the warehouse with its row count, and no other.",
}


def blocking_specs(asset: str, *names: str) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(name, asset=asset, blocking=True, description=_DESCRIPTIONS[name])
        for name in names
    ]


def check_result(
    name: str, outcome: RuleOutcome, asset: str | None = None, **metadata: object
) -> dg.AssetCheckResult:
    """An ERROR-severity result carrying the rule's sentence and where the problem is."""
    return dg.AssetCheckResult(
        check_name=name,
        asset_key=asset,
        passed=outcome.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=outcome.description,
        metadata={"summary": outcome.description, **outcome.metadata, **metadata},
    )


def delivery_rule_results(outcomes: list[RuleOutcome]) -> list[dg.AssetCheckResult]:
    """raw_logs' check results, from `validate.delivery_rules`' outcomes."""
    return [
        check_result(name, outcome, asset="raw_logs")
        for name, outcome in zip(DELIVERY_RULES, outcomes, strict=True)
    ]


def read_back_check(
    asset: str,
    name: str,
    partitions_def: dg.PartitionsDefinition = cohort_site_partitions,
    *,
    blocking: bool = True,
) -> Callable:
    """The decorator of a read-back rule's check: its own step on `asset`'s partitions,
    described from _DESCRIPTIONS."""
    return dg.asset_check(
        asset=asset,
        name=name,
        description=_DESCRIPTIONS[name],
        blocking=blocking,
        partitions_def=partitions_def,
    )


with warnings.catch_warnings():
    # Dagster warns, as each check is decorated, that partitioned checks are a preview; the
    # choice is explained above.
    warnings.filterwarnings("ignore", category=dg.PreviewWarning)

    @read_back_check("raw_archive", ARCHIVE_COMPLETE)
    def archive_complete(
        object_store: ObjectStoreResource, raw_archive: SiteArchives
    ) -> dg.AssetCheckResult:
        store = object_store.open()
        by_rig = {}
        for rig, archive in raw_archive.items():
            stored = store.list_versions(archive_prefix(archive.key, rig))
            by_rig[rig] = [
                consistency.archive_complete(
                    delivered=delivered_files(archive.receipts).keys(),
                    objects=archive.objects,
                    written_bytes=archive.stored_bytes,
                    stored={key: version.bytes for key, version in stored.items()},
                )
            ]
        [outcome] = across_rigs(by_rig)
        delivery = "; ".join(archive.delivery for archive in raw_archive.values())
        return check_result(ARCHIVE_COMPLETE, outcome, delivery=delivery)

    @read_back_check("mysql_tables", WAREHOUSE_HOURS_CONTIGUOUS)
    def warehouse_hours_contiguous(
        context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
    ) -> dg.AssetCheckResult:
        key, site = split_key(context.partition_key)
        db = warehouse.get()
        rigs = [rig for rig, cohort in db.loaded_rigs(site) if cohort == key]
        if not rigs:  # nothing loaded: judged as the default rig's, which says so
            rigs = [DEFAULT_RIG] if site == DEFAULT_SITE else []
        by_rig = {}
        for rig in rigs:
            stored = db.stored_hours(key, rig)
            by_rig[rig] = [
                consistency.warehouse_hours_contiguous(
                    key, stored.loaded_rows, stored.cycles, stored.times
                )
            ]
        if not by_rig:
            outcome = RuleOutcome(False, f"no rig of site {site} has cohort {key} loaded")
        else:
            [outcome] = across_rigs(by_rig)
        return check_result(WAREHOUSE_HOURS_CONTIGUOUS, outcome)

    @read_back_check("combined_csv", COMBINED_MATCHES_WAREHOUSE, site_partitions, blocking=False)
    def combined_matches_warehouse(
        context: dg.AssetCheckExecutionContext,
        object_store: ObjectStoreResource,
        warehouse: WarehouseResource,
    ) -> dg.AssetCheckResult:
        site = context.partition_key
        in_file = combined_cohort_rows(object_store.open(), site)
        in_warehouse = warehouse.get().loaded_cohorts(site)
        absent = sorted(set(in_warehouse) - set(in_file))
        outcome = consistency.combined_matches_warehouse(
            in_file, in_warehouse, exported_after_the_file(context.instance, site, absent)
        )
        return check_result(COMBINED_MATCHES_WAREHOUSE, outcome, site=site)


def exported_after_the_file(
    instance: dg.DagsterInstance, site: str, cohorts: list[str]
) -> list[str]:
    """Of `cohorts`, those whose export (s3_historical_csv) the site's combined file could not
    have held: not materialized yet (loaded by a run still on its way), or materialized after
    the file's latest materialization. Such a cohort is in the next rebuild (the one its own run
    or automation requests), so its absence is not the file's fault: two backfills of different
    cohorts at once saw the first one's check fail on the second one's cohort."""
    if not cohorts:  # the usual case: no query of the instance at all
        return []
    built = _latest_timestamp(instance, dg.AssetKey("combined_csv"), site)
    pending = []
    for cohort in cohorts:
        exported = _latest_timestamp(
            instance, dg.AssetKey("s3_historical_csv"), partition_key(cohort, site)
        )
        if exported is None or (built is not None and exported > built):
            pending.append(cohort)
    return pending


def _latest_timestamp(
    instance: dg.DagsterInstance, asset: dg.AssetKey, partition: str
) -> float | None:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=asset, asset_partitions=[partition]), limit=1
    ).records
    return records[0].timestamp if records else None


STORED_CHECKS = (archive_complete, warehouse_hours_contiguous, combined_matches_warehouse)
