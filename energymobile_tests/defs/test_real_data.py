"""The real 1 Hz data through the whole chain, at full size (2205 cycles).

`first` must reproduce the scientists' template value for value; `mean` must equal an
independent computation (pandas' C parser and numpy's mean) on the same files.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from energymobile.channels import CHANNELS
from energymobile.sample.generate import generate_cohort
from energymobile.sample.real import TEMPLATE_COLUMNS, template
from energymobile.storage.exports import cohort_csv_key, read_csv_export
from energymobile.storage.object_store import open_object_store
from energymobile_tests.support.short_cohorts import short_cohort_settings

pytestmark = pytest.mark.integration

KEY = "2008-03-26"  # a 92-day window: 2208 hours, 2205 cycles, like the real dataset


@pytest.fixture(scope="module")
def real_landing(tmp_path_factory) -> Path:
    landing = tmp_path_factory.mktemp("real") / "landing"
    generate_cohort(landing, KEY)
    return landing


def _export(tmp_path, real_landing, materialize, statistic):
    settings = short_cohort_settings(
        tmp_path / statistic, landing=str(real_landing), max_shortfall_hours=24
    )
    outcome = materialize(KEY, statistic=statistic, on=settings)[0]
    assert outcome.success, outcome.failure
    store = open_object_store(settings.object_store)
    return read_csv_export(store.get_bytes(cohort_csv_key(KEY)))


def test_first_sample_reproduces_the_template(tmp_path, real_landing, materialize):
    rows = _export(tmp_path, real_landing, materialize, "first")
    expected = template()
    assert len(rows) == len(expected) == 2205
    assert rows["cumulative_minutes"].tolist() == expected["Time"].tolist()
    for header, code in TEMPLATE_COLUMNS.items():
        assert rows[code.lower()].tolist() == expected[header].tolist(), code


def test_mean_matches_an_independent_computation(tmp_path, real_landing, materialize):
    rows = _export(tmp_path, real_landing, materialize, "mean")
    for channel in CHANNELS:
        raw = pd.read_csv(
            real_landing / "logs" / KEY / channel.file_name,
            sep="\t",
            header=None,
            dtype=np.float64,
            engine="c",
        )
        assert raw.shape == (2205, channel.samples)
        np.testing.assert_allclose(
            rows[channel.column].to_numpy(),
            raw.to_numpy().mean(axis=1),
            rtol=1e-12,
            err_msg=channel.code,
        )
    assert rows["date_time"].iloc[-1] == pd.Timestamp("2008-06-25 20:00")
