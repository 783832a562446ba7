"""The wheel is the product: every module of the package and its runtime data, nothing else
(no benchmark, no test, no throwaway server); installed outside the checkout with the locked
dependencies, it loads a cohort from an empty folder."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest

from energymobile.instance import EMBEDDED, instance_yaml
from energymobile_tests.support import REPO_ROOT
from energymobile_tests.support.short_cohorts import SHORT_CYCLES
from energymobile_tests.support.wheel import InstalledWheel

pytestmark = pytest.mark.integration

PACKAGE = REPO_ROOT / "energymobile"
NOT_PRODUCT = {"benchmarks", "bench", "devtools", "energymobile_tests", "tests", "conftest.py"}
KEY = "2008-03-26"


@pytest.fixture(scope="module")
def wheel(installed_wheel: InstalledWheel) -> list[PurePosixPath]:
    """The wheel's file names (built by deploy/install.sh, once per session)."""
    return installed_wheel.names


def test_the_wheel_holds_no_benchmark_test_or_throwaway_server(wheel):
    intruders = [
        str(name)
        for name in wheel
        if NOT_PRODUCT.intersection(name.parts) or name.name.startswith("test_")
    ]
    assert intruders == []
    tops = {name.parts[0] for name in wheel}
    assert {top for top in tops if not top.endswith(".dist-info")} == {"energymobile"}


def test_the_wheel_holds_every_module_of_the_package(wheel):
    modules = {
        PurePosixPath("energymobile", *path.relative_to(PACKAGE).parts)
        for path in PACKAGE.rglob("*.py")
    }
    assert modules - set(wheel) == set()


def test_the_wheel_holds_the_sample_data_the_generator_reads(wheel):
    data = PACKAGE / "sample" / "data"
    shipped = {
        name.name for name in wheel if name.parent == PurePosixPath("energymobile/sample/data")
    }
    assert shipped == {path.name for path in data.iterdir()}
    assert {"profile.txt.zst", "TS1.txt.zst", "HourlyData.csv.zst", "ATTRIBUTION.md"} <= shipped


def test_the_wheel_holds_both_dagster_instance_configurations(wheel):
    shipped = {name.name for name in wheel if name.parent == PurePosixPath("energymobile/instance")}
    assert {"dagster.yaml", "dagster.production.yaml"} <= shipped


def test_installed_with_the_locked_dependencies_it_loads_a_cohort_from_an_empty_folder(
    installed_wheel: InstalledWheel, tmp_path: Path
):
    """`energymobile generate` + `energymobile backfill` as a new user runs them: the venv's
    own command, from an empty folder outside the checkout, with nothing of the test process's
    environment. Everything it reads at run time comes from the installed package."""
    folder = tmp_path / "empty"
    folder.mkdir()
    where = installed_wheel.run(
        "python", "-c", "import energymobile; print(energymobile.__file__)", cwd=folder
    )
    assert Path(where.stdout.strip()).is_relative_to(installed_wheel.venv), where.stderr

    short = {"ENERGYMOBILE_MAX_SHORTFALL_HOURS": "3000"}  # 24 cycles, not a quarter's 2205
    cycles = ("--cycles", str(SHORT_CYCLES))
    generated = installed_wheel.run(
        "energymobile", "generate", "--cohorts", "1", *cycles, cwd=folder, **short
    )
    assert generated.returncode == 0, generated.stderr
    loaded = installed_wheel.run("energymobile", "backfill", "--cohorts", "1", cwd=folder, **short)
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    assert f"[1/1] {KEY} ok" in loaded.stdout

    home = folder / ".energymobile"
    csv = home / "s3" / "oil-well-data-all-historical" / f"cohort={KEY}" / "data.csv"
    assert len(csv.read_text().splitlines()) == SHORT_CYCLES + 1  # header + one row a cycle
    assert (home / "s3" / "oil-well-data-all-historical.csv").is_file()
    # Dagster's home got the package's own dagster.yaml (not a file beside a checkout).
    assert (home / "dagster" / "dagster.yaml").read_text() == instance_yaml(EMBEDDED)
