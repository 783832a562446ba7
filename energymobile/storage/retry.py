"""Which failures of the warehouse are worth another attempt, and how often it is made.

The warehouse load is retried by Dagster itself: mysql_tables carries `WAREHOUSE_LOAD_RETRY`
(a RetryPolicy with exponential backoff), and its IO manager lets only transient errors reach
it (a dropped connection, a deadlock, a lock wait timeout, a locked SQLite file), failing the
step at once on anything else (bad credentials, a constraint, bad input) with
`dagster.Failure(allow_retries=False)`. Retrying a whole cohort replacement is safe because it
is one transaction: the failed attempt was rolled back, so the retry starts from the cohort as
it was. S3 calls are retried by botocore itself (see docs/reliability.md).
"""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg
from sqlalchemy.exc import DBAPIError

WAREHOUSE_LOAD_RETRY = dg.RetryPolicy(
    max_retries=3, delay=0.5, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)
"""Four attempts in all, 0.5, 1.5 and 3.5 s apart (± 0.5 s, so two loaders that deadlocked
each other do not collide again)."""

MYSQL_TRANSIENT_ERRNOS = frozenset(
    {
        1040,  # too many connections
        1205,  # lock wait timeout exceeded
        1213,  # deadlock found when trying to get lock
        1927,  # connection was killed (MariaDB)
        2003,  # can't connect (server restarting, failover)
        2006,  # server has gone away
        2013,  # lost connection to server during query
    }
)
POSTGRES_TRANSIENT_SQLSTATES = frozenset(
    {
        "40001",  # serialization_failure
        "40P01",  # deadlock_detected
        "53300",  # too_many_connections
        "55P03",  # lock_not_available
        "57P01",  # admin_shutdown (backend terminated)
        "57P02",  # crash_shutdown
        "57P03",  # cannot_connect_now (server starting)
    }
)
POSTGRES_TRANSIENT_CLASSES = ("08",)
"""Class 08: connection exceptions (connection failure, does not exist, ...)."""
SQLITE_TRANSIENT_MESSAGES = ("database is locked", "database table is locked")
MYSQL_FULL_ERRNOS = frozenset({1021, 1114})  # disk full, table is full
POSTGRES_FULL_SQLSTATES = frozenset({"53100"})  # disk_full
SQLITE_FULL_MESSAGE = "database or disk is full"  # SQLITE_FULL
DISK_FULL_ADVICE = (
    "the disk holding the database is full: free space there (or move the warehouse) and "
    "run the cohort again"
)


def error_causes(error: BaseException) -> Iterator[BaseException]:
    """The error and what it was raised from (our WarehouseError wraps the driver's)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__


def is_transient_database_error(error: BaseException) -> bool:
    """True for database errors a new attempt can cure: lost connections, deadlocks, lock
    timeouts. Judged by the driver's code (MySQL errno, PostgreSQL SQLSTATE), not by text,
    except SQLite's, which has only its message."""
    for cause in error_causes(error):
        if not isinstance(cause, DBAPIError):
            continue
        if cause.connection_invalidated:
            return True
        orig = cause.orig
        args = getattr(orig, "args", ())
        if args and isinstance(args[0], int) and args[0] in MYSQL_TRANSIENT_ERRNOS:
            return True
        sqlstate = getattr(orig, "sqlstate", None)
        if isinstance(sqlstate, str) and (
            sqlstate in POSTGRES_TRANSIENT_SQLSTATES
            or sqlstate.startswith(POSTGRES_TRANSIENT_CLASSES)
        ):
            return True
        if any(message in str(orig) for message in SQLITE_TRANSIENT_MESSAGES):
            return True
    return False


def permanent_advice(error: BaseException) -> str | None:
    """What to do about a permanent database failure a user can fix (today: a full disk),
    judged by the driver's code, or SQLite's message; None for any other."""
    for cause in error_causes(error):
        if not isinstance(cause, DBAPIError):
            continue
        orig = cause.orig
        args = getattr(orig, "args", ())
        if args and isinstance(args[0], int) and args[0] in MYSQL_FULL_ERRNOS:
            return DISK_FULL_ADVICE
        if getattr(orig, "sqlstate", None) in POSTGRES_FULL_SQLSTATES:
            return DISK_FULL_ADVICE
        if SQLITE_FULL_MESSAGE in str(orig):
            return DISK_FULL_ADVICE
    return None


def error_code(error: BaseException) -> str:
    """`OperationalError 2013`, `OperationalError 40P01` or just the type's name."""
    for cause in error_causes(error):
        orig = getattr(cause, "orig", None)
        if orig is None:
            continue
        args = getattr(orig, "args", ())
        code = getattr(orig, "sqlstate", None) or (
            args[0] if args and isinstance(args[0], int) else None
        )
        name = type(orig).__name__
        return f"{name} {code}" if code else name
    return type(error).__name__
