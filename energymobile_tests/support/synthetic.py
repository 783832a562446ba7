"""Synthetic cohorts, built without the sample generator's files: what the warehouse and the
object store receive, at any size, seeded. Shared by the tests and the benchmarks."""

from __future__ import annotations

import numpy as np
import pandas as pd

from energymobile.channels import CHANNELS, CONDITIONS
from energymobile.cohorts import default_cycles
from energymobile.ingest.hourly import hourly_frame, merge_profile
from energymobile.ingest.reduce import ChannelCycles, FileReceipt
from energymobile.rigs import DEFAULT_RIG, Rig
from energymobile.storage.warehouse import (
    FLAT_COLUMNS,
    SENSOR_COLUMNS,
    CohortLoad,
    typed_flat_frame,
)


def synthetic_load(key: str, rows: int, seed: int, rig: Rig = DEFAULT_RIG) -> CohortLoad:
    """A cohort as `mysql_tables` receives it, built with the pipeline's own ingest functions:
    full-precision doubles (so a lossy round trip shows) and documented condition codes. The
    receipts' byte counts depend on the seed, so a replaced cohort's files show."""
    rng = np.random.default_rng(seed)
    cycles = {
        c.code: ChannelCycles(c.code, rng.normal(100, 30, rows), rng.normal(100, 30, rows))
        for c in CHANNELS
    }
    profile = np.column_stack([rng.choice(sorted(c.codes), rows) for c in CONDITIONS])
    frame = merge_profile(hourly_frame(key, cycles), profile)
    receipts = [
        FileReceipt(c.file_name, 1000 + seed, rows, c.samples, f"{seed:064x}") for c in CHANNELS
    ]
    return CohortLoad(key, frame, receipts, rig)


def synthetic_cohort_frame(
    key: str, rows: int | None = None, seed: int = 0, rig: Rig = DEFAULT_RIG
) -> pd.DataFrame:
    """A cohort's flat rows (as `oil_well_hourly` holds them) with realistic widths, values
    rounded as the real files are; full size (`default_cycles`) unless `rows` is given."""
    count = default_cycles(key) if rows is None else rows
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "site": rig.site,
            "rig": rig.name,
            "cohort": key,
            "cycle": np.arange(count),
            "date_time": pd.Timestamp(key) + pd.to_timedelta(np.arange(count), unit="h"),
            "cumulative_minutes": 60 * np.arange(count),
        }
    )
    for column in SENSOR_COLUMNS:
        frame[column] = np.round(rng.uniform(0.5, 200.0, count), 3)
    for condition in CONDITIONS:
        codes = rng.choice(sorted(condition.codes), count)
        frame[condition.column] = codes
        frame[condition.description_column] = [condition.codes[c] for c in codes]
    return typed_flat_frame(frame[list(FLAT_COLUMNS)])
