"""The cohort chain: raw_logs (+ raw_archive) → hourly_readings → profile_merged →
mysql_tables → s3_historical_csv, each partitioned by cohort × site (defs/partitions.py).

A partition is every rig of its site that delivered the cohort (landing: sites/<site>/<rig>/,
or logs/ for the default rig): each rig is read, archived and replaced in the warehouse on its
own, inside the one step; the frames between steps carry `site` and `rig` columns.

Assets only wire pure functions (energymobile.ingest) to resources and IO managers
(energymobile.storage). What moves between them is small: the delivery's receipts and per-cycle
reductions, then frames of one row per cycle. The gigabytes of text are read once, in raw_logs,
which compresses them for raw_archive as it goes.
"""

import hashlib
import warnings
from collections.abc import Callable, Iterable, Mapping

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
from energymobile.defs.partitions import cohort_site_partitions, split_key
from energymobile.ingest import validate
from energymobile.ingest.delivery import Delivery, read_delivery
from energymobile.ingest.hourly import hourly_frame, merge_profile
from energymobile.provenance import drop_fingerprint
from energymobile.rigs import DEFAULT_RIG, Rig
from energymobile.storage.archive import ArchiveSpool, CompressedDelivery, archive_prefix
from energymobile.storage.landing import Landing
from energymobile.storage.resources import CohortRulesResource, LandingResource
from energymobile.storage.retry import WAREHOUSE_LOAD_RETRY
from energymobile.storage.warehouse import CohortLoad


class SiteDelivery(dict[Rig, Delivery]):
    """raw_logs' value: each rig of the partition's site that delivered the cohort, by rig."""


RIG_COLUMNS = ("site", "rig")
"""The columns naming a row's rig in the frames between steps (first, as in the view)."""

OWNERS = ["team:data-engineering"]
PREVIEW_ROWS = 5


def delivering_rigs(source: Landing, cohort: str, site: str) -> list[Rig]:
    """The rigs of the site with a folder for the cohort. For the default site with none, the
    default rig, whose missing files read_delivery then names (as before the fleet)."""
    rigs = [r for r in source.rig_folders().rigs if r.site == site]
    found = [r for r in rigs if cohort in source.cohort_folders(r)]
    if not found and site == DEFAULT_RIG.site:
        return [DEFAULT_RIG]
    if not found:
        raise dg.Failure(f"no rig of site {site} delivered cohort {cohort}", allow_retries=False)
    return found


def with_rig(frame: pd.DataFrame, rig: Rig) -> pd.DataFrame:
    """The rig's rows with `site` and `rig` first."""
    named = frame.copy()
    named.insert(0, "rig", pd.Series([rig.name] * len(frame), dtype="string", index=frame.index))
    named.insert(0, "site", pd.Series([rig.site] * len(frame), dtype="string", index=frame.index))
    return named


def rows_of(frame: pd.DataFrame, rig: Rig) -> pd.DataFrame:
    """One rig's rows of a frame carrying RIG_COLUMNS, indexed from 0."""
    mine = (frame["site"] == rig.site) & (frame["rig"] == rig.name)
    return frame[mine.to_numpy()].reset_index(drop=True)


def site_delivery_version(archived: list[CompressedDelivery]) -> str:
    """raw_archive's data version: the delivery id of the one rig, or a digest of each rig's."""
    if len(archived) == 1:
        return archived[0].delivery
    lines = "\n".join(sorted(f"{a.rig}:{a.delivery}" for a in archived))
    return hashlib.sha256(lines.encode()).hexdigest()[:16]


@dg.multi_asset(
    partitions_def=cohort_site_partitions,
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
    """Read each rig's delivery once, judge it by every delivery rule (the checks of raw_logs,
    over the site's rigs), and hand the compressed files on as raw_archive only if all pass."""
    key, site = split_key(context.partition_key)
    source = landing.open()
    deliveries = SiteDelivery()
    outcomes_by_rig: dict[Rig, list[validate.RuleOutcome]] = {}
    archived: list[CompressedDelivery] = []
    for rig in delivering_rigs(source, key, site):
        listing = source.list_cohort(key, rig)  # before reading: a change meanwhile shows later
        with ArchiveSpool() as spool:
            delivery = read_delivery(
                key,
                available=listing.keys(),
                read=lambda name, rig=rig: source.read_cohort_file(key, name, rig),
                read_profile_bytes=source.read_profile,
                on_valid=spool.add,
            )
            compressed = spool.collect()
        deliveries[rig] = delivery
        outcomes_by_rig[rig] = validate.delivery_rules(
            key, delivery.channel_receipts, delivery.profile, rules.max_shortfall_hours
        )
        archived.append(
            CompressedDelivery(
                key,
                delivery.receipts,
                compressed,
                landing_fingerprint=drop_fingerprint(listing),
                rig=rig,
            )
        )
    outcomes = validate.across_rigs(outcomes_by_rig)
    failed = [o.description for o in outcomes if not o.passed]
    receipts = pd.DataFrame(
        [{"rig": str(rig), **r.__dict__} for rig, d in deliveries.items() for r in d.receipts]
    )
    first = next(iter(deliveries.values()))
    yield dg.Output(
        deliveries,
        output_name="raw_logs",
        metadata={
            "source": "; ".join(source.describe(key, rig) for rig in deliveries),
            "rigs": len(deliveries),
            "format": first.format,
            "files": sum(len(d.delivered_files) for d in deliveries.values()),
            "bytes": sum(d.total_bytes for d in deliveries.values()),
            "rows": outcomes[0].metadata.get("rows", -1),
            "received_files": dg.MetadataValue.md(receipts.to_markdown(index=False)),
        },
    )
    yield from checks.delivery_rule_results(outcomes)
    if failed:
        context.log.warning(f"cohort {key} of site {site} not archived: {'; '.join(failed)}")
        return
    with warnings.catch_warnings():  # Output's data_version is marked beta in Dagster 1.13
        warnings.simplefilter("ignore", dg.BetaWarning)
        # The delivery id: automation tells a new delivery from the same one archived again.
        archive_output = dg.Output(
            archived,
            output_name="raw_archive",
            metadata={
                "prefix": "; ".join(archive_prefix(key, a.rig) for a in archived),
                "landing_fingerprint": "; ".join(str(a.landing_fingerprint) for a in archived),
            },
            data_version=dg.DataVersion(site_delivery_version(archived)),
        )
    yield archive_output


def transform_asset(dagster_type: dg.DagsterType, dtypes: Mapping[str, str]) -> Callable:
    """The decorator of a transform step: a pandas frame per cohort and site, of `dagster_type`
    and the column schema of `dtypes`, materialised as soon as its upstream is."""
    return dg.asset(
        partitions_def=cohort_site_partitions,
        group_name="transform",
        owners=OWNERS,
        kinds={"pandas"},
        automation_condition=eager_any_cohort(),
        dagster_type=dagster_type,
        metadata={"dagster/column_schema": column_schema(dtypes)},
    )


def rigs_frame(frames: Iterable[pd.DataFrame]) -> dg.MaterializeResult:
    """A transform step's value: its rigs' frames as one, with the frame's metadata."""
    frame = pd.concat(list(frames), ignore_index=True)
    return dg.MaterializeResult(value=frame, metadata=frame_metadata(frame))


@transform_asset(HourlyReadingsFrame, HOURLY_DTYPES)
def hourly_readings(context: dg.AssetExecutionContext, raw_logs: SiteDelivery):
    """One row per rig and cycle (one hour): site, rig, cohort, cycle, date_time,
    cumulative_minutes, then each of the 17 sensors' first sample of the cycle (ps1_first …
    se_first: the template's values) and the mean of its samples (ps1_mean … se_mean). Both,
    always: no setting chooses."""
    key, _ = split_key(context.partition_key)
    return rigs_frame(with_rig(hourly_frame(key, d.cycles), rig) for rig, d in raw_logs.items())


@transform_asset(ProfileMergedFrame, PROFILE_MERGED_DTYPES)
def profile_merged(hourly_readings: pd.DataFrame, raw_logs: SiteDelivery):
    """The hourly rows with the condition profile of the same cycle: cooler, valve, pump
    leakage, accumulator and stable flag, as codes and as the documentation's words (the one
    profile, shared by every rig)."""
    return rigs_frame(
        merge_profile(rows_of(hourly_readings, rig), d.profile) for rig, d in raw_logs.items()
    )


@dg.asset(
    partitions_def=cohort_site_partitions,
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
    raw_logs: SiteDelivery,
):
    """The cohort of each rig of the site in the warehouse's star schema (fact
    `sensor_hourly`, dimension tables for rigs, sensors and condition codes, `cohorts` with
    source checksums) and the flat view `oil_well_hourly`; a re-materialization replaces each
    rig's rows of the cohort in one transaction per rig, retried on a transient database error
    (storage/retry.py)."""
    key, _ = split_key(context.partition_key)
    loads = [
        CohortLoad(key, rows_of(profile_merged, rig), d.receipts, rig)
        for rig, d in raw_logs.items()
    ]
    start, end = cohort_window(key)
    return dg.MaterializeResult(
        value=loads,
        metadata=frame_metadata(profile_merged)
        | {
            "window_start": str(start),
            "window_end": str(end),
            "rigs": len(loads),
            "source_sha256": "; ".join(load.source_sha256 for load in loads),
            "load_attempts": context.retry_number + 1,
        },
    )


@dg.asset(
    partitions_def=cohort_site_partitions,
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
    """The scientists' files: the site's rows of the cohort read back from `oil_well_hourly`
    (so the files and the warehouse cannot disagree), written to
    `oil-well-data-all-historical/[site=<site>/]cohort=<key>/data.csv` (the template's columns
    first, then the keys with the rig, conditions and means) and to
    `oil-well-data-all-historical-parquet/site=<site>/cohort=<key>/data.parquet`, with the data
    dictionary beside them. Each site's combined file over its cohorts is a partition of the
    asset combined_csv."""
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
