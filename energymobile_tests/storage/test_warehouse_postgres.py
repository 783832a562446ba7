"""What only PostgreSQL does: the column types and session settings the revisions and the
engine make, the advisory schema lock timing out, sql/postgresql applied by hand with psql, a
role without the grants, and a load cut off mid-COPY (backend terminated, server killed).

The behaviours every dialect shares are in test_warehouse.py and test_schema.py. Every test
gets its own empty database on the session's server (`postgres_url`), as the application role
with only the grants docs/postgres.md lists.
"""

from __future__ import annotations

import subprocess
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pandas as pd
import psycopg
import pytest
from sqlalchemy import Connection, create_engine, inspect, text
from sqlalchemy.exc import OperationalError

from energymobile.storage.dialects import SCHEMA_LOCK_KEY, schema_lock
from energymobile.storage.migrate import revisions
from energymobile.storage.warehouse import (
    FACT_COLUMNS,
    FACT_TABLE,
    PROFILE_ID,
    PROFILES_TABLE,
    CohortLoad,
    Warehouse,
    WarehouseError,
)
from energymobile_tests.storage.support import (
    KEY,
    ROWS,
    TABLES,
    cohort_load,
    expected_rows,
    rows_of,
    scalar,
)
from energymobile_tests.support.postgres import PostgresServer, pg_bin_dir, start_postgres

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
ALL = [r.id for r in revisions()]


@pytest.fixture
def warehouse(postgres_url: str) -> Iterator[Warehouse]:
    wh = Warehouse(postgres_url)
    yield wh
    wh.dispose()


def database_of(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def test_the_revisions_make_its_types_and_the_engine_its_session_settings(postgres_url, warehouse):
    warehouse.ensure_schema()
    tables = rows_of(
        postgres_url,
        "SELECT table_name, table_type FROM information_schema.tables"
        " WHERE table_schema = 'public' ORDER BY table_name",
    )
    assert dict(tables) == {
        **{t: "BASE TABLE" for t in (*TABLES, "alembic_version")},
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
    assert (
        scalar(
            postgres_url,
            "SELECT datetime_precision FROM information_schema.columns"
            " WHERE table_name = :t AND column_name = 'date_time'",
            t=FACT_TABLE,
        )
        == 0
    )  # whole seconds, as MySQL's DATETIME
    assert columns["ps1_first"] == columns["se_mean"] == "double precision"
    assert columns[PROFILE_ID] == "bigint"
    assert inspect(warehouse.engine).get_pk_constraint(FACT_TABLE)["name"] == "sensor_hourly_pkey"
    assert rows_of(postgres_url, "SELECT code, unit FROM sensors WHERE code IN ('CE', 'TS1')") == [
        ("TS1", "°C"),
        ("CE", "%"),  # a literal % in the reference data survives the driver's %-parameters
    ]
    with warehouse.engine.connect() as conn:
        assert conn.execute(text("SHOW transaction_isolation")).scalar() == "read committed"
        assert conn.execute(text("SHOW TimeZone")).scalar() == "UTC"


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
        assert warehouse.ensure_schema() == ALL
        with warehouse.engine.connect() as conn:  # the pooled session holds no lock after
            locks = "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory'"
            assert conn.execute(text(locks)).scalar() == 0
    finally:
        holder.close()
        warehouse.dispose()


def test_sql_postgresql_applied_by_hand_with_psql_is_the_schema_energymobile_uses(
    postgres, postgres_url
):
    """The DBA's way: every file of sql/postgresql in order (`psql -v ON_ERROR_STOP=1 -f`; each
    file is one transaction). energymobile then finds the database at the newest revision,
    applies nothing, and loads."""
    files = sorted((REPO_ROOT / "sql" / "postgresql").glob("*.sql"))
    assert [f.name[:3] for f in files] == ALL
    for path in files:
        subprocess.run(
            [
                str(pg_bin_dir() / "psql"),
                *("-h", postgres.host, "-p", str(postgres.port), "-U", postgres.user),
                *("-d", database_of(postgres_url), "-v", "ON_ERROR_STOP=1", "-q"),
                *("-f", str(path)),
            ],
            env={"PGPASSWORD": postgres.password, "PATH": "/usr/bin:/bin"},
            check=True,
            capture_output=True,
        )
    assert rows_of(postgres_url, "SELECT version_num FROM alembic_version") == [(ALL[-1],)]
    warehouse = Warehouse(postgres_url)
    try:
        assert warehouse.ensure_schema() == []
        load = cohort_load(KEY)
        warehouse.replace_cohort(load)
        pd.testing.assert_frame_equal(warehouse.read_cohorts([KEY]), expected_rows(load))
    finally:
        warehouse.dispose()


# -- grants ------------------------------------------------------------------------------------


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
