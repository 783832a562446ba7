"""The warehouse on the embedded default (SQLite): exact round trips through the view and the
CSV export, and loads refused before or by the database.

The same behaviours on MariaDB are in test_warehouse_mysql.py; the schema on both dialects is
in test_schema.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from energymobile.storage.dialects import EXECUTEMANY
from energymobile.storage.exports import csv_bytes, read_csv_export
from energymobile.storage.warehouse import FACT_TABLE, Warehouse
from energymobile_tests.storage.test_warehouse_mysql import cohort_load, expected_rows

pytestmark = pytest.mark.unit

KEY = "2008-03-26"


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[Warehouse]:
    wh = Warehouse(f"sqlite:///{tmp_path / 'warehouse.sqlite'}")
    yield wh
    wh.dispose()


def test_a_cohort_round_trips_exactly_through_the_view_and_the_csv_export(warehouse):
    """Full-precision doubles survive the warehouse and the CSV, bit for bit (pandas' default
    CSV float parser is off by an ulp for about one value in six of these)."""
    load = cohort_load(KEY, seed=11)
    report = warehouse.replace_cohort(load)
    assert (report.table, report.rows_written, report.method) == (FACT_TABLE, 48, EXECUTEMANY)
    view = warehouse.read_cohorts([KEY])
    pd.testing.assert_frame_equal(view, expected_rows(load), check_exact=True)

    back = read_csv_export(csv_bytes(view))
    pd.testing.assert_frame_equal(back, view, check_exact=True)
    assert back["ps1"].dtype == np.float64
    assert back["cooler_condition"].dtype == np.int64


def test_an_undocumented_code_is_refused_by_the_database_and_the_cohort_keeps_its_rows(
    warehouse,
):
    good = cohort_load(KEY)
    warehouse.replace_cohort(good)
    bad = cohort_load(KEY, seed=5)
    bad.frame.loc[7, "valve_condition"] = 95  # in range for the key, but no profile has it
    with pytest.raises(IntegrityError, match=r"(?i)foreign key"):
        warehouse.replace_cohort(bad)
    pd.testing.assert_frame_equal(warehouse.read_cohorts([KEY]), expected_rows(good))


def test_values_the_table_cannot_hold_are_refused_before_the_database(warehouse):
    not_a_number = cohort_load(KEY)
    not_a_number.frame.loc[4, "ps3"] = np.nan
    with pytest.raises(ValueError, match=r"missing values in \['ps3'\]"):
        warehouse.replace_cohort(not_a_number)
    infinite = cohort_load(KEY)
    infinite.frame.loc[4, "ps3"] = np.inf
    with pytest.raises(ValueError, match="NaN or infinite"):
        warehouse.replace_cohort(infinite)
    negative = cohort_load(KEY)
    negative.frame.loc[2, "stable_flag"] = -1  # would borrow from the accumulator's digits
    with pytest.raises(ValueError, match=r"no condition profile can hold {'stable_flag': \[-1\]}"):
        warehouse.replace_cohort(negative)
    assert warehouse.loaded_cohorts() == {}
    with warehouse.engine.connect() as conn:
        assert conn.execute(text(f"SELECT COUNT(*) FROM {FACT_TABLE}")).scalar() == 0
