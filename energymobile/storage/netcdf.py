"""Each cohort's full-resolution samples as one netCDF file in the object store:
`netcdf/cohort=<key>.nc`.

The source is the asset raw_archive (`raw/cohort=<key>/`, see archive.py):
exactly what raw_logs accepted, checked again here against its manifest's SHA-256s. The files
are decoded by the same `read_delivery` raw_logs validates with, which hands over one sensor's
samples at a time; each is appended to a local file at once, so memory holds one sensor, never
the cohort. The finished file is uploaded whole (`ObjectStore.put_file`): a re-run replaces the
object, readers never see half of it. The same archive always gives the same bytes.

Encoding, measured on a full-size generated cohort (docs/netcdf.md): zlib level 1 without
shuffle (shuffle more than doubles the size of these few-decimal values, whose 8-byte patterns
repeat), chunks of whole cycles of about 1 MiB, so HDF5's default 1 MiB chunk cache holds one
and reading cycle after cycle decompresses each chunk once. Appending on a second thread while
the next sensor parses saved no time (the parse already uses both cores) and cost ~120 MB.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import xarray as xr

from energymobile.channels import PROFILE_FILE_NAME, Channel
from energymobile.cohorts import cohort_window
from energymobile.ingest import arrays
from energymobile.ingest.delivery import Delivery, read_delivery
from energymobile.ingest.formats import delivered_name
from energymobile.ingest.reduce import FileReceipt
from energymobile.rigs import DEFAULT_RIG, Rig
from energymobile.storage.archive import Archive, manifest_key
from energymobile.storage.object_store import ObjectStore, StoredObject

NETCDF_PREFIX = "netcdf"
ENGINE = "h5netcdf"
ZLIB_LEVEL = 1
"""Levels 2–5 shrink the 100 Hz variables by 3–16 % and take up to twice as long to write."""
CHUNK_BYTES = 1 << 20


def netcdf_key(key: str, rig: Rig = DEFAULT_RIG) -> str:
    """A rig's netCDF file of a cohort: the default rig's where the single-rig layout had it."""
    if rig == DEFAULT_RIG:
        return f"{NETCDF_PREFIX}/cohort={key}.nc"
    return f"{NETCDF_PREFIX}/site={rig.site}/rig={rig.name}/cohort={key}.nc"


# ----------------------------------------------------------------------------------------------
# Encoding: how each variable is laid out in the file (pure)
# ----------------------------------------------------------------------------------------------


def chunk_rows(samples: int, cycles: int) -> int:
    """Whole cycles per chunk: about CHUNK_BYTES of float64, at least one, at most all."""
    return max(1, min(cycles, CHUNK_BYTES // (8 * samples)))


def sensor_encoding(channel: Channel, cycles: int) -> dict[str, Any]:
    """Lossless compression, whole-cycle chunks, no fill value (a delivery has no gaps)."""
    return {
        "zlib": True,
        "complevel": ZLIB_LEVEL,
        "shuffle": False,
        "chunksizes": (chunk_rows(channel.samples, cycles), channel.samples),
        "_FillValue": None,
    }


def labels_encoding(key: str) -> dict[str, dict[str, Any]]:
    """`date_time` as whole hours since the cohort's start, so every tool decodes it exactly."""
    start, _ = cohort_window(key)
    encoding: dict[str, dict[str, Any]] = {
        arrays.TIME_COORD: {
            "units": f"hours since {start:%Y-%m-%d %H:%M:%S}",
            "calendar": "proleptic_gregorian",
            "dtype": "int64",
            "_FillValue": None,
        }
    }
    return encoding | {name: {"_FillValue": None} for name in arrays.CYCLE_LABELS[1:]}


def frame_encoding(dataset: xr.Dataset) -> dict[str, dict[str, Any]]:
    return {str(name): {"_FillValue": None} for name in dataset.variables}


# ----------------------------------------------------------------------------------------------
# Writing a local file, one sensor at a time
# ----------------------------------------------------------------------------------------------


class CohortFileWriter:
    """Writes a cohort's netCDF file as its sensors arrive (`add`, the `on_table` callback of
    `read_delivery`), then its cycle labels and provenance (`finish`): one sensor's array is
    alive at a time. Each step appends to the file (xarray, mode "a")."""

    def __init__(self, path: Path, key: str) -> None:
        self.path = path
        self.key = key
        self.cycles: int | None = None
        self.variables: list[str] = []

    def _write(
        self, dataset: xr.Dataset, encoding: dict[str, dict[str, Any]], mode: Literal["w", "a"]
    ) -> None:
        dataset.to_netcdf(self.path, mode=mode, engine=ENGINE, encoding=encoding)

    def add(self, channel: Channel, table: np.ndarray) -> None:
        """Append one sensor; the first one also fixes the number of cycles and starts the
        file with the dimensions' coordinates and the cohort's description."""
        if self.cycles is None:
            self.cycles = table.shape[0]
            start = arrays.frame(self.key, self.cycles)
            self._write(start, frame_encoding(start), mode="w")
        elif table.shape[0] != self.cycles:
            raise ValueError(
                f"{channel.file_name} has {table.shape[0]} cycles, the first sensor "
                f"{self.cycles}: the archive does not hold one validated delivery"
            )
        name = arrays.variable_name(channel)
        variable = arrays.sensor_variable(channel, table)
        # The CF attribute naming the cycle labels, which are only written in `finish`.
        variable[name].encoding["coordinates"] = " ".join(arrays.CYCLE_LABELS)
        self._write(variable, {name: sensor_encoding(channel, self.cycles)}, mode="a")
        self.variables.append(name)

    def finish(self, delivery: Delivery) -> None:
        """Append `date_time`, the conditions and the source checksums: the file is complete."""
        if self.cycles is None:
            raise ValueError(f"cohort {self.key}: no sensor was written")
        labels = arrays.cycle_labels(self.key, delivery.profile, self.cycles)
        labels.attrs = arrays.provenance(delivery.receipts) | {"history": arrays.history(self.key)}
        self._write(labels, labels_encoding(self.key), mode="a")


# ----------------------------------------------------------------------------------------------
# From the archive to the object store
# ----------------------------------------------------------------------------------------------


def write_cohort_file(store: ObjectStore, archive: Archive, path: Path) -> Delivery:
    """Decode an archived delivery (`read_archive`, or raw_archive's input) into a netCDF
    file at `path`; the delivery read back.

    Raises ValueError if the archived bytes are not those the manifest lists (nothing is
    written to the store)."""
    key = archive.key

    def read(name: str) -> bytes:
        return archive.read(store, name)

    writer = CohortFileWriter(path, key)
    delivery = read_delivery(
        key,
        available=list(archive.objects),
        read=read,
        read_profile_bytes=lambda: read(PROFILE_FILE_NAME),
        on_table=writer.add,
    )
    check_against_manifest(archive, delivery.receipts)
    writer.finish(delivery)
    return delivery


def check_against_manifest(archive: Archive, receipts: tuple[FileReceipt, ...]) -> None:
    """Every file read must be the one raw_logs archived, byte for byte (SHA-256 and size)."""
    listed = {r.name: r for r in archive.receipts}
    for receipt in receipts:
        expected = listed.get(receipt.name)
        if expected is None or (expected.sha256, expected.bytes) != (
            receipt.sha256,
            receipt.bytes,
        ):
            held_in = archive.objects.get(delivered_name(receipt.name), receipt.name)
            raise ValueError(
                f"{held_in} does not match {manifest_key(archive.key)} "
                f"(sha256 {receipt.sha256[:12]}…, expected "
                f"{expected.sha256[:12] + '…' if expected else 'no such file'}): "
                "re-materialize raw_logs for this cohort"
            )


@dataclass(frozen=True)
class NetcdfExport:
    """What was stored, and what a scientist sees on opening it."""

    stored: StoredObject
    source_bytes: int
    dims: dict[str, int]
    variables: list[str]
    text: str
    """repr() of the Dataset as `xarray.open_dataset` shows it."""


def describe(path: Path) -> tuple[dict[str, int], list[str], str]:
    """Dimensions, variables and repr (every variable listed) of the file, opened as a
    scientist would."""
    with xr.open_dataset(path, engine=ENGINE) as dataset, xr.set_options(display_max_rows=40):
        dims = {str(name): int(size) for name, size in dataset.sizes.items()}
        return dims, [str(v) for v in dataset.data_vars], repr(dataset)


def export_cohort(store: ObjectStore, archive: Archive, work_dir: Path) -> NetcdfExport:
    """Write the archived cohort's file under `work_dir` and upload it to
    `netcdf/cohort=<key>.nc`."""
    key = archive.key
    path = work_dir / f"cohort={key}.nc"
    delivery = write_cohort_file(store, archive, path)
    dims, variables, text = describe(path)
    stored = store.put_file(
        netcdf_key(key, archive.rig),
        path,
        rows=dims[arrays.CYCLE_DIM],
        metadata={"cohort": key, "site": archive.rig.site, "rig": archive.rig.name},
    )
    return NetcdfExport(stored, delivery.total_bytes, dims, variables, text)
