"""Retry transient failures of external systems a bounded number of times, with backoff.

Only what can succeed on a second try is retried (a dropped connection, a deadlock, a lock
wait timeout, a locked SQLite file); a permanent failure (bad credentials, a constraint, bad
input) is raised at once. Retrying a whole cohort replacement is safe because it is one
transaction: the failed attempt was rolled back, so the retry starts from the cohort as it was.
S3 calls are retried by botocore itself (see docs/reliability.md).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

from sqlalchemy.exc import DBAPIError

T = TypeVar("T")
log = logging.getLogger(__name__)

ATTEMPTS = 4
BASE_DELAY_S = 0.5

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


def _causes(error: BaseException) -> Iterator[BaseException]:
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
    for cause in _causes(error):
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


def with_retries(
    action: Callable[[], T],
    is_transient: Callable[[BaseException], bool],
    *,
    what: str,
    attempts: int = ATTEMPTS,
    base_delay_s: float = BASE_DELAY_S,
    sleep: Callable[[float], None] = time.sleep,
    on_retry: Callable[[str], None] | None = None,
) -> T:
    """Run `action`; on a transient failure wait base × 2^n seconds and try again.

    `on_retry` receives a one-line account of each retry (Dagster's run log, say); it names
    the error's type and its driver code, never its text, which may quote a URL or values.
    """
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except Exception as error:
            if attempt == attempts or not is_transient(error):
                raise
            delay = base_delay_s * 2 ** (attempt - 1)
            message = (
                f"{what} failed (attempt {attempt} of {attempts}, transient "
                f"{error_code(error)}); retrying in {delay:.1f} s"
            )
            (on_retry or log.warning)(message)
            sleep(delay)
    raise AssertionError("unreachable")


def error_code(error: BaseException) -> str:
    """`OperationalError 2013`, `OperationalError 40P01` or just the type's name."""
    for cause in _causes(error):
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
