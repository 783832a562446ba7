"""A cohort's full-resolution samples as a labelled xarray Dataset. Pure: no files, no store.

What a scientist gets from `xarray.open_dataset` on the cohort's netCDF file, built in parts so
the writer can add one sensor at a time and never hold the whole cohort (~740 MB of float64):

- `frame(key, cycles)`: the dimensions' coordinates (`cycle`; `sample_100hz`, `sample_10hz`,
  `sample_1hz` in seconds since the cycle start) and what the file is (global attributes);
- `sensor_variable(channel, table)`: one sensor, (cycle × sample at its own rate), float64 as
  delivered, with units, description and sampling rate;
- `cycle_labels(key, profile, cycles)`: `date_time` and the five profile conditions on `cycle`,
  the conditions with CF `flag_values`/`flag_meanings` worded from the dataset's documentation;
- `provenance(receipts)`: the SHA-256 of every source file, as global attributes.

`cohort_dataset` puts the parts together in memory, for small cohorts and tests: the file the
writer produces opens to exactly this Dataset.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

import numpy as np
import xarray as xr

from energymobile.channels import CHANNELS, CONDITIONS, CYCLE_SECONDS, Channel, Condition
from energymobile.cohorts import cohort_window, cycle_times
from energymobile.ingest.formats import delivered_files
from energymobile.ingest.reduce import FileReceipt

CYCLE_DIM = "cycle"
TIME_COORD = "date_time"
RATES_HZ: tuple[int, ...] = tuple(sorted({c.rate_hz for c in CHANNELS}, reverse=True))
CONVENTIONS = "CF-1.8"
CF_UNITS = {"°C": "degC"}
"""Units as UDUNITS (and so CF tools) spell them; every other documented unit already parses."""
CYCLE_LABELS: tuple[str, ...] = (TIME_COORD, *(c.column for c in CONDITIONS))
"""The coordinates on `cycle` besides the cycle number, in the order the file lists them."""
REFERENCES = (
    "Sensor layout, units, sampling rates and condition codes as documented for the dataset "
    '"Condition monitoring of hydraulic systems", UCI Machine Learning Repository (id 447), '
    "creator Nikolai Helwig, ZeMA gGmbH, Saarbruecken. Please cite: N. Helwig, E. Pignanelli, "
    'A. Schuetze, "Condition Monitoring of a Complex Hydraulic System Using Multivariate '
    'Statistics", Proc. I2MTC 2015, Pisa, doi:10.1109/I2MTC.2015.7151267.'
)


def sample_dim(rate_hz: int) -> str:
    """The sample dimension of a sampling rate: sensors at the same rate share it."""
    return f"sample_{rate_hz}hz"


def variable_name(channel: Channel) -> str:
    """The sensor's variable: its column name in the hourly CSV and the warehouse (`ps1`)."""
    return channel.column


def _iso(moment: datetime) -> str:
    return f"{moment:%Y-%m-%dT%H:%M:%SZ}"


def frame(key: str, cycles: int) -> xr.Dataset:
    """The dimensions' coordinates and the global attributes that depend only on the cohort."""
    start, end = cohort_window(key)
    coords: dict[str, xr.Variable] = {
        CYCLE_DIM: xr.Variable(
            CYCLE_DIM,
            np.arange(cycles, dtype=np.int64),
            {
                "long_name": "cycle number within the cohort, from 0",
                "description": "cycle i is line i + 1 of every delivered sensor file and of "
                "profile.txt; the rig records one 60-second load cycle per hour",
            },
        )
    }
    for rate in RATES_HZ:
        dim = sample_dim(rate)
        coords[dim] = xr.Variable(
            dim,
            np.arange(rate * CYCLE_SECONDS, dtype=np.float64) / rate,
            {
                "long_name": "time since the start of the cycle",
                "units": "s",
                "sampling_rate_hz": rate,
                "description": f"sample times of the {rate} Hz sensors: {rate * CYCLE_SECONDS} "
                f"samples per {CYCLE_SECONDS}-second cycle",
            },
        )
    attrs = {
        "title": f"Hydraulic test rig, cohort {key}: every sensor sample at full resolution",
        "summary": (
            "One variable per sensor with dimensions (cycle, sample) at the sensor's own "
            "sampling rate (100, 10 or 1 Hz). A cycle is a 60-second load cycle, recorded once "
            "an hour: date_time is its start. The condition profile of each cycle (cooler, "
            "valve, internal pump leakage, hydraulic accumulator, stable flag) is given as "
            "coordinates on cycle, with CF flag_values and flag_meanings. Values are the "
            "delivered text decoded to float64, unchanged."
        ),
        "cohort": key,
        "window_start": _iso(start),
        "window_end": _iso(end),
        "cycles": cycles,
        "Conventions": CONVENTIONS,
        "references": REFERENCES,
    }
    return xr.Dataset(coords=coords, attrs=attrs)


def sensor_variable(channel: Channel, table: np.ndarray) -> xr.Dataset:
    """One sensor's samples, (cycles × samples) as delivered, as a one-variable Dataset."""
    if table.ndim != 2 or table.shape[1] != channel.samples:
        raise ValueError(
            f"{channel.code}: expected (cycles × {channel.samples}) samples, got {table.shape}"
        )
    attrs = {
        "long_name": f"{channel.quantity} {channel.code}",
        "units": CF_UNITS.get(channel.unit, channel.unit),
        "description": (
            f"{channel.quantity} measured by sensor {channel.code}, in {channel.unit}, sampled "
            f"at {channel.rate_hz} Hz: {channel.samples} values per cycle, as delivered in "
            f"{channel.file_name} (one row per cycle)"
        ),
        "sampling_rate_hz": channel.rate_hz,
        "sensor": channel.code,
    }
    data = np.asarray(table, dtype=np.float64)
    variable = xr.Variable((CYCLE_DIM, sample_dim(channel.rate_hz)), data, attrs)
    return xr.Dataset({variable_name(channel): variable})


def flag_meaning(words: str) -> str:
    """A documented description as one CF flag meaning: blank-separated lists need one word."""
    return "_".join(words.split())


def condition_variable(condition: Condition, codes: np.ndarray) -> xr.Variable:
    """One profile column on `cycle`, labelled with its documented codes (CF flags)."""
    values = np.asarray(codes, dtype=np.int64)
    flag_values = np.array(list(condition.codes), dtype=values.dtype)
    return xr.Variable(
        CYCLE_DIM,
        values,
        {
            "long_name": condition.title,
            "flag_values": flag_values,
            "flag_meanings": " ".join(flag_meaning(w) for w in condition.codes.values()),
            "description": "; ".join(f"{code}: {w}" for code, w in condition.codes.items()),
        },
    )


def cycle_labels(key: str, profile: np.ndarray, cycles: int) -> xr.Dataset:
    """`date_time` and the five conditions of each cycle (profile row i labels cycle i)."""
    if profile.shape[0] < cycles:
        raise ValueError(
            f"profile.txt has {profile.shape[0]} rows but the cohort has {cycles} cycles"
        )
    start, _ = cohort_window(key)
    coords: dict[str, xr.Variable] = {
        TIME_COORD: xr.Variable(
            CYCLE_DIM,
            np.array(cycle_times(key, cycles), dtype="datetime64[ns]"),
            {
                "standard_name": "time",
                "long_name": "start of the cycle, UTC",
                "description": f"the cohort's start ({_iso(start)}) plus one hour per cycle, "
                "as date_time in the hourly CSV and the warehouse",
            },
        )
    }
    for col, condition in enumerate(CONDITIONS):
        coords[condition.column] = condition_variable(condition, profile[:cycles, col])
    return xr.Dataset(coords=coords)


def provenance(receipts: Sequence[FileReceipt]) -> dict[str, str | int]:
    """Which bytes the file was decoded from: each delivered file once, as `sha256sum` lists
    them (so `sha256sum -c` checks a copy of the delivery), and their total size."""
    files = delivered_files(receipts)
    return {
        "source_sha256sums": "\n".join(f"{r.sha256}  {name}" for name, r in files.items()),
        "source_bytes": sum(r.bytes for r in files.values()),
    }


def history(key: str) -> str:
    """What was done, without a clock time: a re-run on the same archive writes the same file."""
    return (
        f"energymobile netcdf_arrays: decoded the validated delivery archived under "
        f"raw/cohort={key}/ (files as listed in source_sha256sums) to float64, values unchanged"
    )


def cohort_dataset(
    key: str,
    tables: Iterable[tuple[Channel, np.ndarray]],
    profile: np.ndarray,
    receipts: Sequence[FileReceipt],
) -> xr.Dataset:
    """The whole cohort in memory: `frame`, every sensor, the cycle labels and provenance."""
    tables = list(tables)
    cycles = tables[0][1].shape[0] if tables else 0
    dataset = frame(key, cycles)
    for channel, table in tables:
        dataset = dataset.assign(sensor_variable(channel, table).data_vars)
    dataset = dataset.assign_coords(cycle_labels(key, profile, cycles).coords)
    dataset.attrs |= provenance(receipts) | {"history": history(key)}
    return dataset
