"""Shape reduced cycles into the hourly tables the data scientists use. Pure pandas."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from energymobile.channels import CHANNELS, CONDITIONS
from energymobile.cohorts import cohort_window
from energymobile.ingest.reduce import ChannelCycles

KEY_COLUMNS = ("cohort", "cycle", "date_time", "cumulative_minutes")


def hourly_frame(key: str, cycles: Mapping[str, ChannelCycles]) -> pd.DataFrame:
    """One row per cycle: cohort, cycle, date_time, cumulative_minutes, then each channel's
    first sample (`ps1_first` … `se_first`) and each channel's mean (`ps1_mean` … `se_mean`).

    Both statistics, always: a column's name says which it holds, so no setting can make two
    cohorts disagree on what a column means. `date_time` is the cohort's midnight plus one hour
    per cycle (a cycle counts as an hour); `cumulative_minutes` is 60 × cycle, as in the
    scientists' template.
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
        frame[channel.first_column] = cycles[channel.code].first
    for channel in CHANNELS:
        frame[channel.mean_column] = cycles[channel.code].mean
    return frame


def merge_profile(hourly: pd.DataFrame, profile: np.ndarray) -> pd.DataFrame:
    """Add the profile row of the same cycle: the five codes, then their documented descriptions
    (the flat view's order).

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
    for condition in CONDITIONS:
        merged[condition.description_column] = (
            merged[condition.column].map(condition.codes).astype("string")
        )
    return merged
