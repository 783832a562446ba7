"""Every difference between the SQL dialects we run on, in one place.

`sql/` is written for MySQL/MariaDB (the company's warehouse) and is idempotent there, so a
database someone prepared by hand (`mysql energymobile < sql/001_schema.sql`) and one prepared by
energymobile end up the same. SQLite, the embedded default, needs the MySQL table options
removed, inline indexes turned into `CREATE INDEX`, `INSERT IGNORE` and `CREATE OR REPLACE VIEW`
spelled its way, and foreign keys switched on per connection. PostgreSQL needs the same table
options and indexes adapted, `DATETIME` and `DOUBLE` spelled `TIMESTAMP(0)` and `DOUBLE
PRECISION`, and `INSERT IGNORE` as `ON CONFLICT DO NOTHING`. Where a migration cannot be adapted
statement by statement (SQLite drops a column with a foreign key only by rebuilding the table;
004's re-runnable steps are MySQL's PREPARE), `sql/<dialect>/` holds that dialect's own version
of the file. SQLite and PostgreSQL run each file in one transaction (their DDL is
transactional), so a file is applied completely or not at all.

On MySQL, writes run at READ COMMITTED (at REPEATABLE READ, two cohorts replaced at the same
time deadlock on the gap locks of their deletes), schema changes are serialised with a named
lock (MySQL DDL commits implicitly, so a transaction cannot do it), and the fact rows go in
with LOAD DATA LOCAL INFILE when both ends allow it. On PostgreSQL, writes run at READ
COMMITTED too (its default, pinned), schema changes are serialised with an advisory lock, and
the fact rows go in with COPY FROM STDIN, in the load's transaction.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Connection, Engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.util import asbool

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

_TABLE_OPTIONS = re.compile(r"\)\s*ENGINE=[^;]*$", re.IGNORECASE)
_CREATE_TABLE = re.compile(r"CREATE TABLE (?:IF NOT EXISTS )?(\w+)", re.IGNORECASE)
_INLINE_INDEX = re.compile(r",\s*INDEX\s+(\w+)\s*\(([^)]*)\)", re.IGNORECASE)
_INSERT_IGNORE = re.compile(r"^INSERT IGNORE INTO", re.IGNORECASE)
_REPLACE_VIEW = re.compile(r"^CREATE OR REPLACE VIEW (\w+)", re.IGNORECASE)
_POSTGRES_TYPES = (
    (re.compile(r"\bDATETIME\b", re.IGNORECASE), "TIMESTAMP(0)"),  # seconds, as MySQL's
    (re.compile(r"\bDOUBLE\b(?!\s+PRECISION)", re.IGNORECASE), "DOUBLE PRECISION"),
)
_SCRATCH_DIRS = ("/dev/shm",)

DIALECT_SQL_DIRS: dict[str, str] = {SQLITE: "sqlite", POSTGRES: "postgres"}
"""The subfolder of `sql/` with a dialect's own version of a migration, where it has one."""


# -- engines ------------------------------------------------------------------------------------


def engine_options(url: str) -> dict[str, Any]:
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


# -- DDL ----------------------------------------------------------------------------------------


def split_statements(sql: str) -> list[str]:
    """Statements of a DDL file: `;` at the end of a line ends one; `--` comments dropped."""
    lines = [ln for ln in sql.splitlines() if not ln.lstrip().startswith("--")]
    statements = re.split(r";\s*$", "\n".join(lines), flags=re.MULTILINE)
    return [s.strip() for s in statements if s.strip()]


def ddl_statements(sql: str, dialect: str) -> list[str]:
    """The statements of a `sql/` file as the given SQLAlchemy dialect name needs them."""
    adapt = {SQLITE: _sqlite_statements, POSTGRES: _postgres_statements}.get(dialect)
    statements = split_statements(sql)
    if adapt is None:
        return statements
    return [adapted for statement in statements for adapted in adapt(statement)]


def _sqlite_statements(statement: str) -> list[str]:
    statement = _TABLE_OPTIONS.sub(")", statement)
    statement = _INSERT_IGNORE.sub("INSERT OR IGNORE INTO", statement)
    view = _REPLACE_VIEW.match(statement)
    if view:
        name = view.group(1)
        return [f"DROP VIEW IF EXISTS {name}", _REPLACE_VIEW.sub(f"CREATE VIEW {name}", statement)]
    return _indexes_apart(statement)


def _postgres_statements(statement: str) -> list[str]:
    """PostgreSQL has CREATE OR REPLACE VIEW (same columns, as ours keep); the rest differs
    in spelling only."""
    statement = _TABLE_OPTIONS.sub(")", statement)
    for mysql_type, postgres_type in _POSTGRES_TYPES:
        statement = mysql_type.sub(postgres_type, statement)
    if _INSERT_IGNORE.match(statement):
        statement = _INSERT_IGNORE.sub("INSERT INTO", statement) + "\nON CONFLICT DO NOTHING"
    return _indexes_apart(statement)


def _indexes_apart(statement: str) -> list[str]:
    """A CREATE TABLE's inline (MySQL-only) indexes as CREATE INDEX statements after it."""
    table = _CREATE_TABLE.match(statement)
    if not table:
        return [statement]
    indexes = [
        f"CREATE INDEX IF NOT EXISTS {name} ON {table.group(1)} ({' '.join(cols.split())})"
        for name, cols in _INLINE_INDEX.findall(statement)
    ]
    return [_INLINE_INDEX.sub("", statement), *indexes]


def migration_path(sql_dir: Path, name: str, dialect: str) -> Path:
    """The file to apply for migration `name`: `sql/<dialect folder>/<name>` when the dialect
    has its own version of it (e.g. SQLite's table rebuild for 004, PostgreSQL's 004 without
    MySQL's PREPARE), else `sql/<name>`. Same name, same version, so `schema_migrations` means
    the same on every dialect."""
    folder = DIALECT_SQL_DIRS.get(dialect)
    if folder and (sql_dir / folder / name).is_file():
        return sql_dir / folder / name
    return sql_dir / name


def begin_migration(conn: Connection) -> None:
    """Start the transaction a migration file runs in. SQLite: explicitly, because pysqlite
    runs DDL outside any transaction until the first INSERT, and a table rebuild stopped
    half-way must roll back entirely. PostgreSQL: nothing to do, the first statement begins
    it (SQLAlchemy's autobegin) and DDL is transactional there. MySQL commits every DDL
    statement anyway: its files are written to be re-run from any point instead."""
    if conn.dialect.name == SQLITE:
        conn.exec_driver_sql("BEGIN")


def literal_sql(statement: str) -> str:
    """A DDL statement for `text()`: colons escaped, so `'10:00'` is not a bind parameter."""
    return statement.replace(":", r"\:")


@contextlib.contextmanager
def schema_lock(conn: Connection, timeout_s: int = SCHEMA_LOCK_TIMEOUT_S) -> Iterator[None]:
    """Hold this database's schema lock while migrations are checked and applied, so two
    processes starting at once apply each migration once.

    MySQL: a named lock (GET_LOCK) per database; DDL commits implicitly there, so a transaction
    cannot serialise it. PostgreSQL: a session advisory lock (advisory locks are per database);
    session, not transaction, because the lock must outlive the commit of each file. SQLite:
    an exclusive lock on a file beside the database file.
    """
    if conn.dialect.name == MYSQL:
        with _mysql_named_lock(conn, timeout_s):
            yield
    elif conn.dialect.name == POSTGRES:
        with _postgres_advisory_lock(conn, timeout_s):
            yield
    elif conn.dialect.name == SQLITE and conn.engine.url.database not in (None, "", ":memory:"):
        with _file_lock(Path(f"{conn.engine.url.database}.schema-lock"), timeout_s):
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


SCHEMA_LOCK_KEY = int.from_bytes(hashlib.sha1(b"energymobile.schema").digest()[:8], signed=True)
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
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout_s
    with path.open("a") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"{path} held by another process for {timeout_s} s"
                    ) from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


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
