import numpy as np
import pandas as pd
import pytest

from energymobile.channels import CHANNELS, FIRST_COLUMNS, MEAN_COLUMNS
from energymobile.ingest.hourly import KEY_COLUMNS, hourly_frame, merge_profile
from energymobile.ingest.reduce import ChannelCycles

pytestmark = pytest.mark.unit


def _cycles(n):
    return {
        c.code: ChannelCycles(c.code, np.arange(n) + 0.5, np.arange(n) * 10.0) for c in CHANNELS
    }


def test_hourly_rows_count_hours_from_the_cohorts_midnight():
    frame = hourly_frame("2008-09-26", _cycles(3))
    assert frame["cycle"].tolist() == [0, 1, 2]
    assert frame["date_time"].tolist() == [
        pd.Timestamp("2008-09-26 00:00"),
        pd.Timestamp("2008-09-26 01:00"),
        pd.Timestamp("2008-09-26 02:00"),
    ]
    assert frame["cumulative_minutes"].tolist() == [0, 60, 120]
    assert frame["cohort"].unique().tolist() == ["2008-09-26"]


def test_every_row_holds_each_channels_first_sample_and_mean_by_name():
    frame = hourly_frame("2008-09-26", _cycles(3))
    assert list(frame.columns) == [*KEY_COLUMNS, *FIRST_COLUMNS, *MEAN_COLUMNS]
    assert frame["ps1_mean"].tolist() == [0.5, 1.5, 2.5]
    assert frame["se_first"].tolist() == [0.0, 10.0, 20.0]


def test_profile_merge_adds_codes_and_documented_words():
    frame = hourly_frame("2008-09-26", _cycles(3))
    profile = np.array([[3, 100, 0, 130, 1], [20, 90, 1, 115, 0], [100, 73, 2, 90, 0]])
    merged = merge_profile(frame, profile)
    assert merged["cooler_condition"].tolist() == [3, 20, 100]
    assert merged["cooler_condition_description"].tolist() == [
        "close to total failure",
        "reduced efficiency",
        "full efficiency",
    ]
    assert merged["valve_condition_description"].iloc[2] == "close to total failure"
    assert merged["stable_flag_description"].iloc[1] == "conditions were stable"
    conditions = [c for c in merged.columns if c not in frame.columns]
    assert conditions[:5] == [
        "cooler_condition",
        "valve_condition",
        "internal_pump_leakage",
        "hydraulic_accumulator_bar",
        "stable_flag",
    ]
    assert all(c.endswith("_description") for c in conditions[5:]) and len(conditions) == 10


def test_cycles_beyond_the_profile_get_no_condition():
    frame = hourly_frame("2008-09-26", _cycles(3))
    merged = merge_profile(frame, np.array([[3, 100, 0, 130, 1]]))
    assert merged["cooler_condition"].isna().tolist() == [False, True, True]
