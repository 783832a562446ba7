"""The five condition codes of sensor_hourly become one key of a junk dimension,
condition_profiles: one row per documented combination of codes.

Revision ID: 004
Revises: 003
Create Date: 2026-11-25 (sql/004_condition_profiles.sql before Alembic)

Why: InnoDB keeps an index for every foreign key, so each fact row updated five condition
indexes (plus the composite one) besides its primary key and date_time index. One profile key
needs one index; a bulk load then maintains three indexes per row instead of seven.
oil_well_hourly keeps exactly its columns and values (it joins through condition_profiles).

profile_id is computed from the codes (storage/schema.py's profile_key, the loader's
warehouse.profile_id_expr; a CHECK holds every row to it):
    ((((cooler * 1000 + valve) * 10 + pump) * 1000 + accumulator) * 10 + stable)
e.g. 100/100/0/130/0 -> 10010001300. The digit ranges make it one-to-one; an undocumented code
has no profile row, so the fact's foreign key refuses it. Computed in BIGINT from the first
term: from SMALLINT codes PostgreSQL would compute in INTEGER, which the key overflows.

Existing rows keep their values: profile_id is added nullable, filled from their codes, and
made NOT NULL with its foreign key (which checks every row) before the codes are dropped.
SQLite rebuilds the table for that (batch mode), in the upgrade's one transaction. On MySQL
every step runs only while still needed (migrations/steps.py), so a run stopped anywhere
finishes when run again; the table is then rebuilt (FORCE), since MariaDB would otherwise drop
the columns "instantly", leaving them hidden in every row, old and new.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from energymobile.storage.migrations.steps import missing, present

revision: str = "004"
down_revision: str | None = "003"
branch_labels = None
depends_on = None

MYSQL = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_unicode_ci",
}
FACT = "sensor_hourly"
PROFILES = "condition_profiles"
CONDITIONS = {
    "cooler_condition": "cooler",
    "valve_condition": "valve",
    "internal_pump_leakage": "pump",
    "hydraulic_accumulator_bar": "accumulator",
    "stable_flag": "stable",
}
"""Each condition column and the short name in its foreign keys' names."""
RADIXES = (1000, 10, 1000, 10)
"""Of valve, pump, accumulator and stable: each code must be below its radix."""

OIL_WELL_HOURLY = """
CREATE VIEW oil_well_hourly AS
SELECT
    h.cohort, h.cycle, h.date_time, h.cumulative_minutes,
    h.ps1, h.ps2, h.ps3, h.ps4, h.ps5, h.ps6, h.eps1, h.fs1, h.fs2,
    h.ts1, h.ts2, h.ts3, h.ts4, h.vs1, h.ce, h.cp, h.se,
    p.cooler_condition, p.valve_condition, p.internal_pump_leakage,
    p.hydraulic_accumulator_bar, p.stable_flag,
    cc.description AS cooler_condition_description,
    vc.description AS valve_condition_description,
    pl.description AS internal_pump_leakage_description,
    ha.description AS hydraulic_accumulator_bar_description,
    sf.description AS stable_flag_description
FROM sensor_hourly h
JOIN condition_profiles p ON p.profile_id = h.profile_id
JOIN cooler_condition cc ON cc.code = p.cooler_condition
JOIN valve_condition vc ON vc.code = p.valve_condition
JOIN internal_pump_leakage pl ON pl.code = p.internal_pump_leakage
JOIN hydraulic_accumulator_bar ha ON ha.code = p.hydraulic_accumulator_bar
JOIN stable_flag sf ON sf.code = p.stable_flag
"""
"""The view reads the codes and descriptions through the profile: same columns, same values."""


def profile_key(codes: Sequence[sa.ColumnElement[int]]) -> sa.ColumnElement[int]:
    first, *rest = codes
    key: sa.ColumnElement[int] = sa.cast(first, sa.BigInteger)
    for code, radix in zip(rest, RADIXES, strict=True):
        key = key * radix + code
    return key


def create_condition_profiles() -> None:
    profile_id = sa.Column("profile_id", sa.BigInteger, nullable=False, autoincrement=False)
    codes = [sa.Column(name, sa.SmallInteger, nullable=False) for name in CONDITIONS]
    within_digits = [
        code.between(0, radix - 1) for code, radix in zip(codes[1:], RADIXES, strict=True)
    ]
    op.create_table(
        PROFILES,
        profile_id,
        *codes,
        sa.PrimaryKeyConstraint("profile_id"),
        sa.UniqueConstraint(*CONDITIONS, name="uq_condition_profiles_codes"),
        sa.CheckConstraint(
            sa.and_(*within_digits, profile_id == profile_key(codes)),
            name="ck_condition_profiles_id",
        ),
        *(
            sa.ForeignKeyConstraint([name], [f"{name}.code"], name=f"fk_condition_profiles_{short}")
            for name, short in CONDITIONS.items()
        ),
        if_not_exists=True,
        **MYSQL,
    )


def insert_documented_profiles() -> None:
    """Every combination of the documented codes: 3 x 4 x 3 x 4 x 2 = 288 rows. A code
    documented later goes into its condition table, and its revision runs this again (only
    the missing rows go in). Plain SQL: SQLAlchemy's MySQL compiler mistakes a chain of cross
    joins for a cartesian product it should warn about."""
    bigint = "SIGNED" if op.get_context().dialect.name == "mysql" else "BIGINT"
    key = (
        f"((((CAST(cc.code AS {bigint}) * 1000 + vc.code) * 10 + pl.code) * 1000 + ha.code) * 10"
        " + sf.code)"
    )
    op.execute(
        f"""INSERT INTO condition_profiles (profile_id, cooler_condition, valve_condition,
    internal_pump_leakage, hydraulic_accumulator_bar, stable_flag)
SELECT {key}, cc.code, vc.code, pl.code, ha.code, sf.code
FROM cooler_condition cc
CROSS JOIN valve_condition vc
CROSS JOIN internal_pump_leakage pl
CROSS JOIN hydraulic_accumulator_bar ha
CROSS JOIN stable_flag sf
WHERE NOT EXISTS (SELECT 1 FROM condition_profiles p WHERE p.profile_id = {key})"""
    )


def upgrade() -> None:
    create_condition_profiles()
    insert_documented_profiles()

    # The new column, nullable until every row has its value; existing rows get theirs.
    if missing("column", FACT, "profile_id"):
        op.add_column(FACT, sa.Column("profile_id", sa.BigInteger, nullable=True))
    fact = sa.table(FACT, sa.column("profile_id"), *(sa.column(c) for c in CONDITIONS))
    if present("column", FACT, "cooler_condition"):
        op.execute(
            fact.update()
            .where(fact.c.profile_id.is_(None))
            .values(profile_id=profile_key([fact.c[name] for name in CONDITIONS]))
        )
    if missing("index", FACT, "ix_sensor_hourly_profile"):  # before the key: MySQL uses it
        op.create_index("ix_sensor_hourly_profile", FACT, ["profile_id"])

    # The view names the codes about to go: it goes first, and comes back at the end.
    op.execute("DROP VIEW IF EXISTS oil_well_hourly")
    old_keys = [f"fk_{FACT}_{short}" for short in CONDITIONS.values()]
    with op.batch_alter_table(FACT) as batch:  # SQLite: one table rebuild for all of it
        batch.alter_column("profile_id", existing_type=sa.BigInteger(), nullable=False)
        if missing("foreign_key", FACT, "fk_sensor_hourly_profile"):
            batch.create_foreign_key(
                "fk_sensor_hourly_profile", PROFILES, ["profile_id"], ["profile_id"]
            )
        for name in old_keys:
            if present("foreign_key", FACT, name):
                batch.drop_constraint(name, type_="foreignkey")
        if present("index", FACT, "ix_sensor_hourly_conditions"):
            batch.drop_index("ix_sensor_hourly_conditions")
        for name in CONDITIONS:
            if present("column", FACT, name):
                batch.drop_column(name)
    if op.get_context().dialect.name == "mysql":
        op.execute(f"ALTER TABLE {FACT} FORCE")
    op.execute(OIL_WELL_HOURLY)


def downgrade() -> None:
    raise NotImplementedError("the warehouse's migrations go forward only (docs/mysql.md)")
