"""The energymobile command as a user runs it: exit status and the reason on failure."""

import os
import subprocess
import sys

import dagster as dg
import pytest

from energymobile.cli import main
from energymobile_tests.support.short_cohorts import SHORT_CYCLES


def _run(tmp_path, *args, shortfall="3000"):
    env = {
        **os.environ,
        "ENERGYMOBILE_HOME": str(tmp_path / "home"),
        "ENERGYMOBILE_MAX_SHORTFALL_HOURS": shortfall,
        "DAGSTER_HOME": "",
    }
    env.pop("ENERGYMOBILE_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "energymobile.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _materializations(instance: dg.DagsterInstance, asset: str) -> int:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset)), limit=100
    ).records
    return len(records)


@pytest.mark.integration
def test_generate_then_backfill_succeeds_and_says_where_results_are(tmp_path):
    gen = _run(tmp_path, "generate", "--cohorts", "2", "--cycles", str(SHORT_CYCLES))
    assert gen.returncode == 0, gen.stderr
    assert "generated 2008-06-26" in gen.stdout
    back = _run(tmp_path, "backfill", "--from", "2008-03-26", "--to", "2008-06-26")
    assert back.returncode == 0, back.stdout + back.stderr
    assert "[1/2] 2008-03-26 ok" in back.stdout
    assert "[2/2] 2008-06-26 ok" in back.stdout
    assert "oil-well-data-all-historical.csv ok" in back.stdout
    assert (tmp_path / "home" / "s3" / "oil-well-data-all-historical.csv").is_file()
    assert (tmp_path / "home" / "dagster" / "dagster.yaml").is_file()
    # Two cohorts, one rebuild of the combined file, recorded in the CLI's Dagster home.
    with dg.DagsterInstance.from_config(str(tmp_path / "home" / "dagster")) as instance:
        assert _materializations(instance, "s3_historical_csv") == 2
        assert _materializations(instance, "combined_csv") == 1


@pytest.mark.integration
def test_backfill_with_netcdf_also_writes_the_full_resolution_files(tmp_path):
    _run(tmp_path, "generate", "--cohorts", "1", "--cycles", str(SHORT_CYCLES))
    back = _run(tmp_path, "backfill", "--cohorts", "1", "--netcdf")
    assert back.returncode == 0, back.stdout + back.stderr
    assert "netCDF files of 1 cohorts:" in back.stdout
    assert (tmp_path / "home" / "s3" / "netcdf" / "cohort=2008-03-26.nc").is_file()
    plain = tmp_path / "plain"
    _run(plain, "generate", "--cohorts", "1", "--cycles", str(SHORT_CYCLES))
    assert _run(plain, "backfill", "--cohorts", "1").returncode == 0
    assert not (plain / "home" / "s3" / "netcdf").exists()  # the load alone writes none


@pytest.mark.integration
def test_backfill_exits_non_zero_with_the_reason_when_a_check_fails(tmp_path):
    _run(tmp_path, "generate", "--cohorts", "1", "--cycles", str(SHORT_CYCLES))
    back = _run(tmp_path, "backfill", "--cohorts", "1", shortfall="24")
    assert back.returncode == 1
    assert "2008-03-26 FAILED: raw_logs:maintenance_shortfall" in back.stdout
    assert "1 of 1 cohorts failed" in back.stderr
    assert "oil-well-data-all-historical.csv ok" not in back.stdout  # nothing loaded: not rebuilt


@pytest.mark.integration
def test_backfill_of_a_missing_delivery_names_the_files(tmp_path):
    back = _run(tmp_path, "backfill", "--cohorts", "1")
    assert back.returncode == 1
    assert "logs/2008-03-26/PS1.txt: missing" in back.stdout


@pytest.mark.integration
def test_generate_uploads_a_drop_to_an_s3_landing(moto_s3, s3_prefix, monkeypatch, capsys):
    from energymobile.channels import CHANNELS
    from energymobile_tests.support.s3 import S3_BUCKET

    landing = f"s3://{S3_BUCKET}/{s3_prefix}/landing"
    monkeypatch.setenv("ENERGYMOBILE_LANDING", landing)
    assert main(["generate", "--cohorts", "1", "--cycles", "3"]) == 0
    assert f"-> {landing}/logs/2008-03-26/" in capsys.readouterr().out
    keys = moto_s3.keys(S3_BUCKET, f"{s3_prefix}/landing/")
    expected = {f"{s3_prefix}/landing/logs/2008-03-26/{c.file_name}" for c in CHANNELS}
    assert expected | {f"{s3_prefix}/landing/profile/profile.txt"} == set(keys)


@pytest.mark.unit
@pytest.mark.parametrize("tool", ["bench", "mysql-dev", "pg-dev"])
def test_developer_tools_are_not_commands_of_the_product(tool, capsys):
    """Benchmarks and throwaway servers are `make bench`, `make mysql-dev` and `make pg-dev`
    in a checkout; the installed command has none of them."""
    with pytest.raises(SystemExit) as exit_:
        main([tool])
    assert exit_.value.code == 2
    assert f"invalid choice: '{tool}'" in capsys.readouterr().err


@pytest.mark.unit
def test_the_commands_of_the_product(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    listed = capsys.readouterr().out
    assert all(f"    {command} " in listed for command in ("generate", "backfill", "demo"))
