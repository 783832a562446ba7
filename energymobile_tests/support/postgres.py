"""Throwaway PostgreSQL servers for tests, benchmarks and `make pg-dev`.

`start_postgres()` runs `initdb` in a new temporary folder, starts `postgres` as a child process
on a free 127.0.0.1 port (its own configuration only: nothing in /etc/postgresql applies), and
creates the database and an application role with a random password. That role gets exactly
`APP_GRANTS` (docs/postgres.md asks an administrator for the same), so everything that runs
against this server proves they are enough. The superuser is only reachable through the
server's Unix socket, inside the private folder, with a random password that never leaves this
object. `stop()` shuts the server down and deletes the folder.

PostgreSQL refuses to run as root (`initdb` and `postgres` alike), and CI containers run as
root: then the server runs as the `postgres` system account that Debian's package creates
(`nobody` without it), which owns the folder. A normal user runs it as itself.

Needs Debian's `postgresql` (`scripts/bootstrap.sh test` installs it); Debian keeps the server
binaries off PATH, in /usr/lib/postgresql/<version>/bin, where they are looked for too.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import psycopg
from psycopg import sql
from sqlalchemy import make_url

from energymobile_tests.support.servers import (
    DEFAULT_DATABASE,
    DEFAULT_USER,
    ServerStartError,
    ThrowawayServer,
    die_with_parent,
    free_port,
)

DRIVER = "postgresql+psycopg"
SUPERUSER = "postgres"
APP_GRANTS: tuple[str, ...] = (
    "GRANT CONNECT ON DATABASE {database} TO {user}",
    "GRANT USAGE, CREATE ON SCHEMA public TO {user}",
)
"""What the warehouse role needs: to connect, and to create its tables, indexes and view in
`public` (it then owns them: reads, replaces rows, later migrations). PostgreSQL 15 no longer
lets every role create in `public`; no superuser, no database ownership, no file access (COPY
FROM STDIN needs only INSERT)."""

SERVER_ACCOUNTS = ("postgres", "nobody")
"""Who runs the server when we are root, first that exists."""
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 60.0
_DEBIAN_BIN_ROOT = "/usr/lib/postgresql"
_BINARIES = ("postgres", "initdb")
_PORT_TAKEN = re.compile(r"could not bind|Address already in use|could not create any TCP")


class PostgresNotInstalled(RuntimeError):
    """The server binaries are missing: the message says how to install them."""


class PostgresStartError(ServerStartError):
    """The server did not come up; the message carries the tail of its log."""


def pg_bin_dir() -> Path:
    """The folder of `postgres` and `initdb` (one version): the one on PATH, else the newest
    /usr/lib/postgresql/<version>/bin."""
    on_path = shutil.which("postgres")
    candidates = [Path(on_path).resolve().parent] if on_path else []
    candidates += sorted(
        Path(_DEBIAN_BIN_ROOT).glob("*/bin"),
        key=lambda p: [int(x) for x in re.findall(r"\d+", p.parent.name)] or [0],
        reverse=True,
    )
    for folder in candidates:
        if all(os.access(folder / name, os.X_OK) for name in _BINARIES):
            return folder
    raise PostgresNotInstalled(
        "postgres and initdb not found: install PostgreSQL with `scripts/bootstrap.sh test` "
        "(apt-get install postgresql)"
    )


def server_account() -> pwd.struct_passwd | None:
    """The account the server runs as: None (ourselves) unless we are root."""
    if os.geteuid() != 0:
        return None
    for name in SERVER_ACCOUNTS:
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise PostgresStartError(f"running as root and none of the accounts {SERVER_ACCOUNTS} exist")


@dataclass
class PostgresServer(ThrowawayServer):
    """A running throwaway server and the credentials of its application role."""

    DRIVER: ClassVar[str] = DRIVER
    PROGRAM: ClassVar[str] = "postgres"
    START_ERROR: ClassVar[type[ServerStartError]] = PostgresStartError
    START_TIMEOUT_S: ClassVar[float] = START_TIMEOUT_S
    STOP_SIGNAL: ClassVar[signal.Signals] = signal.SIGINT
    """Fast shutdown: sessions are ended, not waited for."""
    STOP_TIMEOUT_S: ClassVar[float] = STOP_TIMEOUT_S

    account: pwd.struct_passwd | None = field(default=None, repr=False)

    @property
    def error_log(self) -> Path:
        return self.workdir / "server.log"

    # -- lifecycle ---------------------------------------------------------------------------

    def kill(self) -> None:
        """SIGKILL to the server and every backend, as a power cut would: nothing shuts
        down, uncommitted work is left to crash recovery. (Each backend runs in a session of
        its own, so the process group is not enough: the postmaster is stopped, so that it
        starts no more, and its children are killed by id.)"""
        if self._process is None or self._process.poll() is not None:
            return
        postmaster = self._process.pid
        with contextlib.suppress(ProcessLookupError):
            os.kill(postmaster, signal.SIGSTOP)
        children = _child_pids(postmaster)
        for pid in [*children, postmaster]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self._process.wait(timeout=STOP_TIMEOUT_S)
        _wait_gone(children, STOP_TIMEOUT_S)  # their shared memory must be released first

    def dagster_instance_env(self, database_url: str) -> dict[str, str]:
        """The DAGSTER_PG_* variables that the packaged production dagster.yaml reads, for a
        Dagster instance stored in `database_url`'s database on this server."""
        return {
            "DAGSTER_PG_HOST": self.host,
            "DAGSTER_PG_PORT": str(self.port),
            "DAGSTER_PG_DB": str(make_url(database_url).database),
            "DAGSTER_PG_USERNAME": self.user,
            "DAGSTER_PG_PASSWORD": self.password,
        }

    # -- administration ----------------------------------------------------------------------

    def admin_connection(self, database: str = "postgres") -> psycopg.Connection:
        """The superuser over the Unix socket (it has no TCP access on these servers)."""
        return psycopg.connect(
            host=str(self.workdir),
            port=self.port,
            user=SUPERUSER,
            password=self._admin_password,
            dbname=database,
            autocommit=True,
            connect_timeout=5,
        )

    def _create_database(self, name: str) -> None:
        names = {"database": sql.Identifier(name), "user": sql.Identifier(self.user)}
        with self.admin_connection() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {database} ENCODING 'UTF8'").format(**names))
        with self.admin_connection(name) as conn:
            for grant in APP_GRANTS:
                conn.execute(sql.SQL(grant).format(**names))

    def drop_database(self, name: str) -> None:
        """Drop it, ending any session still connected to it."""
        with self.admin_connection() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    # -- internals ---------------------------------------------------------------------------

    def _spawn(self) -> None:
        settings = {
            "listen_addresses": self.host,
            "port": str(self.port),
            "unix_socket_directories": str(self.workdir),
            "max_connections": "100",
            "logging_collector": "off",
        }
        command = [str(pg_bin_dir() / "postgres"), "-D", str(self.datadir)]
        for name, value in settings.items():
            command += ["-c", f"{name}={value}"]
        with self.error_log.open("ab") as log:
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                cwd=self.workdir,
                start_new_session=True,  # Ctrl-C in a terminal reaches us, and we stop it cleanly
                preexec_fn=die_with_parent,  # after the switch of user, so it is kept
                **_run_as(self.account),
            )

    def _answers(self) -> bool:
        try:
            self.admin_connection().close()
        except psycopg.OperationalError:
            return False
        return True

    def _port_was_taken(self) -> bool:
        return bool(_PORT_TAKEN.search(self.error_log_tail(40)))

    def _create_role(self) -> None:
        with self.admin_connection() as conn:
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(self.user), sql.Literal(self.password)
                )
            )


def _child_pids(parent: int) -> list[int]:
    """Processes whose parent is `parent` (Linux /proc)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            # pid (comm) state ppid ...: comm may hold spaces and parentheses
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == parent:
                children.append(int(stat.parent.name))
    return children


def _wait_gone(pids: list[int], timeout: float) -> None:
    """Until none of `pids` runs any more (exited, or a zombie nobody has reaped yet)."""
    deadline = time.monotonic() + timeout
    for pid in pids:
        while time.monotonic() < deadline:
            try:
                state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except (OSError, IndexError):
                break
            if state in ("Z", "X"):
                break
            time.sleep(0.01)


def _run_as(account: pwd.struct_passwd | None) -> dict[str, Any]:
    """subprocess arguments that run a child as `account` (nothing when it is ourselves)."""
    if account is None:
        return {}
    return {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}


def _write_private(path: Path, content: str, account: pwd.struct_passwd | None) -> None:
    """A 0600 file the server's account owns."""
    path.write_text(content)
    path.chmod(0o600)
    if account is not None:
        os.chown(path, account.pw_uid, account.pw_gid)


_PG_HBA = f"""\
# Written by energymobile_tests.support.postgres: the superuser only on the Unix socket (inside the
# server's private folder), everyone with a password, over TCP on loopback only.
local all all                 scram-sha-256
host  all {SUPERUSER} 0.0.0.0/0  reject
host  all {SUPERUSER} ::/0       reject
host  all all 127.0.0.1/32    scram-sha-256
"""


def start_postgres(
    *,
    database: str = DEFAULT_DATABASE,
    user: str = DEFAULT_USER,
    password: str | None = None,
    port: int | None = None,
    parent_dir: Path | None = None,
    timeout: float = START_TIMEOUT_S,
) -> PostgresServer:
    """Initialise, start and provision a server in a new temporary folder (deleted by stop).

    As root, `parent_dir` must be one the server's account can enter (the default, the
    system's temporary folder, is)."""
    initdb = pg_bin_dir() / "initdb"
    account = server_account()
    workdir = Path(tempfile.mkdtemp(prefix="em-postgres-", dir=parent_dir))
    server = PostgresServer(
        workdir=workdir,
        port=port or free_port(),
        database=database,
        user=user,
        password=password or secrets.token_urlsafe(18),
        account=account,
        _admin_password=secrets.token_urlsafe(24),
    )
    try:
        if account is not None:
            os.chown(workdir, account.pw_uid, account.pw_gid)
        password_file = workdir / "superuser-password"
        _write_private(password_file, server._admin_password, account)
        install = subprocess.run(
            [
                str(initdb),
                f"--pgdata={server.datadir}",
                f"--username={SUPERUSER}",
                f"--pwfile={password_file}",
                "--auth-local=scram-sha-256",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",  # a throwaway server: no need to flush the template files
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd=workdir,
            **_run_as(account),
        )
        password_file.unlink()
        if install.returncode != 0:
            raise PostgresStartError(
                f"initdb failed ({install.returncode}):\n{install.stderr[-2000:]}"
            )
        _write_private(server.datadir / "pg_hba.conf", _PG_HBA, account)
        server.start(timeout)
        server._create_role()
        server.create_database(database)
    except BaseException:
        server.stop()
        raise
    return server
