"""`energymobile backfill` loads two cohorts at once (issue 16: a multi-cohort backfill keeps
both cores busy), in worker processes, each run on the CLI's Dagster home; a cohort that fails
in a worker is reported like any other and does not stop the rest; `--netcdf` starts its
workers again after the combined CSV's run."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from energymobile.definitions import COHORT_JOB
from energymobile.defs.partitions import partition_key, split_key
from energymobile.rigs import DEFAULT_SITE
from energymobile_tests.support.cli import cli_environment, run_cli
from energymobile_tests.support.short_cohorts import SHORT_CYCLES

pytestmark = pytest.mark.integration

KEYS = ("2008-03-26", "2008-06-26", "2008-09-26")


def test_two_cohorts_run_at_once_and_a_failed_one_is_reported(tmp_path: Path):
    home = tmp_path / "home"
    env = cli_environment(home)
    generated = run_cli(env, "generate", "--cohorts", "2", "--cycles", str(SHORT_CYCLES))
    assert generated.returncode == 0, generated.stderr  # KEYS[2] is never delivered

    selection = ("--from", KEYS[0], "--to", KEYS[2], "--workers", "2", "--netcdf")
    back = run_cli(env, "backfill", *selection, timeout_s=600)

    assert back.returncode == 1, back.stdout + back.stderr
    assert f"[1/3] {KEYS[0]} ok" in back.stdout
    assert f"[2/3] {KEYS[1]} ok" in back.stdout
    assert f"[3/3] {KEYS[2]} FAILED: raw_logs" in back.stdout
    assert f"logs/{KEYS[2]}/PS1.txt: missing" in back.stdout
    assert "1 of 5 cohorts failed" in back.stderr  # 3 loads, 2 netCDF files
    assert "oil-well-data-all-historical.csv ok" in back.stdout
    # The netCDF runs start their workers after the combined CSV's run in the command itself.
    assert "netCDF files of 2 cohorts:" in back.stdout
    netcdf = home / "s3" / "netcdf"
    assert sorted(p.name for p in netcdf.iterdir()) == [f"cohort={k}.nc" for k in KEYS[:2]]
    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        runs = {
            split_key(record.dagster_run.tags["dagster/partition"])[0]: record
            for record in instance.get_run_records(dg.RunsFilter(job_name=COHORT_JOB))
        }
        assert set(runs) == set(KEYS)
        first, second = runs[KEYS[0]], runs[KEYS[1]]
        # The first two cohorts were handed to the two workers together: their runs overlap.
        assert first.start_time < second.end_time and second.start_time < first.end_time
        loaded = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey("s3_historical_csv")), limit=10
        ).records
        assert sorted(r.partition_key for r in loaded) == [
            partition_key(KEYS[0], DEFAULT_SITE),
            partition_key(KEYS[1], DEFAULT_SITE),
        ]
