"""Throwaway MariaDB servers for tests, benchmarks and `make mysql-dev`.

`start_mariadb()` initialises a data directory in a new temporary folder, starts `mariadbd` as a
child process on a free 127.0.0.1 port (with `--no-defaults`, so nothing in /etc/mysql applies),
and creates the database and an application user with a random password. That user gets
exactly `APP_PRIVILEGES` on its own database, the list docs/mysql.md asks an administrator for,
so everything that runs against this server proves those privileges are enough. Root is only
reachable through the server's Unix socket, with a random password that never leaves this
object. `stop()` shuts the server down and deletes the folder.

Needs Debian's `mariadb-server` (`scripts/bootstrap.sh test` installs it).
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import MySQLdb

from energymobile_tests.support.servers import (
    DEFAULT_DATABASE,
    DEFAULT_USER,
    ServerStartError,
    ThrowawayServer,
    die_with_parent,
    free_port,
)

DRIVER = "mysql+mysqldb"
APP_PRIVILEGES: tuple[str, ...] = (
    "SELECT",
    "INSERT",
    "UPDATE",
    "DELETE",
    "CREATE",
    "DROP",
    "ALTER",
    "INDEX",
    "REFERENCES",
    "CREATE VIEW",
    "SHOW VIEW",
)
"""What the warehouse user needs on its own database: read and replace rows, apply `sql/`
(tables, indexes, foreign keys, the view; DROP because CREATE OR REPLACE VIEW needs it)."""

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 60.0
_SERVER_NAMES = ("mariadbd", "mysqld")
_INSTALL_NAMES = ("mariadb-install-db", "mysql_install_db")
_SEARCH_DIRS = ("/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin")


class MariaDBNotInstalled(RuntimeError):
    """The server binaries are missing: the message says how to install them."""


class MariaDBStartError(ServerStartError):
    """The server did not come up; the message carries the tail of its error log."""


def find_binary(names: tuple[str, ...]) -> str:
    """The first of `names` on PATH or in the usual sbin folders (not on a user's PATH)."""
    for name in names:
        found = shutil.which(name)
        if found:
            return found
        for folder in _SEARCH_DIRS:
            candidate = Path(folder) / name
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return str(candidate)
    raise MariaDBNotInstalled(
        f"{names[0]} not found: install MariaDB with `scripts/bootstrap.sh test` "
        "(apt-get install mariadb-server mariadb-client)"
    )


def _as_root_args() -> list[str]:
    """mariadbd refuses to run as root unless told to; tests in containers often are root."""
    return ["--user=root"] if os.geteuid() == 0 else []


@dataclass
class MariaDBServer(ThrowawayServer):
    """A running throwaway server and the credentials of its application user."""

    DRIVER: ClassVar[str] = DRIVER
    PROGRAM: ClassVar[str] = "mariadbd"
    START_ERROR: ClassVar[type[ServerStartError]] = MariaDBStartError
    START_TIMEOUT_S: ClassVar[float] = START_TIMEOUT_S
    STOP_TIMEOUT_S: ClassVar[float] = STOP_TIMEOUT_S

    @property
    def socket_path(self) -> Path:
        return self.workdir / "mysqld.sock"

    @property
    def error_log(self) -> Path:
        return self.workdir / "error.log"

    # -- lifecycle ---------------------------------------------------------------------------

    def kill(self) -> None:
        """SIGKILL, as a power cut would: no shutdown, uncommitted work left to recovery."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(timeout=STOP_TIMEOUT_S)

    # -- administration ----------------------------------------------------------------------

    def admin_connection(self) -> MySQLdb.Connection:
        """Root over the Unix socket (root has no TCP account on these servers)."""
        return MySQLdb.connect(
            unix_socket=str(self.socket_path),
            user="root",
            password=self._admin_password,
            autocommit=True,
            connect_timeout=5,
        )

    def _create_database(self, name: str) -> None:
        conn = self.admin_connection()
        try:
            cursor = conn.cursor()
            cursor.execute(
                f"CREATE DATABASE IF NOT EXISTS `{name}` "
                "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            )
            cursor.execute(
                f"GRANT {', '.join(APP_PRIVILEGES)} ON `{name}`.* TO %s@'%%'", (self.user,)
            )
        finally:
            conn.close()

    def drop_database(self, name: str) -> None:
        conn = self.admin_connection()
        try:
            conn.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")
        finally:
            conn.close()

    # -- internals ---------------------------------------------------------------------------

    def _spawn(self) -> None:
        self.socket_path.unlink(missing_ok=True)
        command = [
            find_binary(_SERVER_NAMES),
            "--no-defaults",
            *_as_root_args(),
            f"--datadir={self.datadir}",
            f"--socket={self.socket_path}",
            f"--pid-file={self.workdir / 'mariadbd.pid'}",
            f"--log-error={self.error_log}",
            f"--port={self.port}",
            f"--bind-address={self.host}",
            "--skip-networking=0",
            "--skip-name-resolve",
            "--local-infile=1",
            "--character-set-server=utf8mb4",
            "--collation-server=utf8mb4_unicode_ci",
            "--max-allowed-packet=64M",
        ]
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C in a terminal reaches us, and we stop it cleanly
            preexec_fn=die_with_parent,
        )

    def _answers(self) -> bool:
        if not self.socket_path.exists():
            return False
        try:
            self.admin_connection().close()
        except MySQLdb.OperationalError:
            return False
        return True

    def _port_was_taken(self) -> bool:
        log = self.error_log_tail(40)
        return "Address already in use" in log or "Bind on TCP/IP port" in log

    def _secure_and_create_user(self) -> None:
        """First boot: root only on the socket with a random password, then the app user."""
        new_admin_password = secrets.token_urlsafe(24)
        conn = self.admin_connection()
        try:
            cursor = conn.cursor()
            cursor.execute(
                "SELECT user, host FROM mysql.user WHERE user = 'root' AND host <> 'localhost'"
            )
            for user, host in cursor.fetchall():
                cursor.execute("DROP USER %s@%s", (user, host))
            cursor.execute("DROP USER IF EXISTS ''@'localhost'")
            cursor.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (self.user, self.password))
            cursor.execute("ALTER USER 'root'@'localhost' IDENTIFIED BY %s", (new_admin_password,))
        finally:
            conn.close()
        self._admin_password = new_admin_password
        self.create_database(self.database)


def start_mariadb(
    *,
    database: str = DEFAULT_DATABASE,
    user: str = DEFAULT_USER,
    password: str | None = None,
    port: int | None = None,
    parent_dir: Path | None = None,
    timeout: float = START_TIMEOUT_S,
) -> MariaDBServer:
    """Initialise, start and provision a server in a new temporary folder (deleted by stop)."""
    install_db = find_binary(_INSTALL_NAMES)
    find_binary(_SERVER_NAMES)
    workdir = Path(tempfile.mkdtemp(prefix="em-mariadb-", dir=parent_dir))
    server = MariaDBServer(
        workdir=workdir,
        port=port or free_port(),
        database=database,
        user=user,
        password=password or secrets.token_urlsafe(18),
    )
    try:
        install = subprocess.run(
            [
                install_db,
                "--no-defaults",
                *_as_root_args(),
                f"--datadir={server.datadir}",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                "--skip-name-resolve",
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if install.returncode != 0:
            raise MariaDBStartError(
                f"mariadb-install-db failed ({install.returncode}):\n{install.stderr[-2000:]}"
            )
        server.start(timeout)
        server._secure_and_create_user()
    except BaseException:
        server.stop()
        raise
    return server
