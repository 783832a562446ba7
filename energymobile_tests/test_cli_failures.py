"""Failures a user's machine causes reach them as one line (what, where, what to do), never a
traceback, and a non-zero exit: a full disk under the warehouse, under the exports or under
Dagster's own storage, and a read-only export folder. `--debug` adds the traceback.

The disks are real: each `energymobile backfill` runs in its own mount namespace (`unshare
--user --map-root-user --mount`, no privilege needed where user namespaces are allowed, and
nothing left mounted after), where a small tmpfs is mounted over one folder and filled up, or
the folder is bind-mounted read-only. Machines refusing user namespaces skip these tests.
"""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest

from energymobile.sample.generate import generate_cohort
from energymobile.settings import Settings, sqlite_url
from energymobile.storage.warehouse import Warehouse
from energymobile_tests.support.cli import ENERGYMOBILE, settings_environment
from energymobile_tests.support.short_cohorts import SHORT_CYCLES, short_cohort_settings

pytestmark = pytest.mark.integration

KEY = "2008-03-26"
EXPORTS = "oil-well-data-all-historical"


def _namespaces_allowed() -> bool:
    try:
        return (
            subprocess.run(["unshare", "-rm", "true"], capture_output=True, timeout=10).returncode
            == 0
        )
    except (OSError, subprocess.TimeoutExpired):
        return False


needs_namespaces = pytest.mark.skipif(
    not _namespaces_allowed(),
    reason="needs user and mount namespaces (unshare -rm) to mount a tmpfs",
)


def full_tmpfs(folder: Path, size_kb: int) -> str:
    """Shell: mount a tmpfs of `size_kb` over `folder` (keeping what it held), then fill it."""
    keep = shlex.quote(str(folder.with_name(folder.name + ".kept")))
    at = shlex.quote(str(folder))
    return (
        f"cp -a {at} {keep} && mount -t tmpfs -o size={size_kb}k tmpfs {at} && "
        f"cp -a {keep}/. {at}/ && (dd if=/dev/zero of={at}/.filler bs=4k 2>/dev/null; true)"
    )


def read_only(folder: Path) -> str:
    at = shlex.quote(str(folder))
    return f"mount --bind {at} {at} && mount -o remount,bind,ro {at}"


def backfill_in_namespace(
    settings: Settings, dagster_home: Path, setup: str, *args: str
) -> subprocess.CompletedProcess[str]:
    env = settings_environment(settings, dagster_home=dagster_home)
    command = f"{setup} && exec {shlex.quote(ENERGYMOBILE)} backfill --cohorts 1 {' '.join(args)}"
    return subprocess.run(
        ["unshare", "-rm", "sh", "-c", command],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture
def delivered(tmp_path: Path) -> Settings:
    """A short cohort in the landing, a warehouse already migrated, exports folder made."""
    settings = short_cohort_settings(tmp_path / "home")
    generate_cohort(Path(settings.landing), KEY, cycles=SHORT_CYCLES)
    warehouse = Warehouse(settings.database_url)
    warehouse.ensure_schema()
    warehouse.dispose()
    (settings.home / "s3" / EXPORTS).mkdir(parents=True)
    return settings


def assert_one_clear_line(result: subprocess.CompletedProcess[str], *expected: str) -> str:
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Traceback" not in output, output
    [line] = [line for line in output.splitlines() if all(part in line for part in expected)]
    return line


@needs_namespaces
def test_a_full_disk_under_the_warehouse_says_so_in_one_line(delivered, tmp_path):
    folder = tmp_path / "full"
    folder.mkdir()
    settings = short_cohort_settings(
        delivered.home, database_url=sqlite_url(folder / "warehouse.sqlite")
    )
    (folder / "warehouse.sqlite").write_bytes((delivered.home / "warehouse.sqlite").read_bytes())
    result = backfill_in_namespace(settings, tmp_path / "dagster", full_tmpfs(folder, 512))
    line = assert_one_clear_line(result, f"[1/1] {KEY} FAILED")
    assert f"mysql_tables: loading cohort {KEY} into sqlite:///{folder}/warehouse.sqlite" in line
    assert "the disk holding the database is full: free space there" in line
    assert "1 of 1 cohorts failed" in result.stderr


@needs_namespaces
def test_a_full_disk_under_the_exports_names_the_file_in_one_line(delivered, tmp_path):
    exports = delivered.home / "s3" / EXPORTS
    result = backfill_in_namespace(delivered, tmp_path / "dagster", full_tmpfs(exports, 64))
    line = assert_one_clear_line(result, f"[1/1] {KEY} FAILED")
    assert f"s3_historical_csv: cannot write {exports}/cohort={KEY}/data.csv: " in line
    assert "No space left on device (the disk is full): free space there, or point " in line
    assert "ENERGYMOBILE_OBJECT_STORE at another disk" in line


@needs_namespaces
def test_a_full_disk_under_dagsters_storage_names_it_in_one_line(delivered, tmp_path):
    dagster_home = tmp_path / "dagster"
    dagster_home.mkdir()
    result = backfill_in_namespace(delivered, dagster_home, full_tmpfs(dagster_home, 256))
    line = assert_one_clear_line(result, "energymobile: ", str(dagster_home))
    assert "DAGSTER_HOME" in line and "full" in line and "free space there" in line, line


@needs_namespaces
@pytest.mark.parametrize("debug", [False, True])
def test_a_read_only_export_folder_names_the_file_in_one_line(delivered, tmp_path, debug):
    exports = delivered.home / "s3" / EXPORTS
    args = ["--debug"] if debug else []
    result = backfill_in_namespace(delivered, tmp_path / "dagster", read_only(exports), *args)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    line = next(line for line in result.stdout.splitlines() if f"[1/1] {KEY} FAILED" in line)
    assert f"cannot write {exports}/cohort={KEY}/data.csv: Read-only file system: " in line
    assert "point ENERGYMOBILE_OBJECT_STORE at a writable folder" in line
    frames = f'File "{Path(__file__).parents[1] / "energymobile"}'  # our code's frames
    assert (frames in result.stderr) is debug, result.stderr  # the stack only with --debug
    assert "Traceback" not in result.stdout
