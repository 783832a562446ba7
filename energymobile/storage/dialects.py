"""Every runtime difference between the SQL dialects we run on, in one place.

The schema itself is dialect-neutral (`storage/schema.py`, migrated by Alembic); what differs
is how a session is set up and how rows go in:

- SQLite enforces foreign keys only when asked, per connection; its driver runs DDL outside any
  transaction unless told (`migration_engine`), and it checks foreign keys of rebuilt tables
  only on request (`check_foreign_keys`).
- On MySQL, writes run at READ COMMITTED (at REPEATABLE READ, two cohorts replaced at the same
  time deadlock on the gap locks of their deletes), schema changes are serialised with a named
  lock (MySQL DDL commits implicitly, so a transaction cannot do it), and the fact rows go in
  with LOAD DATA LOCAL INFILE when both ends allow it.
- On PostgreSQL, writes run at READ COMMITTED too (its default, pinned), schema changes are
  serialised with an advisory lock, and the fact rows go in with COPY FROM STDIN, in the load's
  transaction.
- Which errors mean "the warehouse cannot be used as configured", and the driver's own words
  for them.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import polars as pl
from filelock import Timeout, UnixFileLock
from sqlalchemy import URL, Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.pool import NullPool
from sqlalchemy.util import asbool

from energymobile.settings import sqlite_file

log = logging.getLogger(__name__)

SQLITE = "sqlite"
MYSQL = "mysql"  # SQLAlchemy's name for MySQL and MariaDB alike
POSTGRES = "postgresql"

LOAD_DATA = "load_data_local_infile"
COPY = "copy_from_stdin"
EXECUTEMANY = "executemany"
BULK_METHODS = (LOAD_DATA, COPY, EXECUTEMANY)

SCHEMA_LOCK_TIMEOUT_S = 120
MYSQL_WRITE_ISOLATION = "READ COMMITTED"
MYSQL_SESSION_SETUP = "SET time_zone = '+00:00'"
"""DATETIME columns hold naive UTC; this pins NOW() and friends to UTC as well."""
POSTGRES_WRITE_ISOLATION = "READ COMMITTED"
POSTGRES_SESSION_OPTIONS = "-c TimeZone=UTC"
"""TIMESTAMP columns hold naive UTC; this pins now() and friends to UTC as well."""
APPLICATION_NAME = "energymobile"
"""How our sessions show in pg_stat_activity."""
_PG_LOCK_NOT_AVAILABLE = "55P03"
_PG_INSUFFICIENT_PRIVILEGE = "42501"

_SCRATCH_DIRS = ("/dev/shm",)


# -- engines ------------------------------------------------------------------------------------


def engine_options(url: str | URL) -> dict[str, Any]:
    """Extra `create_engine` arguments for the URL's dialect.

    MySQL: LOAD DATA LOCAL is allowed on the client unless the URL says `?local_infile=0`
    (the server must allow it too, see `bulk_method`); sessions run in UTC at READ COMMITTED.
    PostgreSQL: sessions run in UTC at READ COMMITTED (unless the URL sets `options`), named
    energymobile in pg_stat_activity.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == POSTGRES:
        pg_args = {"application_name": APPLICATION_NAME, "options": POSTGRES_SESSION_OPTIONS}
        return {
            "isolation_level": POSTGRES_WRITE_ISOLATION,
            "connect_args": {k: v for k, v in pg_args.items() if k not in parsed.query},
        }
    if parsed.get_backend_name() != MYSQL:
        return {}
    connect_args: dict[str, Any] = {"init_command": MYSQL_SESSION_SETUP}
    if "local_infile" not in parsed.query:
        connect_args["local_infile"] = 1
    return {
        "isolation_level": MYSQL_WRITE_ISOLATION,
        "pool_recycle": 3600,  # under the server's wait_timeout
        "connect_args": connect_args,
    }


def configure_engine(engine: Engine) -> None:
    """Per-connection settings: SQLite enforces foreign keys only when asked."""
    if engine.dialect.name == SQLITE:

        @event.listens_for(engine, "connect")
        def _enable_foreign_keys(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()


def driver_error_message(exc: BaseException) -> str:
    """The driver's own words for a database error (MySQLdb: "1045: Access denied ...";
    psycopg: "42501: permission denied ..." or libpq's "connection failed: ..."), without
    SQLAlchemy's statement and parameters."""
    orig = getattr(exc, "orig", None) or exc
    args = getattr(orig, "args", ())
    if len(args) == 2 and isinstance(args[0], int):
        return f"{args[0]}: {args[1]}"
    first_line = str(orig).splitlines()[0] if str(orig) else type(orig).__name__
    sqlstate = getattr(orig, "sqlstate", None)
    return f"{sqlstate}: {first_line}" if sqlstate else first_line


def is_access_error(exc: DBAPIError) -> bool:
    """A database error that means the warehouse cannot be used as configured: unreachable,
    refused credentials (drivers raise those as OperationalError), or, on PostgreSQL, a role
    without the grants docs/postgres.md lists (psycopg raises that as ProgrammingError)."""
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    return getattr(exc.orig, "sqlstate", None) == _PG_INSUFFICIENT_PRIVILEGE


# -- migrations ---------------------------------------------------------------------------------


def migration_engine(url: str | URL) -> Engine:
    """An engine for applying migrations (`storage/migrate.py`): one connection, no pool, the
    same session setup as the warehouse's.

    SQLite: pysqlite runs DDL outside any transaction unless told, so the driver's own
    transaction handling is switched off and SQLAlchemy emits BEGIN (SQLAlchemy's documented
    recipe): a revision that rebuilds a table is then applied completely or not at all, as on
    PostgreSQL. Foreign keys stay unenforced there while tables are rebuilt (SQLite's advice
    for table rebuilds; SQLite ignores the setting inside a transaction anyway), and
    `check_foreign_keys` checks every row before the migration commits instead.
    """
    engine = create_engine(url, poolclass=NullPool, **engine_options(url))
    if engine.dialect.name == SQLITE:

        @event.listens_for(engine, "connect")
        def _driver_transactions_off(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            dbapi_connection.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN")

    return engine


class ForeignKeyViolation(RuntimeError):
    """A migration left rows whose foreign keys point nowhere: it must not commit."""


def check_foreign_keys(conn: Connection) -> None:
    """SQLite: every row's foreign keys, checked before a migration commits (the other
    dialects check them statement by statement)."""
    if conn.dialect.name != SQLITE:
        return
    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        shown = ", ".join(
            f"{table} row {rowid} -> {parent}" for table, rowid, parent, _ in broken[:5]
        )
        raise ForeignKeyViolation(
            f"the migration left {len(broken)} rows without their parent row ({shown}); "
            "nothing was committed"
        )


@contextlib.contextmanager
def schema_lock(conn: Connection, timeout_s: int = SCHEMA_LOCK_TIMEOUT_S) -> Iterator[None]:
    """Hold this database's schema lock while migrations are checked and applied, so two
    processes starting at once apply each migration once.

    MySQL: a named lock (GET_LOCK) per database; DDL commits implicitly there, so a transaction
    cannot serialise it. PostgreSQL: a session advisory lock (advisory locks are per database);
    session, not transaction, because the lock must outlive the commit of each revision. SQLite:
    an exclusive lock on a file beside the database file.
    """
    if conn.dialect.name == MYSQL:
        with _mysql_named_lock(conn, timeout_s):
            yield
    elif conn.dialect.name == POSTGRES:
        with _postgres_advisory_lock(conn, timeout_s):
            yield
    elif conn.dialect.name == SQLITE and (database := sqlite_file(conn.engine.url)) is not None:
        with _file_lock(database.with_name(database.name + ".schema-lock"), timeout_s):
            yield
    else:
        yield


@contextlib.contextmanager
def _mysql_named_lock(conn: Connection, timeout_s: int) -> Iterator[None]:
    database = conn.execute(text("SELECT DATABASE()")).scalar_one()
    name = "energymobile.schema." + hashlib.sha1(str(database).encode()).hexdigest()[:16]
    got = conn.execute(
        text("SELECT GET_LOCK(:name, :timeout)"), {"name": name, "timeout": timeout_s}
    ).scalar_one()
    if got != 1:
        raise TimeoutError(
            f"another process has held the schema lock of database {database!r} for "
            f"{timeout_s} s (it may be applying migrations); try again"
        )
    try:
        yield
    finally:
        # Best effort: if the connection died, the server released the lock with the session.
        with contextlib.suppress(DBAPIError):
            conn.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": name})


SCHEMA_LOCK_KEY = int.from_bytes(
    hashlib.sha1(b"energymobile.schema").digest()[:8], "big", signed=True
)
"""The advisory lock key (64-bit) of the schema lock on PostgreSQL."""


@contextlib.contextmanager
def _postgres_advisory_lock(conn: Connection, timeout_s: int) -> Iterator[None]:
    """pg_advisory_lock, waiting at most `timeout_s` (lock_timeout, for this wait only).

    Released explicitly: the pool hands the connection to the next user, session and all.
    On failure the transaction is rolled back first (an aborted one cannot run the unlock)."""
    key = {"key": SCHEMA_LOCK_KEY}
    conn.execute(text("SELECT set_config('lock_timeout', :t, true)"), {"t": f"{timeout_s}s"})
    try:
        conn.execute(text("SELECT pg_advisory_lock(:key)"), key)
    except OperationalError as exc:
        conn.rollback()
        if getattr(exc.orig, "sqlstate", None) != _PG_LOCK_NOT_AVAILABLE:
            raise
        database = conn.engine.url.database
        raise TimeoutError(
            f"another process has held the schema lock of database {database!r} for "
            f"{timeout_s} s (it may be applying migrations); try again"
        ) from None
    conn.commit()  # ends set_config's transaction; the session's lock stays
    try:
        yield
    except BaseException:
        with contextlib.suppress(DBAPIError):
            conn.rollback()
        raise
    finally:
        # Best effort: if the connection died, the server released the lock with the session.
        with contextlib.suppress(DBAPIError):
            conn.execute(text("SELECT pg_advisory_unlock(:key)"), key)
            conn.commit()


@contextlib.contextmanager
def _file_lock(path: Path, timeout_s: int) -> Iterator[None]:
    """SQLite's schema lock: an flock on a file beside the database (its folder made if
    missing), which the kernel releases when its holder dies."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        held = UnixFileLock(path, timeout=timeout_s).acquire()
    except Timeout:
        raise TimeoutError(f"{path} held by another process for {timeout_s:.0f} s") from None
    with held:
        yield


# -- bulk loading -------------------------------------------------------------------------------


class BulkLoadError(RuntimeError):
    """The server took fewer rows than sent, or warned: the transaction must not commit."""


def bulk_method(conn: Connection) -> str:
    """PostgreSQL: COPY FROM STDIN. MySQL: LOAD DATA LOCAL INFILE when the client and the
    server both allow it. Otherwise (SQLite, or a MySQL server with local_infile=OFF) batched
    executemany, which is about 4× slower."""
    if conn.dialect.name == POSTGRES:
        return COPY
    if conn.dialect.name != MYSQL:
        return EXECUTEMANY
    client = asbool(conn.engine.url.query.get("local_infile", "1"))
    server = bool(conn.execute(text("SELECT @@GLOBAL.local_infile")).scalar_one())
    if client and server:
        return LOAD_DATA
    log.warning(
        "LOAD DATA LOCAL INFILE is off (client=%s, server=%s): loading with executemany, "
        "several times slower; see docs/mysql.md",
        client,
        server,
    )
    return EXECUTEMANY


def load_data_local(
    conn: Connection, table: str, columns: Sequence[str], facts: pl.DataFrame
) -> int:
    """Insert `facts` (typed, no nulls) into `table` with LOAD DATA LOCAL INFILE, in the
    connection's transaction; returns the rows inserted.

    The server checks every row's keys itself, foreign keys included. But LOAD DATA LOCAL
    treats duplicate keys, foreign key violations and bad values as warnings and skips those
    rows (the server cannot stop the client's stream), so any shortfall or warning raises
    here, before the caller commits.
    """
    load = text(
        f"LOAD DATA LOCAL INFILE :path INTO TABLE {table} CHARACTER SET utf8mb4 "
        "FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"' ESCAPED BY '' "
        f"({', '.join(columns)})"  # lines end with \n, the default in every sql_mode
    )
    with tempfile.NamedTemporaryFile(suffix=".csv", dir=_scratch_dir()) as scratch:
        facts.select(columns).write_csv(
            scratch.name,
            include_header=False,
            datetime_format="%Y-%m-%d %H:%M:%S",
            quote_style="necessary",
        )
        loaded = int(conn.execute(load, {"path": scratch.name}).rowcount)
    warnings = int(conn.execute(text("SELECT @@warning_count")).scalar_one())
    if loaded != facts.height or warnings:
        shown = conn.execute(text("SHOW WARNINGS LIMIT 3")).fetchall()
        details = "; ".join(f"{code}: {message}" for _level, code, message in shown)
        raise BulkLoadError(
            f"LOAD DATA into {table} took {loaded} of {facts.height} rows "
            f"with {warnings} warnings ({details or 'none shown'}); nothing was committed"
        )
    return loaded


def copy_from_stdin(
    conn: Connection, table: str, columns: Sequence[str], facts: pl.DataFrame
) -> int:
    """Insert `facts` (typed, no nulls) into `table` with COPY FROM STDIN (psycopg's
    `cursor.copy`), in the connection's transaction; returns the rows inserted.

    Binary format: the server parses no text (CSV loaded about 20 % fewer rows/s here:
    full-precision doubles are costly to parse), and psycopg encodes each value as its
    column's type, read from the catalog, so a later migration changing a type needs nothing
    here. Unlike LOAD DATA, COPY is all or nothing: a duplicate key or a foreign key violation
    fails the statement, and with it the transaction."""
    statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)"
    with (
        _as_sqlalchemy_errors(conn, statement) as driver_connection,
        driver_connection.cursor() as cursor,
    ):
        types = _column_types(cursor, table, columns)
        with cursor.copy(statement) as copy:
            copy.set_types(types)
            for row in facts.select(columns).iter_rows():
                copy.write_row(row)
        loaded = int(cursor.rowcount)
    if loaded != facts.height:  # COPY takes every row or fails; a guard, as for LOAD DATA
        raise BulkLoadError(f"COPY into {table} took {loaded} of {facts.height} rows")
    return loaded


@contextlib.contextmanager
def _as_sqlalchemy_errors(conn: Connection, statement: str) -> Iterator[Any]:
    """The driver's connection, for what SQLAlchemy cannot say (COPY), with its errors raised
    as SQLAlchemy raises them for every other statement: the same exception classes
    (IntegrityError, OperationalError, ...), and a lost connection invalidated, so callers and
    retries need not know which path failed."""
    dbapi_connection = conn.connection.dbapi_connection
    driver_error = conn.dialect.loaded_dbapi.Error
    try:
        yield conn.connection.driver_connection
    except driver_error as exc:
        lost = conn.dialect.is_disconnect(exc, dbapi_connection, None)
        if lost:
            conn.invalidate(exc)
        raise DBAPIError.instance(
            statement, None, exc, driver_error, connection_invalidated=lost, dialect=conn.dialect
        ) from exc


def _column_types(cursor: Any, table: str, columns: Sequence[str]) -> list[int]:
    """The type OIDs of `table`'s columns, in the order given."""
    cursor.execute(
        "SELECT attname, atttypid FROM pg_attribute"
        " WHERE attrelid = CAST(%s AS regclass) AND attnum > 0 AND NOT attisdropped",
        (table,),
    )
    types = {name: int(oid) for name, oid in cursor.fetchall()}
    return [types[column] for column in columns]


def _scratch_dir() -> str | None:
    """Memory-backed scratch space for the load file when there is some."""
    for folder in _SCRATCH_DIRS:
        if os.path.isdir(folder) and os.access(folder, os.W_OK):
            return folder
    return None
