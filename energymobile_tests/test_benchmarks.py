"""The benchmarks beside the package (`make bench`): each one imports and runs from the checkout,
though neither they nor the servers they borrow from the tests ship in the wheel."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest

import benchmarks
from benchmarks.__main__ import main
from energymobile_tests.support import REPO_ROOT

EXPECTED = {
    "backfill60",
    "fleet",
    "hostile_input",
    "ingest",
    "object_store",
    "pipeline",
    "user_waits",
    "warehouse",
}


@pytest.mark.unit
def test_every_benchmark_module_imports_and_has_a_run():
    assert set(benchmarks.benchmark_names()) == EXPECTED
    for name in EXPECTED:
        assert callable(importlib.import_module(f"benchmarks.{name}").run), name


@pytest.mark.unit
def test_an_unknown_benchmark_name_is_refused(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--only", "warehous"])
    assert exit_.value.code == 2
    assert "invalid choice: 'warehous'" in capsys.readouterr().err


@pytest.mark.integration
def test_a_quick_run_writes_its_figures(tmp_path):
    """As `make bench ARGS="--only ingest --quick"` runs it: from the checkout, in a process."""
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "--only",
            "ingest",
            "--quick",
            "--work",
            str(tmp_path),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    figures = json.loads((tmp_path / "bench.json").read_text())
    names = {f["name"] for f in figures if f["benchmark"] == "ingest"}
    assert "ours: parse + validate + reduce + sha256" in names
    assert all(f["value"] > 0 for f in figures)
