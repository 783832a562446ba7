"""What the warehouse and schema tests share: the test cohorts, small queries, and loads
released together from several threads."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, create_engine, text

from energymobile.channels import CHANNELS, FIRST_COLUMNS, MEAN_COLUMNS
from energymobile.rigs import DEFAULT_RIG, Rig
from energymobile.storage.warehouse import (
    FLAT_COLUMNS,
    FLAT_VIEW,
    CohortLoad,
    Warehouse,
    typed_flat_frame,
)
from energymobile_tests.support.synthetic import synthetic_load

KEY = "2008-03-26"
OTHER_KEY = "2008-06-26"
THIRD_KEY = "2008-09-26"
ROWS = 48
TABLES = (
    "sensors",
    "cooler_condition",
    "valve_condition",
    "internal_pump_leakage",
    "hydraulic_accumulator_bar",
    "stable_flag",
    "condition_profiles",
    "rigs",
    "cohorts",
    "cohort_files",
    "sensor_hourly",
)
"""The warehouse's tables (and alembic_version beside them)."""


def database_url(request: pytest.FixtureRequest, dialect: str, tmp_path: Path) -> str:
    """An empty database of `dialect` (sqlite, mariadb or postgres) for this test: a file
    under tmp_path, or one on the session's server (energymobile_tests/conftest.py)."""
    if dialect == "sqlite":
        return f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    fixture = {"mariadb": "mysql_url", "postgres": "postgres_url"}[dialect]
    return str(request.getfixturevalue(fixture))


def cohort_load(key: str, rows: int = ROWS, seed: int = 0, rig: Rig = DEFAULT_RIG) -> CohortLoad:
    """The benchmark's synthetic cohort, at the tests' size."""
    return synthetic_load(key, rows, seed, rig)


def expected_rows(load: CohortLoad) -> pd.DataFrame:
    """What the view must return for this load: its rows under its rig's site and name."""
    return typed_flat_frame(load.frame.assign(site=load.rig.site, rig=load.rig.name))


def expected_rows_before_005(load: CohortLoad, statistic: str) -> pd.DataFrame:
    """What the view returns for this load written before revision 005 with one statistic
    (`load_legacy_cohort`), once migrated: that statistic's columns, the other's empty."""
    rows = expected_rows(load)
    other = MEAN_COLUMNS if statistic == "first" else FIRST_COLUMNS
    rows[list(other)] = float("nan")
    return rows


def scalar(url: str, sql: str, **params: object) -> object:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql), params).scalar()
    finally:
        engine.dispose()


def rows_of(url: str, sql: str, **params: object) -> list[tuple]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql), params)]
    finally:
        engine.dispose()


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


def legacy_view_rows(engine: Engine, key: str, statistic: str) -> pd.DataFrame:
    """The cohort's rows of oil_well_hourly before revision 005 (one column per sensor, holding
    the statistic the cohort was loaded with), laid out as since 005 for comparison."""
    old = {c.column: f"{c.column}_{statistic}" for c in CHANNELS}
    rig = ("site", "rig")  # not in the view before revision 007: the default rig's
    columns = [n for n in FLAT_COLUMNS if n not in (*FIRST_COLUMNS, *MEAN_COLUMNS, *rig)]
    with engine.connect() as conn:
        result = conn.execute(
            text(
                f"SELECT {', '.join([*columns, *old])} FROM {FLAT_VIEW} "
                "WHERE cohort = :k ORDER BY cycle"
            ),
            {"k": key},
        )
        frame = pd.DataFrame(result.fetchall(), columns=[*columns, *old.values()])
    for name in (*FIRST_COLUMNS, *MEAN_COLUMNS):
        if name not in frame:
            frame[name] = float("nan")
    return typed_flat_frame(frame.assign(site=DEFAULT_RIG.site, rig=DEFAULT_RIG.name))


def at_once(
    url: str, calls: list[Callable[[Warehouse], object]], *, schema_first: bool = True
) -> tuple[list[object], list[BaseException]]:
    """Run each call on a Warehouse of its own (as separate processes would), from its own
    thread, released together (after each has upgraded the schema, unless `schema_first` is
    off); returns what they returned and what they raised."""
    barrier = threading.Barrier(len(calls))
    results: list[object] = []
    errors: list[BaseException] = []

    def run(call: Callable[[Warehouse], object]) -> None:
        warehouse = Warehouse(url)
        try:
            if schema_first:
                warehouse.ensure_schema()
            barrier.wait()
            results.append(call(warehouse))
        except BaseException as exc:
            errors.append(exc)
        finally:
            warehouse.dispose()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, errors
