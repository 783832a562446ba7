"""The hourly frames' declared schemas (dagster-pandas types): what the assets carry for the UI,
and what the type check refuses, naming the column."""

from __future__ import annotations

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from energymobile.channels import CHANNELS
from energymobile.defs.assets import hourly_readings, profile_merged, s3_historical_csv, with_rig
from energymobile.defs.frame_types import (
    EXPORT_DTYPES,
    HOURLY_DTYPES,
    PROFILE_MERGED_DTYPES,
    ExportFrame,
    HourlyReadingsFrame,
    ProfileMergedFrame,
)
from energymobile.ingest.hourly import hourly_frame, merge_profile
from energymobile.ingest.reduce import ChannelCycles
from energymobile.rigs import DEFAULT_RIG
from energymobile.storage.warehouse import FLAT_COLUMNS, typed_flat_frame

pytestmark = pytest.mark.unit

KEY = "2008-03-26"


def _hourly(rows: int = 3) -> pd.DataFrame:
    cycles = {
        c.code: ChannelCycles(c.code, np.arange(rows) + 0.5, np.arange(rows) * 1.0)
        for c in CHANNELS
    }
    return with_rig(hourly_frame(KEY, cycles), DEFAULT_RIG)  # as hourly_readings builds it


def _merged(rows: int = 3) -> pd.DataFrame:
    return merge_profile(_hourly(rows), np.array([[100, 100, 0, 130, 0]] * rows))


@pytest.mark.parametrize(
    ("asset", "frame_type", "dtypes"),
    [
        (hourly_readings, HourlyReadingsFrame, HOURLY_DTYPES),
        (profile_merged, ProfileMergedFrame, PROFILE_MERGED_DTYPES),
        (s3_historical_csv, ExportFrame, EXPORT_DTYPES),
    ],
    ids=["hourly_readings", "profile_merged", "s3_historical_csv"],
)
def test_each_asset_declares_its_frames_columns_and_types(asset, frame_type, dtypes):
    """The UI shows the column schema before anything runs, and the output is type-checked."""
    schema = asset.metadata_by_key[asset.key]["dagster/column_schema"]
    assert [(c.name, c.type) for c in schema.columns] == list(dtypes.items())
    assert all(c.description for c in schema.columns)
    assert asset.op.output_defs[0].dagster_type.key == frame_type.key
    assert "ps1_first" in frame_type.description and "float64" in frame_type.description


def test_the_export_reads_its_input_as_the_export_frame():
    assert s3_historical_csv.op.input_defs[0].dagster_type.key == ExportFrame.key
    assert list(EXPORT_DTYPES) == list(FLAT_COLUMNS)


def test_the_frames_the_pipeline_builds_pass_their_type_checks():
    assert dg.check_dagster_type(HourlyReadingsFrame, _hourly()).success
    assert dg.check_dagster_type(ProfileMergedFrame, _merged()).success
    merged = _merged().astype({"cooler_condition": "int64"})
    exported = typed_flat_frame(merged)
    assert dg.check_dagster_type(ExportFrame, exported).success


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda f: f.drop(columns="ts2_mean"), "ts2_mean"),
        (lambda f: f.astype({"ps1_first": "string"}), "ps1_first"),
        (lambda f: f.astype({"cycle": "float64"}), "cycle"),
        (lambda f: f.assign(se_first=np.nan), "se_first"),
        (lambda f: f.assign(extra=1.0), "extra"),
    ],
    ids=["missing", "another-type", "int-became-float", "a-missing-value", "one-more"],
)
def test_a_changed_frame_fails_its_type_check_naming_the_column(change, named):
    result = dg.check_dagster_type(HourlyReadingsFrame, change(_hourly()))
    assert not result.success
    assert named in result.description
