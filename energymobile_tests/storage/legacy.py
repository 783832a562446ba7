"""Databases as energymobile made them before Alembic, for the upgrade-in-place tests.

`legacy_schema/<dialect>/` is test data, never applied by the product: the statements the old
runner (storage/schema.py with dialects.py's translation of sql/, until revision 004) executed
on each dialect, and for MySQL the sql/ files themselves, which a DBA also applied by hand.
`create_legacy_database` applies them as the old runner did (each file in one transaction on
SQLite and PostgreSQL, recorded in `schema_migrations`, or not recorded: "prepared by hand"),
and `load_legacy_cohort` writes a cohort as the old warehouse did (text INSERTs with bound
Python values, which on SQLite decides how a DATETIME is stored; before 004 the five codes,
from 004 the profile key).
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

import polars as pl
from sqlalchemy import Engine, create_engine, text

from energymobile.channels import CHANNELS, CONDITION_COLUMNS
from energymobile.cohorts import cohort_window
from energymobile.ingest.hourly import KEY_COLUMNS
from energymobile.storage.dialects import configure_engine, engine_options
from energymobile.storage.warehouse import FACT_TABLE, PROFILE_ID, CohortLoad, fact_table

LEGACY_SQL = Path(__file__).parent / "legacy_schema"
FILES = (
    "001_schema.sql",
    "002_reference_data.sql",
    "003_oil_well_hourly_view.sql",
    "004_condition_profiles.sql",
)
"""The old sql/ files, by version (1 to 4)."""


def legacy_engine(url: str) -> Engine:
    """An engine set up as the old Warehouse's was."""
    engine = create_engine(url, **engine_options(url))
    configure_engine(engine)
    return engine


def statements(path: Path) -> list[str]:
    """The old runner's split: `;` at the end of a line ends a statement; `--` lines dropped."""
    lines = [ln for ln in path.read_text("utf-8").splitlines() if not ln.lstrip().startswith("--")]
    found = re.split(r";\s*$", "\n".join(lines), flags=re.MULTILINE)
    return [s.strip() for s in found if s.strip()]


def legacy_files(dialect: str, version: int) -> list[Path]:
    """The files the old runner applied on this dialect up to `version`."""
    return [LEGACY_SQL / dialect / name for name in FILES[:version]]


def create_legacy_database(url: str, version: int = 4, *, recorded: bool = True) -> None:
    """The schema up to `version` as energymobile made it before Alembic; with `recorded`
    off, without schema_migrations (as a DBA prepared it by hand)."""
    engine = legacy_engine(url)
    dialect = engine.dialect.name
    try:
        with engine.connect() as conn:
            if recorded:
                for statement in statements(LEGACY_SQL / dialect / "000_schema_migrations.sql"):
                    conn.execute(text(statement))
                conn.commit()
            for number, path in enumerate(legacy_files(dialect, version), start=1):
                if dialect == "sqlite":
                    conn.exec_driver_sql("BEGIN")  # pysqlite runs DDL outside transactions
                for statement in statements(path):
                    conn.execute(text(statement.replace(":", r"\:")))
                if recorded:
                    conn.execute(
                        text(
                            "INSERT INTO schema_migrations (version, name, applied_at) "
                            "VALUES (:v, :n, :t)"
                        ),
                        {
                            "v": number,
                            "n": path.name,
                            "t": datetime.now(timezone.utc).replace(tzinfo=None),
                        },
                    )
                conn.commit()
    finally:
        engine.dispose()


OLD_SENSOR_COLUMNS = tuple(c.column for c in CHANNELS)
"""Before revision 005: one column per sensor (`ps1`), holding the statistic the cohort was
loaded with (cohorts.statistic)."""


def load_legacy_cohort(
    url: str, load: CohortLoad, version: int = 4, *, statistic: str = "mean"
) -> None:
    """The cohort as the old warehouse wrote it into a database at `version` (2 to 4; 4 is
    also what energymobile wrote at Alembic revision 004), loaded with `statistic` (mean or
    first): each sensor's column holds the load's `<sensor>_<statistic>`."""
    facts = fact_table(load.frame, load.key)  # checked and typed as the old loader did
    sensors = [pl.col(f"{name}_{statistic}").alias(name) for name in OLD_SENSOR_COLUMNS]
    frame = facts.select(*KEY_COLUMNS, *sensors, PROFILE_ID)
    columns: tuple[str, ...] = (*KEY_COLUMNS, *OLD_SENSOR_COLUMNS, PROFILE_ID)
    if version < 4:
        codes = pl.from_pandas(load.frame[list(CONDITION_COLUMNS)]).cast(pl.Int64)
        frame = pl.concat([frame.drop(PROFILE_ID), codes], how="horizontal")
        columns = (*KEY_COLUMNS, *OLD_SENSOR_COLUMNS, *CONDITION_COLUMNS)
    start, end = cohort_window(load.key)
    engine = legacy_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO cohorts (cohort, window_start, window_end, row_count, statistic,"
                    " source_sha256, loaded_at) VALUES (:k, :s, :e, :n, :stat, :sha, :at)"
                ),
                {
                    "k": load.key,
                    "s": start,
                    "e": end,
                    "n": frame.height,
                    "stat": statistic,
                    "sha": load.source_sha256,
                    "at": datetime.now(timezone.utc).replace(tzinfo=None),
                },
            )
            conn.execute(
                text(
                    "INSERT INTO cohort_files (cohort, file_name, byte_count, row_count, sha256)"
                    " VALUES (:k, :name, :bytes, :rows, :sha)"
                ),
                [
                    {
                        "k": load.key,
                        "name": r.name,
                        "bytes": r.bytes,
                        "rows": r.rows,
                        "sha": r.sha256,
                    }
                    for r in load.receipts
                ],
            )
            conn.execute(
                text(
                    f"INSERT INTO {FACT_TABLE} ({', '.join(columns)}) "
                    f"VALUES ({', '.join(':' + c for c in columns)})"
                ),
                frame.select(columns).rows(named=True),
            )
    finally:
        engine.dispose()


def load_at_006(url: str, load: CohortLoad) -> None:
    """The cohort as energymobile wrote it at revision 006 (before rigs): both statistics, the
    delivery recorded, no rig."""
    facts = fact_table(load.frame, load.key).drop("rig_id")
    start, end = cohort_window(load.key)
    engine = legacy_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO cohorts (cohort, window_start, window_end, row_count, statistic,"
                    " source_sha256, loaded_at, delivery)"
                    " VALUES (:k, :s, :e, :n, 'both', :sha, :at, :d)"
                ),
                {
                    "k": load.key,
                    "s": start,
                    "e": end,
                    "n": facts.height,
                    "sha": load.source_sha256,
                    "at": datetime.now(timezone.utc).replace(tzinfo=None),
                    "d": load.delivery,
                },
            )
            conn.execute(
                text(
                    "INSERT INTO cohort_files (cohort, file_name, byte_count, row_count, sha256)"
                    " VALUES (:k, :name, :bytes, :rows, :sha)"
                ),
                [
                    {
                        "k": load.key,
                        "name": r.name,
                        "bytes": r.bytes,
                        "rows": r.rows,
                        "sha": r.sha256,
                    }
                    for r in load.receipts
                ],
            )
            conn.execute(
                text(
                    f"INSERT INTO {FACT_TABLE} ({', '.join(facts.columns)}) "
                    f"VALUES ({', '.join(':' + c for c in facts.columns)})"
                ),
                facts.rows(named=True),
            )
    finally:
        engine.dispose()
