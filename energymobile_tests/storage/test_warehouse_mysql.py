"""What only MySQL/MariaDB does: the InnoDB layout the revisions make, LOAD DATA LOCAL INFILE
detected (and refused by the client URL), sql/mysql applied by hand with the mariadb client
(today's files, and the files before Alembic), and a server killed mid-load.

The behaviours every dialect shares are in test_warehouse.py and test_schema.py. Every test
gets its own empty database on the session's server (`mysql_url`), as the application user
with only the privileges docs/mysql.md lists.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pandas as pd
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from energymobile.channels import CONDITIONS
from energymobile.rigs import DEFAULT_RIG_ID
from energymobile.storage.dialects import EXECUTEMANY, LOAD_DATA
from energymobile.storage.migrate import revisions
from energymobile.storage.warehouse import FACT_COLUMNS, FACT_TABLE, PROFILES_TABLE, Warehouse
from energymobile_tests.storage.legacy import legacy_files
from energymobile_tests.storage.support import (
    KEY,
    ROWS,
    TABLES,
    cohort_load,
    expected_rows,
    rows_of,
    scalar,
)
from energymobile_tests.support.mariadb import MariaDBServer, start_mariadb

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def warehouse(mysql_url: str) -> Iterator[Warehouse]:
    wh = Warehouse(mysql_url)
    yield wh
    wh.dispose()


def test_the_revisions_make_innodb_utf8mb4_tables_with_their_types_keys_and_indexes(
    mysql_url, warehouse
):
    warehouse.ensure_schema()
    database = urlsplit(mysql_url).path.lstrip("/")
    tables = dict(
        rows_of(
            mysql_url,
            "SELECT table_name, CONCAT(engine, ' ', table_collation) FROM information_schema.tables"
            " WHERE table_schema = :db AND table_type = 'BASE TABLE'",
            db=database,
        )
    )
    assert set(TABLES) | {"alembic_version"} == set(tables)
    assert {tables[t] for t in TABLES} == {"InnoDB utf8mb4_unicode_ci"}

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
    assert columns["date_time"] == "datetime"  # whole seconds, as before Alembic
    assert columns["ps1_first"] == columns["se_mean"] == "double"
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


@pytest.mark.parametrize(("suffix", "method"), [("", LOAD_DATA), ("?local_infile=0", EXECUTEMANY)])
def test_load_data_is_used_unless_the_url_refuses_it(mysql_url, suffix, method):
    warehouse = Warehouse(mysql_url + suffix)
    try:
        load = cohort_load(KEY, seed=3)
        assert warehouse.replace_cohort(load).method == method
        pd.testing.assert_frame_equal(
            warehouse.read_cohorts([KEY]), expected_rows(load), check_exact=True
        )
    finally:
        warehouse.dispose()


def apply_with_the_client(server: MariaDBServer, url: str, files: list[Path]) -> None:
    """`mariadb <database> < file` for each file, as docs/mysql.md tells a DBA."""
    client = shutil.which("mariadb") or shutil.which("mysql")
    assert client, "the MariaDB client is part of the test setup (scripts/bootstrap.sh test)"
    database = urlsplit(url).path.lstrip("/")
    command = [client, "--protocol=TCP", "-h", server.host, "-P", str(server.port)]
    for path in files:
        subprocess.run(
            [*command, "-u", server.user, database],
            input=path.read_bytes(),
            env={**os.environ, "MYSQL_PWD": server.password},  # not on the command line
            check=True,
            capture_output=True,
        )


def test_sql_mysql_applied_by_hand_with_the_client_is_the_schema_energymobile_uses(
    mariadb, mysql_url
):
    """The DBA's way: every file of sql/mysql in order. energymobile then finds the database
    at the newest revision (alembic_version), applies nothing, and loads."""
    files = sorted((REPO_ROOT / "sql" / "mysql").glob("*.sql"))
    assert [f.name[:3] for f in files] == [r.id for r in revisions()]
    apply_with_the_client(mariadb, mysql_url, files)
    assert scalar(mysql_url, "SELECT COUNT(*) FROM sensors") == 17
    assert rows_of(mysql_url, "SELECT version_num FROM alembic_version") == [(revisions()[-1].id,)]

    warehouse = Warehouse(mysql_url)
    try:
        assert warehouse.ensure_schema() == []
        load = cohort_load(KEY)
        warehouse.replace_cohort(load)
        pd.testing.assert_frame_equal(warehouse.read_cohorts([KEY]), expected_rows(load))
    finally:
        warehouse.dispose()


def test_the_files_before_alembic_applied_by_hand_are_recognised(mariadb, mysql_url):
    """The old way (`mysql energymobile < sql/…`, no record of it): energymobile reads the
    revision from the tables (004), stamps it, and applies only the revisions after it."""
    apply_with_the_client(mariadb, mysql_url, legacy_files("mysql", 4))
    warehouse = Warehouse(mysql_url)
    try:
        assert warehouse.ensure_schema() == [r.id for r in revisions()[4:]]  # since 004
        warehouse.replace_cohort(cohort_load(KEY))
        assert len(warehouse.read_cohorts([KEY])) == ROWS
    finally:
        warehouse.dispose()
    assert rows_of(mysql_url, "SELECT version_num FROM alembic_version") == [(revisions()[-1].id,)]
    assert scalar(mysql_url, "SELECT COUNT(*) FROM sensors") == 17


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
        text(
            f"SELECT cycle FROM {FACT_TABLE} WHERE rig_id = :r AND cohort = :k AND cycle >= :c "
            "FOR UPDATE"
        ),
        {"r": DEFAULT_RIG_ID, "k": KEY, "c": ROWS},
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
