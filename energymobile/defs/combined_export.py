"""combined_csv: `oil-well-data-all-historical.csv`, every exported cohort in one
file for the scientists (SageMaker reads it whole).

Unpartitioned, over every cohort of s3_historical_csv (AllPartitionMapping). It is rebuilt by
automation once the cohort exports settle (`once_exports_settle`) and by the CLI once after a
backfill, never by each cohort's export: a backfill of N cohorts streams history once, not N
times. The rebuild is in energymobile.storage.exports; its check (`combined_matches_warehouse`,
defs/checks.py) reads the stored file back and compares it with the warehouse.
"""

from __future__ import annotations

import time

import dagster as dg

from energymobile.defs.assets import OWNERS
from energymobile.defs.automation import once_exports_settle
from energymobile.storage.exports import rebuild_combined, write_dictionary
from energymobile.storage.resources import ObjectStoreResource

COMBINED_CSV_POOL = "historical_csv"
"""One rebuild at a time (limit in dagster.yaml): each streams every cohort's CSV into the one
file, and the later of two overlapping rebuilds must be the one that lands."""


@dg.asset(
    group_name="export",
    owners=OWNERS,
    kinds={"s3", "csv"},
    deps=[dg.AssetDep("s3_historical_csv", partition_mapping=dg.AllPartitionMapping())],
    automation_condition=once_exports_settle(),
    pool=COMBINED_CSV_POOL,
)
def combined_csv(object_store: ObjectStoreResource) -> dg.MaterializeResult:
    """`oil-well-data-all-historical.csv`: every exported cohort's rows in cohort order under
    one header, streamed from the cohort CSVs into one upload that replaces the previous file
    whole (a reader sees the old file or the new one). A cohort export that lands during the
    rebuild makes it start over, so the file never goes back to an older export. The data
    dictionary is written beside it."""
    started = time.perf_counter()
    store = object_store.open()
    combined = rebuild_combined(store)
    dictionary = write_dictionary(store)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": combined.rows or 0,
            "object_key": combined.key,
            "uri": dg.MetadataValue.path(combined.uri),
            "bytes": combined.bytes,
            "sha256": combined.sha256,
            "cohorts": len(combined.cohorts),
            "first_cohort": combined.cohorts[0] if combined.cohorts else "-",
            "last_cohort": combined.cohorts[-1] if combined.cohorts else "-",
            "rebuild_passes": combined.passes,
            "dictionary_uri": dg.MetadataValue.path(dictionary.uri),
            "seconds": round(time.perf_counter() - started, 2),
        }
    )
