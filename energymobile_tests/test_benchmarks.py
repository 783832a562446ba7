"""The benchmarks beside the package (`make bench`): each one imports and runs from the checkout,
though neither they nor the servers they borrow from the tests ship in the wheel."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

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
    "ui_drop",
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


def quick_run(name: str, work: Path, timeout_s: float) -> list[dict]:
    """As `make bench ARGS="--only <name> --quick"` runs it: from the checkout, in a process;
    the figures it wrote."""
    run = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--only", name, "--quick", "--work", str(work)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    return json.loads((work / "bench.json").read_text())


@pytest.mark.integration
def test_a_quick_run_writes_its_figures(tmp_path):
    figures = quick_run("ingest", tmp_path, 300)
    names = {f["name"] for f in figures if f["benchmark"] == "ingest"}
    assert "ours: parse + validate + reduce + sha256" in names
    assert all(f["value"] > 0 for f in figures if not f["name"].startswith("load average"))


@pytest.mark.ui
@pytest.mark.timeout(900)
def test_the_drop_to_csv_benchmark_runs_on_the_real_dg_dev(tmp_path):
    """`dg dev` started, a short cohort dropped in, its CSV seen, Dagster's timeline of the
    load read back, the server stopped (the benchmark fails otherwise)."""
    figures = {f["name"]: f for f in quick_run("ui_drop", tmp_path, 840)}
    drop = figures["drop -> CSV in the running UI (dg dev)"]
    assert drop["value"] >= figures["  target: settle time + 10 s"]["value"] - 10  # >= settle
    assert "settle time 5 s" in drop["note"]
    assert figures["    step s3_historical_csv"]["value"] > 0
    assert figures["  baseline: energymobile backfill (process)"]["value"] > 0
