"""Shape reduced cycles into the hourly tables the data scientists use. Pure pandas."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from energymobile.channels import CHANNELS, CONDITIONS
from energymobile.cohorts import cohort_window
from energymobile.ingest.reduce import ChannelCycles, Statistic

KEY_COLUMNS = ("cohort", "cycle", "date_time", "cumulative_minutes")
STATISTIC_ATTR = "statistic"
"""`frame.attrs` entry recording which reduction (mean or first) the sensor columns hold."""


def hourly_frame(
    key: str, cycles: Mapping[str, ChannelCycles], statistic: Statistic
) -> pd.DataFrame:
    """One row per cycle: cohort, cycle, date_time, cumulative_minutes, one column per channel.

    `date_time` is the cohort's midnight plus one hour per cycle (a cycle counts as an hour);
    `cumulative_minutes` is 60 × cycle, as in the scientists' template.
    """
    count = len(next(iter(cycles.values())).mean)
    start, _ = cohort_window(key)
    cycle = np.arange(count, dtype=np.int64)
    frame = pd.DataFrame(
        {
            "cohort": pd.Series([key] * count, dtype="string"),
            "cycle": cycle,
            "date_time": pd.Timestamp(start) + pd.to_timedelta(cycle, unit="h"),
            "cumulative_minutes": cycle * 60,
        }
    )
    for channel in CHANNELS:
        frame[channel.column] = cycles[channel.code].values(statistic)
    frame.attrs[STATISTIC_ATTR] = statistic
    return frame


def merge_profile(hourly: pd.DataFrame, profile: np.ndarray) -> pd.DataFrame:
    """Add the profile row of the same cycle: five codes and their documented descriptions.

    Cycles beyond the profile's last row get nulls (the `profile_covers_cycles` check fails
    on them); an undocumented code gets a null description.
    """
    merged = hourly.copy()
    rows = len(merged)
    for col, condition in enumerate(CONDITIONS):
        codes = pd.array([pd.NA] * rows, dtype="Int64")
        available = min(rows, profile.shape[0])
        codes[:available] = profile[:available, col]
        merged[condition.column] = codes
        merged[condition.description_column] = (
            pd.Series(codes, dtype="Int64").map(condition.codes).astype("string")
        )
    return merged
