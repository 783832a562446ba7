"""The warehouse on a real MariaDB: schema from sql/, atomic cohort replacement, foreign keys,
concurrency, credentials and a server killed mid-load.

Every test gets its own empty database on the session's server (`mysql_url`), as the
application user with only the privileges docs/mysql.md lists.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
import traceback
from collections.abc import Iterator
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError, OperationalError

from energymobile.channels import CONDITIONS
from energymobile.storage.dialects import EXECUTEMANY, LOAD_DATA, BulkLoadError
from energymobile.storage.schema import SQL_DIR, apply_migrations, migrations
from energymobile.storage.warehouse import (
    FACT_COLUMNS,
    FACT_TABLE,
    PROFILES_TABLE,
    CohortLoad,
    Warehouse,
    WarehouseError,
    typed_flat_frame,
)
from energymobile_tests.support.mariadb import MariaDBServer, start_mariadb
from energymobile_tests.support.synthetic import synthetic_load

pytestmark = pytest.mark.integration

KEY = "2008-03-26"
OTHER_KEY = "2008-06-26"
ROWS = 48
TABLES = (
    "sensors",
    "cooler_condition",
    "valve_condition",
    "internal_pump_leakage",
    "hydraulic_accumulator_bar",
    "stable_flag",
    "condition_profiles",
    "cohorts",
    "cohort_files",
    "sensor_hourly",
)


def cohort_load(key: str, rows: int = ROWS, seed: int = 0) -> CohortLoad:
    """The benchmark's synthetic cohort, at the tests' size."""
    return synthetic_load(key, rows, seed)


def expected_rows(load: CohortLoad) -> pd.DataFrame:
    return typed_flat_frame(load.frame.copy())


def scalar(url: str, sql: str, **params: object) -> object:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql), params).scalar()
    finally:
        engine.dispose()


def rows_of(url: str, sql: str, **params: object) -> list[tuple]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql), params)]
    finally:
        engine.dispose()


@pytest.fixture
def warehouse(mysql_url: str) -> Iterator[Warehouse]:
    wh = Warehouse(mysql_url)
    yield wh
    wh.dispose()


# -- schema ------------------------------------------------------------------------------------


def test_schema_is_created_from_sql_with_its_types_keys_and_indexes(mysql_url, warehouse):
    assert warehouse.ensure_schema() == [m.name for m in migrations()]
    database = urlsplit(mysql_url).path.lstrip("/")

    tables = dict(
        rows_of(
            mysql_url,
            "SELECT table_name, CONCAT(engine, ' ', table_collation) FROM information_schema.tables"
            " WHERE table_schema = :db AND table_type = 'BASE TABLE'",
            db=database,
        )
    )
    assert set(TABLES) | {"schema_migrations"} == set(tables)
    assert set(tables.values()) == {"InnoDB utf8mb4_unicode_ci"}

    columns = dict(
        rows_of(
            mysql_url,
            "SELECT column_name, column_type FROM information_schema.columns"
            " WHERE table_schema = :db AND table_name = 'sensor_hourly'",
            db=database,
        )
    )
    assert set(columns) == set(FACT_COLUMNS)
    assert columns["cohort"] == "varchar(10)"
    assert columns["date_time"] == "datetime"
    assert columns["ps1"] == columns["se"] == "double"
    assert columns["profile_id"].startswith("bigint")

    indexes = {
        name
        for (name,) in rows_of(
            mysql_url,
            "SELECT DISTINCT index_name FROM information_schema.statistics"
            " WHERE table_schema = :db AND table_name = 'sensor_hourly'",
            db=database,
        )
    }
    # Three indexes per row: the fact's five condition keys are one condition_profiles key.
    assert indexes == {"PRIMARY", "ix_sensor_hourly_date_time", "ix_sensor_hourly_profile"}
    foreign_keys = dict(
        rows_of(
            mysql_url,
            "SELECT constraint_name, referenced_table_name"
            " FROM information_schema.referential_constraints"
            " WHERE constraint_schema = :db AND table_name = :table",
            db=database,
            table=FACT_TABLE,
        )
    )
    assert foreign_keys == {
        "fk_sensor_hourly_cohort": "cohorts",
        "fk_sensor_hourly_profile": PROFILES_TABLE,
    }
    profile_keys = rows_of(
        mysql_url,
        "SELECT referenced_table_name FROM information_schema.referential_constraints"
        " WHERE constraint_schema = :db AND table_name = :table",
        db=database,
        table=PROFILES_TABLE,
    )
    assert sorted(t for (t,) in profile_keys) == sorted(c.column for c in CONDITIONS)

    assert scalar(mysql_url, "SELECT COUNT(*) FROM sensors") == 17
    assert scalar(mysql_url, f"SELECT COUNT(*) FROM {PROFILES_TABLE}") == 3 * 4 * 3 * 4 * 2
    assert rows_of(mysql_url, "SELECT version, name FROM schema_migrations ORDER BY version") == [
        (m.version, m.name) for m in migrations()
    ]


def test_applying_the_schema_again_changes_nothing(mysql_url, warehouse):
    warehouse.ensure_schema()
    warehouse.replace_cohort(cohort_load(KEY))
    again = Warehouse(mysql_url)
    try:
        assert again.ensure_schema() == []
    finally:
        again.dispose()
    assert scalar(mysql_url, "SELECT COUNT(*) FROM valve_condition") == 4
    assert scalar(mysql_url, "SELECT COUNT(*) FROM sensor_hourly") == ROWS


def test_a_schema_applied_by_hand_with_the_mysql_client_is_recognised(mariadb, mysql_url):
    """The old way (`mysql energymobile < sql/…`) still works, and energymobile then records
    those files instead of failing on tables that already exist."""
    client = shutil.which("mariadb") or shutil.which("mysql")
    assert client, "the MariaDB client is part of the test setup (scripts/bootstrap.sh test)"
    database = urlsplit(mysql_url).path.lstrip("/")
    command = [client, "--protocol=TCP", "-h", mariadb.host, "-P", str(mariadb.port)]
    for migration in migrations():
        subprocess.run(
            [*command, "-u", mariadb.user, database],
            input=(SQL_DIR / migration.name).read_bytes(),
            env={**os.environ, "MYSQL_PWD": mariadb.password},  # not on the command line
            check=True,
            capture_output=True,
        )
    assert scalar(mysql_url, "SELECT COUNT(*) FROM sensors") == 17

    warehouse = Warehouse(mysql_url)
    try:
        assert warehouse.ensure_schema() == [m.name for m in migrations()]  # recorded now
        warehouse.replace_cohort(cohort_load(KEY))
        assert len(warehouse.read_cohorts([KEY])) == ROWS
    finally:
        warehouse.dispose()
    assert scalar(mysql_url, "SELECT COUNT(*) FROM sensors") == 17


def test_warehouses_starting_at_once_apply_each_migration_once(mysql_url):
    """Separate connections (as separate processes would have) race to prepare a new
    database; the named lock lets exactly one apply the files."""
    starters = 4
    barrier = threading.Barrier(starters)
    applied: list[list[str]] = []
    errors: list[BaseException] = []

    def start() -> None:
        warehouse = Warehouse(mysql_url)
        try:
            barrier.wait()
            applied.append(warehouse.ensure_schema())
        except BaseException as exc:
            errors.append(exc)
        finally:
            warehouse.dispose()

    threads = [threading.Thread(target=start) for _ in range(starters)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(applied, key=len) == [[]] * (starters - 1) + [[m.name for m in migrations()]]
    assert scalar(mysql_url, "SELECT COUNT(*) FROM schema_migrations") == len(migrations())
    assert scalar(mysql_url, "SELECT COUNT(*) FROM cooler_condition") == 3


def test_a_later_migration_moves_a_loaded_database_forward_without_losing_rows(
    mysql_url, warehouse, tmp_path
):
    load = cohort_load(KEY)
    warehouse.replace_cohort(load)
    sql_dir = tmp_path / "sql"
    shutil.copytree(SQL_DIR, sql_dir)
    (sql_dir / "099_cohort_note.sql").write_text(
        "-- A later change: a note per cohort.\n"
        "ALTER TABLE cohorts ADD COLUMN note VARCHAR(64) NULL;\n"
    )
    assert apply_migrations(warehouse.engine, sql_dir) == ["099_cohort_note.sql"]
    assert apply_migrations(warehouse.engine, sql_dir) == []
    pd.testing.assert_frame_equal(warehouse.read_cohorts([KEY]), expected_rows(load))
    assert scalar(mysql_url, "SELECT COUNT(*) FROM cohorts WHERE note IS NULL") == 1
    assert scalar(mysql_url, "SELECT MAX(version) FROM schema_migrations") == 99


# -- loading -----------------------------------------------------------------------------------


@pytest.mark.parametrize("local_infile", [True, False], ids=["load-data", "executemany"])
def test_a_cohort_round_trips_with_exact_values_and_types(mysql_url, local_infile):
    """Both bulk paths: LOAD DATA LOCAL INFILE, and executemany for servers that refuse it."""
    warehouse = Warehouse(mysql_url if local_infile else f"{mysql_url}?local_infile=0")
    try:
        load = cohort_load(KEY, seed=3)
        report = warehouse.replace_cohort(load)
        assert report.method == (LOAD_DATA if local_infile else EXECUTEMANY)
        assert (report.table, report.rows_written, report.rows_replaced) == (FACT_TABLE, ROWS, 0)
        back = warehouse.read_cohorts([KEY])
    finally:
        warehouse.dispose()
    pd.testing.assert_frame_equal(back, expected_rows(load), check_exact=True)
    assert back["cycle"].dtype == np.int64
    assert back["cooler_condition"].dtype == np.int64
    assert back["ps1"].dtype == np.float64
    assert back["date_time"].dtype == "datetime64[ns]"  # naive: no timezone surprises
    assert back["date_time"].iloc[0] == pd.Timestamp("2008-03-26 00:00")
    assert back["cohort"].dtype == "string"
    stored = rows_of(mysql_url, "SELECT row_count, statistic FROM cohorts WHERE cohort = :k", k=KEY)
    assert stored == [(ROWS, "mean")]
    assert scalar(mysql_url, "SELECT COUNT(*) FROM cohort_files WHERE cohort = :k", k=KEY) == 17


def test_loading_the_same_cohort_twice_leaves_the_same_rows(mysql_url, warehouse):
    load = cohort_load(KEY)
    warehouse.replace_cohort(load)
    first = rows_of(mysql_url, "SELECT * FROM sensor_hourly ORDER BY cycle")
    report = warehouse.replace_cohort(load)
    assert (report.rows_written, report.rows_replaced) == (ROWS, ROWS)
    assert rows_of(mysql_url, "SELECT * FROM sensor_hourly ORDER BY cycle") == first
    assert scalar(mysql_url, "SELECT COUNT(*) FROM cohorts") == 1
    assert scalar(mysql_url, "SELECT COUNT(*) FROM cohort_files") == 17


def test_a_corrected_redelivery_replaces_the_cohort_and_leaves_the_other(mysql_url, warehouse):
    other = cohort_load(OTHER_KEY, seed=9)
    warehouse.replace_cohort(cohort_load(KEY, seed=1))
    warehouse.replace_cohort(other)
    corrected = cohort_load(KEY, rows=ROWS + 2, seed=2)
    report = warehouse.replace_cohort(corrected)
    assert (report.rows_written, report.rows_replaced) == (ROWS + 2, ROWS)
    pd.testing.assert_frame_equal(warehouse.read_cohorts([KEY]), expected_rows(corrected))
    pd.testing.assert_frame_equal(warehouse.read_cohorts([OTHER_KEY]), expected_rows(other))
    assert warehouse.loaded_cohorts() == {KEY: ROWS + 2, OTHER_KEY: ROWS}
    assert rows_of(
        mysql_url, "SELECT DISTINCT byte_count FROM cohort_files WHERE cohort = :k", k=KEY
    ) == [(1002,)]


def _load_at_once(url: str, loads: list[CohortLoad]) -> list[BaseException]:
    """Replace these cohorts from one thread (and connection) each, released together."""
    barrier = threading.Barrier(len(loads))
    errors: list[BaseException] = []

    def load_one(load: CohortLoad) -> None:
        warehouse = Warehouse(url)
        try:
            warehouse.ensure_schema()
            barrier.wait()
            warehouse.replace_cohort(load)
        except BaseException as exc:
            errors.append(exc)
        finally:
            warehouse.dispose()

    threads = [threading.Thread(target=load_one, args=(load,)) for load in loads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_cohorts_loaded_at_the_same_time_do_not_block_each_other(mysql_url, warehouse):
    """Parallel backfills: at REPEATABLE READ these deadlock on the deletes' gap locks."""
    warehouse.ensure_schema()
    loads = [cohort_load(key, seed=i) for i, key in enumerate([KEY, OTHER_KEY, "2008-09-26"])]
    for round_ in range(2):
        assert _load_at_once(mysql_url, loads) == [], f"round {round_}"
    both = warehouse.read_cohorts([load.key for load in loads])
    expected = pd.concat([expected_rows(load) for load in loads], ignore_index=True)
    pd.testing.assert_frame_equal(both, expected)


@pytest.mark.parametrize("local_infile", [True, False], ids=["load-data", "executemany"])
def test_foreign_keys_hold_and_a_refused_load_keeps_the_previous_rows(mysql_url, local_infile):
    """LOAD DATA LOCAL would silently skip a row with an undocumented code; we refuse the
    whole load instead, and the cohort keeps its previous rows. The code has no
    condition_profiles row, so the profile's foreign key is what fails."""
    warehouse = Warehouse(mysql_url if local_infile else f"{mysql_url}?local_infile=0")
    try:
        good = cohort_load(KEY)
        warehouse.replace_cohort(good)
        bad = cohort_load(KEY, seed=5)
        bad.frame.loc[7, "valve_condition"] = 95  # not in valve_condition
        expected_error = BulkLoadError if local_infile else IntegrityError
        with pytest.raises(expected_error, match=r"(?i)foreign key.*fk_sensor_hourly_profile"):
            warehouse.replace_cohort(bad)
        pd.testing.assert_frame_equal(warehouse.read_cohorts([KEY]), expected_rows(good))
        with warehouse.engine.connect() as conn:  # the pooled session checks keys again
            assert conn.execute(text("SELECT @@SESSION.foreign_key_checks")).scalar() == 1
    finally:
        warehouse.dispose()

    with pytest.raises(IntegrityError, match=r"(?i)foreign key"):
        scalar(mysql_url, "DELETE FROM cohorts WHERE cohort = :k", k=KEY)
    engine = create_engine(mysql_url)
    try:
        with pytest.raises(IntegrityError, match=r"(?i)foreign key"), engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO cohort_files (cohort, file_name, byte_count, row_count, sha256)"
                    " VALUES ('1999-03-26', 'PS1.txt', 1, 1, REPEAT('0', 64))"
                )
            )
    finally:
        engine.dispose()
    assert scalar(mysql_url, "SELECT COUNT(*) FROM sensor_hourly") == ROWS


def test_rows_of_another_cohort_or_missing_values_are_refused_before_the_database(warehouse):
    mixed = cohort_load(KEY)
    mixed.frame.loc[0, "cohort"] = OTHER_KEY
    with pytest.raises(ValueError, match="rows of other cohorts"):
        warehouse.replace_cohort(mixed)
    gaps = cohort_load(KEY)
    gaps.frame.loc[3, "valve_condition"] = pd.NA
    with pytest.raises(ValueError, match="missing values in \\['valve_condition'\\]"):
        warehouse.replace_cohort(gaps)
    carry = cohort_load(KEY)  # valve 80 with pump 100 would read as valve 90 with pump 0
    carry.frame.loc[5, ["valve_condition", "internal_pump_leakage"]] = [80, 100]
    with pytest.raises(ValueError, match="no condition profile can hold"):
        warehouse.replace_cohort(carry)
    assert warehouse.loaded_cohorts() == {}


# -- credentials -------------------------------------------------------------------------------


def test_a_wrong_password_fails_clearly_without_showing_the_password(mariadb, mysql_url):
    wrong = "Wr0ng-pa55word-that-must-not-leak"
    url = mariadb.url(urlsplit(mysql_url).path.lstrip("/"), password=wrong)
    warehouse = Warehouse(url)
    try:
        with pytest.raises(WarehouseError) as caught:
            warehouse.replace_cohort(cohort_load(KEY))
    finally:
        warehouse.dispose()
    message = str(caught.value)
    assert "Access denied for user 'energymobile'" in message
    assert f"{mariadb.user}:***@{mariadb.host}:{mariadb.port}" in message
    everything = "".join(traceback.format_exception(caught.value)) + repr(warehouse)
    assert wrong not in everything
    assert mariadb.password not in everything


# -- a server that dies mid-load ---------------------------------------------------------------


@pytest.fixture
def own_server() -> Iterator[MariaDBServer]:
    """A server of this test's own, since the test kills it."""
    server = start_mariadb()
    yield server
    server.stop()


def _wait_for_lock_wait(server: MariaDBServer, timeout_s: float = 30) -> tuple[str, int]:
    """The statement and modified rows of the transaction waiting on our lock."""
    admin = server.admin_connection()
    try:
        cursor = admin.cursor()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT trx_query, trx_rows_modified FROM information_schema.innodb_trx"
                " WHERE trx_state = 'LOCK WAIT'"
            )
            found = cursor.fetchall()
            if found:
                return str(found[0][0]), int(found[0][1])
            # MariaDB refreshes innodb_trx only after 0.1 s without readers: poll slower.
            time.sleep(0.25)
    finally:
        admin.close()
    raise AssertionError("the load never waited on the test's lock")


def test_a_server_killed_mid_load_leaves_the_previous_rows_of_the_cohort(own_server):
    """The reload is held inside its LOAD DATA statement, after deleting the old rows: a
    REPEATABLE READ reader holds the gap after the cohort's last cycle, where the new rows
    go. Then the server is killed with SIGKILL, and restarted."""
    url = own_server.url()
    previous = cohort_load(KEY, seed=1)
    warehouse = Warehouse(url)
    warehouse.replace_cohort(previous)
    files_before = rows_of(url, "SELECT * FROM cohort_files ORDER BY file_name")

    blocking_engine = create_engine(url, isolation_level="REPEATABLE READ")
    blocker = blocking_engine.connect()
    blocker.begin()
    blocker.execute(
        text(f"SELECT cycle FROM {FACT_TABLE} WHERE cohort = :k AND cycle >= :c FOR UPDATE"),
        {"k": KEY, "c": ROWS},
    ).fetchall()
    failures: list[BaseException] = []

    def reload() -> None:
        try:
            warehouse.replace_cohort(cohort_load(KEY, rows=ROWS + 5, seed=2))
        except BaseException as exc:
            failures.append(exc)

    loader = threading.Thread(target=reload)
    loader.start()
    statement, modified = _wait_for_lock_wait(own_server)
    assert statement.startswith("LOAD DATA LOCAL INFILE")
    assert modified >= 2 * ROWS  # the old rows deleted, as many new ones inserted
    own_server.kill()
    loader.join(timeout=30)
    assert not loader.is_alive()
    assert len(failures) == 1 and isinstance(failures[0], OperationalError), failures
    blocker.invalidate()
    blocking_engine.dispose()

    own_server.start()
    restarted = Warehouse(own_server.url())
    try:
        pd.testing.assert_frame_equal(restarted.read_cohorts([KEY]), expected_rows(previous))
        assert restarted.loaded_cohorts() == {KEY: ROWS}
    finally:
        restarted.dispose()
        warehouse.dispose()
    after = rows_of(own_server.url(), "SELECT * FROM cohort_files ORDER BY file_name")
    assert after == files_before
