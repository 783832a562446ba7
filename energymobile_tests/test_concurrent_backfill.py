"""Two `energymobile backfill` processes of the same cohort started together, on one home: both
succeed, and the cohort is loaded once (issue 15: one failed with `EOFError: Ran out of input`
in mysql_tables, reading the intermediate pickle the other was still writing; dagster.yaml's
one-run-per-cohort limit applies to queued runs, not to the CLI's in-process runs)."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import pytest

from energymobile_tests.support.cli import CLI_MODULE, cli_environment, run_cli
from energymobile_tests.support.short_cohorts import SHORT_CYCLES

pytestmark = pytest.mark.integration

KEY = "2008-03-26"


def test_two_backfills_of_one_cohort_started_together_both_succeed(tmp_path: Path):
    home = tmp_path / "home"
    env = cli_environment(home)
    generated = run_cli(env, "generate", "--cohorts", "1", "--cycles", str(SHORT_CYCLES))
    assert generated.returncode == 0, generated.stderr

    backfills = [
        subprocess.Popen(
            [*CLI_MODULE, "backfill", "--cohorts", "1"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [process.communicate(timeout=600)[0] for process in backfills]
    for process, output in zip(backfills, outputs, strict=True):
        assert process.returncode == 0, output
        assert f"[1/1] {KEY} ok" in output
        assert "Ran out of input" not in output

    csv = home / "s3" / "oil-well-data-all-historical" / f"cohort={KEY}" / "data.csv"
    assert len(csv.read_text().splitlines()) == SHORT_CYCLES + 1
    with sqlite3.connect(home / "warehouse.sqlite") as warehouse:
        (rows,) = warehouse.execute(
            "SELECT COUNT(*) FROM sensor_hourly WHERE cohort = ?", (KEY,)
        ).fetchone()
    assert rows == SHORT_CYCLES  # replaced, not loaded twice
