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
from energymobile.defs.partitions import cohort_site_partitions
from energymobile.storage.io_managers import SiteArchives
from energymobile.storage.resources import ObjectStoreResource

PREVIEW_CHARS = 6000


@dg.asset(
    partitions_def=cohort_site_partitions,
    group_name="export",
    owners=OWNERS,
    kinds={"xarray", "netcdf"},
    automation_condition=follows_archive(),
)
def netcdf_arrays(object_store: ObjectStoreResource, raw_archive: SiteArchives):
    """The scientists' full-resolution file of each rig: `netcdf/cohort=<key>.nc` (the default
    rig's; `netcdf/site=<site>/rig=<rig>/cohort=<key>.nc` another's), one variable per sensor
    (cycle × sample at its own rate, float64 exactly as delivered), `date_time` and the five
    profile conditions (CF flags) as coordinates on cycle, units and descriptions as
    attributes. Decoded from the cohort's archived delivery (raw_archive), its SHA-256s checked
    against the manifest; a re-run replaces the file whole."""
    started = time.perf_counter()
    from energymobile.storage.netcdf import export_cohort  # xarray, h5py: only when used

    store = object_store.open()
    exports = []
    for archive in raw_archive.values():
        with tempfile.TemporaryDirectory(prefix="energymobile-netcdf-") as work:
            exports.append(export_cohort(store, archive, Path(work)))
    seconds = time.perf_counter() - started
    export = exports[0]  # the rigs' files share variables and dims; the first is previewed
    stored_bytes = sum(e.stored.bytes for e in exports)
    source_bytes = sum(e.source_bytes for e in exports)
    return dg.MaterializeResult(
        metadata={
            "object_key": "; ".join(e.stored.key for e in exports),
            "uri": dg.MetadataValue.path("; ".join(e.stored.uri for e in exports)),
            "rigs": len(exports),
            "bytes": stored_bytes,
            "sha256": "; ".join(e.stored.sha256 for e in exports),
            "delivery": "; ".join(a.delivery for a in raw_archive.values()),
            "source_bytes": source_bytes,
            "bytes_per_source_byte": round(stored_bytes / source_bytes, 3),
            "seconds": round(seconds, 2),
            "cycles": export.dims["cycle"],
            "variables": dg.MetadataValue.json(export.variables),
            "dims": dg.MetadataValue.json(export.dims),
            "preview": dg.MetadataValue.md(f"```\n{export.text[:PREVIEW_CHARS]}\n```"),
        }
    )
