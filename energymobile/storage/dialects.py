"""Every difference between the SQL dialects we run on, in one place.

`sql/` is written for MySQL/MariaDB (the company's warehouse) and is idempotent there, so a
database someone prepared by hand (`mysql energymobile < sql/001_schema.sql`) and one prepared by
energymobile end up the same. SQLite, the embedded default, needs the MySQL table options
removed, inline indexes turned into `CREATE INDEX`, `INSERT IGNORE` and `CREATE OR REPLACE VIEW`
spelled its way, and foreign keys switched on per connection. Where a migration cannot be
adapted statement by statement (SQLite drops a column with a foreign key only by rebuilding the
table), `sql/sqlite/` holds SQLite's own version of that file, applied in one transaction.

On MySQL, writes run at READ COMMITTED (at REPEATABLE READ, two cohorts replaced at the same
time deadlock on the gap locks of their deletes), schema changes are serialised with a named
lock (MySQL DDL commits implicitly, so a transaction cannot do it), and the fact rows go in
with LOAD DATA LOCAL INFILE when both ends allow it.
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
from sqlalchemy.exc import DBAPIError
from sqlalchemy.util import asbool

log = logging.getLogger(__name__)

SQLITE = "sqlite"
MYSQL = "mysql"  # SQLAlchemy's name for MySQL and MariaDB alike

LOAD_DATA = "load_data_local_infile"
EXECUTEMANY = "executemany"

SCHEMA_LOCK_TIMEOUT_S = 120
MYSQL_WRITE_ISOLATION = "READ COMMITTED"
MYSQL_SESSION_SETUP = "SET time_zone = '+00:00'"
"""DATETIME columns hold naive UTC; this pins NOW() and friends to UTC as well."""

_TABLE_OPTIONS = re.compile(r"\)\s*ENGINE=[^;]*$", re.IGNORECASE)
_CREATE_TABLE = re.compile(r"CREATE TABLE (?:IF NOT EXISTS )?(\w+)", re.IGNORECASE)
_INLINE_INDEX = re.compile(r",\s*INDEX\s+(\w+)\s*\(([^)]*)\)", re.IGNORECASE)
_INSERT_IGNORE = re.compile(r"^INSERT IGNORE INTO", re.IGNORECASE)
_REPLACE_VIEW = re.compile(r"^CREATE OR REPLACE VIEW (\w+)", re.IGNORECASE)
_SCRATCH_DIRS = ("/dev/shm",)

DIALECT_SQL_DIRS: dict[str, str] = {SQLITE: "sqlite"}
"""The subfolder of `sql/` with a dialect's own version of a migration, where it has one."""


# -- engines ------------------------------------------------------------------------------------


def engine_options(url: str) -> dict[str, Any]:
    """Extra `create_engine` arguments for the URL's dialect.

    MySQL: LOAD DATA LOCAL is allowed on the client unless the URL says `?local_infile=0`
    (the server must allow it too, see `bulk_method`); sessions run in UTC at READ COMMITTED.
    """
    parsed = make_url(url)
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
    """The driver's own words for a database error (MySQLdb: "1045: Access denied ..."),
    without SQLAlchemy's statement and parameters."""
    orig = getattr(exc, "orig", None) or exc
    args = getattr(orig, "args", ())
    if len(args) == 2 and isinstance(args[0], int):
        return f"{args[0]}: {args[1]}"
    return str(orig).splitlines()[0] if str(orig) else type(orig).__name__


# -- DDL ----------------------------------------------------------------------------------------


def split_statements(sql: str) -> list[str]:
    """Statements of a DDL file: `;` at the end of a line ends one; `--` comments dropped."""
    lines = [ln for ln in sql.splitlines() if not ln.lstrip().startswith("--")]
    statements = re.split(r";\s*$", "\n".join(lines), flags=re.MULTILINE)
    return [s.strip() for s in statements if s.strip()]


def ddl_statements(sql: str, dialect: str) -> list[str]:
    """The statements of a `sql/` file as the given SQLAlchemy dialect name needs them."""
    statements = split_statements(sql)
    if dialect != SQLITE:
        return statements
    adapted: list[str] = []
    for statement in statements:
        adapted.extend(_sqlite_statements(statement))
    return adapted


def _sqlite_statements(statement: str) -> list[str]:
    statement = _TABLE_OPTIONS.sub(")", statement)
    statement = _INSERT_IGNORE.sub("INSERT OR IGNORE INTO", statement)
    view = _REPLACE_VIEW.match(statement)
    if view:
        name = view.group(1)
        return [f"DROP VIEW IF EXISTS {name}", _REPLACE_VIEW.sub(f"CREATE VIEW {name}", statement)]
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
    has its own version of it (e.g. SQLite's table rebuild for 004), else `sql/<name>`. Same
    name, same version, so `schema_migrations` means the same on every dialect."""
    folder = DIALECT_SQL_DIRS.get(dialect)
    if folder and (sql_dir / folder / name).is_file():
        return sql_dir / folder / name
    return sql_dir / name


def begin_migration(conn: Connection) -> None:
    """Start the transaction a migration file runs in. SQLite: explicitly, because pysqlite
    runs DDL outside any transaction until the first INSERT, and a table rebuild stopped
    half-way must roll back entirely. MySQL commits every DDL statement anyway: its files
    are written to be re-run from any point instead."""
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
    cannot serialise it. SQLite: an exclusive lock on a file beside the database file.
    """
    if conn.dialect.name == MYSQL:
        with _mysql_named_lock(conn, timeout_s):
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
    """LOAD DATA LOCAL INFILE when the client and the server both allow it; otherwise (SQLite,
    or a MySQL server with local_infile=OFF) batched executemany, which is about 4× slower."""
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


def _scratch_dir() -> str | None:
    """Memory-backed scratch space for the load file when there is some."""
    for folder in _SCRATCH_DIRS:
        if os.path.isdir(folder) and os.access(folder, os.W_OK):
            return folder
    return None
