"""Which warehouse errors are retried, and that the load lets Dagster's RetryPolicy retry
exactly those: a transient error reaches the policy as it is, any other bypasses it.

The retries themselves, on real servers, are in energymobile_tests/defs/test_faults.py."""

import sqlite3

import dagster as dg
import MySQLdb
import numpy as np
import pandas as pd
import psycopg
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError, OperationalError

from energymobile.channels import CONDITION_COLUMNS
from energymobile.cohorts import cohort_window
from energymobile.defs.assets import mysql_tables
from energymobile.storage.io_managers import WarehouseIOManager
from energymobile.storage.resources import WarehouseResource
from energymobile.storage.retry import (
    WAREHOUSE_LOAD_RETRY,
    error_code,
    is_transient_database_error,
)
from energymobile.storage.warehouse import SENSOR_COLUMNS, CohortLoad, Warehouse, WarehouseError

KEY = "2008-03-26"
DOCUMENTED_CODES = (100, 100, 0, 130, 0)
"""Cooler, valve, pump leakage, accumulator and stable flag: a documented combination."""

pytestmark = pytest.mark.unit


def _cohort_load(cycles: int = 3) -> CohortLoad:
    """A small valid cohort as mysql_tables hands it to the IO manager."""
    cycle = np.arange(cycles)
    start, _ = cohort_window(KEY)
    frame = pd.DataFrame(
        {
            "cohort": pd.Series([KEY] * cycles, dtype="string"),
            "cycle": cycle,
            "date_time": pd.Timestamp(start) + pd.to_timedelta(cycle, unit="h"),
            "cumulative_minutes": cycle * 60,
            **{column: np.linspace(1.0, 2.0, cycles) for column in SENSOR_COLUMNS},
            **dict(zip(CONDITION_COLUMNS, DOCUMENTED_CODES, strict=True)),
        }
    )
    return CohortLoad(KEY, frame, receipts=())


def _output_context() -> dg.OutputContext:
    """The store of one (cohort, site) partition: the loads say which cohort and rig."""
    return dg.build_output_context(asset_key=mysql_tables.key)


def test_the_load_carries_a_bounded_exponential_retry_policy():
    assert mysql_tables.op.retry_policy == WAREHOUSE_LOAD_RETRY
    assert WAREHOUSE_LOAD_RETRY.max_retries == 3
    assert WAREHOUSE_LOAD_RETRY.backoff == dg.Backoff.EXPONENTIAL


def test_a_locked_warehouse_reaches_the_retry_policy_as_it_is(tmp_path):
    url = f"sqlite:///{tmp_path / 'w.sqlite'}?timeout=0.1"
    load = _cohort_load()
    manager = WarehouseIOManager(warehouse=WarehouseResource(url=url))
    manager.warehouse.get().ensure_schema()
    holder = create_engine(url)
    try:
        with holder.connect() as conn:
            conn.exec_driver_sql("BEGIN EXCLUSIVE")
            with pytest.raises(OperationalError, match="database is locked"):
                manager.handle_output(_output_context(), [load])
            conn.rollback()
        manager.handle_output(_output_context(), [load])  # the next attempt succeeds
    finally:
        holder.dispose()
    assert Warehouse(url).loaded_cohorts() == {KEY: 3}


def test_a_permanent_error_bypasses_the_retry_policy(tmp_path):
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    load = _cohort_load()
    bad = CohortLoad(KEY, load.frame.drop(columns=["ps1_mean"]), load.receipts)
    manager = WarehouseIOManager(warehouse=WarehouseResource(url=url))
    with pytest.raises(dg.Failure) as failure:
        manager.handle_output(_output_context(), [bad])
    assert failure.value.allow_retries is False
    assert f"loading cohort {KEY}" in str(failure.value) and "ValueError" in str(failure.value)
    assert "columns missing from the load" in str(failure.value.__cause__)


# -- which database errors are transient --------------------------------------------------------


def _wrapped(orig: BaseException) -> OperationalError:
    """What SQLAlchemy raises around a driver error."""
    return OperationalError("SELECT 1", {}, orig)


@pytest.mark.parametrize(
    ("orig", "transient"),
    [
        (MySQLdb.OperationalError(2013, "Lost connection to server during query"), True),
        (MySQLdb.OperationalError(2006, "Server has gone away"), True),
        (MySQLdb.OperationalError(1213, "Deadlock found when trying to get lock"), True),
        (MySQLdb.OperationalError(1205, "Lock wait timeout exceeded"), True),
        (MySQLdb.OperationalError(1927, "Connection was killed"), True),
        (MySQLdb.OperationalError(1045, "Access denied for user"), False),
        (MySQLdb.OperationalError(1146, "Table doesn't exist"), False),
        (psycopg.errors.DeadlockDetected("deadlock detected"), True),
        (psycopg.errors.SerializationFailure("could not serialize"), True),
        (psycopg.errors.AdminShutdown("terminating connection"), True),
        (psycopg.errors.ConnectionFailure("connection failure"), True),
        (psycopg.errors.InvalidPassword("password authentication failed"), False),
        (psycopg.errors.UndefinedTable("relation does not exist"), False),
    ],
    ids=lambda v: f"{type(v).__name__}" if isinstance(v, BaseException) else str(v),
)
def test_driver_errors_are_judged_by_their_code(orig: BaseException, transient: bool):
    assert is_transient_database_error(_wrapped(orig)) is transient
    wrapped = WarehouseError("cannot use the warehouse")
    wrapped.__cause__ = _wrapped(orig)
    assert is_transient_database_error(wrapped) is transient  # through our wrapper too


def test_a_locked_sqlite_file_is_transient_and_a_constraint_is_not(tmp_path):
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    holder = create_engine(url)
    waiter = create_engine(url, connect_args={"timeout": 0.1})
    try:
        with holder.begin() as conn:
            conn.execute(text("CREATE TABLE t (k INTEGER PRIMARY KEY)"))
            conn.execute(text("INSERT INTO t VALUES (1)"))
        with holder.connect() as conn:
            conn.exec_driver_sql("BEGIN EXCLUSIVE")
            with pytest.raises(OperationalError) as locked, waiter.begin() as other:
                other.execute(text("INSERT INTO t VALUES (2)"))
            conn.rollback()
        with pytest.raises(IntegrityError) as duplicate, waiter.begin() as other:
            other.execute(text("INSERT INTO t VALUES (1)"))
    finally:
        holder.dispose()
        waiter.dispose()
    assert isinstance(locked.value.orig, sqlite3.OperationalError)
    assert is_transient_database_error(locked.value)
    assert not is_transient_database_error(duplicate.value)
    assert not is_transient_database_error(ValueError("database is locked"))  # not a DB error


def test_the_retry_message_names_the_code_not_the_text():
    error = _wrapped(MySQLdb.OperationalError(2013, "Lost connection to 'user:secret@db'"))
    assert error_code(error) == "OperationalError 2013"
    assert error_code(_wrapped(psycopg.errors.DeadlockDetected())) == "DeadlockDetected 40P01"
    assert error_code(KeyError("x")) == "KeyError"
