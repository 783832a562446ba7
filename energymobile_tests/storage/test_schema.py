"""The schema on SQLite, MariaDB and PostgreSQL: Alembic's revisions bring an empty database, and
one made before Alembic with rows in it, to exactly `storage/schema.py`; what the database itself
refuses; the DBA's sql/ generated from the revisions; no migrations is an error.

Most tests run once per dialect (the `url` fixture of this folder's conftest.py: an empty
database each).
"""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, create_engine, inspect, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from energymobile.channels import CHANNELS, CONDITION_COLUMNS, CONDITIONS
from energymobile.ingest.hourly import KEY_COLUMNS
from energymobile.rigs import DEFAULT_RIG, DEFAULT_RIG_ID, Rig
from energymobile.storage.dialects import ForeignKeyViolation
from energymobile.storage.migrate import (
    DIALECTS,
    MigrationsNotFound,
    current_revision,
    migrations_folder,
    revisions,
    schema_differences,
    sql_files,
    upgrade,
)
from energymobile.storage.schema import oil_well_hourly, oil_well_hourly_query
from energymobile.storage.warehouse import (
    FACT_COLUMNS,
    FACT_TABLE,
    FLAT_COLUMNS,
    PROFILE_ID,
    PROFILES_TABLE,
    Warehouse,
    profile_id,
    typed_flat_frame,
)
from energymobile_tests.storage.legacy import (
    OLD_SENSOR_COLUMNS,
    create_legacy_database,
    load_at_006,
    load_legacy_cohort,
)
from energymobile_tests.storage.support import (
    KEY,
    OTHER_KEY,
    ROWS,
    cohort_load,
    expected_rows,
    expected_rows_before_005,
    legacy_view_rows,
    rows_of,
    scalar,
    view_rows,
)

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
ALL = [r.id for r in revisions()]
HEAD = ALL[-1]
FROM_004 = ALL[ALL.index("004") :]
"""What a database at 003 is given: 004 and every later revision."""
DOCUMENTED = set(itertools.product(*(sorted(c.codes) for c in CONDITIONS)))


@pytest.fixture
def engine(url: str) -> Engine:
    engine = create_engine(url)
    yield engine
    engine.dispose()


def unique_indexes(engine: Engine, table: str) -> list[list[str]]:
    """SQLite: the columns of each unique index, read from SQLite itself."""
    with engine.connect() as conn:
        names = [row[1] for row in conn.exec_driver_sql(f"PRAGMA index_list({table})") if row[2]]
        return [
            [row[2] for row in conn.exec_driver_sql(f"PRAGMA index_info({name})")] for name in names
        ]


def assert_matches_schema(engine: Engine, *, made_before_alembic: bool = False) -> None:
    """The database is `schema.py`: tables, columns, types, keys and indexes as Alembic's
    comparison sees them, the revision recorded, the view's columns, and the layout 004 made.

    One allowance: on SQLite, SQLAlchemy's reflection reads constraints from the CREATE TABLE
    text and misses a UNIQUE written over several lines, as the code before Alembic wrote
    uq_condition_profiles_codes. SQLite enforces it all the same (checked here)."""
    with engine.connect() as conn:
        differences = schema_differences(conn)
        assert current_revision(conn) == HEAD
    if made_before_alembic and engine.dialect.name == "sqlite":
        unseen = [d for d in differences if d[0] == "add_constraint"]
        assert [d[1].name for d in unseen] == ["uq_condition_profiles_codes"]
        assert list(CONDITION_COLUMNS) in unique_indexes(engine, PROFILES_TABLE)
        differences = [d for d in differences if d not in unseen]
    assert differences == []
    found = inspect(engine)
    assert [c["name"] for c in found.get_columns(oil_well_hourly.name)] == list(FLAT_COLUMNS)
    assert [c["name"] for c in found.get_columns(FACT_TABLE)] == list(FACT_COLUMNS)
    assert found.get_pk_constraint(FACT_TABLE)["constrained_columns"] == [
        "rig_id",
        "cohort",
        "cycle",
    ]
    assert found.get_pk_constraint("cohorts")["constrained_columns"] == ["rig_id", "cohort"]
    assert {i["name"] for i in found.get_indexes(FACT_TABLE)} == {
        "ix_sensor_hourly_date_time",
        "ix_sensor_hourly_profile",
    }
    keys = {
        (k["name"], tuple(k["constrained_columns"]), k["referred_table"])
        for k in found.get_foreign_keys(FACT_TABLE)
    }
    assert keys == {
        ("fk_sensor_hourly_cohort", ("rig_id", "cohort"), "cohorts"),
        ("fk_sensor_hourly_profile", (PROFILE_ID,), PROFILES_TABLE),
    }
    parents = {k["referred_table"] for k in found.get_foreign_keys(PROFILES_TABLE)}
    assert parents == set(CONDITION_COLUMNS)


# -- a new database ------------------------------------------------------------------------


def test_a_new_database_is_migrated_to_exactly_the_schema_of_schema_py(url, warehouse, engine):
    assert ALL == ["001", "002", "003", "004", "005", "006", "007"]
    assert warehouse.ensure_schema() == ALL
    assert warehouse.ensure_schema() == []  # once per process
    assert_matches_schema(engine)
    again = Warehouse(url)
    try:
        assert again.ensure_schema() == []
    finally:
        again.dispose()
    assert rows_of(url, "SELECT version_num FROM alembic_version") == [(HEAD,)]


def test_the_view_returns_exactly_the_rows_of_its_definition_in_schema_py(warehouse, engine):
    loads = [cohort_load(KEY, seed=1), cohort_load(OTHER_KEY, seed=2)]
    for load in loads:
        warehouse.replace_cohort(load)
    order = (
        oil_well_hourly_query.selected_columns.cohort,
        oil_well_hourly_query.selected_columns.cycle,
    )
    with engine.connect() as conn:
        defined = conn.execute(oil_well_hourly_query.order_by(*order)).fetchall()
        viewed = conn.execute(
            select(oil_well_hourly).order_by(oil_well_hourly.c.cohort, oil_well_hourly.c.cycle)
        ).fetchall()
    assert len(viewed) == 2 * ROWS
    assert viewed == defined
    both = pd.concat([expected_rows(load) for load in loads], ignore_index=True)
    read = typed_flat_frame(pd.DataFrame(viewed, columns=list(FLAT_COLUMNS)))
    pd.testing.assert_frame_equal(read, both, check_exact=True)


def test_reference_data_is_the_documented_channels_and_codes(url, warehouse):
    warehouse.ensure_schema()
    sensors = rows_of(
        url,
        "SELECT code, column_name, quantity, unit, sampling_rate_hz, samples_per_cycle"
        " FROM sensors ORDER BY code",
    )
    assert sensors == sorted(
        (c.code, c.column, c.quantity, c.unit, c.rate_hz, c.samples) for c in CHANNELS
    )
    for condition in CONDITIONS:
        codes = rows_of(url, f"SELECT code, description FROM {condition.column} ORDER BY code")
        assert codes == sorted(condition.codes.items())


def test_condition_profiles_hold_every_documented_combination_under_its_computed_key(
    url, warehouse
):
    warehouse.ensure_schema()
    rows = rows_of(
        url, f"SELECT {PROFILE_ID}, {', '.join(CONDITION_COLUMNS)} FROM {PROFILES_TABLE}"
    )
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


def test_the_database_itself_refuses_codes_no_profile_describes(warehouse):
    """Whatever the writer: an undocumented code has no profile row, and a profile row must be
    documented codes under their computed key (in BIGINT: PostgreSQL's INTEGER would overflow
    on every documented profile)."""
    warehouse.replace_cohort(cohort_load(KEY, rows=2))
    engine = warehouse.engine  # foreign keys on, on SQLite too
    documented = dict(zip(CONDITION_COLUMNS, (100, 100, 0, 130, 0), strict=True))
    undocumented = {**documented, "valve_condition": 95}
    row = {
        **{c: 1.0 for c in FACT_COLUMNS},
        "cohort": KEY,
        "cycle": 99,
        "date_time": pd.Timestamp("2008-03-30").to_pydatetime(),
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


# -- databases made before Alembic ---------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "recorded", "statistic"),
    [
        (4, True, "mean"),
        (3, True, "first"),
        (2, True, "mean"),
        (4, False, "first"),
        (3, False, "mean"),
    ],
    ids=["recorded-4", "recorded-3", "recorded-2", "by-hand-4", "by-hand-3"],
)
def test_a_database_made_before_alembic_is_upgraded_in_place_with_its_rows(
    url, engine, version, recorded, statistic
):
    """The schema and a cohort as the code before Alembic wrote them (at version 4, 3 or 2,
    recorded in schema_migrations or prepared by hand, loaded with either statistic);
    energymobile stamps the database with its revision, applies the rest, and every value reads
    back as it was, in the column of its statistic (005); loads go on."""
    create_legacy_database(url, version, recorded=recorded)
    load = cohort_load(KEY, seed=4)
    load_legacy_cohort(url, load, version, statistic=statistic)
    before = expected_rows_before_005(load, statistic)
    if version >= 3:
        pd.testing.assert_frame_equal(
            legacy_view_rows(engine, KEY, statistic), before, check_exact=True
        )

    warehouse = Warehouse(url)
    try:
        assert warehouse.ensure_schema() == ALL[version:]
        assert_matches_schema(engine, made_before_alembic=version >= 4)
        pd.testing.assert_frame_equal(warehouse.read_cohorts([KEY]), before, check_exact=True)
        assert rows_of(url, "SELECT statistic FROM cohorts") == [(statistic,)]
        with engine.connect() as conn:
            stored = conn.execute(text(f"SELECT {PROFILE_ID} FROM {FACT_TABLE} ORDER BY cycle"))
            codes = load.frame[list(CONDITION_COLUMNS)].astype(int).to_dict("records")
            assert list(stored.scalars()) == [profile_id(row) for row in codes]
        if recorded:  # the old record stays as it was, no longer written
            assert scalar(url, "SELECT MAX(version) FROM schema_migrations") == version

        # 006: the rows loaded before record no delivery; it is worked out from their files.
        assert rows_of(url, "SELECT delivery FROM cohorts") == [(None,)]
        assert warehouse.cohort_deliveries() == {KEY: load.delivery}

        again = cohort_load(KEY, seed=5)
        other = cohort_load(OTHER_KEY, seed=6)
        assert warehouse.replace_cohort(again).rows_replaced == ROWS
        assert rows_of(url, "SELECT statistic FROM cohorts") == [("both",)]
        warehouse.replace_cohort(other)
        assert warehouse.cohort_deliveries() == {KEY: again.delivery, OTHER_KEY: other.delivery}
        pd.testing.assert_frame_equal(warehouse.read_cohorts([KEY]), expected_rows(again))
        pd.testing.assert_frame_equal(warehouse.read_cohorts([OTHER_KEY]), expected_rows(other))
    finally:
        warehouse.dispose()


def migrations_up_to(tmp_path: Path, last: str) -> Path:
    """A copy of the migrations without the revisions after `last`."""
    folder = copy_of_migrations(tmp_path)
    for revision in revisions()[ALL.index(last) + 1 :]:
        (folder / "versions" / revision.file).unlink()
    return folder


def test_005_keeps_each_cohort_loaded_at_004_in_the_column_of_its_statistic(url, engine, tmp_path):
    """Two cohorts loaded at revision 004, one with each statistic, go through 005: each value
    lands in `<sensor>_<statistic>`, the other statistic stays empty and cohorts.statistic says
    which the cohort holds, until a load (re-derived from the archive) fills both."""
    assert upgrade(url, migrations_up_to(tmp_path, "004")) == ALL[:4]
    mean_load, first_load = cohort_load(KEY, seed=11), cohort_load(OTHER_KEY, seed=12)
    load_legacy_cohort(url, mean_load, statistic="mean")
    load_legacy_cohort(url, first_load, statistic="first")

    warehouse = Warehouse(url)
    try:
        assert warehouse.ensure_schema() == ALL[4:]  # 005 and what follows it
        assert_matches_schema(engine)
        for load, statistic in ((mean_load, "mean"), (first_load, "first")):
            pd.testing.assert_frame_equal(
                warehouse.read_cohorts([load.key]),
                expected_rows_before_005(load, statistic),
                check_exact=True,
            )
        statistics = "SELECT cohort, statistic FROM cohorts ORDER BY cohort"
        assert rows_of(url, statistics) == [(KEY, "mean"), (OTHER_KEY, "first")]
        empty = "SELECT COUNT(*) FROM sensor_hourly WHERE cohort = :k AND {} IS NULL"
        assert scalar(url, empty.format("se_first"), k=KEY) == ROWS
        assert scalar(url, empty.format("se_mean"), k=OTHER_KEY) == ROWS
        assert warehouse.cohorts_to_rederive() == {KEY: "mean", OTHER_KEY: "first"}

        warehouse.replace_cohort(mean_load)  # re-derived: the same delivery, both statistics
        pd.testing.assert_frame_equal(
            warehouse.read_cohorts([KEY]), expected_rows(mean_load), check_exact=True
        )
        assert rows_of(url, statistics) == [(KEY, "both"), (OTHER_KEY, "first")]
        assert warehouse.cohorts_to_rederive() == {OTHER_KEY: "first"}
    finally:
        warehouse.dispose()


def test_007_keeps_every_row_loaded_at_006_under_the_default_rig(url, engine, tmp_path):
    """Two cohorts loaded at revision 006 (one rig, no rigs table) go through 007: every row
    of cohorts, cohort_files and sensor_hourly is still there, value for value, under the
    default rig (rig_id 1, site and name `default`); loads of another rig of the same cohort
    then go beside them and replacing one leaves the other as it was."""
    assert upgrade(url, migrations_up_to(tmp_path, "006")) == ALL[:6]
    loads = [cohort_load(KEY, seed=21), cohort_load(OTHER_KEY, seed=22)]
    for load in loads:
        load_at_006(url, load)
    tables = {
        "cohorts": "cohort",
        "cohort_files": "cohort, file_name",
        FACT_TABLE: "cohort, cycle",
    }
    before = {t: rows_of(url, f"SELECT * FROM {t} ORDER BY {order}") for t, order in tables.items()}

    warehouse = Warehouse(url)
    try:
        assert warehouse.ensure_schema() == ["007"]
        assert_matches_schema(engine)
        for table, order in tables.items():
            # every column of 006, in its order, then rig_id: the default rig's
            after = rows_of(url, f"SELECT * FROM {table} ORDER BY {order}")
            assert after == [(*row, DEFAULT_RIG_ID) for row in before[table]], table
        assert rows_of(url, "SELECT rig_id, site, well, name FROM rigs") == [
            (DEFAULT_RIG_ID, DEFAULT_RIG.site, DEFAULT_RIG.name, DEFAULT_RIG.name)
        ]
        for load in loads:
            pd.testing.assert_frame_equal(
                warehouse.read_cohorts([load.key]), expected_rows(load), check_exact=True
            )
        assert warehouse.cohort_deliveries() == {load.key: load.delivery for load in loads}

        other_rig = Rig("north-sea", "rig-7")
        beside = cohort_load(KEY, seed=23, rig=other_rig)
        assert warehouse.replace_cohort(beside).rows_replaced == 0
        assert warehouse.rig_id(other_rig) == DEFAULT_RIG_ID + 1  # the sequence went on from 1
        assert warehouse.replace_cohort(cohort_load(KEY, seed=24)).rows_replaced == ROWS
        pd.testing.assert_frame_equal(
            warehouse.read_cohorts([KEY], rig=other_rig), expected_rows(beside), check_exact=True
        )
        assert warehouse.loaded_rigs() == {
            (DEFAULT_RIG, KEY): ROWS,
            (DEFAULT_RIG, OTHER_KEY): ROWS,
            (other_rig, KEY): ROWS,
        }
    finally:
        warehouse.dispose()


def test_on_sqlite_old_and_new_rows_store_their_timestamps_alike(tmp_path):
    """SQLite keeps DATETIME as text: the new code writes exactly the format the old one did
    (`YYYY-MM-DD HH:MM:SS`), so old and new rows compare and sort as one column."""
    url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    create_legacy_database(url, 4)
    load_legacy_cohort(url, cohort_load(KEY, seed=1))
    warehouse = Warehouse(url)
    try:
        warehouse.replace_cohort(cohort_load(OTHER_KEY, seed=2))
    finally:
        warehouse.dispose()
    stored = rows_of(
        url,
        "SELECT cohort, MIN(date_time), MAX(date_time), MIN(typeof(date_time)),"
        " MIN(length(date_time)), MAX(length(date_time)) FROM sensor_hourly GROUP BY cohort",
    )
    assert stored == [
        (KEY, "2008-03-26 00:00:00", "2008-03-27 23:00:00", "text", 19, 19),
        (OTHER_KEY, "2008-06-26 00:00:00", "2008-06-27 23:00:00", "text", 19, 19),
    ]
    assert rows_of(url, "SELECT window_start, window_end FROM cohorts ORDER BY cohort") == [
        ("2008-03-26 00:00:00", "2008-06-26 00:00:00"),
        ("2008-06-26 00:00:00", "2008-09-26 00:00:00"),
    ]


# -- applying revisions --------------------------------------------------------------------


def test_warehouses_starting_at_once_upgrade_once(url):
    """Separate connections (as separate processes would have) race to prepare an empty
    database; the schema lock lets exactly one apply the revisions."""
    from energymobile_tests.storage.support import at_once

    results, errors = at_once(url, [Warehouse.ensure_schema] * 4, schema_first=False)
    assert errors == []
    assert sorted(results, key=len) == [[], [], [], ALL]
    assert rows_of(url, "SELECT version_num FROM alembic_version") == [(HEAD,)]
    assert scalar(url, "SELECT COUNT(*) FROM cooler_condition") == 3


def later(revision: str) -> str:
    """A test revision (999) after the newest real one, whichever that is."""
    return revision.replace("{head}", HEAD)


def copy_of_migrations(tmp_path: Path) -> Path:
    folder = tmp_path / "migrations"
    shutil.copytree(migrations_folder(), folder, ignore=shutil.ignore_patterns("__pycache__"))
    return folder


NOTE_REVISION = '''"""A later change: a note per cohort.

Revision ID: 999
Revises: {head}
"""

import sqlalchemy as sa
from alembic import op

revision = "999"
down_revision = "{head}"


def upgrade() -> None:
    with op.batch_alter_table("cohorts") as batch:
        batch.add_column(sa.Column("note", sa.String(64), nullable=True))
'''


def test_a_new_revision_is_one_file_that_moves_a_loaded_database_forward(url, warehouse, tmp_path):
    load = cohort_load(KEY)
    warehouse.replace_cohort(load)
    migrations = copy_of_migrations(tmp_path)
    (migrations / "versions" / "999_cohort_note.py").write_text(later(NOTE_REVISION))

    assert upgrade(url, migrations) == ["999"]
    assert upgrade(url, migrations) == []
    pd.testing.assert_frame_equal(warehouse.read_cohorts([KEY]), expected_rows(load))
    assert scalar(url, "SELECT COUNT(*) FROM cohorts WHERE note IS NULL") == 1
    assert rows_of(url, "SELECT version_num FROM alembic_version") == [("999",)]


def test_no_migrations_found_is_an_error_and_the_database_is_left_alone(tmp_path):
    url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    nothing = tmp_path / "nothing"
    nothing.mkdir()
    with pytest.raises(MigrationsNotFound, match="no warehouse migrations"):
        upgrade(url, nothing)
    no_versions = copy_of_migrations(tmp_path)
    for revision in (no_versions / "versions").glob("0*.py"):
        revision.unlink()
    with pytest.raises(MigrationsNotFound, match=r"the installation is incomplete"):
        upgrade(url, no_versions)
    engine = create_engine(url)
    try:
        assert inspect(engine).get_table_names() == []
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def transactional_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The dialects whose DDL is transactional."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    return str(request.getfixturevalue("postgres_url"))


FAILING_REVISION = '''"""A revision that fails at its end.

Revision ID: 999
Revises: {head}
"""

from alembic import op

revision = "999"
down_revision = "{head}"


def upgrade() -> None:
    op.execute("SELECT no_such_column FROM cohorts")
'''


def test_an_upgrade_that_fails_leaves_the_database_as_it_was(transactional_url, tmp_path):
    """SQLite and PostgreSQL: 004 and 005 (SQLite rebuilds the fact table) then a failing
    revision, over a loaded database at 003: the failure rolls back 004 and 005 as well, rows
    and all, and the real revisions then apply."""
    url = transactional_url
    create_legacy_database(url, 3)
    load = cohort_load(KEY, seed=8)
    load_legacy_cohort(url, load, 3)
    migrations = copy_of_migrations(tmp_path)
    (migrations / "versions" / "999_fails.py").write_text(later(FAILING_REVISION))

    with pytest.raises(DBAPIError, match="no_such_column"):
        upgrade(url, migrations)

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            assert current_revision(conn) == "003"  # the stamp of the old database stays
        found = inspect(engine)
        assert PROFILES_TABLE not in found.get_table_names()
        assert [c["name"] for c in found.get_columns(FACT_TABLE)] == [
            *KEY_COLUMNS,
            *OLD_SENSOR_COLUMNS,
            *CONDITION_COLUMNS,
        ]
        before = expected_rows_before_005(load, "mean")
        pd.testing.assert_frame_equal(
            legacy_view_rows(engine, KEY, "mean"), before, check_exact=True
        )

        assert upgrade(url) == ALL[3:]
        pd.testing.assert_frame_equal(view_rows(engine, KEY), before, check_exact=True)
    finally:
        engine.dispose()


DANGLING_REVISION = '''"""A revision that leaves a row without its parent.

Revision ID: 999
Revises: {head}
"""

from alembic import op

revision = "999"
down_revision = "{head}"


def upgrade() -> None:
    op.execute(
        "INSERT INTO cohort_files (rig_id, cohort, file_name, byte_count, row_count, sha256)"
        " VALUES (1, '1999-03-26', 'PS1.txt', 1, 1, 'x')"
    )
'''


def test_on_sqlite_a_revision_leaving_rows_without_their_parent_is_rolled_back(tmp_path):
    """SQLite checks no foreign key while a migration rebuilds tables (SQLite's advice): every
    row is checked before the upgrade commits instead."""
    url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    migrations = copy_of_migrations(tmp_path)
    (migrations / "versions" / "999_dangling.py").write_text(later(DANGLING_REVISION))
    with pytest.raises(
        ForeignKeyViolation, match=r"1 rows without their parent row \(cohort_files"
    ):
        upgrade(url, migrations)
    engine = create_engine(url)
    try:
        assert inspect(engine).get_table_names() == []  # 001 to 005 rolled back with it
    finally:
        engine.dispose()
    assert upgrade(url) == ALL


@pytest.mark.parametrize(
    "stopped_after",
    [
        "ALTER TABLE sensor_hourly ADD COLUMN profile_id",
        "ALTER TABLE sensor_hourly ADD CONSTRAINT fk_sensor_hourly_profile",
        "ALTER TABLE sensor_hourly DROP COLUMN valve_condition",
        "CREATE VIEW oil_well_hourly",
    ],
    ids=["column-added", "key-constrained", "codes-half-dropped", "all-but-recorded"],
)
def test_004_interrupted_on_mariadb_finishes_when_run_again(mysql_url, stopped_after):
    """MySQL commits DDL statement by statement: 004 stopped anywhere (here: the DBA's
    sql/mysql/004 file run up to a statement) finishes when energymobile runs it again."""
    create_legacy_database(mysql_url, 3)
    load = cohort_load(KEY, seed=7)
    load_legacy_cohort(mysql_url, load, 3)
    dba_file = (REPO_ROOT / "sql" / "mysql" / "004_condition_profiles.sql").read_text()
    chunks = (
        "\n".join(ln for ln in chunk.splitlines() if not ln.startswith("--")).strip()
        for chunk in dba_file.split(";\n\n")
    )
    statements = [chunk for chunk in chunks if chunk]
    stop = next(i for i, s in enumerate(statements) if s.lstrip().startswith(stopped_after))
    engine = create_engine(mysql_url)
    try:
        with engine.connect() as conn:
            for statement in statements[: stop + 1]:
                conn.exec_driver_sql(statement)
            conn.commit()
        assert Warehouse(mysql_url).ensure_schema() == ALL[3:]
        assert_matches_schema(engine)
        before = expected_rows_before_005(load, "mean")
        pd.testing.assert_frame_equal(view_rows(engine, KEY), before, check_exact=True)
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "stopped_after",
    [
        "ALTER TABLE sensor_hourly ADD COLUMN ps1_first",
        "UPDATE sensor_hourly SET ps1_first",
        "ALTER TABLE sensor_hourly DROP COLUMN ps1",
    ],
    ids=["columns-added", "firsts-copied", "old-columns-dropped"],
)
def test_005_interrupted_on_mariadb_finishes_when_run_again(mysql_url, tmp_path, stopped_after):
    """005 stopped anywhere (the DBA's sql/mysql/005 file run up to a statement) finishes when
    energymobile runs it again, every loaded value in its statistic's column."""
    assert upgrade(mysql_url, migrations_up_to(tmp_path, "004")) == ALL[:4]
    mean_load, first_load = cohort_load(KEY, seed=13), cohort_load(OTHER_KEY, seed=14)
    load_legacy_cohort(mysql_url, mean_load, statistic="mean")
    load_legacy_cohort(mysql_url, first_load, statistic="first")
    dba_file = (REPO_ROOT / "sql" / "mysql" / "005_both_statistics_per_cycle.sql").read_text()
    chunks = (
        "\n".join(ln for ln in chunk.splitlines() if not ln.startswith("--")).strip()
        for chunk in dba_file.split(";\n\n")
    )
    statements = [chunk for chunk in chunks if chunk]
    stop = next(i for i, s in enumerate(statements) if s.lstrip().startswith(stopped_after))
    engine = create_engine(mysql_url)
    try:
        with engine.connect() as conn:
            for statement in statements[: stop + 1]:
                conn.exec_driver_sql(statement)
            conn.commit()
        assert Warehouse(mysql_url).ensure_schema() == ALL[4:]  # 005 and what follows it
        assert_matches_schema(engine)
        for load, statistic in ((mean_load, "mean"), (first_load, "first")):
            expected = expected_rows_before_005(load, statistic)
            pd.testing.assert_frame_equal(view_rows(engine, load.key), expected, check_exact=True)
    finally:
        engine.dispose()


# -- the DBA's sql/ ------------------------------------------------------------------------


def test_sql_folder_is_what_the_migrations_generate():
    """sql/ is generated (`make sql`): regenerated here, it must match the checked-in files
    byte for byte, with no file missing or left over."""
    generated = dict(sql_files())
    checked_in = {
        path.relative_to(REPO_ROOT / "sql"): path.read_text("utf-8")
        for path in (REPO_ROOT / "sql").rglob("*.sql")
    }
    assert sorted(checked_in) == sorted(generated), "run `make sql`"
    for relative, text_ in generated.items():
        assert checked_in[relative] == text_, f"sql/{relative} is stale: run `make sql`"
    assert {p.parts[0] for p in generated} == set(DIALECTS)
