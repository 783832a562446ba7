"""The real 1 Hz data through the whole chain, at full size (2205 cycles).

The combined CSV starts with the scientists' template (HourlyData.csv): its header line byte for
byte and, cell for cell as text, its values; the mean columns beside them equal an independent
computation (pandas' C parser and numpy's mean) on the same files.
"""

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from energymobile.backfill import materialize_combined
from energymobile.channels import CHANNELS
from energymobile.dictionary import TEMPLATE_COLUMN_COUNT
from energymobile.sample.generate import generate_cohort
from energymobile.sample.real import real_bytes
from energymobile.storage.exports import (
    COMBINED_KEY,
    cohort_csv_key,
    cohort_parquet_key,
    read_csv_export,
)
from energymobile.storage.object_store import ObjectStore, open_object_store
from energymobile_tests.support.short_cohorts import short_cohort_settings

pytestmark = pytest.mark.integration

KEY = "2008-03-26"  # a 92-day window: 2208 hours, 2205 cycles, like the real dataset
TEMPLATE_START = pd.Timestamp("2018-04-26")
"""The template's first Date: its own origin (no cohort starts on a 26th of April)."""


@pytest.fixture(scope="module")
def real_landing(tmp_path_factory) -> Path:
    landing = tmp_path_factory.mktemp("real") / "landing"
    generate_cohort(landing, KEY)
    return landing


@pytest.fixture
def exported(tmp_path, real_landing, materialize, instance) -> ObjectStore:
    """The real cohort loaded and exported, and the combined file rebuilt."""
    settings = short_cohort_settings(tmp_path, landing=str(real_landing), max_shortfall_hours=24)
    outcome = materialize(KEY, on=settings)[0]
    assert outcome.success, outcome.failure
    combined = materialize_combined(settings=settings, instance=instance)
    assert combined.success, combined.failure
    return open_object_store(settings.object_store)


def _cells(data: bytes) -> pd.DataFrame:
    """A CSV as the text of its cells."""
    return pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False, header=None)


def test_the_combined_csv_reproduces_the_template_and_holds_the_means(exported, real_landing):
    template = real_bytes("HourlyData.csv")
    combined = exported.get_bytes(COMBINED_KEY)
    template_header = template.split(b"\n", 1)[0]
    assert combined.split(b"\n", 1)[0].startswith(template_header + b",")
    assert exported.get_bytes(cohort_csv_key(KEY)).split(b"\n", 1)[0] == combined.split(b"\n")[0]

    ours, theirs = _cells(combined), _cells(template)
    assert len(ours) == len(theirs) == 2205 + 1  # + the header line
    date = TEMPLATE_COLUMN_COUNT - 1  # the template's last column
    for column in range(date):  # the unnamed column, Time, the 17 sensors: the very text
        assert ours[column].tolist() == theirs[column].tolist(), theirs[column][0]
    # Date: the same format and hours; it counts from the cohort's start, the template's from
    # its own arbitrary origin.
    assert ours[date][0] == theirs[date][0] == "Date"
    ours_hours = pd.to_datetime(ours[date][1:], format="%Y-%m-%d %H:%M:%S") - pd.Timestamp(KEY)
    theirs_hours = pd.to_datetime(theirs[date][1:], format="%Y-%m-%d %H:%M:%S") - TEMPLATE_START
    assert ours_hours.tolist() == theirs_hours.tolist()
    assert ours[date][1] == f"{KEY} 00:00:00" and ours[date][2205] == "2008-06-25 20:00:00"

    rows = read_csv_export(combined)
    parquet = pd.read_parquet(io.BytesIO(exported.get_bytes(cohort_parquet_key(KEY))))
    for channel in CHANNELS:
        raw = pd.read_csv(
            real_landing / "logs" / KEY / channel.file_name,
            sep="\t",
            header=None,
            dtype=np.float64,
            engine="c",
        ).to_numpy()
        assert raw.shape == (2205, channel.samples)
        np.testing.assert_allclose(
            rows[channel.mean_column].to_numpy(), raw.mean(axis=1), rtol=1e-12, err_msg=channel.code
        )
        assert rows[channel.first_column].tolist() == raw[:, 0].tolist(), channel.code
        assert parquet[channel.mean_column].tolist() == rows[channel.mean_column].tolist()
        assert parquet[channel.first_column].tolist() == rows[channel.first_column].tolist()
