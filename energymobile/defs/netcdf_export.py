"""netcdf_arrays: each cohort's every sample as one labelled netCDF file for the scientists.

It reads the archive raw_logs writes (`raw/cohort=<key>/`), not the landing and not raw_logs'
in-memory value (which keeps only per-cycle reductions): the archive is exactly the delivery
raw_logs accepted. The work is in energymobile.ingest.arrays (what the file holds) and
energymobile.storage.netcdf (reading the archive, writing and uploading the file).
"""

import tempfile
import time
from pathlib import Path

import dagster as dg

from energymobile.defs.assets import OWNERS, raw_logs
from energymobile.defs.automation import eager_any_cohort
from energymobile.defs.partitions import cohort_partitions
from energymobile.storage.archive import ArchiveMissing
from energymobile.storage.netcdf import export_cohort
from energymobile.storage.resources import ObjectStoreResource

WITHHELD_KEY = "archive_withheld_because"
"""raw_logs' metadata entry naming the rules that kept a delivery out of the archive ("-": none)."""
PREVIEW_CHARS = 6000


def withheld_because(instance: dg.DagsterInstance, key: str) -> str | None:
    """Why raw_logs' latest materialization of the cohort did not archive it, if it did not.

    After a bad re-delivery the archive still holds the previous good one; exporting it again
    would pass off the old delivery as the answer to the new one, so the asset fails instead.
    """
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=raw_logs.key, asset_partitions=[key]), limit=1
    ).records
    materialization = records[0].asset_materialization if records else None
    entry = materialization.metadata.get(WITHHELD_KEY) if materialization else None
    reason = str(entry.value) if entry is not None else "-"
    return None if reason == "-" else reason


@dg.asset(
    partitions_def=cohort_partitions,
    group_name="export",
    owners=OWNERS,
    kinds={"xarray", "netcdf"},
    deps=[raw_logs],
    automation_condition=eager_any_cohort(),
)
def netcdf_arrays(context: dg.AssetExecutionContext, object_store: ObjectStoreResource):
    """The scientists' full-resolution file: `netcdf/cohort=<key>.nc`, one variable per sensor
    (cycle × sample at its own rate, float64 exactly as delivered), `date_time` and the five
    profile conditions (CF flags) as coordinates on cycle, units and descriptions as
    attributes. Decoded from raw_logs' validated archive; a re-run replaces the file whole."""
    key = context.partition_key
    reason = withheld_because(context.instance, key)
    if reason is not None:
        raise dg.Failure(
            f"cohort {key} not exported to netCDF: raw_logs withheld its latest delivery from "
            f"the archive ({reason}); fix the delivery and re-materialize raw_logs"
        )
    store = object_store.open()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="energymobile-netcdf-") as work:
        try:
            export = export_cohort(store, key, Path(work))
        except ArchiveMissing as missing:
            raise dg.Failure(str(missing)) from None
    seconds = time.perf_counter() - started
    stored = export.stored
    return dg.MaterializeResult(
        metadata={
            "object_key": stored.key,
            "uri": dg.MetadataValue.path(stored.uri),
            "bytes": stored.bytes,
            "sha256": stored.sha256,
            "source_bytes": export.source_bytes,
            "bytes_per_source_byte": round(stored.bytes / export.source_bytes, 3),
            "seconds": round(seconds, 2),
            "cycles": export.dims["cycle"],
            "variables": dg.MetadataValue.json(export.variables),
            "dims": dg.MetadataValue.json(export.dims),
            "preview": dg.MetadataValue.md(f"```\n{export.text[:PREVIEW_CHARS]}\n```"),
        }
    )
