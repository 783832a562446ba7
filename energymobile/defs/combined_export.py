"""combined_csv: each site's exported cohorts in one CSV for the scientists (SageMaker reads it
whole): `oil-well-data-all-historical.csv` for the default site (the single-rig installation's
file, unchanged), `oil-well-data-all-historical/site=<site>.csv` for any other.

Partitioned by site (the `sites` dimension of the pipeline's cohort x site partitions), each
site's partition over every cohort of that site's s3_historical_csv
(MultiToSingleDimensionPartitionMapping on `site`): a site's rebuild reads that site's cohort
CSVs only, so it is linear in the site's history, and a site whose exports did not change is
not rebuilt. There is no fleet-wide CSV: the Parquet dataset is the whole fleet's form
(docs/fleet.md, "What the scientists get at fleet size").

It is rebuilt by automation once the site's cohort exports settle (`once_exports_settle`) and by
the CLI once after a backfill of the site, never by each cohort's export: a backfill of N
cohorts streams the site's history once, not N times. The rebuild is in
energymobile.storage.exports; its check (`combined_matches_warehouse`, defs/checks.py) reads the
stored file back and compares it with the site's rows in the warehouse.
"""

import time
import warnings

import dagster as dg

from energymobile.defs.assets import OWNERS
from energymobile.defs.automation import once_exports_settle
from energymobile.defs.partitions import SITE_DIMENSION, site_partitions
from energymobile.storage.exports import rebuild_combined, write_dictionary
from energymobile.storage.resources import ObjectStoreResource

COMBINED_CSV_POOL = "historical_csv"
"""One rebuild at a time (limit in dagster.yaml): each streams a site's cohort CSVs into its
file, and the later of two overlapping rebuilds of a site must be the one that lands."""

with warnings.catch_warnings():
    # Dagster marks this mapping beta; it is the one that maps a dimension of a multi-partition
    # to a single-dimension asset (its docs, "Partition dependencies").
    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    EVERY_COHORT_OF_THE_SITE = dg.MultiToSingleDimensionPartitionMapping(
        partition_dimension_name=SITE_DIMENSION
    )
"""A site's partition depends on every (cohort, site) partition of the export with that site."""


@dg.asset(
    group_name="export",
    owners=OWNERS,
    kinds={"s3", "csv"},
    partitions_def=site_partitions,
    deps=[dg.AssetDep("s3_historical_csv", partition_mapping=EVERY_COHORT_OF_THE_SITE)],
    automation_condition=once_exports_settle(),
    pool=COMBINED_CSV_POOL,
)
def combined_csv(
    context: dg.AssetExecutionContext, object_store: ObjectStoreResource
) -> dg.MaterializeResult:
    """The site's combined CSV: every exported cohort of the site in cohort order under one
    header, streamed from the site's cohort CSVs into one upload that replaces the previous
    file whole (a reader sees the old file or the new one). A cohort export of the site that
    lands during the rebuild makes it start over, so the file never goes back to an older
    export. The data dictionary (one object for every site) is written beside it."""
    started = time.perf_counter()
    site = context.partition_key
    store = object_store.open()
    combined = rebuild_combined(store, site)
    dictionary = write_dictionary(store)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": combined.rows or 0,
            "site": site,
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
