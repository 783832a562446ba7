"""Why the tests start their own MariaDB and PostgreSQL servers (support/mariadb.py,
support/postgres.py) instead of the well-kept pytest plugins for them: what each plugin cannot
do that the tests need, shown with the plugin's own executor on this machine.

- pytest-postgresql runs `pg_ctl initdb` as the current user, and PostgreSQL refuses to run as
  root; CI runs as root. Ours runs the server as the `postgres` account there.
- pytest-mysql runs MariaDB under `mysqld_safe`, which restarts a server that dies: a server
  SIGKILLed in the middle of a load (test_warehouse_servers) comes back by itself, at a moment
  the test does not choose. Ours runs `mariadbd` directly, which stays down until restarted.

If a release of either plugin lifts its limit, its test here fails: then use the plugin.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest
from pytest_mysql.executor import MySQLExecutor
from pytest_postgresql.executors.proc import PostgreSQLExecutor

from energymobile_tests.support.mariadb import MariaDBServer, find_binary
from energymobile_tests.support.polling import wait_for
from energymobile_tests.support.postgres import PostgresServer, pg_bin_dir
from energymobile_tests.support.servers import HOST, free_port

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


@pytest.mark.skipif(os.geteuid() != 0, reason="the limit is running as root, as CI does")
def test_pytest_postgresql_cannot_start_a_server_as_root_and_ours_does(
    postgres: PostgresServer, tmp_path: Path, capfd: pytest.CaptureFixture[str]
):
    executor = PostgreSQLExecutor(
        executable=str(pg_bin_dir() / "pg_ctl"),
        host=HOST,
        port=free_port(),
        datadir=str(tmp_path / "data"),
        unixsocketdir=str(tmp_path),
        logfile=str(tmp_path / "log"),
        startparams="-w",
        dbname="energymobile",
    )
    with pytest.raises(subprocess.CalledProcessError):
        executor.start()
    assert "cannot be run as root" in capfd.readouterr().err
    with postgres.admin_connection() as ours:  # started by the same root user
        assert ours.execute("SELECT 1").fetchone() == (1,)


def test_pytest_mysql_runs_mariadb_under_a_wrapper_that_restarts_a_killed_server(
    mariadb: MariaDBServer, tmp_path: Path
):
    port = free_port()
    executor = MySQLExecutor(
        mysqld_safe=Path(find_binary(("mysqld_safe", "mariadbd-safe"))),
        mysqld=Path(find_binary(("mariadbd", "mysqld"))),
        admin_exec=find_binary(("mariadb-admin", "mysqladmin")),
        logfile_path=str(tmp_path / "log"),
        params="",
        base_directory=tmp_path,
        user="root",
        host=HOST,
        port=port,
        install_db=find_binary(("mariadb-install-db", "mysql_install_db")),
    )
    executor.start()
    try:
        pidfile = tmp_path / f"mysql-server.{port}.pid"
        killed = int(pidfile.read_text())
        os.kill(killed, signal.SIGKILL)
        restarted = wait_for(
            "mysqld_safe to restart the killed server",
            lambda: (pid := _pid(pidfile)) not in (None, killed) and _answers(executor) and pid,
            60,
        )
        assert restarted != killed
    finally:
        executor.stop()
    ours = mariadb.admin_connection()  # mariadbd itself, which a kill ends
    try:
        cursor = ours.cursor()
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)
    finally:
        ours.close()


def _pid(pidfile: Path) -> int | None:
    """The pid the server wrote, None while it is being (re)written."""
    try:
        return int(pidfile.read_text())
    except (OSError, ValueError):
        return None


def _answers(executor: MySQLExecutor) -> bool:
    ping = [executor.admin_exec, f"--socket={executor.unixsocket}", "--user=root", "ping"]
    return subprocess.run(ping, capture_output=True, check=False).returncode == 0
