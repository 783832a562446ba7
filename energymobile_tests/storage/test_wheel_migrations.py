"""The wheel carries the warehouse's migrations: unpacked outside the checkout and run from an
empty folder, it migrates a new database; without its revisions it refuses to start instead of
passing for a database with nothing to do (the bug of issue 13: sql/ was read from beside the
repository, which no wheel has)."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from energymobile_tests.support.wheel import InstalledWheel

pytestmark = pytest.mark.integration

FIRST_USE = """
import energymobile
from energymobile.storage.warehouse import Warehouse
print(energymobile.__file__)
print(Warehouse("sqlite:///warehouse.sqlite").ensure_schema())
"""


def first_use(package_root: Path, folder: Path) -> subprocess.CompletedProcess[str]:
    """energymobile's first use of a new SQLite warehouse, in `folder`, with the package
    imported from `package_root` (ahead of the checkout's editable install)."""
    folder.mkdir()
    return subprocess.run(
        [sys.executable, "-c", FIRST_USE],
        cwd=folder,
        env={**os.environ, "PYTHONPATH": str(package_root)},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_wheel_migrates_a_new_database_from_an_empty_folder_and_refuses_without_revisions(
    tmp_path, installed_wheel: InstalledWheel
):
    site = tmp_path / "site"
    with zipfile.ZipFile(installed_wheel.wheel) as archive:
        archive.extractall(site)
    assert sorted(
        p.name for p in (site / "energymobile/storage/migrations/versions").glob("0*")
    ) == [
        "001_schema.py",
        "002_reference_data.py",
        "003_oil_well_hourly_view.py",
        "004_condition_profiles.py",
        "005_both_statistics_per_cycle.py",
        "006_cohort_delivery.py",
        "007_rigs.py",
    ]

    ran = first_use(site, tmp_path / "empty")
    assert ran.returncode == 0, ran.stderr
    imported, applied = ran.stdout.splitlines()[-2:]
    assert Path(imported).is_relative_to(site)  # the wheel's copy, not the checkout's
    assert applied == "['001', '002', '003', '004', '005', '006', '007']"
    assert (tmp_path / "empty" / "warehouse.sqlite").is_file()

    for revision in (site / "energymobile/storage/migrations/versions").glob("0*.py"):
        revision.unlink()
    broken = first_use(site, tmp_path / "another")
    assert broken.returncode != 0
    assert "MigrationsNotFound: no warehouse migrations in" in broken.stderr
    assert "the installation is incomplete" in broken.stderr
