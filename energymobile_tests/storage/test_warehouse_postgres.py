"""What only PostgreSQL does: the column types and session settings the revisions and the
engine make, the advisory schema lock timing out, a role without the grants, and a load cut off
mid-COPY by terminating its backend.

What PostgreSQL shares with SQLite and MariaDB is tested in test_warehouse.py and
test_schema.py, and with MariaDB in test_warehouse_servers.py. Every test gets its own empty
database on the session's server (`postgres_url`), as the application role with only the
grants docs/postgres.md lists.
"""

from __future__ import annotations

import threading
import time
import traceback

import pandas as pd
import psycopg
import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import OperationalError

from energymobile.storage.dialects import SCHEMA_LOCK_KEY, schema_lock
from energymobile.storage.migrate import revisions
from energymobile.storage.warehouse import (
    FACT_COLUMNS,
    FACT_TABLE,
    PROFILE_ID,
    CohortLoad,
    Warehouse,
    WarehouseError,
)
from energymobile_tests.storage.server_dialects import (
    RELOAD_ROWS,
    database_of,
    hold_every_profile,
    wait_inside_copy,
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

pytestmark = pytest.mark.integration

ALL = [r.id for r in revisions()]


@pytest.fixture
def url(postgres_url: str) -> str:
    """PostgreSQL alone here (storage/conftest.py's `warehouse` opens this)."""
    return postgres_url


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
    _, release = hold_every_profile(postgres_url)
    loader, failures = _reload_in_background(warehouse, cohort_load(KEY, rows=RELOAD_ROWS, seed=2))
    try:
        with postgres.admin_connection(database_of(postgres_url)) as admin:
            pid, taken = wait_inside_copy(admin)
            assert taken == RELOAD_ROWS
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
