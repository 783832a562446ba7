"""The wheel is the product: every module of the package and its runtime data, nothing else
(no benchmark, no test, no throwaway server)."""

from __future__ import annotations

import os
import shutil
import subprocess
import zipfile
from pathlib import PurePosixPath

import pytest

from energymobile_tests.support import REPO_ROOT

pytestmark = pytest.mark.integration

PACKAGE = REPO_ROOT / "energymobile"
NOT_PRODUCT = {"benchmarks", "bench", "devtools", "energymobile_tests", "tests", "conftest.py"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> list[PurePosixPath]:
    """Build as a release would: `uv build` makes the sdist, then the wheel from the sdist in
    a clean folder (a wheel built straight from a checkout reuses whatever an earlier build left
    in build/lib). Returns the wheel's file names."""
    uv = os.environ.get("UV") or shutil.which("uv")
    assert uv, "uv not found (scripts/bootstrap.sh installs it)"
    out = tmp_path_factory.mktemp("dist")
    built = subprocess.run(
        [uv, "build", "--out-dir", str(out), "--quiet", str(REPO_ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    [path] = out.glob("energymobile-*.whl")
    with zipfile.ZipFile(path) as archive:
        return [PurePosixPath(name) for name in archive.namelist()]


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
