"""The warehouse on SQLite, MariaDB and PostgreSQL alike: exact round trips through the view and
the CSV export on every bulk path, atomic replacement of a cohort, cohorts side by side and at
the same time, foreign keys, loads refused before the database, and a wrong password.

Each test runs once per dialect (the `url` fixture of this folder's conftest.py). What both
servers do is in test_warehouse_servers.py (the DBA's sql/ files through the server's client,
a server killed mid-load); what only one server does is in test_warehouse_mysql.py (LOAD
DATA's detection and warnings, the InnoDB layout, the files before Alembic) and
test_warehouse_postgres.py (COPY, the advisory lock, grants, a backend terminated mid-COPY).
"""

from __future__ import annotations

import traceback
from collections.abc import Iterator
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from energymobile.ingest.hourly import KEY_COLUMNS
from energymobile.rigs import DEFAULT_RIG, Rig
from energymobile.storage.archive import delivery_id
from energymobile.storage.dialects import COPY, EXECUTEMANY, LOAD_DATA, BulkLoadError
from energymobile.storage.exports import csv_bytes, read_csv_export
from energymobile.storage.schema import sensor_hourly
from energymobile.storage.warehouse import (
    FACT_COLUMNS,
    FACT_TABLE,
    PROFILE_ID,
    Warehouse,
    WarehouseError,
    fact_table,
)
from energymobile_tests.storage.support import (
    KEY,
    OTHER_KEY,
    ROWS,
    THIRD_KEY,
    at_once,
    cohort_load,
    database_url,
    expected_rows,
    rows_of,
    scalar,
)

pytestmark = pytest.mark.integration

LOADERS = [
    ("sqlite", EXECUTEMANY),
    ("mariadb", LOAD_DATA),
    ("mariadb", EXECUTEMANY),
    ("postgres", COPY),
    ("postgres", EXECUTEMANY),
]
"""Each dialect's bulk paths: its fastest, and the portable executemany (SQLite's only one)."""


@pytest.fixture(params=LOADERS, ids=[f"{dialect}-{path}" for dialect, path in LOADERS])
def loader(request: pytest.FixtureRequest, tmp_path) -> Iterator[Warehouse]:
    """A warehouse on an empty database, held to one bulk path."""
    dialect, path = request.param
    wh = Warehouse(database_url(request, dialect, tmp_path), bulk=path)
    yield wh
    wh.dispose()


def test_the_loader_builds_exactly_the_columns_of_the_fact_table_in_schema_py():
    facts = fact_table(cohort_load(KEY).frame, KEY)
    assert tuple(facts.columns) == FACT_COLUMNS == tuple(sensor_hourly.c.keys())
    assert FACT_COLUMNS[: len(KEY_COLUMNS)] == KEY_COLUMNS
    assert FACT_COLUMNS[len(KEY_COLUMNS)] == PROFILE_ID


def test_a_cohort_round_trips_exactly_through_the_view_and_the_csv_export(loader):
    """Full-precision doubles survive the warehouse and the CSV, bit for bit (pandas' default
    CSV float parser is off by an ulp for about one value in six of these), with the same
    explicit dtypes on every dialect and bulk path."""
    load = cohort_load(KEY, seed=3)
    report = loader.replace_cohort(load)
    assert report.method == loader._bulk_method
    assert (report.table, report.rows_written, report.rows_replaced) == (FACT_TABLE, ROWS, 0)
    back = loader.read_cohorts([KEY])
    pd.testing.assert_frame_equal(back, expected_rows(load), check_exact=True)
    assert back["cycle"].dtype == np.int64
    assert back["cooler_condition"].dtype == np.int64
    assert back["ps1_first"].dtype == back["ps1_mean"].dtype == np.float64
    assert back["date_time"].dtype == "datetime64[ns]"  # naive: no timezone surprises
    assert back["date_time"].iloc[0] == pd.Timestamp("2008-03-26 00:00")
    assert back["cohort"].dtype == "string"

    exported = read_csv_export(csv_bytes(back))
    pd.testing.assert_frame_equal(exported, back, check_exact=True)

    url = loader.url
    assert rows_of(url, "SELECT row_count, statistic FROM cohorts WHERE cohort = :k", k=KEY) == [
        (ROWS, "both")
    ]
    assert scalar(url, "SELECT COUNT(*) FROM cohort_files WHERE cohort = :k", k=KEY) == 17


def test_loading_the_same_cohort_twice_leaves_the_same_rows(url, warehouse):
    load = cohort_load(KEY)
    warehouse.replace_cohort(load)
    query = "SELECT * FROM sensor_hourly ORDER BY cycle"
    first = rows_of(url, query)
    report = warehouse.replace_cohort(load)
    assert (report.rows_written, report.rows_replaced) == (ROWS, ROWS)
    assert rows_of(url, query) == first
    assert scalar(url, "SELECT COUNT(*) FROM cohorts") == 1
    assert scalar(url, "SELECT COUNT(*) FROM cohort_files") == 17


def test_a_corrected_redelivery_replaces_the_cohort_and_leaves_the_other(url, warehouse):
    other = cohort_load(OTHER_KEY, seed=9)
    warehouse.replace_cohort(cohort_load(KEY, seed=1))
    warehouse.replace_cohort(other)
    other_rows = rows_of(url, "SELECT * FROM sensor_hourly WHERE cohort = :k", k=OTHER_KEY)
    corrected = cohort_load(KEY, rows=ROWS + 2, seed=2)
    report = warehouse.replace_cohort(corrected)
    assert (report.rows_written, report.rows_replaced) == (ROWS + 2, ROWS)
    pd.testing.assert_frame_equal(warehouse.read_cohorts([KEY]), expected_rows(corrected))
    pd.testing.assert_frame_equal(warehouse.read_cohorts([OTHER_KEY]), expected_rows(other))
    assert warehouse.loaded_cohorts() == {KEY: ROWS + 2, OTHER_KEY: ROWS}
    assert rows_of(url, "SELECT * FROM sensor_hourly WHERE cohort = :k", k=OTHER_KEY) == other_rows
    assert rows_of(
        url, "SELECT DISTINCT byte_count FROM cohort_files WHERE cohort = :k", k=KEY
    ) == [(1002,)]
    # Each cohort records the delivery its rows come from, as the archive names it.
    assert warehouse.cohort_deliveries() == {KEY: corrected.delivery, OTHER_KEY: other.delivery}
    assert corrected.delivery == delivery_id(corrected.receipts) != other.delivery
    assert rows_of(url, "SELECT delivery FROM cohorts WHERE cohort = :k", k=KEY) == [
        (corrected.delivery,)
    ]


def test_cohorts_loaded_at_the_same_time_do_not_block_each_other(url, warehouse):
    """Parallel backfills, twice (the second round replaces while the others replace too). On
    MySQL at REPEATABLE READ these would deadlock on the deletes' gap locks."""
    warehouse.ensure_schema()
    loads = [cohort_load(key, seed=i) for i, key in enumerate([KEY, OTHER_KEY, THIRD_KEY])]
    calls = [lambda wh, load=load: wh.replace_cohort(load) for load in loads]
    for round_ in range(2):
        _, errors = at_once(url, calls)
        assert errors == [], f"round {round_}"
    every = warehouse.read_cohorts([load.key for load in loads])
    expected = pd.concat([expected_rows(load) for load in loads], ignore_index=True)
    pd.testing.assert_frame_equal(every, expected)
    assert scalar(url, "SELECT COUNT(*) FROM sensor_hourly") == 3 * ROWS


def test_rigs_of_one_cohort_load_at_the_same_time_and_replace_only_their_own_rows(url, warehouse):
    """Three rigs (two sites, one the default rig) deliver the same cohort; they load at once
    (registering the two new rigs at once too), twice: no error, every rig's rows exactly once.
    Replacing one rig's cohort leaves the others' rows as they were."""
    rigs = [DEFAULT_RIG, Rig("north", "rig-1"), Rig("south", "rig-1")]
    loads = [cohort_load(KEY, seed=30 + i, rig=rig) for i, rig in enumerate(rigs)]
    calls = [lambda wh, load=load: wh.replace_cohort(load) for load in loads]
    for round_ in range(2):
        _, errors = at_once(url, calls)
        assert errors == [], f"round {round_}"
    assert warehouse.rigs() == sorted(rigs)
    by_rig = pd.concat([expected_rows(load) for load in sorted(loads, key=lambda x: x.rig)])
    pd.testing.assert_frame_equal(warehouse.read_cohorts([KEY]), by_rig.reset_index(drop=True))
    assert warehouse.loaded_cohorts() == {KEY: 3 * ROWS}
    assert warehouse.loaded_cohorts(site="north") == {KEY: ROWS}

    again = cohort_load(KEY, seed=40, rig=rigs[1])
    assert warehouse.replace_cohort(again).rows_replaced == ROWS
    pd.testing.assert_frame_equal(warehouse.read_cohorts([KEY], rig=rigs[1]), expected_rows(again))
    for load in (loads[0], loads[2]):
        pd.testing.assert_frame_equal(
            warehouse.read_cohorts([KEY], rig=load.rig), expected_rows(load), check_exact=True
        )
    pd.testing.assert_frame_equal(
        warehouse.read_cohorts([KEY], site="default"), expected_rows(loads[0])
    )
    assert warehouse.cohort_deliveries(rigs[2]) == {KEY: loads[2].delivery}
    assert warehouse.stored_hours(KEY, rigs[1]).loaded_rows == ROWS
    assert warehouse.stored_hours(OTHER_KEY, rigs[1]).loaded_rows is None


def test_foreign_keys_hold_and_a_refused_load_keeps_the_previous_rows(loader):
    """An undocumented code has no condition_profiles row: the profile's foreign key refuses
    the load on every path (LOAD DATA would silently skip the row: we refuse the whole load),
    and the cohort keeps its previous rows."""
    warehouse = loader
    good = cohort_load(KEY)
    path = warehouse.replace_cohort(good).method
    warehouse.replace_cohort(cohort_load(OTHER_KEY))
    bad = cohort_load(KEY, seed=5)
    bad.frame.loc[7, "valve_condition"] = 95  # in range for the key, but no profile has it
    expected_error = BulkLoadError if path == LOAD_DATA else IntegrityError
    named = "" if warehouse.engine.dialect.name == "sqlite" else ".*fk_sensor_hourly_profile"
    with pytest.raises(expected_error, match=rf"(?i)foreign key{named}"):  # SQLite names none
        warehouse.replace_cohort(bad)
    pd.testing.assert_frame_equal(warehouse.read_cohorts([KEY]), expected_rows(good))
    with warehouse.engine.connect() as conn:  # the pooled session checks keys as before
        assert conn.execute(text("SELECT COUNT(*) FROM sensor_hourly")).scalar() == 2 * ROWS

    engine = warehouse.engine  # the warehouse's own sessions (SQLite: foreign keys on)
    with pytest.raises(IntegrityError, match=r"(?i)foreign key"), engine.begin() as conn:
        conn.execute(text("DELETE FROM cohorts WHERE cohort = :k"), {"k": KEY})
    with pytest.raises(IntegrityError, match=r"(?i)foreign key"), engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO cohort_files"
                " (rig_id, cohort, file_name, byte_count, row_count, sha256)"
                " VALUES (1, '1999-03-26', 'PS1.txt', 1, 1, :sha)"
            ),
            {"sha": "0" * 64},
        )
    assert warehouse.loaded_cohorts() == {KEY: ROWS, OTHER_KEY: ROWS}


def test_values_the_table_cannot_hold_are_refused_before_the_database(warehouse):
    mixed = cohort_load(KEY)
    mixed.frame.loc[0, "cohort"] = OTHER_KEY
    with pytest.raises(ValueError, match="rows of other cohorts"):
        warehouse.replace_cohort(mixed)
    gaps = cohort_load(KEY)
    gaps.frame.loc[3, "valve_condition"] = pd.NA
    with pytest.raises(ValueError, match=r"missing values in \['valve_condition'\]"):
        warehouse.replace_cohort(gaps)
    for statistic in ("ps3_first", "ps3_mean"):  # every load holds both, whole
        not_a_number = cohort_load(KEY)
        not_a_number.frame.loc[4, statistic] = np.nan
        with pytest.raises(ValueError, match=rf"missing values in \['{statistic}'\]"):
            warehouse.replace_cohort(not_a_number)
    infinite = cohort_load(KEY)
    infinite.frame.loc[4, "ps3_first"] = np.inf
    with pytest.raises(ValueError, match="NaN or infinite"):
        warehouse.replace_cohort(infinite)
    negative = cohort_load(KEY)
    negative.frame.loc[2, "stable_flag"] = -1  # would borrow from the accumulator's digits
    with pytest.raises(ValueError, match=r"no condition profile can hold {'stable_flag': \[-1\]}"):
        warehouse.replace_cohort(negative)
    carry = cohort_load(KEY)  # valve 80 with pump 100 would read as valve 90 with pump 0
    carry.frame.loc[5, ["valve_condition", "internal_pump_leakage"]] = [80, 100]
    with pytest.raises(ValueError, match="no condition profile can hold"):
        warehouse.replace_cohort(carry)
    assert warehouse.loaded_cohorts() == {}
    with warehouse.engine.connect() as conn:
        assert conn.execute(text(f"SELECT COUNT(*) FROM {FACT_TABLE}")).scalar() == 0


@pytest.mark.parametrize(
    ("server", "refusal"),
    [
        ("mariadb", "Access denied for user 'energymobile'"),
        ("postgres", 'password authentication failed for user "energymobile"'),
    ],
)
def test_a_wrong_password_fails_clearly_without_showing_the_password(
    request: pytest.FixtureRequest, tmp_path, server: str, refusal: str
):
    running = request.getfixturevalue(server)
    database = urlsplit(database_url(request, server, tmp_path)).path.lstrip("/")
    wrong = "Wr0ng-pa55word-that-must-not-leak"
    warehouse = Warehouse(running.url(database, password=wrong))
    try:
        with pytest.raises(WarehouseError) as caught:
            warehouse.replace_cohort(cohort_load(KEY))
    finally:
        warehouse.dispose()
    message = str(caught.value)
    assert refusal in message
    assert f"{running.user}:***@{running.host}:{running.port}" in message
    everything = "".join(traceback.format_exception(caught.value)) + repr(warehouse)
    assert wrong not in everything
    assert running.password not in everything
