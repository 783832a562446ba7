"""The two file locks between processes of one host (filelock's flock): DAGSTER_HOME's set-up
lock and a SQLite warehouse's schema lock. A wait past the timeout says what was waited for; a
holder that is SIGKILLed leaves nothing stuck (the kernel drops its flock)."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from energymobile import dagster_home
from energymobile.dagster_home import INIT_LOCK, DagsterHomeError, setting_up
from energymobile.storage.dialects import schema_lock

pytestmark = pytest.mark.integration

HOLDER = """
import sys, time
from filelock import UnixFileLock
lock = UnixFileLock(sys.argv[1])  # kept: a lock object collected releases its lock
lock.acquire()
print("held", flush=True)
time.sleep(600)
"""


@contextmanager
def held_by_another_process(path: Path) -> Iterator[subprocess.Popen[str]]:
    """A process holding the lock on `path`; killed (if still alive) when the block ends."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        yield holder
    finally:
        holder.kill()
        holder.wait()


def test_the_dagster_home_set_up_lock_held_too_long_names_another_energymobile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(dagster_home, "INIT_LOCK_WAIT_S", 1.0)
    with (
        held_by_another_process(tmp_path / INIT_LOCK),
        pytest.raises(DagsterHomeError) as caught,
        setting_up(tmp_path),
    ):
        pytest.fail("the set-up ran while another process held its lock")
    assert str(caught.value) == (
        f"{tmp_path / INIT_LOCK} is held by another process for over 1 s: is another "
        "energymobile still starting on this DAGSTER_HOME?"
    )


def test_the_sqlite_schema_lock_times_out_naming_its_file_and_a_killed_holder_frees_it(
    tmp_path: Path,
):
    database = tmp_path / "warehouse.sqlite"
    lock = Path(f"{database}.schema-lock")
    engine = create_engine(f"sqlite:///{database}")
    try:
        with held_by_another_process(lock) as holder, engine.connect() as conn:
            expected = rf"^{re.escape(str(lock))} held by another process for 1 s$"
            with pytest.raises(TimeoutError, match=expected), schema_lock(conn, timeout_s=1):
                pytest.fail("the schema lock was taken while another process held it")
            holder.send_signal(signal.SIGKILL)
            holder.wait()
            with schema_lock(conn, timeout_s=5):  # at once: no stale lock to wait out
                pass
    finally:
        engine.dispose()
