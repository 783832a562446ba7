import sqlite3

import MySQLdb
import psycopg
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError, OperationalError

from energymobile.storage.retry import error_code, is_transient_database_error, with_retries
from energymobile.storage.warehouse import WarehouseError

pytestmark = pytest.mark.unit


class Transient(Exception):
    pass


def _flaky(failures: int, error: Exception):
    calls = []

    def action():
        calls.append(1)
        if len(calls) <= failures:
            raise error
        return len(calls)

    return action, calls


def test_transient_failures_are_retried_with_exponential_backoff():
    action, _calls = _flaky(2, Transient())
    waits = []
    result = with_retries(
        action, lambda e: isinstance(e, Transient), what="load", sleep=waits.append
    )
    assert result == 3
    assert waits == [0.5, 1.0]


def test_retries_are_bounded():
    action, calls = _flaky(10, Transient())
    with pytest.raises(Transient):
        with_retries(
            action,
            lambda e: isinstance(e, Transient),
            what="load",
            attempts=3,
            sleep=lambda s: None,
        )
    assert len(calls) == 3


def test_permanent_failures_fail_at_once():
    action, calls = _flaky(1, ValueError("bad credentials"))
    with pytest.raises(ValueError, match="bad credentials"):
        with_retries(action, lambda e: isinstance(e, Transient), what="load", sleep=lambda s: None)
    assert len(calls) == 1


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
