"""The data dictionary covers every column of every export, in file order, and the docs are
generated from it: the CSV layout starts with the template's header byte for byte."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from energymobile.channels import CHANNELS, CONDITIONS
from energymobile.dictionary import (
    CSV_COLUMNS,
    CSV_FILES,
    CSV_HEADER,
    DICTIONARY_FIELDS,
    EXPORT_KEYS,
    NETCDF_FILES,
    PARQUET_FILES,
    PARTITION_COLUMNS,
    TEMPLATE_COLUMN_COUNT,
    dictionary_csv,
    dictionary_markdown,
)
from energymobile.ingest import arrays
from energymobile.sample.real import real_bytes
from energymobile.storage.exports import csv_bytes, parquet_bytes
from energymobile.storage.warehouse import FLAT_COLUMNS
from energymobile_tests.support.synthetic import synthetic_cohort_frame

pytestmark = pytest.mark.unit

REPO_ROOT = Path(__file__).resolve().parents[1]
KEY = "2008-03-26"


def _dictionary() -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(dictionary_csv()), dtype=str, keep_default_na=False, na_values=[])


def _columns_of(file: str) -> list[str]:
    rows = _dictionary()
    return rows.loc[rows["file"] == file, "column"].tolist()


def test_the_csv_header_starts_with_the_templates_header_line_byte_for_byte():
    template_header = real_bytes("HourlyData.csv").split(b"\n", 1)[0]
    assert template_header.startswith(b",Time,Cooling efficiency,")
    assert b",Temperature  2," in template_header and b", Vibration mm/s,Date" in template_header
    assert CSV_HEADER.startswith(template_header + b",")
    assert CSV_HEADER.split(b",")[:TEMPLATE_COLUMN_COUNT] == template_header.split(b",")
    after = CSV_HEADER.decode().rstrip("\n").split(",")[TEMPLATE_COLUMN_COUNT:]
    conditions = [c.column for c in CONDITIONS] + [c.description_column for c in CONDITIONS]
    assert after[: len(EXPORT_KEYS) + 10] == [*EXPORT_KEYS, *conditions]
    assert sorted(after[len(EXPORT_KEYS) + 10 :]) == sorted(c.mean_column for c in CHANNELS)


def test_the_dictionary_names_every_column_of_every_file_in_file_order():
    frame = synthetic_cohort_frame(KEY, 4)
    written_csv = csv_bytes(frame).split(b"\n", 1)[0].decode().split(",")
    assert _columns_of(CSV_FILES) == written_csv
    schema = pq.read_schema(io.BytesIO(parquet_bytes(frame)))
    assert _columns_of(PARQUET_FILES) == [*PARTITION_COLUMNS, *schema.names]
    assert set(_columns_of(PARQUET_FILES)) == set(FLAT_COLUMNS)  # the view's, nothing else

    rng = np.random.default_rng(0)
    tables = [(c, rng.normal(size=(3, c.samples))) for c in CHANNELS]
    profile = np.array([[100, 100, 0, 130, 0]] * 3)
    dataset = arrays.cohort_dataset(KEY, tables, profile, [])
    on_cycle = [
        name
        for name in [*dataset.coords, *dataset.data_vars]
        if dataset[name].dims and dataset[name].dims[0] == arrays.CYCLE_DIM
    ]
    assert sorted(_columns_of(NETCDF_FILES)) == sorted(on_cycle)


def test_every_row_says_what_the_column_is_and_sensors_say_unit_rate_and_statistic():
    rows = _dictionary()
    assert list(rows.columns) == list(DICTIONARY_FIELDS)
    assert (rows["description"].str.len() > 20).all()
    sensors = rows[rows["sampling_rate_hz"] != ""]
    assert len(sensors) == 17 * 2 + 17 * 2 + 17  # CSV first + mean, Parquet both, netCDF
    assert (sensors["unit"] != "").all() and (sensors["statistic"] != "").all()
    pressure = rows[(rows["file"] == CSV_FILES) & (rows["column"] == "Pressure bar 1")]
    assert pressure[["unit", "sampling_rate_hz", "statistic"]].values.tolist() == [
        ["bar", "100", "first sample of the cycle"]
    ]
    assert rows.loc[rows["column"] == "ps1_mean", "statistic"].unique().tolist() == [
        "mean of the cycle's samples"
    ]
    assert all(c.description for c in CSV_COLUMNS)


def test_docs_data_dictionary_is_generated_from_the_code():
    """docs/data-dictionary.md is `make docs`'s output of energymobile/dictionary.py."""
    checked_in = (REPO_ROOT / "docs" / "data-dictionary.md").read_text("utf-8")
    assert checked_in == dictionary_markdown(), "run `make docs`"
    assert "| 19 | ` Vibration mm/s` |" in checked_in
