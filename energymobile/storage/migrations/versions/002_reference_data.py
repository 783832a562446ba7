"""Reference data from the dataset's documentation (description.txt): the 17 channels and the
meaning of each condition code in profile.txt ("reduced effifiency" is corrected).

Revision ID: 002
Revises: 001
Create Date: 2026-11-25 (sql/002_reference_data.sql before Alembic)

The rows as they were documented when this revision was written; a later correction of a
description belongs in a new revision, as an UPDATE. Online, a table that already has its rows
(a database prepared half-way by hand) is left as it is.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from energymobile.storage.migrations.steps import missing

revision: str = "002"
down_revision: str | None = "001"
branch_labels = None
depends_on = None

SENSORS = [
    ("PS1", "ps1", "Pressure", "bar", 100, 6000),
    ("PS2", "ps2", "Pressure", "bar", 100, 6000),
    ("PS3", "ps3", "Pressure", "bar", 100, 6000),
    ("PS4", "ps4", "Pressure", "bar", 100, 6000),
    ("PS5", "ps5", "Pressure", "bar", 100, 6000),
    ("PS6", "ps6", "Pressure", "bar", 100, 6000),
    ("EPS1", "eps1", "Motor power", "W", 100, 6000),
    ("FS1", "fs1", "Volume flow", "l/min", 10, 600),
    ("FS2", "fs2", "Volume flow", "l/min", 10, 600),
    ("TS1", "ts1", "Temperature", "°C", 1, 60),
    ("TS2", "ts2", "Temperature", "°C", 1, 60),
    ("TS3", "ts3", "Temperature", "°C", 1, 60),
    ("TS4", "ts4", "Temperature", "°C", 1, 60),
    ("VS1", "vs1", "Vibration", "mm/s", 1, 60),
    ("CE", "ce", "Cooling efficiency (virtual)", "%", 1, 60),
    ("CP", "cp", "Cooling power (virtual)", "kW", 1, 60),
    ("SE", "se", "Efficiency factor", "%", 1, 60),
]
CODES: dict[str, list[tuple[int, str]]] = {
    "cooler_condition": [
        (3, "close to total failure"),
        (20, "reduced efficiency"),
        (100, "full efficiency"),
    ],
    "valve_condition": [
        (100, "optimal switching behavior"),
        (90, "small lag"),
        (80, "severe lag"),
        (73, "close to total failure"),
    ],
    "internal_pump_leakage": [
        (0, "no leakage"),
        (1, "weak leakage"),
        (2, "severe leakage"),
    ],
    "hydraulic_accumulator_bar": [
        (130, "optimal pressure"),
        (115, "slightly reduced pressure"),
        (100, "severely reduced pressure"),
        (90, "close to total failure"),
    ],
    "stable_flag": [
        (0, "conditions were stable"),
        (1, "static conditions might not have been reached yet"),
    ],
}


def upgrade() -> None:
    sensors = sa.table(
        "sensors",
        sa.column("code", sa.String),
        sa.column("column_name", sa.String),
        sa.column("quantity", sa.String),
        sa.column("unit", sa.String),
        sa.column("sampling_rate_hz", sa.SmallInteger),
        sa.column("samples_per_cycle", sa.SmallInteger),
    )
    if missing("rows", "sensors"):
        op.bulk_insert(sensors, [dict(zip(sensors.c.keys(), row, strict=True)) for row in SENSORS])
    for name, codes in CODES.items():
        if missing("rows", name):
            table = sa.table(
                name, sa.column("code", sa.SmallInteger), sa.column("description", sa.String)
            )
            op.bulk_insert(table, [{"code": code, "description": text} for code, text in codes])


def downgrade() -> None:
    raise NotImplementedError("the warehouse's migrations go forward only (docs/mysql.md)")
