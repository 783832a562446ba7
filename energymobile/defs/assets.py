"""The cohort chain: raw_logs → hourly_readings → profile_merged → mysql_tables →
s3_historical_csv, each partitioned by cohort.

Assets only wire pure functions (energymobile.ingest) to resources and IO managers
(energymobile.storage). What moves between them is small: the delivery's receipts and per-cycle
reductions, then frames of one row per cycle. The gigabytes of text are read once, in raw_logs.
"""

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Literal

import dagster as dg
import pandas as pd

from energymobile.channels import CHANNELS, CONDITIONS
from energymobile.cohorts import cohort_window
from energymobile.defs import checks
from energymobile.defs.automation import eager_any_cohort
from energymobile.defs.partitions import cohort_partitions
from energymobile.ingest import validate
from energymobile.ingest.delivery import Delivery, read_delivery
from energymobile.ingest.hourly import STATISTIC_ATTR, hourly_frame, merge_profile
from energymobile.storage.archive import archive_delivery, archive_prefix, compress
from energymobile.storage.resources import (
    CohortRulesResource,
    LandingResource,
    ObjectStoreResource,
)
from energymobile.storage.retry import WAREHOUSE_LOAD_RETRY
from energymobile.storage.warehouse import CohortLoad

OWNERS = ["team:data-engineering"]
PREVIEW_ROWS = 5
HISTORICAL_CSV_POOL = "historical_csv"
"""One export at a time (limit in dagster.yaml): each rebuilds the combined CSV from all cohorts."""


@dg.asset(
    partitions_def=cohort_partitions,
    group_name="ingest",
    owners=OWNERS,
    kinds={"python", "zstd"},
    check_specs=checks.blocking_specs("raw_logs", checks.EQUAL_ROW_COUNTS),
)
def raw_logs(
    context: dg.AssetExecutionContext,
    landing: LandingResource,
    object_store: ObjectStoreResource,
    rules: CohortRulesResource,
):
    """The cohort's sensor files (17 TSV or CSV files, or one JSON Lines file: the format is
    told from the names) and the shared profile, as the technicians delivered them.

    Every file must be present and every value numeric, with the documented number of values
    per line (an error names file, line and column). Each channel's per-cycle mean and first
    sample are kept; the files themselves are archived byte-exact (zstd) under
    `raw/cohort=<key>/` only once the whole delivery is valid and passes every cohort rule
    (the checks downstream report them), so a bad re-delivery leaves the previous archive
    untouched, and a run dying mid-archive leaves the previous one current (archive.py).
    """
    key = context.partition_key
    source = landing.open()
    # Compress each valid file on a second thread while the next one parses: both release
    # the GIL, so the archive costs little wall time on top of the parse.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="zstd") as compressor:
        pending: dict[str, Future[bytes]] = {}
        delivery = read_delivery(
            key,
            available=source.list_cohort(key).keys(),
            read=lambda name: source.read_cohort_file(key, name),
            read_profile_bytes=source.read_profile,
            on_valid=lambda name, data: pending.__setitem__(
                name, compressor.submit(compress, data)
            ),
        )
        compressed = {name: future.result() for name, future in pending.items()}
    outcomes = validate.delivery_rules(
        key, delivery.channel_receipts, delivery.profile, rules.max_shortfall_hours
    )
    rows_rule, failed = outcomes[0], [o.description for o in outcomes if not o.passed]
    archived = []
    if not failed:
        archived = archive_delivery(object_store.open(), key, compressed, list(delivery.receipts))
    else:
        context.log.warning(f"cohort {key} not archived: {'; '.join(failed)}")
    receipts = pd.DataFrame([r.__dict__ for r in delivery.receipts])
    return dg.MaterializeResult(
        value=delivery,
        metadata={
            "source": source.describe(key),
            "format": delivery.format,
            "files": len(delivery.delivered_files),
            "bytes": delivery.total_bytes,
            "rows": rows_rule.metadata.get("rows", -1),
            "archived_objects": len(archived),
            "archived_bytes": sum(o.bytes for o in archived),
            "archive_prefix": archive_prefix(key),
            "archive_withheld_because": "; ".join(failed) or "-",
            "received_files": dg.MetadataValue.md(receipts.to_markdown(index=False)),
        },
        check_results=[checks.check_result(checks.EQUAL_ROW_COUNTS, rows_rule)],
    )


class HourlyReadingsConfig(dg.Config):
    statistic: Literal["mean", "first"] = "mean"
    """Each cycle's mean (default) or its first sample (reproduces the scientists' template)."""


@dg.asset(
    partitions_def=cohort_partitions,
    group_name="transform",
    owners=OWNERS,
    kinds={"pandas"},
    automation_condition=eager_any_cohort(),
    check_specs=checks.blocking_specs(
        "hourly_readings",
        checks.CONTIGUOUS_HOURS,
        checks.WITHIN_WINDOW,
        checks.MAINTENANCE_SHORTFALL,
    ),
)
def hourly_readings(
    context: dg.AssetExecutionContext,
    config: HourlyReadingsConfig,
    rules: CohortRulesResource,
    raw_logs: Delivery,
):
    """One row per cycle (one hour): cohort, cycle, date_time, cumulative_minutes and the
    17 sensors (ps1 … se), each the cycle's mean or first sample."""
    key = context.partition_key
    frame = hourly_frame(key, raw_logs.cycles, config.statistic)
    cycles = len(frame)
    results = [
        checks.check_result(
            checks.CONTIGUOUS_HOURS,
            validate.contiguous_hours(key, frame["date_time"].tolist()),
        ),
        checks.check_result(checks.WITHIN_WINDOW, validate.within_window(key, cycles)),
        checks.check_result(
            checks.MAINTENANCE_SHORTFALL,
            validate.shortfall_within_bound(key, cycles, rules.max_shortfall_hours),
        ),
    ]
    return dg.MaterializeResult(
        value=frame,
        metadata=frame_metadata(frame) | {"statistic": config.statistic},
        check_results=results,
    )


@dg.asset(
    partitions_def=cohort_partitions,
    group_name="transform",
    owners=OWNERS,
    kinds={"pandas"},
    automation_condition=eager_any_cohort(),
    check_specs=checks.blocking_specs(
        "profile_merged", checks.PROFILE_COVERS_CYCLES, checks.PROFILE_CODES_DOCUMENTED
    ),
)
def profile_merged(hourly_readings: pd.DataFrame, raw_logs: Delivery):
    """The hourly rows with the condition profile of the same cycle: cooler, valve, pump
    leakage, accumulator and stable flag, as codes and as the documentation's words."""
    frame = merge_profile(hourly_readings, raw_logs.profile)
    cycles = len(frame)
    profile_rows = raw_logs.profile.shape[0]
    results = [
        checks.check_result(
            checks.PROFILE_COVERS_CYCLES, validate.profile_covers_cycles(profile_rows, cycles)
        ),
        checks.check_result(
            checks.PROFILE_CODES_DOCUMENTED,
            validate.profile_codes_documented(raw_logs.profile, min(cycles, profile_rows)),
        ),
    ]
    return dg.MaterializeResult(value=frame, metadata=frame_metadata(frame), check_results=results)


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
    load = CohortLoad(
        key=context.partition_key,
        frame=profile_merged,
        statistic=profile_merged.attrs[STATISTIC_ATTR],
        receipts=raw_logs.receipts,
    )
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
    pool=HISTORICAL_CSV_POOL,
)
def s3_historical_csv(mysql_tables: pd.DataFrame):
    """The scientists' file: the cohort's rows read back from `oil_well_hourly` (so the CSV and
    the warehouse cannot disagree), written to
    `oil-well-data-all-historical/cohort=<key>/data.csv` with a Parquet twin, and the combined
    `oil-well-data-all-historical.csv` rebuilt."""
    cohorts = ", ".join(sorted(mysql_tables["cohort"].astype(str).unique()))
    return dg.MaterializeResult(
        value=mysql_tables,
        metadata=frame_metadata(mysql_tables)
        | plot_metadata(mysql_tables, f"cohort {cohorts}, as exported"),
    )


def frame_metadata(frame: pd.DataFrame) -> dict[str, object]:
    """Row count, column schema and a preview of the first rows, for the UI."""
    descriptions = {c.column: f"{c.quantity}, {c.unit}, {c.rate_hz} Hz" for c in CHANNELS}
    descriptions |= {c.column: c.title for c in CONDITIONS}
    schema = dg.TableSchema(
        columns=[
            dg.TableColumn(name=str(name), type=str(dtype), description=descriptions.get(name))
            for name, dtype in frame.dtypes.items()
        ]
    )
    return {
        "dagster/row_count": len(frame),
        "dagster/column_schema": schema,
        "preview": dg.MetadataValue.md(frame.head(PREVIEW_ROWS).to_markdown(index=False)),
    }


def plot_metadata(frame: pd.DataFrame, title: str) -> dict[str, object]:
    """A small PNG of the hourly series as a markdown image, so one can look at the cohort."""
    from energymobile import plots  # matplotlib: imported only when a plot is drawn

    png = plots.hourly_series_png(frame, title=title)
    return {"plot": dg.MetadataValue.md(plots.markdown_image(png, title))}
