"""The warehouse's schema as it is now, defined once, with SQLAlchemy Core: the tables, their
keys and indexes, and the flat view `oil_well_hourly`.

A database gets here through Alembic's revisions (`storage/migrations/versions/`, applied by
`storage/migrate.py`); the revisions are the history, this module is the result. The tests
migrate an empty database and a database loaded by the code before Alembic on SQLite, MariaDB
and PostgreSQL and compare it with this module (tables, columns, types, keys, indexes, and the
view's rows), so the two cannot drift apart. A schema change is an edit here plus one new
revision (docs/mysql.md, "Migrations").

Types are spelled so that every dialect stores the same values: `DateTime` is naive UTC in
whole seconds (MySQL `DATETIME`, PostgreSQL `TIMESTAMP(0)`, SQLite text `YYYY-MM-DD HH:MM:SS`,
as the code before Alembic wrote it), `Double` is a 64-bit float everywhere. Constraint and
index names are explicit: later revisions drop and alter them by name, and SQLite's batch
migrations need them.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ColumnElement,
    DateTime,
    Double,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Select,
    SmallInteger,
    String,
    Table,
    UniqueConstraint,
    and_,
    cast,
    select,
)
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.types import CHAR, TypeEngine

from energymobile.channels import CONDITION_COLUMNS, FIRST_COLUMNS, MEAN_COLUMNS
from energymobile.rigs import NAME_MAX_CHARS

metadata = MetaData(
    naming_convention={
        # Names for the indexes and constraints a future revision adds without naming them
        # (SQLite's batch migrations find constraints by name); every one below is named
        # explicitly, as in the databases made before Alembic.
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_N_name)s",
    }
)

MYSQL_TABLE_OPTIONS = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_unicode_ci",
}
"""Every table's options on MySQL/MariaDB (ignored elsewhere)."""

SQLITE_DATETIME_FORMAT = "%(year)04d-%(month)02d-%(day)02d %(hour)02d:%(minute)02d:%(second)02d"

UtcDateTime: TypeEngine = (
    DateTime()
    .with_variant(mysql.DATETIME(), "mysql")
    .with_variant(postgresql.TIMESTAMP(precision=0), "postgresql")
    .with_variant(sqlite.DATETIME(storage_format=SQLITE_DATETIME_FORMAT), "sqlite")
)
"""Naive UTC, whole seconds, on every dialect. MySQL's type is spelled out: once Dagster's
storage is imported (any Dagster process), Dagster compiles every generic `DateTime` as
`DATETIME(6)` on MySQL (dagster/_core/storage/sql.py)."""

CONDITION_KEYS: dict[str, str] = {
    "cooler_condition": "cooler",
    "valve_condition": "valve",
    "internal_pump_leakage": "pump",
    "hydraulic_accumulator_bar": "accumulator",
    "stable_flag": "stable",
}
"""Condition column -> the short name in its foreign keys' names (fk_condition_profiles_valve)."""

PROFILE_RADIXES: dict[str, int] = {
    "valve_condition": 1000,
    "internal_pump_leakage": 10,
    "hydraulic_accumulator_bar": 1000,
    "stable_flag": 10,
}
"""profile_id = ((((cooler*1000 + valve)*10 + pump)*1000 + accumulator)*10 + stable): one-to-one
as long as each code after the first is in [0, radix), which condition_profiles' CHECK holds
every row to (and the loader checks before computing it)."""


def profile_key(codes: Sequence[ColumnElement[int]]) -> ColumnElement[int]:
    """condition_profiles' key computed from the five codes, in SQL. In BIGINT from the first
    term on: from SMALLINT codes PostgreSQL would compute in INTEGER, which the key overflows."""
    first, *rest = codes
    key: ColumnElement[int] = cast(first, BigInteger)
    for code, radix in zip(rest, PROFILE_RADIXES.values(), strict=True):
        key = key * radix + code
    return key


def _condition_table(name: str) -> Table:
    """A condition's documented codes and what each means (profile.txt's columns)."""
    return Table(
        name,
        metadata,
        Column("code", SmallInteger, nullable=False, autoincrement=False),
        Column("description", String(64), nullable=False),
        PrimaryKeyConstraint("code"),
        **MYSQL_TABLE_OPTIONS,
    )


sensors = Table(
    "sensors",
    metadata,
    Column("code", String(8), nullable=False),
    Column("column_name", String(8), nullable=False),
    Column("quantity", String(64), nullable=False),
    Column("unit", String(16), nullable=False),
    Column("sampling_rate_hz", SmallInteger, nullable=False),
    Column("samples_per_cycle", SmallInteger, nullable=False),
    PrimaryKeyConstraint("code"),
    UniqueConstraint("column_name", name="uq_sensors_column_name"),
    **MYSQL_TABLE_OPTIONS,
)
"""The 17 channels, as the dataset documents them (energymobile.channels)."""

condition_tables: dict[str, Table] = {name: _condition_table(name) for name in CONDITION_COLUMNS}

rigs = Table(
    "rigs",
    metadata,
    Column("rig_id", Integer, nullable=False, autoincrement=True),
    Column("site", String(NAME_MAX_CHARS), nullable=False),
    Column("well", String(NAME_MAX_CHARS), nullable=False),
    Column("name", String(NAME_MAX_CHARS), nullable=False),
    PrimaryKeyConstraint("rig_id"),
    UniqueConstraint("site", "name", name="uq_rigs_site_name"),
    **MYSQL_TABLE_OPTIONS,
)
"""The rigs of the fleet (energymobile/rigs.py): a rig is named by its site and its name
within the site; `well` is where it drills (its name when first seen). Rows are added by the
loader the first time a rig delivers; rig_id 1 is the default rig (`default`/`default`) of a
single-rig installation, inserted by revision 007, which every row loaded before belongs to."""

cohorts = Table(
    "cohorts",
    metadata,
    Column("cohort", String(10), nullable=False),
    Column("window_start", UtcDateTime, nullable=False),
    Column("window_end", UtcDateTime, nullable=False),
    Column("row_count", Integer, nullable=False),
    Column("statistic", String(8), nullable=False),  # STATISTICS_BOTH, or see below
    Column("source_sha256", CHAR(64), nullable=False),
    Column("loaded_at", UtcDateTime, nullable=False),
    Column("delivery", CHAR(16), nullable=True),
    Column("rig_id", Integer, nullable=False),
    PrimaryKeyConstraint("rig_id", "cohort"),
    ForeignKeyConstraint(["rig_id"], ["rigs.rig_id"], name="fk_cohorts_rig"),
    **MYSQL_TABLE_OPTIONS,
)
"""One row per loaded (rig, cohort): its window, when it was loaded and from which
delivery (`delivery`: the archive's delivery id, storage/archive.py; NULL for rows loaded
before revision 006, whose delivery is worked out again from `cohort_files`).

`statistic` says which of sensor_hourly's sensor columns the cohort's rows fill: `both` for every
cohort loaded since revision 005; `mean` or `first` for a cohort loaded before it, whose rows
hold only that statistic (the other columns NULL) until it is re-derived from its archive
(docs/mysql.md, "Revision 005")."""

STATISTICS_BOTH = "both"
"""cohorts.statistic of a cohort whose rows hold both statistics (every load since 005)."""

cohort_files = Table(
    "cohort_files",
    metadata,
    Column("cohort", String(10), nullable=False),
    Column("file_name", String(32), nullable=False),
    Column("byte_count", BigInteger, nullable=False),
    Column("row_count", Integer, nullable=False),
    Column("sha256", CHAR(64), nullable=False),
    Column("rig_id", Integer, nullable=False),
    PrimaryKeyConstraint("rig_id", "cohort", "file_name"),
    ForeignKeyConstraint(
        ["rig_id", "cohort"], ["cohorts.rig_id", "cohorts.cohort"], name="fk_cohort_files_cohort"
    ),
    **MYSQL_TABLE_OPTIONS,
)
"""The files each (rig, cohort) was loaded from, with their checksums."""


def _condition_profiles() -> Table:
    profile_id = Column("profile_id", BigInteger, nullable=False, autoincrement=False)
    codes = [Column(name, SmallInteger, nullable=False) for name in CONDITION_COLUMNS]
    later = dict(zip(CONDITION_COLUMNS[1:], codes[1:], strict=True))
    within_digits = [later[name].between(0, radix - 1) for name, radix in PROFILE_RADIXES.items()]
    return Table(
        "condition_profiles",
        metadata,
        profile_id,
        *codes,
        PrimaryKeyConstraint("profile_id"),
        UniqueConstraint(*CONDITION_COLUMNS, name="uq_condition_profiles_codes"),
        CheckConstraint(
            and_(*within_digits, profile_id == profile_key(codes)),
            name="ck_condition_profiles_id",
        ),
        *(
            ForeignKeyConstraint(
                [name], [f"{name}.code"], name=f"fk_condition_profiles_{CONDITION_KEYS[name]}"
            )
            for name in CONDITION_COLUMNS
        ),
        **MYSQL_TABLE_OPTIONS,
    )


condition_profiles = _condition_profiles()
"""The junk dimension: every documented combination of the five codes, under a key computed
from them (`profile_key`). The fact holds one key instead of five codes, so InnoDB maintains
three indexes per fact row instead of seven; an undocumented code has no row here, so the
fact's foreign key refuses it."""

sensor_hourly = Table(
    "sensor_hourly",
    metadata,
    Column("cohort", String(10), nullable=False),
    Column("cycle", Integer, nullable=False),
    Column("date_time", UtcDateTime, nullable=False),
    Column("cumulative_minutes", Integer, nullable=False),
    Column("profile_id", BigInteger, nullable=False),
    # Nullable only for the cohorts loaded before revision 005 (cohorts.statistic); every load
    # since writes both, and the loader refuses a missing value.
    *(Column(name, Double, nullable=True) for name in (*FIRST_COLUMNS, *MEAN_COLUMNS)),
    # Last: added by revision 007, which appends it on every dialect (PostgreSQL cannot place a
    # new column elsewhere), so a new and a migrated database have the same column order.
    Column("rig_id", Integer, nullable=False),
    # Rig first: a (rig, cohort) is one contiguous range of InnoDB's clustered index, so
    # replacing it locks that range only, not another rig's rows of the same cohort.
    PrimaryKeyConstraint("rig_id", "cohort", "cycle"),
    ForeignKeyConstraint(
        ["rig_id", "cohort"], ["cohorts.rig_id", "cohorts.cohort"], name="fk_sensor_hourly_cohort"
    ),
    ForeignKeyConstraint(
        ["profile_id"], ["condition_profiles.profile_id"], name="fk_sensor_hourly_profile"
    ),
    # The scientists query by time across cohorts, and by condition.
    Index("ix_sensor_hourly_date_time", "date_time"),
    Index("ix_sensor_hourly_profile", "profile_id"),
    **MYSQL_TABLE_OPTIONS,
)
"""The fact table: one row per rig, cohort and cycle (an hour), two columns per channel: the cycle's
first sample (`ps1_first`, the template's value) and the mean of its samples (`ps1_mean`)."""


def _oil_well_hourly_query() -> Select:
    """Every sensor_hourly row with its rig's site and name, its five codes and their
    descriptions, through its profile."""
    h, p, r = sensor_hourly, condition_profiles, rigs
    described = {
        name: condition_tables[name].alias(CONDITION_KEYS[name]) for name in CONDITION_COLUMNS
    }
    joined = h.join(r, r.c.rig_id == h.c.rig_id).join(p, p.c.profile_id == h.c.profile_id)
    for name, table in described.items():
        joined = joined.join(table, table.c.code == p.c[name])
    return select(
        r.c.site,
        r.c.name.label("rig"),
        h.c.cohort,
        h.c.cycle,
        h.c.date_time,
        h.c.cumulative_minutes,
        *(h.c[name] for name in FIRST_COLUMNS),
        *(h.c[name] for name in MEAN_COLUMNS),
        *(p.c[name] for name in CONDITION_COLUMNS),
        *(described[name].c.description.label(f"{name}_description") for name in CONDITION_COLUMNS),
    ).select_from(joined)


oil_well_hourly_query = _oil_well_hourly_query()
"""The view's definition; a test checks that the migrated view returns exactly its rows."""
oil_well_hourly = Table(
    "oil_well_hourly",
    metadata,
    *(Column(column.name, column.type) for column in oil_well_hourly_query.selected_columns),
    info={"view": True},
)
"""The scientists' flat rows: exactly what goes to the exports of each site and cohort. A
Table with the query's columns, to select from: the revisions create the view (SQLAlchemy
2.1's `CreateView` makes the same Table, but the 2.0 that Python 3.10 gets has no such
construct); nothing here creates it, and Alembic's comparison skips it (VIEWS)."""

VIEWS: frozenset[str] = frozenset({oil_well_hourly.name})
"""Names in `metadata` that are views, not tables (Alembic's comparison skips them)."""
