"""The schema from sql/ on both dialects: the condition_profiles junk dimension (004), moving a
loaded database forward to it, and what the database itself refuses.

Most tests run twice: on SQLite (a file under tmp_path) and on MariaDB (the session's server,
an empty database per test). SQLite gets its own version of 004 (a table rebuild in one
transaction); MySQL/MariaDB re-runs 004 from wherever an interruption left it.
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pandas as pd
import polars as pl
import pytest
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from energymobile.channels import CONDITION_COLUMNS, CONDITIONS
from energymobile.storage.dialects import ddl_statements, literal_sql, split_statements
from energymobile.storage.schema import SQL_DIR, apply_migrations, migrations
from energymobile.storage.warehouse import (
    FACT_COLUMNS,
    FACT_TABLE,
    FLAT_COLUMNS,
    FLAT_VIEW,
    LOAD_COLUMNS,
    PROFILE_ID,
    PROFILES_TABLE,
    CohortLoad,
    Warehouse,
    profile_id,
    typed_flat_frame,
)
from energymobile_tests.storage.test_warehouse_mysql import cohort_load, expected_rows

pytestmark = pytest.mark.integration

KEY = "2008-03-26"
OTHER_KEY = "2008-06-26"
PROFILES_MIGRATION = "004_condition_profiles.sql"
DOCUMENTED = set(itertools.product(*(sorted(c.codes) for c in CONDITIONS)))


@pytest.fixture(params=["sqlite", "mariadb", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres_url"))
    return str(request.getfixturevalue("mysql_url"))


@pytest.fixture
def warehouse(url: str) -> Iterator[Warehouse]:
    wh = Warehouse(url)
    yield wh
    wh.dispose()


@pytest.fixture
def engine(warehouse: Warehouse) -> Engine:
    """The warehouse's own engine (SQLite with foreign keys on), without applying sql/."""
    return warehouse.engine


def sql_before_profiles(tmp_path: Path) -> Path:
    """sql/ as it was before 004: the files an existing database was built from."""
    folder = tmp_path / "sql-003"
    folder.mkdir()
    for migration in migrations():
        if migration.version < 4:
            shutil.copy(SQL_DIR / migration.name, folder / migration.name)
    return folder


def load_before_profiles(engine: Engine, load: CohortLoad) -> None:
    """A cohort as energymobile wrote it into the 001–003 schema: the five codes per row."""
    rows = pl.from_pandas(load.frame[list(LOAD_COLUMNS)]).rows(named=True)
    at = datetime(2008, 1, 1)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO cohorts (cohort, window_start, window_end, row_count, statistic,"
                " source_sha256, loaded_at) VALUES (:k, :at, :at, :n, 'mean', :sha, :at)"
            ),
            {"k": load.key, "at": at, "n": len(rows), "sha": "0" * 64},
        )
        conn.execute(
            text(
                f"INSERT INTO {FACT_TABLE} ({', '.join(LOAD_COLUMNS)}) "
                f"VALUES ({', '.join(':' + c for c in LOAD_COLUMNS)})"
            ),
            rows,
        )


def view_rows(engine: Engine, key: str) -> pd.DataFrame:
    """The cohort's rows of oil_well_hourly, whatever the schema version behind the view."""
    with engine.connect() as conn:
        result = conn.execute(
            text(
                f"SELECT {', '.join(FLAT_COLUMNS)} FROM {FLAT_VIEW} "
                "WHERE cohort = :k ORDER BY cycle"
            ),
            {"k": key},
        )
        frame = pd.DataFrame(result.fetchall(), columns=list(FLAT_COLUMNS))
    return typed_flat_frame(frame)


def assert_profile_layout(engine: Engine) -> None:
    """sensor_hourly after 004: one profile key instead of five codes, three indexes."""
    schema = inspect(engine)
    assert [c["name"] for c in schema.get_columns(FACT_TABLE)] == list(FACT_COLUMNS)
    assert schema.get_pk_constraint(FACT_TABLE)["constrained_columns"] == ["cohort", "cycle"]
    assert {i["name"] for i in schema.get_indexes(FACT_TABLE)} == {
        "ix_sensor_hourly_date_time",
        "ix_sensor_hourly_profile",
    }
    keys = {
        (tuple(k["constrained_columns"]), k["referred_table"])
        for k in schema.get_foreign_keys(FACT_TABLE)
    }
    assert keys == {(("cohort",), "cohorts"), ((PROFILE_ID,), PROFILES_TABLE)}
    parents = {k["referred_table"] for k in schema.get_foreign_keys(PROFILES_TABLE)}
    assert parents == set(CONDITION_COLUMNS)


# -- moving a loaded database forward ------------------------------------------------------


def test_004_moves_a_loaded_database_forward_and_the_view_keeps_every_value(url, engine, tmp_path):
    assert apply_migrations(engine, sql_before_profiles(tmp_path)) == [
        m.name for m in migrations() if m.version < 4
    ]
    load = cohort_load(KEY, seed=4)
    load_before_profiles(engine, load)
    before = view_rows(engine, KEY)
    pd.testing.assert_frame_equal(before, expected_rows(load), check_exact=True)

    assert apply_migrations(engine) == [PROFILES_MIGRATION]

    pd.testing.assert_frame_equal(view_rows(engine, KEY), before, check_exact=True)
    assert_profile_layout(engine)
    with engine.connect() as conn:
        stored = conn.execute(
            text(f"SELECT {PROFILE_ID} FROM {FACT_TABLE} ORDER BY cycle")
        ).scalars()
        codes = load.frame[list(CONDITION_COLUMNS)].astype(int).to_dict("records")
        assert list(stored) == [profile_id(row) for row in codes]

    # energymobile carries on from there: replaces the migrated cohort, adds another.
    warehouse = Warehouse(url)
    try:
        assert warehouse.ensure_schema() == []
        again = cohort_load(KEY, seed=5)
        other = cohort_load(OTHER_KEY, seed=6)
        assert warehouse.replace_cohort(again).rows_replaced == len(load.frame)
        warehouse.replace_cohort(other)
        pd.testing.assert_frame_equal(warehouse.read_cohorts([KEY]), expected_rows(again))
        pd.testing.assert_frame_equal(warehouse.read_cohorts([OTHER_KEY]), expected_rows(other))
    finally:
        warehouse.dispose()


def test_a_new_database_gets_the_same_layout(engine):
    assert apply_migrations(engine) == [m.name for m in migrations()]
    assert_profile_layout(engine)
    assert apply_migrations(engine) == []


@pytest.mark.parametrize("steps_done", ["column added", "key constrained", "all but recorded"])
def test_004_interrupted_on_mariadb_finishes_when_run_again(mysql_url, tmp_path, steps_done):
    """MySQL commits DDL statement by statement: 004 must finish from any point it stopped."""
    warehouse = Warehouse(mysql_url)
    engine = warehouse.engine
    try:
        apply_migrations(engine, sql_before_profiles(tmp_path))
        load = cohort_load(KEY, seed=7)
        load_before_profiles(engine, load)
        statements = split_statements((SQL_DIR / PROFILES_MIGRATION).read_text())
        executes = [i for i, s in enumerate(statements) if s.startswith("EXECUTE")]
        stop = {
            "column added": executes[0] + 1,
            "key constrained": executes[2] + 1,
            "all but recorded": len(statements),
        }[steps_done]
        with engine.connect() as conn:
            for statement in statements[:stop]:
                for adapted in ddl_statements(statement, engine.dialect.name):
                    conn.execute(text(literal_sql(adapted)))
            conn.commit()

        assert apply_migrations(engine) == [PROFILES_MIGRATION]
        pd.testing.assert_frame_equal(view_rows(engine, KEY), expected_rows(load), check_exact=True)
        assert_profile_layout(engine)
    finally:
        warehouse.dispose()


def test_004_on_sqlite_is_applied_completely_or_not_at_all(tmp_path):
    """SQLite rebuilds sensor_hourly; a failure anywhere in the file leaves the 003 database
    exactly as it was (one transaction), and the real file then applies."""
    warehouse = Warehouse(f"sqlite:///{tmp_path / 'warehouse.sqlite'}")
    engine = warehouse.engine
    try:
        old = sql_before_profiles(tmp_path)
        apply_migrations(engine, old)
        load = cohort_load(KEY, seed=8)
        load_before_profiles(engine, load)
        broken = tmp_path / "sql-broken"
        shutil.copytree(old, broken)
        (broken / "sqlite").mkdir()
        failing = (SQL_DIR / "sqlite" / PROFILES_MIGRATION).read_text()
        failing += "\nSELECT no_such_column FROM cohorts;\n"
        (broken / PROFILES_MIGRATION).write_text("-- replaced by the SQLite version\n")
        (broken / "sqlite" / PROFILES_MIGRATION).write_text(failing)

        with pytest.raises(DBAPIError, match="no_such_column"):
            apply_migrations(engine, broken)

        schema = inspect(engine)
        assert PROFILES_TABLE not in schema.get_table_names()
        assert [c["name"] for c in schema.get_columns(FACT_TABLE)] == list(LOAD_COLUMNS)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT MAX(version) FROM schema_migrations")).scalar() == 3
        pd.testing.assert_frame_equal(view_rows(engine, KEY), expected_rows(load), check_exact=True)

        assert apply_migrations(engine) == [PROFILES_MIGRATION]
        pd.testing.assert_frame_equal(view_rows(engine, KEY), expected_rows(load), check_exact=True)
    finally:
        warehouse.dispose()


def test_sqlite_gets_its_own_version_of_a_migration_only_where_sql_has_one():
    variants = sorted(p.name for p in (SQL_DIR / "sqlite").glob("*.sql"))
    assert variants == [PROFILES_MIGRATION]
    assert set(variants) <= {m.name for m in migrations()}
    for migration in migrations(dialect="sqlite"):
        folder = SQL_DIR / "sqlite" if migration.name in variants else SQL_DIR
        assert migration.sql == (folder / migration.name).read_text("utf-8")
    assert [m.sql for m in migrations(dialect="mysql")] == [m.sql for m in migrations()]


# -- condition_profiles --------------------------------------------------------------------


def test_condition_profiles_hold_every_documented_combination_under_its_computed_key(engine):
    apply_migrations(engine)
    with engine.connect() as conn:
        rows = conn.execute(
            text(f"SELECT {PROFILE_ID}, {', '.join(CONDITION_COLUMNS)} FROM {PROFILES_TABLE}")
        ).fetchall()
    assert len(rows) == len(DOCUMENTED) == 3 * 4 * 3 * 4 * 2
    assert {tuple(row[1:]) for row in rows} == DOCUMENTED
    for key, *codes in rows:
        assert key == profile_id(dict(zip(CONDITION_COLUMNS, codes, strict=True)))
    assert profile_id(dict(zip(CONDITION_COLUMNS, (100, 100, 0, 130, 0), strict=True))) == (
        10_010_001_300
    )


def _insert(engine: Engine, table: str, values: dict[str, object]) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                f"INSERT INTO {table} ({', '.join(values)}) "
                f"VALUES ({', '.join(':' + c for c in values)})"
            ),
            values,
        )


def test_the_database_itself_refuses_codes_no_profile_describes(engine, warehouse):
    """Whatever the writer: an undocumented code has no profile row, and a profile row must be
    documented codes under their computed key."""
    warehouse.replace_cohort(cohort_load(KEY, rows=2))
    documented = dict(zip(CONDITION_COLUMNS, (100, 100, 0, 130, 0), strict=True))
    undocumented = {**documented, "valve_condition": 95}
    row = {
        **{c: 1.0 for c in FACT_COLUMNS},
        "cohort": KEY,
        "cycle": 99,
        "date_time": datetime(2008, 3, 30),
        "cumulative_minutes": 0,
    }
    with pytest.raises(IntegrityError, match=r"(?i)foreign key"):
        _insert(engine, FACT_TABLE, {**row, PROFILE_ID: profile_id(undocumented)})
    _insert(engine, FACT_TABLE, {**row, PROFILE_ID: profile_id(documented)})  # the control

    with pytest.raises(IntegrityError, match=r"(?i)foreign key"):  # valve 95 is not documented
        _insert(engine, PROFILES_TABLE, {PROFILE_ID: profile_id(undocumented), **undocumented})
    # A code documented later that does not fit its digit would make keys ambiguous.
    _insert(engine, "internal_pump_leakage", {"code": 12, "description": "a later code"})
    too_wide = {**documented, "internal_pump_leakage": 12}
    for wrong in (
        {PROFILE_ID: profile_id(documented) + 1, **documented},  # not the formula's key
        {PROFILE_ID: profile_id(too_wide), **too_wide},  # would read as valve 101, pump 2
    ):
        with pytest.raises(DBAPIError, match=r"(?i)check|ck_condition_profiles_id"):
            _insert(engine, PROFILES_TABLE, wrong)
    with engine.connect() as conn:
        assert conn.execute(text(f"SELECT COUNT(*) FROM {PROFILES_TABLE}")).scalar() == 288
