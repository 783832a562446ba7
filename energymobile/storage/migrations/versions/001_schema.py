"""The star schema: the channels, the five condition tables, cohorts and their files, and the
fact sensor_hourly with one column per channel and the five condition codes.

Revision ID: 001
Revises:
Create Date: 2026-11-25 (sql/001_schema.sql before Alembic)

Re-runnable on MySQL (tables IF NOT EXISTS, indexes only while missing), so a database that
energymobile or a DBA prepared half-way is finished rather than refused.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql, postgresql

from energymobile.storage.migrations.steps import missing

revision: str = "001"
down_revision: str | None = None
branch_labels = None
depends_on = None

MYSQL = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_unicode_ci",
}
DATETIME = (
    sa.DateTime()
    .with_variant(mysql.DATETIME(), "mysql")
    .with_variant(postgresql.TIMESTAMP(precision=0), "postgresql")
)
"""Naive UTC, whole seconds. Spelled out for MySQL: in a Dagster process, Dagster compiles a
generic DateTime as DATETIME(6) there."""
CHANNELS = (
    *("ps1", "ps2", "ps3", "ps4", "ps5", "ps6", "eps1", "fs1", "fs2"),
    *("ts1", "ts2", "ts3", "ts4", "vs1", "ce", "cp", "se"),
)
CONDITIONS = {
    "cooler_condition": "cooler",
    "valve_condition": "valve",
    "internal_pump_leakage": "pump",
    "hydraulic_accumulator_bar": "accumulator",
    "stable_flag": "stable",
}
"""Each condition column and the short name in its foreign key's name."""


def upgrade() -> None:
    op.create_table(
        "sensors",
        sa.Column("code", sa.String(8), nullable=False),
        sa.Column("column_name", sa.String(8), nullable=False),
        sa.Column("quantity", sa.String(64), nullable=False),
        sa.Column("unit", sa.String(16), nullable=False),
        sa.Column("sampling_rate_hz", sa.SmallInteger, nullable=False),
        sa.Column("samples_per_cycle", sa.SmallInteger, nullable=False),
        sa.PrimaryKeyConstraint("code"),
        sa.UniqueConstraint("column_name", name="uq_sensors_column_name"),
        if_not_exists=True,
        **MYSQL,
    )
    for name in CONDITIONS:
        op.create_table(
            name,
            sa.Column("code", sa.SmallInteger, nullable=False, autoincrement=False),
            sa.Column("description", sa.String(64), nullable=False),
            sa.PrimaryKeyConstraint("code"),
            if_not_exists=True,
            **MYSQL,
        )
    # One row per loaded cohort (partition): its window and when it was loaded.
    op.create_table(
        "cohorts",
        sa.Column("cohort", sa.String(10), nullable=False),
        sa.Column("window_start", DATETIME, nullable=False),
        sa.Column("window_end", DATETIME, nullable=False),
        sa.Column("row_count", sa.Integer, nullable=False),
        sa.Column("statistic", sa.String(8), nullable=False),
        sa.Column("source_sha256", sa.CHAR(64), nullable=False),
        sa.Column("loaded_at", DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("cohort"),
        if_not_exists=True,
        **MYSQL,
    )
    # The files each cohort was loaded from, with their checksums.
    op.create_table(
        "cohort_files",
        sa.Column("cohort", sa.String(10), nullable=False),
        sa.Column("file_name", sa.String(32), nullable=False),
        sa.Column("byte_count", sa.BigInteger, nullable=False),
        sa.Column("row_count", sa.Integer, nullable=False),
        sa.Column("sha256", sa.CHAR(64), nullable=False),
        sa.PrimaryKeyConstraint("cohort", "file_name"),
        sa.ForeignKeyConstraint(["cohort"], ["cohorts.cohort"], name="fk_cohort_files_cohort"),
        if_not_exists=True,
        **MYSQL,
    )
    # The fact table: one row per cohort and cycle (an hour), one column per channel.
    op.create_table(
        "sensor_hourly",
        sa.Column("cohort", sa.String(10), nullable=False),
        sa.Column("cycle", sa.Integer, nullable=False),
        sa.Column("date_time", DATETIME, nullable=False),
        sa.Column("cumulative_minutes", sa.Integer, nullable=False),
        *(sa.Column(name, sa.Double, nullable=False) for name in CHANNELS),
        *(sa.Column(name, sa.SmallInteger, nullable=False) for name in CONDITIONS),
        sa.PrimaryKeyConstraint("cohort", "cycle"),
        sa.ForeignKeyConstraint(["cohort"], ["cohorts.cohort"], name="fk_sensor_hourly_cohort"),
        *(
            sa.ForeignKeyConstraint([name], [f"{name}.code"], name=f"fk_sensor_hourly_{short}")
            for name, short in CONDITIONS.items()
        ),
        if_not_exists=True,
        **MYSQL,
    )
    # The scientists query by time across cohorts, and by condition.
    if missing("index", "sensor_hourly", "ix_sensor_hourly_date_time"):
        op.create_index("ix_sensor_hourly_date_time", "sensor_hourly", ["date_time"])
    if missing("index", "sensor_hourly", "ix_sensor_hourly_conditions"):
        op.create_index("ix_sensor_hourly_conditions", "sensor_hourly", list(CONDITIONS)[:4])


def downgrade() -> None:
    raise NotImplementedError("the warehouse's migrations go forward only (docs/mysql.md)")
