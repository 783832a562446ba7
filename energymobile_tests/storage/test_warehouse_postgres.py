"""The warehouse on a real PostgreSQL: schema from sql/ (004 in PostgreSQL's own version),
atomic cohort replacement with COPY, the advisory schema lock, concurrency, credentials and a
load cut off mid-COPY.

Every test gets its own empty database on the session's server (`postgres_url`), as the
application role with only the grants docs/postgres.md lists.
"""

from __future__ import annotations

import itertools
import shutil
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
import psycopg
import pytest
from sqlalchemy import Connection, create_engine, inspect, text
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from energymobile.channels import CONDITION_COLUMNS, CONDITIONS
from energymobile.storage.dialects import (
    COPY,
    EXECUTEMANY,
    POSTGRES,
    SCHEMA_LOCK_KEY,
    ddl_statements,
    schema_lock,
)
from energymobile.storage.schema import SQL_DIR, apply_migrations, migrations
from energymobile.storage.warehouse import (
    FACT_COLUMNS,
    FACT_TABLE,
    LOAD_COLUMNS,
    PROFILE_ID,
    PROFILES_TABLE,
    CohortLoad,
    Warehouse,
    WarehouseError,
    profile_id,
)
from energymobile_tests.storage.test_schema import (
    PROFILES_MIGRATION,
    assert_profile_layout,
    load_before_profiles,
    sql_before_profiles,
    view_rows,
)
from energymobile_tests.storage.test_warehouse_mysql import (
    KEY,
    OTHER_KEY,
    ROWS,
    TABLES,
    _load_at_once,
    cohort_load,
    expected_rows,
    rows_of,
    scalar,
)
from energymobile_tests.support.postgres import PostgresServer, start_postgres

pytestmark = pytest.mark.integration


@pytest.fixture
def warehouse(postgres_url: str) -> Iterator[Warehouse]:
    wh = Warehouse(postgres_url)
    yield wh
    wh.dispose()


def database_of(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


# -- schema ------------------------------------------------------------------------------------


def test_the_mysql_ddl_is_adapted_statement_by_statement():
    statements = ddl_statements(
        "CREATE TABLE IF NOT EXISTS t (\n    at DATETIME NOT NULL,\n    x DOUBLE NOT NULL,\n"
        "    y DOUBLE PRECISION NULL,\n    INDEX ix_t_at (at)\n"
        ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;\n"
        "INSERT IGNORE INTO t (at, x) VALUES ('2008-03-26 00:00:00', 1);\n",
        POSTGRES,
    )
    assert statements == [
        "CREATE TABLE IF NOT EXISTS t (\n    at TIMESTAMP(0) NOT NULL,\n"
        "    x DOUBLE PRECISION NOT NULL,\n    y DOUBLE PRECISION NULL\n)",
        "CREATE INDEX IF NOT EXISTS ix_t_at ON t (at)",
        "INSERT INTO t (at, x) VALUES ('2008-03-26 00:00:00', 1)\nON CONFLICT DO NOTHING",
    ]
    variants = sorted(p.name for p in (SQL_DIR / "postgres").glob("*.sql"))
    assert variants == [PROFILES_MIGRATION]  # MySQL's PREPARE steps; everything else adapts
    for migration in migrations(dialect=POSTGRES):
        folder = SQL_DIR / "postgres" if migration.name in variants else SQL_DIR
        assert migration.sql == (folder / migration.name).read_text("utf-8")


def test_schema_is_created_from_sql_with_its_types_keys_and_indexes(postgres_url, warehouse):
    assert warehouse.ensure_schema() == [m.name for m in migrations()]
    tables = rows_of(
        postgres_url,
        "SELECT table_name, table_type FROM information_schema.tables"
        " WHERE table_schema = 'public' ORDER BY table_name",
    )
    assert dict(tables) == {
        **{t: "BASE TABLE" for t in (*TABLES, "schema_migrations")},
        "oil_well_hourly": "VIEW",
    }
    columns = dict(
        rows_of(
            postgres_url,
            "SELECT column_name, data_type || COALESCE('(' || character_maximum_length || ')', '')"
            " FROM information_schema.columns WHERE table_name = :t ORDER BY ordinal_position",
            t=FACT_TABLE,
        )
    )
    assert list(columns) == list(FACT_COLUMNS)
    assert columns["cohort"] == "character varying(10)"
    assert columns["date_time"] == "timestamp without time zone"
    assert columns["ps1"] == columns["se"] == "double precision"
    assert columns[PROFILE_ID] == "bigint"

    schema = inspect(warehouse.engine)
    assert_profile_layout(warehouse.engine)  # the profile key, two foreign keys, three indexes
    assert schema.get_pk_constraint(FACT_TABLE)["name"] == "sensor_hourly_pkey"
    assert scalar(postgres_url, "SELECT COUNT(*) FROM sensors") == 17
    assert rows_of(postgres_url, "SELECT code, unit FROM sensors WHERE code IN ('CE', 'TS1')") == [
        ("TS1", "°C"),
        ("CE", "%"),  # a literal % in the DDL survives the driver's %-parameters
    ]
    assert scalar(postgres_url, f"SELECT COUNT(*) FROM {PROFILES_TABLE}") == 3 * 4 * 3 * 4 * 2
    assert rows_of(
        postgres_url, "SELECT version, name FROM schema_migrations ORDER BY version"
    ) == [(m.version, m.name) for m in migrations()]
    with warehouse.engine.connect() as conn:
        assert conn.execute(text("SHOW transaction_isolation")).scalar() == "read committed"
        assert conn.execute(text("SHOW TimeZone")).scalar() == "UTC"


def test_applying_the_schema_again_changes_nothing(postgres_url, warehouse):
    warehouse.ensure_schema()
    warehouse.replace_cohort(cohort_load(KEY))
    again = Warehouse(postgres_url)
    try:
        assert again.ensure_schema() == []
        assert apply_migrations(again.engine) == []
    finally:
        again.dispose()
    assert scalar(postgres_url, "SELECT COUNT(*) FROM valve_condition") == 4
    assert scalar(postgres_url, "SELECT COUNT(*) FROM sensor_hourly") == ROWS
    assert scalar(postgres_url, "SELECT COUNT(*) FROM schema_migrations") == len(migrations())


def test_warehouses_starting_at_once_apply_each_migration_once(postgres_url):
    """Separate connections race to prepare a new database; the advisory lock lets exactly
    one apply the files."""
    starters = 4
    barrier = threading.Barrier(starters)
    applied: list[list[str]] = []
    errors: list[BaseException] = []

    def start() -> None:
        warehouse = Warehouse(postgres_url)
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
    assert scalar(postgres_url, "SELECT COUNT(*) FROM schema_migrations") == len(migrations())


def test_the_schema_lock_waits_for_its_holder_and_gives_up_after_its_timeout(postgres_url):
    holder = psycopg.connect(postgres_url.replace("postgresql+psycopg", "postgresql"))
    warehouse = Warehouse(postgres_url)
    try:
        holder.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK_KEY,))
        started = time.monotonic()
        with (
            warehouse.engine.connect() as conn,
            pytest.raises(TimeoutError, match="schema lock"),
            schema_lock(conn, timeout_s=1),
        ):
            pass
        assert 0.9 < time.monotonic() - started < 10
        holder.execute("SELECT pg_advisory_unlock(%s)", (SCHEMA_LOCK_KEY,))
        assert warehouse.ensure_schema() == [m.name for m in migrations()]
        with warehouse.engine.connect() as conn:  # the pooled session holds no lock after
            locks = "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory'"
            assert conn.execute(text(locks)).scalar() == 0
    finally:
        holder.close()
        warehouse.dispose()


def test_a_later_migration_moves_a_loaded_database_forward_without_losing_rows(
    postgres_url, warehouse, tmp_path
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
    assert scalar(postgres_url, "SELECT COUNT(*) FROM cohorts WHERE note IS NULL") == 1


def test_004_moves_a_loaded_database_forward_and_the_view_keeps_every_value(
    postgres_url, warehouse, tmp_path
):
    engine = warehouse.engine
    apply_migrations(engine, sql_before_profiles(tmp_path))
    load = cohort_load(KEY, seed=4)
    load_before_profiles(engine, load)
    before = view_rows(engine, KEY)
    pd.testing.assert_frame_equal(before, expected_rows(load), check_exact=True)

    assert apply_migrations(engine) == [PROFILES_MIGRATION]

    pd.testing.assert_frame_equal(view_rows(engine, KEY), before, check_exact=True)
    assert_profile_layout(engine)
    codes = load.frame[list(CONDITION_COLUMNS)].astype(int).to_dict("records")
    stored = rows_of(postgres_url, f"SELECT {PROFILE_ID} FROM {FACT_TABLE} ORDER BY cycle")
    assert [key for (key,) in stored] == [profile_id(row) for row in codes]
    again = cohort_load(KEY, seed=5)
    assert warehouse.replace_cohort(again).rows_replaced == ROWS
    pd.testing.assert_frame_equal(warehouse.read_cohorts([KEY]), expected_rows(again))


def test_004_is_applied_completely_or_not_at_all(postgres_url, warehouse, tmp_path):
    """PostgreSQL's DDL is transactional: a failure at the end of the file leaves the 003
    database exactly as it was, and the real file then applies."""
    engine = warehouse.engine
    old = sql_before_profiles(tmp_path)
    apply_migrations(engine, old)
    load = cohort_load(KEY, seed=8)
    load_before_profiles(engine, load)
    broken = tmp_path / "sql-broken"
    shutil.copytree(old, broken)
    (broken / "postgres").mkdir()
    failing = (SQL_DIR / "postgres" / PROFILES_MIGRATION).read_text()
    (broken / PROFILES_MIGRATION).write_text("-- replaced by the PostgreSQL version\n")
    (broken / "postgres" / PROFILES_MIGRATION).write_text(
        failing + "\nSELECT no_such_column FROM cohorts;\n"
    )

    with pytest.raises(DBAPIError, match="no_such_column"):
        apply_migrations(engine, broken)

    schema = inspect(engine)
    assert PROFILES_TABLE not in schema.get_table_names()
    assert [c["name"] for c in schema.get_columns(FACT_TABLE)] == list(LOAD_COLUMNS)
    assert scalar(postgres_url, "SELECT MAX(version) FROM schema_migrations") == 3
    pd.testing.assert_frame_equal(view_rows(engine, KEY), expected_rows(load), check_exact=True)

    assert apply_migrations(engine) == [PROFILES_MIGRATION]
    pd.testing.assert_frame_equal(view_rows(engine, KEY), expected_rows(load), check_exact=True)


def test_the_database_itself_refuses_codes_no_profile_describes(postgres_url, warehouse):
    """The profile key is computed in BIGINT: in INTEGER (PostgreSQL's type for SMALLINT
    arithmetic) the CHECK would overflow on every documented profile."""
    warehouse.replace_cohort(cohort_load(KEY, rows=2))
    documented = dict(zip(CONDITION_COLUMNS, (100, 100, 0, 130, 0), strict=True))
    rows = rows_of(
        postgres_url, f"SELECT {PROFILE_ID}, {', '.join(CONDITION_COLUMNS)} FROM {PROFILES_TABLE}"
    )
    assert {tuple(codes) for _, *codes in rows} == set(
        itertools.product(*(sorted(c.codes) for c in CONDITIONS))
    )
    assert all(key == profile_id(dict(zip(CONDITION_COLUMNS, c, strict=True))) for key, *c in rows)
    insert = (
        f"INSERT INTO {PROFILES_TABLE} ({PROFILE_ID}, {', '.join(CONDITION_COLUMNS)}) "
        f"VALUES (:{PROFILE_ID}, {', '.join(':' + c for c in CONDITION_COLUMNS)})"
    )
    engine = warehouse.engine
    with pytest.raises(IntegrityError, match="ck_condition_profiles_id"), engine.begin() as conn:
        conn.execute(text(insert), {PROFILE_ID: profile_id(documented) + 1, **documented})
    undocumented = {**documented, "valve_condition": 95}
    with pytest.raises(IntegrityError, match="fk_condition_profiles_valve"), engine.begin() as c:
        c.execute(text(insert), {PROFILE_ID: profile_id(undocumented), **undocumented})


# -- loading -----------------------------------------------------------------------------------


@pytest.mark.parametrize("bulk", [COPY, EXECUTEMANY])
def test_a_cohort_round_trips_with_the_same_values_and_types_as_on_sqlite(
    postgres_url, bulk, tmp_path
):
    """Both bulk paths; read back exactly as the same load reads back from SQLite."""
    load = cohort_load(KEY, seed=3)
    warehouse = Warehouse(postgres_url, bulk=None if bulk == COPY else bulk)
    embedded = Warehouse(f"sqlite:///{tmp_path / 'warehouse.sqlite'}")
    try:
        report = warehouse.replace_cohort(load)
        assert (report.table, report.rows_written, report.rows_replaced) == (FACT_TABLE, ROWS, 0)
        assert report.method == bulk
        back = warehouse.read_cohorts([KEY])
        embedded.replace_cohort(load)
        on_sqlite = embedded.read_cohorts([KEY])
    finally:
        warehouse.dispose()
        embedded.dispose()
    pd.testing.assert_frame_equal(back, on_sqlite, check_exact=True)
    pd.testing.assert_frame_equal(back, expected_rows(load), check_exact=True)
    assert back.dtypes.to_dict() == on_sqlite.dtypes.to_dict()
    assert back["cycle"].dtype == np.int64
    assert back["cooler_condition"].dtype == np.int64
    assert back["ps1"].dtype == np.float64
    assert back["date_time"].dtype == "datetime64[ns]"
    assert back["date_time"].iloc[0] == pd.Timestamp("2008-03-26 00:00")
    assert back["cohort"].dtype == "string"
    stored = rows_of(
        postgres_url, "SELECT row_count, statistic FROM cohorts WHERE cohort = :k", k=KEY
    )
    assert stored == [(ROWS, "mean")]
    assert scalar(postgres_url, "SELECT COUNT(*) FROM cohort_files WHERE cohort = :k", k=KEY) == 17


def test_loading_the_same_cohort_twice_leaves_the_same_rows(postgres_url, warehouse):
    load = cohort_load(KEY)
    warehouse.replace_cohort(load)
    query = "SELECT * FROM sensor_hourly ORDER BY cycle"
    first = rows_of(postgres_url, query)
    report = warehouse.replace_cohort(load)
    assert (report.rows_written, report.rows_replaced) == (ROWS, ROWS)
    assert rows_of(postgres_url, query) == first
    assert scalar(postgres_url, "SELECT COUNT(*) FROM cohorts") == 1
    assert scalar(postgres_url, "SELECT COUNT(*) FROM cohort_files") == 17


def test_a_corrected_redelivery_replaces_the_cohort_and_leaves_the_other(postgres_url, warehouse):
    other = cohort_load(OTHER_KEY, seed=9)
    warehouse.replace_cohort(cohort_load(KEY, seed=1))
    warehouse.replace_cohort(other)
    other_rows = rows_of(postgres_url, "SELECT * FROM sensor_hourly WHERE cohort = :k", k=OTHER_KEY)
    corrected = cohort_load(KEY, rows=ROWS + 2, seed=2)
    report = warehouse.replace_cohort(corrected)
    assert (report.rows_written, report.rows_replaced) == (ROWS + 2, ROWS)
    pd.testing.assert_frame_equal(warehouse.read_cohorts([KEY]), expected_rows(corrected))
    pd.testing.assert_frame_equal(warehouse.read_cohorts([OTHER_KEY]), expected_rows(other))
    assert warehouse.loaded_cohorts() == {KEY: ROWS + 2, OTHER_KEY: ROWS}
    assert (
        rows_of(postgres_url, "SELECT * FROM sensor_hourly WHERE cohort = :k", k=OTHER_KEY)
        == other_rows
    )
    assert rows_of(
        postgres_url, "SELECT DISTINCT byte_count FROM cohort_files WHERE cohort = :k", k=KEY
    ) == [(1002,)]


def test_cohorts_loaded_at_the_same_time_from_two_threads(postgres_url, warehouse):
    """Two different cohorts, each from its own thread and connection, released together;
    twice, so the second round replaces while the other replaces too."""
    warehouse.ensure_schema()
    loads = [cohort_load(KEY, seed=1), cohort_load(OTHER_KEY, seed=2)]
    for round_ in range(2):
        assert _load_at_once(postgres_url, loads) == [], f"round {round_}"
    both = warehouse.read_cohorts([load.key for load in loads])
    expected = pd.concat([expected_rows(load) for load in loads], ignore_index=True)
    pd.testing.assert_frame_equal(both, expected)
    assert scalar(postgres_url, "SELECT COUNT(*) FROM sensor_hourly") == 2 * ROWS


@pytest.mark.parametrize("bulk", [COPY, EXECUTEMANY])
def test_foreign_keys_hold_and_a_refused_load_keeps_the_previous_rows(postgres_url, bulk):
    warehouse = Warehouse(postgres_url, bulk=bulk)
    try:
        good = cohort_load(KEY)
        warehouse.replace_cohort(good)
        bad = cohort_load(KEY, seed=5)
        bad.frame.loc[7, "valve_condition"] = 95  # not in valve_condition: no profile has it
        with pytest.raises(IntegrityError, match=r"(?i)foreign key.*fk_sensor_hourly_profile"):
            warehouse.replace_cohort(bad)
        pd.testing.assert_frame_equal(warehouse.read_cohorts([KEY]), expected_rows(good))
    finally:
        warehouse.dispose()
    with pytest.raises(IntegrityError, match=r"(?i)foreign key"):
        scalar(postgres_url, "DELETE FROM cohorts WHERE cohort = :k", k=KEY)
    assert scalar(postgres_url, "SELECT COUNT(*) FROM sensor_hourly") == ROWS


def test_rows_of_another_cohort_or_missing_values_are_refused_before_the_database(warehouse):
    mixed = cohort_load(KEY)
    mixed.frame.loc[0, "cohort"] = OTHER_KEY
    with pytest.raises(ValueError, match="rows of other cohorts"):
        warehouse.replace_cohort(mixed)
    carry = cohort_load(KEY)
    carry.frame.loc[5, ["valve_condition", "internal_pump_leakage"]] = [80, 100]
    with pytest.raises(ValueError, match="no condition profile can hold"):
        warehouse.replace_cohort(carry)
    assert warehouse.loaded_cohorts() == {}


# -- credentials and grants --------------------------------------------------------------------


def test_a_wrong_password_fails_clearly_without_showing_the_password(postgres, postgres_url):
    wrong = "Wr0ng-pa55word-that-must-not-leak"
    warehouse = Warehouse(postgres.url(database_of(postgres_url), password=wrong))
    try:
        with pytest.raises(WarehouseError) as caught:
            warehouse.replace_cohort(cohort_load(KEY))
    finally:
        warehouse.dispose()
    message = str(caught.value)
    assert 'password authentication failed for user "energymobile"' in message
    assert f"{postgres.user}:***@{postgres.host}:{postgres.port}" in message
    everything = "".join(traceback.format_exception(caught.value)) + repr(warehouse)
    assert wrong not in everything
    assert postgres.password not in everything


def test_a_role_without_the_grants_fails_clearly_naming_the_warehouse(postgres):
    """PostgreSQL 15 lets no ordinary role create in `public` unless granted."""
    name = "no_grants"
    with postgres.admin_connection() as admin:
        admin.execute(f"CREATE DATABASE {name}")
    warehouse = Warehouse(postgres.url(name))
    try:
        with pytest.raises(WarehouseError) as caught:
            warehouse.ensure_schema()
    finally:
        warehouse.dispose()
        postgres.drop_database(name)
    assert str(caught.value) == (
        f"cannot use the warehouse {warehouse.safe_url}: 42501: permission denied for schema public"
    )
    assert postgres.password not in "".join(traceback.format_exception(caught.value))


# -- a load cut off mid-COPY -------------------------------------------------------------------


def _hold_every_profile(url: str) -> tuple[Connection, Callable[[], None]]:
    """A transaction holding every condition_profiles row FOR UPDATE: a COPY into the fact
    table then waits inside its statement, on its foreign key checks (which PostgreSQL runs
    after every row has gone in). Returns the connection and how to dispose of it."""
    engine = create_engine(url)
    blocker = engine.connect()
    blocker.begin()
    blocker.execute(text(f"SELECT {PROFILE_ID} FROM {PROFILES_TABLE} FOR UPDATE")).fetchall()

    def dispose() -> None:
        blocker.invalidate()
        engine.dispose()

    return blocker, dispose


def _wait_inside_copy(admin: psycopg.Connection, timeout_s: float = 30) -> tuple[int, int]:
    """The backend pid of our COPY waiting on the lock, and the rows it has taken so far."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = admin.execute(
            "SELECT a.pid, p.tuples_processed FROM pg_stat_activity a"
            " JOIN pg_stat_progress_copy p USING (pid)"
            " WHERE a.application_name = 'energymobile' AND a.wait_event_type = 'Lock'"
            " AND a.query LIKE 'COPY sensor_hourly%%'"
        ).fetchall()
        if found:
            return int(found[0][0]), int(found[0][1])
        time.sleep(0.05)
    raise AssertionError("the load never waited inside its COPY")


def _reload_in_background(warehouse: Warehouse, load: CohortLoad) -> tuple[threading.Thread, list]:
    failures: list[BaseException] = []

    def reload() -> None:
        try:
            warehouse.replace_cohort(load)
        except BaseException as exc:
            failures.append(exc)

    loader = threading.Thread(target=reload)
    loader.start()
    return loader, failures


def test_a_backend_terminated_mid_copy_leaves_the_previous_rows_of_the_cohort(
    postgres, postgres_url
):
    """pg_terminate_backend from a second connection while the COPY has taken every new row
    (and the old ones are deleted), inside the load's one transaction."""
    previous = cohort_load(KEY, seed=1)
    warehouse = Warehouse(postgres_url)
    warehouse.replace_cohort(previous)
    files_before = rows_of(postgres_url, "SELECT * FROM cohort_files ORDER BY file_name")
    _, release = _hold_every_profile(postgres_url)
    loader, failures = _reload_in_background(warehouse, cohort_load(KEY, rows=ROWS + 5, seed=2))
    try:
        with postgres.admin_connection(database_of(postgres_url)) as admin:
            pid, taken = _wait_inside_copy(admin)
            assert taken == ROWS + 5
            assert admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)
        loader.join(timeout=30)
        assert not loader.is_alive()
    finally:
        release()
    assert len(failures) == 1 and isinstance(failures[0], OperationalError), failures
    assert isinstance(failures[0].orig, psycopg.errors.AdminShutdown)  # SQLSTATE 57P01
    assert failures[0].connection_invalidated
    try:
        pd.testing.assert_frame_equal(warehouse.read_cohorts([KEY]), expected_rows(previous))
        assert warehouse.loaded_cohorts() == {KEY: ROWS}  # the pool replaced the dead session
    finally:
        warehouse.dispose()
    assert rows_of(postgres_url, "SELECT * FROM cohort_files ORDER BY file_name") == files_before


@pytest.fixture
def own_server() -> Iterator[PostgresServer]:
    """A server of this test's own, since the test kills it."""
    server = start_postgres()
    yield server
    server.stop()


def test_a_server_killed_mid_copy_leaves_the_previous_rows_of_the_cohort(own_server):
    """SIGKILL to the server and all its processes mid-COPY, then a restart (crash recovery
    from the write-ahead log)."""
    url = own_server.url()
    previous = cohort_load(KEY, seed=1)
    warehouse = Warehouse(url)
    warehouse.replace_cohort(previous)
    files_before = rows_of(url, "SELECT * FROM cohort_files ORDER BY file_name")
    _, release = _hold_every_profile(url)
    loader, failures = _reload_in_background(warehouse, cohort_load(KEY, rows=ROWS + 5, seed=2))
    try:
        with own_server.admin_connection(own_server.database) as admin:
            _, taken = _wait_inside_copy(admin)
        assert taken == ROWS + 5
        own_server.kill()
        loader.join(timeout=30)
        assert not loader.is_alive()
    finally:
        release()
    assert len(failures) == 1 and isinstance(failures[0], OperationalError), failures
    assert failures[0].connection_invalidated

    own_server.start()
    restarted = Warehouse(own_server.url())
    try:
        pd.testing.assert_frame_equal(restarted.read_cohorts([KEY]), expected_rows(previous))
        assert restarted.loaded_cohorts() == {KEY: ROWS}
        files = rows_of(own_server.url(), "SELECT * FROM cohort_files ORDER BY file_name")
        assert files == files_before
        restarted.replace_cohort(cohort_load(KEY, rows=ROWS + 5, seed=2))  # and loads go on
        assert restarted.loaded_cohorts() == {KEY: ROWS + 5}
    finally:
        restarted.dispose()
        warehouse.dispose()
