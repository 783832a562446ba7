"""The rig as a dimension: a `rigs` table (site, well, name), the rig on every row of cohorts,
cohort_files and sensor_hourly, and the keys (rig, cohort[, cycle]).

Revision ID: 007
Revises: 006
Create Date: 2026-12-01

Why: the platform grows from one rig to a fleet (31 sites, 60 wells each, every well's rig
delivering the same 17 files per cohort; docs/fleet.md). Two rigs' rows of one cohort must
live side by side, and replacing one (rig, cohort) must delete that rig's rows only, so two
rigs of a cohort load at once.

Existing rows are the one rig the warehouse held: the default rig (site `default`, name
`default`, rig_id 1, inserted here), so nothing is lost and a single-rig installation goes on
as before. The new columns come last in each table (PostgreSQL can only append a column) with
the default rig as their value, then lose the default: every load names its rig.

Steps: the view goes (it reads the fact), `rigs` with the default rig, then the children's
foreign keys to cohorts go, each table gets rig_id and its new primary key, and the keys come
back over (rig_id, cohort); the view comes back with `site` and `rig`. On MySQL each step runs
only while still needed (migrations/steps.py), one ALTER per table for column and key (one
rebuild each). SQLite rebuilds each table once (batch mode), in the upgrade's one transaction.
"""

from __future__ import annotations

import warnings

import sqlalchemy as sa
from alembic import op

from energymobile.storage.migrations.steps import missing, present, primary_key

revision: str = "007"
down_revision: str | None = "006"
branch_labels = None
depends_on = None

NAME_CHARS = 64
"""energymobile/rigs.py NAME_MAX_CHARS as of this revision."""
DEFAULT_RIG = {"rig_id": 1, "site": "default", "well": "default", "name": "default"}
"""The rig of every row loaded before this revision (energymobile/rigs.py DEFAULT_RIG)."""
MYSQL_OPTIONS = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_unicode_ci",
}
KEYS = {
    "cohorts": ("rig_id", "cohort"),
    "cohort_files": ("rig_id", "cohort", "file_name"),
    "sensor_hourly": ("rig_id", "cohort", "cycle"),
}
"""Each table's new primary key."""
CHILD_KEYS = {"cohort_files": "fk_cohort_files_cohort", "sensor_hourly": "fk_sensor_hourly_cohort"}
"""The foreign keys to cohorts, dropped and made again over (rig_id, cohort)."""

OIL_WELL_HOURLY = """
CREATE VIEW oil_well_hourly AS
SELECT
    r.site, r.name AS rig,
    h.cohort, h.cycle, h.date_time, h.cumulative_minutes,
    h.ps1_first, h.ps2_first, h.ps3_first, h.ps4_first, h.ps5_first, h.ps6_first,
    h.eps1_first, h.fs1_first, h.fs2_first, h.ts1_first, h.ts2_first, h.ts3_first,
    h.ts4_first, h.vs1_first, h.ce_first, h.cp_first, h.se_first,
    h.ps1_mean, h.ps2_mean, h.ps3_mean, h.ps4_mean, h.ps5_mean, h.ps6_mean,
    h.eps1_mean, h.fs1_mean, h.fs2_mean, h.ts1_mean, h.ts2_mean, h.ts3_mean,
    h.ts4_mean, h.vs1_mean, h.ce_mean, h.cp_mean, h.se_mean,
    p.cooler_condition, p.valve_condition, p.internal_pump_leakage,
    p.hydraulic_accumulator_bar, p.stable_flag,
    cc.description AS cooler_condition_description,
    vc.description AS valve_condition_description,
    pl.description AS internal_pump_leakage_description,
    ha.description AS hydraulic_accumulator_bar_description,
    sf.description AS stable_flag_description
FROM sensor_hourly h
JOIN rigs r ON r.rig_id = h.rig_id
JOIN condition_profiles p ON p.profile_id = h.profile_id
JOIN cooler_condition cc ON cc.code = p.cooler_condition
JOIN valve_condition vc ON vc.code = p.valve_condition
JOIN internal_pump_leakage pl ON pl.code = p.internal_pump_leakage
JOIN hydraulic_accumulator_bar ha ON ha.code = p.hydraulic_accumulator_bar
JOIN stable_flag sf ON sf.code = p.stable_flag
"""
"""The view as of 007: the rig's site and name, then the view of 005."""


def upgrade() -> None:
    op.execute("DROP VIEW IF EXISTS oil_well_hourly")
    dialect = op.get_context().dialect.name
    if missing("table", "rigs"):
        op.create_table(
            "rigs",
            sa.Column("rig_id", sa.Integer(), nullable=False, autoincrement=True),
            sa.Column("site", sa.String(NAME_CHARS), nullable=False),
            sa.Column("well", sa.String(NAME_CHARS), nullable=False),
            sa.Column("name", sa.String(NAME_CHARS), nullable=False),
            sa.PrimaryKeyConstraint("rig_id"),
            sa.UniqueConstraint("site", "name", name="uq_rigs_site_name"),
            **MYSQL_OPTIONS,
        )
    if missing("rows", "rigs"):
        rigs = sa.table(
            "rigs",
            sa.column("rig_id", sa.Integer),
            *(sa.column(name, sa.String) for name in ("site", "well", "name")),
        )
        op.bulk_insert(rigs, [DEFAULT_RIG])
        if dialect == "postgresql":  # the serial's next value after the explicit 1
            op.execute("SELECT setval(pg_get_serial_sequence('rigs', 'rig_id'), 1)")

    if dialect == "mysql":
        _upgrade_mysql()
    else:
        _upgrade_in_transaction(dialect)
    op.execute(OIL_WELL_HOURLY)


def _upgrade_in_transaction(dialect: str) -> None:
    """SQLite and PostgreSQL: the whole upgrade is one transaction, every step still needed.
    On SQLite each batch is one table rebuild (foreign keys are checked before the commit)."""
    for table, key in CHILD_KEYS.items():
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(key, type_="foreignkey")
    for table, key in KEYS.items():
        with op.batch_alter_table(table) as batch:
            batch.add_column(
                sa.Column("rig_id", sa.Integer(), nullable=False, server_default=sa.text("1"))
            )
        with warnings.catch_warnings(), op.batch_alter_table(table) as batch:
            # SQLite's rebuild copies the old key's columns flagged as key columns, and
            # SQLAlchemy warns that the table's new key replaces them: which is the point.
            warnings.filterwarnings("ignore", "Table '_alembic_tmp_", sa.exc.SAWarning)
            batch.alter_column("rig_id", server_default=None)
            if dialect == "postgresql":
                batch.drop_constraint(f"{table}_pkey", type_="primary")
            batch.create_primary_key(f"{table}_pkey", list(key))
            if table == "cohorts":
                batch.create_foreign_key("fk_cohorts_rig", "rigs", ["rig_id"], ["rig_id"])
            else:
                batch.create_foreign_key(
                    CHILD_KEYS[table], "cohorts", ["rig_id", "cohort"], ["rig_id", "cohort"]
                )


def _upgrade_mysql() -> None:
    """MySQL commits each statement: every step asks whether it is still needed, so a run
    stopped anywhere finishes when run again."""
    for table, key in CHILD_KEYS.items():
        if present("foreign_key", table, key):
            op.execute(f"ALTER TABLE {table} DROP FOREIGN KEY {key}")
    for table, key in KEYS.items():
        changes = []
        if missing("column", table, "rig_id"):
            changes.append("ADD COLUMN rig_id INT NOT NULL DEFAULT 1")
        if primary_key(table) != list(key):
            changes.append(f"DROP PRIMARY KEY, ADD PRIMARY KEY ({', '.join(key)})")
        if changes:
            op.execute(f"ALTER TABLE {table} {', '.join(changes)}")
        op.execute(f"ALTER TABLE {table} ALTER COLUMN rig_id DROP DEFAULT")
    if missing("foreign_key", "cohorts", "fk_cohorts_rig"):
        op.execute(
            "ALTER TABLE cohorts ADD CONSTRAINT fk_cohorts_rig "
            "FOREIGN KEY (rig_id) REFERENCES rigs (rig_id)"
        )
    for table, key in CHILD_KEYS.items():
        if missing("foreign_key", table, key):
            op.execute(
                f"ALTER TABLE {table} ADD CONSTRAINT {key} "
                "FOREIGN KEY (rig_id, cohort) REFERENCES cohorts (rig_id, cohort)"
            )


def downgrade() -> None:
    raise NotImplementedError("the warehouse's migrations go forward only (docs/mysql.md)")
