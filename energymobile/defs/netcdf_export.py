"""netcdf_arrays: each cohort's every sample as one labelled netCDF file for the scientists.

Its input is raw_archive (the cohort's current archived delivery, loaded by the
ArchiveIOManager as its manifest), not the landing and not raw_logs' value (which keeps only
per-cycle reductions): the archive is exactly the delivery raw_logs accepted, and a delivery
that failed a rule never becomes it. The work is in energymobile.ingest.arrays (what the file
holds) and energymobile.storage.netcdf (reading the archive, writing and uploading the file).
"""

import tempfile
import time
from pathlib import Path

import dagster as dg

from energymobile.defs.assets import OWNERS
from energymobile.defs.automation import follows_archive
from energymobile.defs.partitions import cohort_partitions
from energymobile.storage.archive import Archive
from energymobile.storage.resources import ObjectStoreResource

PREVIEW_CHARS = 6000


@dg.asset(
    partitions_def=cohort_partitions,
    group_name="export",
    owners=OWNERS,
    kinds={"xarray", "netcdf"},
    automation_condition=follows_archive(),
)
def netcdf_arrays(object_store: ObjectStoreResource, raw_archive: Archive):
    """The scientists' full-resolution file: `netcdf/cohort=<key>.nc`, one variable per sensor
    (cycle × sample at its own rate, float64 exactly as delivered), `date_time` and the five
    profile conditions (CF flags) as coordinates on cycle, units and descriptions as
    attributes. Decoded from the cohort's archived delivery (raw_archive), its SHA-256s checked
    against the manifest; a re-run replaces the file whole."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="energymobile-netcdf-") as work:
        from energymobile.storage.netcdf import export_cohort  # xarray, h5py: only when used

        export = export_cohort(object_store.open(), raw_archive, Path(work))
    seconds = time.perf_counter() - started
    stored = export.stored
    return dg.MaterializeResult(
        metadata={
            "object_key": stored.key,
            "uri": dg.MetadataValue.path(stored.uri),
            "bytes": stored.bytes,
            "sha256": stored.sha256,
            "delivery": raw_archive.delivery,
            "source_bytes": export.source_bytes,
            "bytes_per_source_byte": round(stored.bytes / export.source_bytes, 3),
            "seconds": round(seconds, 2),
            "cycles": export.dims["cycle"],
            "variables": dg.MetadataValue.json(export.variables),
            "dims": dg.MetadataValue.json(export.dims),
            "preview": dg.MetadataValue.md(f"```\n{export.text[:PREVIEW_CHARS]}\n```"),
        }
    )
