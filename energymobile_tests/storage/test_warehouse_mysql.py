"""What only MySQL/MariaDB does: the InnoDB layout the revisions make, LOAD DATA LOCAL INFILE
detected (and refused by the client URL), and the files before Alembic applied by hand with the
mariadb client.

The rest is common: every dialect's behaviour in test_warehouse.py and test_schema.py, every
server's (today's sql/ files by hand, a kill mid-load) in test_warehouse_servers.py. Each test
here has an empty database of its own on the session's MariaDB, as the application user with
the privileges docs/mysql.md lists, no more.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pandas as pd
import pytest

from energymobile.channels import CONDITIONS
from energymobile.storage.dialects import EXECUTEMANY, LOAD_DATA
from energymobile.storage.migrate import revisions
from energymobile.storage.warehouse import FACT_COLUMNS, FACT_TABLE, PROFILES_TABLE, Warehouse
from energymobile_tests.storage.legacy import legacy_files
from energymobile_tests.storage.server_dialects import apply_with_the_mariadb_client
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


@pytest.fixture
def url(mysql_url: str) -> str:
    """MariaDB alone here (storage/conftest.py's `warehouse` opens this)."""
    return mysql_url


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


def test_the_files_before_alembic_applied_by_hand_are_recognised(mariadb, mysql_url):
    """The old way (`mysql energymobile < sql/…`, no record of it): energymobile reads the
    revision from the tables (004), stamps it, and applies only the revisions after it."""
    apply_with_the_mariadb_client(mariadb, mysql_url, legacy_files("mysql", 4))
    warehouse = Warehouse(mysql_url)
    try:
        assert warehouse.ensure_schema() == [r.id for r in revisions()[4:]]  # since 004
        warehouse.replace_cohort(cohort_load(KEY))
        assert len(warehouse.read_cohorts([KEY])) == ROWS
    finally:
        warehouse.dispose()
    assert rows_of(mysql_url, "SELECT version_num FROM alembic_version") == [(revisions()[-1].id,)]
    assert scalar(mysql_url, "SELECT COUNT(*) FROM sensors") == 17
