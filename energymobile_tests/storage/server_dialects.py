"""What the warehouse tests need to know of each database server, so that a scenario every server
shares is written once (test_warehouse_servers.py) and only the server's own ways differ: how
a DBA applies the `sql/` files with its client, and how a test holds a reload inside its bulk
statement (LOAD DATA, COPY) with the cohort's old rows deleted and the new ones written."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
from sqlalchemy import Connection, create_engine, text

from energymobile.rigs import DEFAULT_RIG_ID
from energymobile.storage.warehouse import FACT_TABLE, PROFILE_ID, PROFILES_TABLE
from energymobile_tests.storage.support import KEY, ROWS
from energymobile_tests.support.mariadb import MariaDBServer, start_mariadb
from energymobile_tests.support.postgres import PostgresServer, pg_bin_dir, start_postgres
from energymobile_tests.support.servers import ThrowawayServer

RELOAD_ROWS = ROWS + 5
"""The rows of the reload a test holds inside its statement (the cohort had ROWS before)."""


def database_of(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


# -- MariaDB -----------------------------------------------------------------------------------


def apply_with_the_mariadb_client(server: MariaDBServer, url: str, files: list[Path]) -> None:
    """`mariadb <database> < file` for each file, as docs/mysql.md tells a DBA."""
    client = shutil.which("mariadb") or shutil.which("mysql")
    assert client, "the MariaDB client is part of the test setup (scripts/bootstrap.sh test)"
    command = [client, "--protocol=TCP", "-h", server.host, "-P", str(server.port)]
    for path in files:
        subprocess.run(
            [*command, "-u", server.user, database_of(url)],
            input=path.read_bytes(),
            env={**os.environ, "MYSQL_PWD": server.password},  # not on the command line
            check=True,
            capture_output=True,
        )


def _wait_for_lock_wait(server: MariaDBServer, timeout_s: float = 30) -> tuple[str, int]:
    """The statement and modified rows of the transaction waiting on our lock."""
    admin = server.admin_connection()
    try:
        cursor = admin.cursor()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT trx_query, trx_rows_modified FROM information_schema.innodb_trx"
                " WHERE trx_state = 'LOCK WAIT'"
            )
            found = cursor.fetchall()
            if found:
                return str(found[0][0]), int(found[0][1])
            # MariaDB refreshes innodb_trx only after 0.1 s without readers: poll slower.
            time.sleep(0.25)
    finally:
        admin.close()
    raise AssertionError("the load never waited on the test's lock")


@contextmanager
def mariadb_reload_held(server: MariaDBServer, url: str) -> Iterator[Callable[[], None]]:
    """A REPEATABLE READ reader holding the gap after the cohort's last cycle, where a reload's
    new rows go: the reload waits inside its LOAD DATA statement, after deleting the old rows.
    Yields the wait for a reload to be caught there."""
    engine = create_engine(url, isolation_level="REPEATABLE READ")
    blocker = engine.connect()
    blocker.begin()
    blocker.execute(
        text(
            f"SELECT cycle FROM {FACT_TABLE} WHERE rig_id = :r AND cohort = :k AND cycle >= :c "
            "FOR UPDATE"
        ),
        {"r": DEFAULT_RIG_ID, "k": KEY, "c": ROWS},
    ).fetchall()

    def caught() -> None:
        statement, modified = _wait_for_lock_wait(server)
        assert statement.startswith("LOAD DATA LOCAL INFILE")
        assert modified >= 2 * ROWS  # the old rows deleted, as many new ones inserted

    try:
        yield caught
    finally:
        blocker.invalidate()
        engine.dispose()


# -- PostgreSQL --------------------------------------------------------------------------------


def apply_with_psql(server: PostgresServer, url: str, files: list[Path]) -> None:
    """`psql -v ON_ERROR_STOP=1 -f file` for each file (each file is one transaction), as
    docs/postgres.md tells a DBA."""
    for path in files:
        subprocess.run(
            [
                str(pg_bin_dir() / "psql"),
                *("-h", server.host, "-p", str(server.port), "-U", server.user),
                *("-d", database_of(url), "-v", "ON_ERROR_STOP=1", "-q"),
                *("-f", str(path)),
            ],
            env={"PGPASSWORD": server.password, "PATH": "/usr/bin:/bin"},
            check=True,
            capture_output=True,
        )


def hold_every_profile(url: str) -> tuple[Connection, Callable[[], None]]:
    """A transaction holding every condition_profiles row FOR UPDATE: a COPY into the fact
    table then waits inside its statement, on its foreign key checks (which PostgreSQL runs
    after every row has gone in). Returns the connection and how to dispose of it."""
    engine = create_engine(url)
    blocker = engine.connect()
    blocker.begin()
    blocker.execute(text(f"SELECT {PROFILE_ID} FROM {PROFILES_TABLE} FOR UPDATE")).fetchall()

    def dispose() -> None:
        blocker.invalidate()
        engine.dispose()

    return blocker, dispose


def wait_inside_copy(admin: psycopg.Connection, timeout_s: float = 30) -> tuple[int, int]:
    """The backend pid of our COPY waiting on the lock, and the rows it has taken so far."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = admin.execute(
            "SELECT a.pid, p.tuples_processed FROM pg_stat_activity a"
            " JOIN pg_stat_progress_copy p USING (pid)"
            " WHERE a.application_name = 'energymobile' AND a.wait_event_type = 'Lock'"
            " AND a.query LIKE 'COPY sensor_hourly%%'"
        ).fetchall()
        if found:
            return int(found[0][0]), int(found[0][1])
        time.sleep(0.05)
    raise AssertionError("the load never waited inside its COPY")


@contextmanager
def postgres_reload_held(server: PostgresServer, url: str) -> Iterator[Callable[[], None]]:
    """Every profile held (hold_every_profile): a reload waits inside its COPY with every new
    row taken. Yields the wait for a reload to be caught there."""
    _, release = hold_every_profile(url)

    def caught() -> None:
        with server.admin_connection(database_of(url)) as admin:
            _, taken = wait_inside_copy(admin)
        assert taken == RELOAD_ROWS

    try:
        yield caught
    finally:
        release()


# -- the servers -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServerDialect:
    """One database server as the shared scenarios drive it."""

    name: str
    """The dialect's name in the storage tests (storage/conftest.py's DIALECTS)."""
    sql_folder: str
    """Its folder of DDL under sql/."""
    server_fixture: str
    """The session's server (energymobile_tests/fixtures/)."""
    start: Callable[[], ThrowawayServer]
    """A server of the test's own (one the test may kill)."""
    apply_files: Callable[..., None]
    """(server, url, files): the DBA's way of applying sql/ files with the server's client."""
    reload_held: Callable[..., AbstractContextManager[Callable[[], None]]]
    """(server, url): while open, a reload of KEY waits inside its bulk statement; yields the
    wait for a reload to be caught there (asserting it has deleted and written its rows)."""


MARIADB = ServerDialect(
    name="mariadb",
    sql_folder="mysql",
    server_fixture="mariadb",
    start=start_mariadb,
    apply_files=apply_with_the_mariadb_client,
    reload_held=mariadb_reload_held,
)
POSTGRES = ServerDialect(
    name="postgres",
    sql_folder="postgresql",
    server_fixture="postgres",
    start=start_postgres,
    apply_files=apply_with_psql,
    reload_held=postgres_reload_held,
)
SERVER_DIALECTS = (MARIADB, POSTGRES)
