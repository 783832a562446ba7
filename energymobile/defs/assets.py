"""The cohort chain: raw_logs (+ raw_archive) → hourly_readings → profile_merged →
mysql_tables → s3_historical_csv, each partitioned by cohort.

Assets only wire pure functions (energymobile.ingest) to resources and IO managers
(energymobile.storage). What moves between them is small: the delivery's receipts and per-cycle
reductions, then frames of one row per cycle. The gigabytes of text are read once, in raw_logs,
which compresses them for raw_archive as it goes.
"""

import warnings

import dagster as dg
import pandas as pd

from energymobile.cohorts import cohort_window
from energymobile.defs import checks
from energymobile.defs.automation import eager_any_cohort
from energymobile.defs.frame_types import (
    EXPORT_DTYPES,
    HOURLY_DTYPES,
    PROFILE_MERGED_DTYPES,
    ExportFrame,
    HourlyReadingsFrame,
    ProfileMergedFrame,
    column_schema,
)
from energymobile.defs.partitions import cohort_partitions
from energymobile.ingest import validate
from energymobile.ingest.delivery import Delivery, read_delivery
from energymobile.ingest.hourly import hourly_frame, merge_profile
from energymobile.provenance import drop_fingerprint
from energymobile.storage.archive import ArchiveSpool, CompressedDelivery, archive_prefix
from energymobile.storage.resources import CohortRulesResource, LandingResource
from energymobile.storage.retry import WAREHOUSE_LOAD_RETRY
from energymobile.storage.warehouse import CohortLoad

OWNERS = ["team:data-engineering"]
PREVIEW_ROWS = 5


@dg.multi_asset(
    partitions_def=cohort_partitions,
    group_name="ingest",
    outs={
        "raw_logs": dg.AssetOut(
            description="The cohort's sensor files (17 TSV or CSV files, or one JSON Lines "
            "file: the format is told from the names) and the shared profile, as delivered: "
            "parsed and validated (an error names file, line and column), each channel's "
            "per-cycle mean and first sample kept, every delivery rule judged.",
            owners=OWNERS,
            kinds={"python"},
        ),
        "raw_archive": dg.AssetOut(
            description="The delivered files byte-exact (zstd) under "
            "`raw/cohort=<key>/delivery=<id>/`, with `manifest.json` naming the current "
            "delivery. Written only when every rule of raw_logs passes, so a bad re-delivery "
            "leaves the previous archive current; a run dying mid-archive too (archive.py).",
            owners=OWNERS,
            kinds={"zstd", "s3"},
            io_manager_key="archive_io_manager",
            is_required=False,
        ),
    },
    check_specs=checks.blocking_specs("raw_logs", *checks.DELIVERY_RULES),
)
def raw_logs(
    context: dg.AssetExecutionContext, landing: LandingResource, rules: CohortRulesResource
):
    """Read the delivery once, judge it by every delivery rule (the checks of raw_logs), and
    hand its compressed files on as raw_archive only if all of them pass."""
    key = context.partition_key
    source = landing.open()
    listing = source.list_cohort(key)  # before reading: a file changed meanwhile shows later
    with ArchiveSpool() as spool:
        delivery = read_delivery(
            key,
            available=listing.keys(),
            read=lambda name: source.read_cohort_file(key, name),
            read_profile_bytes=source.read_profile,
            on_valid=spool.add,
        )
        compressed = spool.collect()
    outcomes = validate.delivery_rules(
        key, delivery.channel_receipts, delivery.profile, rules.max_shortfall_hours
    )
    failed = [o.description for o in outcomes if not o.passed]
    receipts = pd.DataFrame([r.__dict__ for r in delivery.receipts])
    yield dg.Output(
        delivery,
        output_name="raw_logs",
        metadata={
            "source": source.describe(key),
            "format": delivery.format,
            "files": len(delivery.delivered_files),
            "bytes": delivery.total_bytes,
            "rows": outcomes[0].metadata.get("rows", -1),
            "received_files": dg.MetadataValue.md(receipts.to_markdown(index=False)),
        },
    )
    yield from checks.delivery_rule_results(outcomes)
    if failed:
        context.log.warning(f"cohort {key} not archived: {'; '.join(failed)}")
        return
    archived = CompressedDelivery(
        key, delivery.receipts, compressed, landing_fingerprint=drop_fingerprint(listing)
    )
    with warnings.catch_warnings():  # Output's data_version is marked beta in Dagster 1.13
        warnings.simplefilter("ignore", dg.BetaWarning)
        # The delivery id: automation tells a new delivery from the same one archived again.
        archive_output = dg.Output(
            archived,
            output_name="raw_archive",
            metadata={
                "prefix": archive_prefix(key),
                "landing_fingerprint": archived.landing_fingerprint,
            },
            data_version=dg.DataVersion(archived.delivery),
        )
    yield archive_output


@dg.asset(
    partitions_def=cohort_partitions,
    group_name="transform",
    owners=OWNERS,
    kinds={"pandas"},
    automation_condition=eager_any_cohort(),
    dagster_type=HourlyReadingsFrame,
    metadata={"dagster/column_schema": column_schema(HOURLY_DTYPES)},
)
def hourly_readings(context: dg.AssetExecutionContext, raw_logs: Delivery):
    """One row per cycle (one hour): cohort, cycle, date_time, cumulative_minutes, then each of
    the 17 sensors' first sample of the cycle (ps1_first … se_first: the template's values) and
    the mean of its samples (ps1_mean … se_mean). Both, always: no setting chooses."""
    frame = hourly_frame(context.partition_key, raw_logs.cycles)
    return dg.MaterializeResult(value=frame, metadata=frame_metadata(frame))


@dg.asset(
    partitions_def=cohort_partitions,
    group_name="transform",
    owners=OWNERS,
    kinds={"pandas"},
    automation_condition=eager_any_cohort(),
    dagster_type=ProfileMergedFrame,
    metadata={"dagster/column_schema": column_schema(PROFILE_MERGED_DTYPES)},
)
def profile_merged(hourly_readings: pd.DataFrame, raw_logs: Delivery):
    """The hourly rows with the condition profile of the same cycle: cooler, valve, pump
    leakage, accumulator and stable flag, as codes and as the documentation's words."""
    frame = merge_profile(hourly_readings, raw_logs.profile)
    return dg.MaterializeResult(value=frame, metadata=frame_metadata(frame))


@dg.asset(
    partitions_def=cohort_partitions,
    group_name="warehouse",
    owners=OWNERS,
    kinds={"sql", "mysql"},
    io_manager_key="warehouse_io_manager",
    automation_condition=eager_any_cohort(),
    retry_policy=WAREHOUSE_LOAD_RETRY,
)
def mysql_tables(
    context: dg.AssetExecutionContext,
    profile_merged: pd.DataFrame,
    raw_logs: Delivery,
):
    """The cohort in the warehouse's star schema (fact `sensor_hourly`, dimension tables for
    sensors and condition codes, `cohorts` with source checksums) and the flat view
    `oil_well_hourly`; a re-materialization replaces the cohort's rows in one transaction,
    retried on a transient database error (storage/retry.py)."""
    load = CohortLoad(key=context.partition_key, frame=profile_merged, receipts=raw_logs.receipts)
    start, end = cohort_window(load.key)
    return dg.MaterializeResult(
        value=load,
        metadata=frame_metadata(profile_merged)
        | {
            "window_start": str(start),
            "window_end": str(end),
            "source_sha256": load.source_sha256,
            "load_attempts": context.retry_number + 1,
        },
    )


@dg.asset(
    partitions_def=cohort_partitions,
    group_name="export",
    owners=OWNERS,
    kinds={"s3", "csv", "parquet"},
    io_manager_key="historical_csv_io_manager",
    automation_condition=eager_any_cohort(),
    ins={"mysql_tables": dg.AssetIn(dagster_type=ExportFrame)},
    dagster_type=ExportFrame,
    metadata={"dagster/column_schema": column_schema(EXPORT_DTYPES)},
)
def s3_historical_csv(mysql_tables: pd.DataFrame):
    """The scientists' files: the cohort's rows read back from `oil_well_hourly` (so the files
    and the warehouse cannot disagree), written to
    `oil-well-data-all-historical/cohort=<key>/data.csv` (the template's columns first, then
    the keys, conditions and means) and to
    `oil-well-data-all-historical-parquet/cohort=<key>/data.parquet`, with the data dictionary
    beside them. The combined file over all cohorts is the asset combined_csv."""
    cohorts = ", ".join(sorted(mysql_tables["cohort"].astype(str).unique()))
    return dg.MaterializeResult(
        value=mysql_tables,
        metadata=frame_metadata(mysql_tables)
        | plot_metadata(mysql_tables, f"cohort {cohorts}, as exported"),
    )


def frame_metadata(frame: pd.DataFrame) -> dict[str, object]:
    """Row count, column schema (as materialized) and a preview of the first rows, for the UI."""
    return {
        "dagster/row_count": len(frame),
        "dagster/column_schema": column_schema({str(n): str(t) for n, t in frame.dtypes.items()}),
        "preview": dg.MetadataValue.md(frame.head(PREVIEW_ROWS).to_markdown(index=False)),
    }


def plot_metadata(frame: pd.DataFrame, title: str) -> dict[str, object]:
    """A small PNG of the hourly series as a markdown image, so one can look at the cohort."""
    from energymobile import plots

    png = plots.hourly_series_png(frame, title=title)
    return {"plot": dg.MetadataValue.md(plots.markdown_image(png, title))}
