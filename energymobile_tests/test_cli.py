"""The energymobile command as a user runs it: exit status and the reason on failure."""

import dagster as dg
import pytest

from energymobile.cli import main
from energymobile.rigs import Rig
from energymobile.storage.exports import read_csv_export
from energymobile_tests.support.cli import cli_environment, run_cli
from energymobile_tests.support.fleet import deliver
from energymobile_tests.support.short_cohorts import SHORT_CYCLES


def _materializations(instance: dg.DagsterInstance, asset: str) -> int:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset)), limit=100
    ).records
    return len(records)


@pytest.mark.integration
def test_generate_then_backfill_succeeds_and_says_where_results_are(tmp_path):
    env = cli_environment(tmp_path / "home")
    gen = run_cli(env, "generate", "--cohorts", "2", "--cycles", str(SHORT_CYCLES))
    assert gen.returncode == 0, gen.stderr
    assert "generated 2008-06-26" in gen.stdout
    back = run_cli(env, "backfill", "--from", "2008-03-26", "--to", "2008-06-26")
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
def test_backfill_of_a_site_rebuilds_that_sites_combined_file_only(tmp_path):
    """`--site north` loads north's rigs, then rebuilds north's combined file once
    (`oil-well-data-all-historical/site=north.csv`); the default site's file is left as the
    default site's backfill wrote it."""
    home = tmp_path / "home"
    env = cli_environment(home)
    assert run_cli(env, "generate", "--cohorts", "1", "--cycles", str(SHORT_CYCLES)).returncode == 0
    assert run_cli(env, "backfill", "--cohorts", "1").returncode == 0
    default_file = home / "s3" / "oil-well-data-all-historical.csv"
    default_bytes, default_stat = default_file.read_bytes(), default_file.stat()
    for seed, rig in enumerate(("rig-1", "rig-2"), start=1):
        deliver(home / "landing", Rig("north", rig), "2008-03-26", seed)

    back = run_cli(env, "backfill", "--cohorts", "1", "--site", "north")
    assert back.returncode == 0, back.stdout + back.stderr
    assert "oil-well-data-all-historical/site=north.csv ok" in back.stdout
    north = home / "s3" / "oil-well-data-all-historical" / "site=north.csv"
    assert f"combined CSV   {north.as_uri()}" in back.stdout
    rows = read_csv_export(north.read_bytes(), "north")
    assert rows["rig"].value_counts().to_dict() == {"rig-1": SHORT_CYCLES, "rig-2": SHORT_CYCLES}
    assert default_file.read_bytes() == default_bytes
    assert default_file.stat().st_ino == default_stat.st_ino  # not rewritten
    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey("combined_csv")), limit=10
        ).records
        assert sorted(r.partition_key for r in records) == ["default", "north"]


@pytest.mark.integration
def test_a_home_of_any_folder_name_holds_everything_a_backfill_writes(tmp_path):
    """Issue 15: a '?' in ENERGYMOBILE_HOME crashed Dagster's storage (its SQLite URL is the
    path pasted after `sqlite:///`), a '#' cut the object store's URL at the '#'. Now generate
    and backfill work there, and every file lands inside that folder."""
    home = tmp_path / "q?x#y%41 ü"
    cache = tmp_path / "cache"  # where the link Dagster is given lives (dagster_home.py)
    env = cli_environment(home, XDG_CACHE_HOME=str(cache))
    gen = run_cli(env, "generate", "--cohorts", "1", "--cycles", str(SHORT_CYCLES))
    assert gen.returncode == 0, gen.stderr
    done = run_cli(env, "backfill", "--cohorts", "1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "oil-well-data-all-historical.csv ok" in done.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([home.name, "cache"])
    assert (home / "s3" / "oil-well-data-all-historical.csv").is_file()
    assert (home / "warehouse.sqlite").is_file()
    assert (home / "dagster" / "dagster.yaml").is_file()
    assert list((home / "dagster").rglob("*.db"))  # Dagster's runs and events, in the home
    [link] = (cache / "energymobile" / "dagster-homes").iterdir()
    assert link.resolve() == (home / "dagster").resolve()


@pytest.mark.integration
def test_backfill_with_netcdf_also_writes_the_full_resolution_files(tmp_path):
    env = cli_environment(tmp_path / "home")
    run_cli(env, "generate", "--cohorts", "1", "--cycles", str(SHORT_CYCLES))
    back = run_cli(env, "backfill", "--cohorts", "1", "--netcdf")
    assert back.returncode == 0, back.stdout + back.stderr
    assert "netCDF files of 1 cohorts:" in back.stdout
    assert (tmp_path / "home" / "s3" / "netcdf" / "cohort=2008-03-26.nc").is_file()
    plain = tmp_path / "plain"
    plain_env = cli_environment(plain / "home")
    run_cli(plain_env, "generate", "--cohorts", "1", "--cycles", str(SHORT_CYCLES))
    assert run_cli(plain_env, "backfill", "--cohorts", "1").returncode == 0
    assert not (plain / "home" / "s3" / "netcdf").exists()  # the load alone writes none


@pytest.mark.integration
def test_backfill_exits_non_zero_with_the_reason_when_a_check_fails(tmp_path):
    home = tmp_path / "home"
    run_cli(cli_environment(home), "generate", "--cohorts", "1", "--cycles", str(SHORT_CYCLES))
    back = run_cli(cli_environment(home, shortfall_hours=24), "backfill", "--cohorts", "1")
    assert back.returncode == 1
    assert "2008-03-26 FAILED: raw_logs:maintenance_shortfall" in back.stdout
    assert "1 of 1 cohorts failed" in back.stderr
    assert "oil-well-data-all-historical.csv ok" not in back.stdout  # nothing loaded: not rebuilt


@pytest.mark.integration
def test_backfill_of_a_missing_delivery_names_the_files(tmp_path):
    back = run_cli(cli_environment(tmp_path / "home"), "backfill", "--cohorts", "1")
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


# -- a failure is one clear line, never a traceback -------------------------------------------


def _main_fails(argv: list[str], monkeypatch, tmp_path, capsys, **env: str) -> tuple[int, str]:
    """Run the command in this process on an empty home; its exit status and stderr."""
    monkeypatch.setenv("ENERGYMOBILE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    try:
        status = main(argv)
    except SystemExit as exit_:  # argparse's own refusals
        status = exit_.code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return status, err


@pytest.mark.unit
@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["backfill", "--cohorts", "0"], "argument --cohorts: 0 cohorts: give 1 or more"),
        (["backfill", "--cohorts", "-3"], "argument --cohorts: -3 cohorts: give 1 or more"),
        (["generate", "--cohorts", "0"], "argument --cohorts: 0 cohorts: give 1 or more"),
        (["backfill", "--cohorts", "two"], "'two' is not a whole number of cohorts"),
        (
            ["backfill", "--from", "2008-03-27"],
            "energymobile: --from 2008-03-27: '2008-03-27' is not a cohort start: cohorts "
            "start on the 26th of March, June, September and December",
        ),
        (
            ["backfill", "--from", "2008-03-26", "--to", "26/06/2008"],
            "energymobile: --to 26/06/2008: '26/06/2008' is not a cohort key: expected "
            "YYYY-MM-DD, e.g. 2008-03-26",
        ),
        (
            ["backfill", "--from", "2099-03-26"],
            "energymobile: cohort 2099-03-26 is not complete: its window ends 2099-06-26",
        ),
        (
            ["backfill", "--cohorts", "2", "--to", "2009-03-26"],
            "energymobile: give --cohorts or --to, not both",
        ),
    ],
)
def test_a_cohort_selection_that_names_no_cohort_to_load_is_refused(
    argv, expected, monkeypatch, tmp_path, capsys
):
    status, err = _main_fails(argv, monkeypatch, tmp_path, capsys)
    assert status == 2
    assert expected in err
    assert not (tmp_path / "home").exists()  # refused before anything was written


@pytest.mark.unit
def test_the_cohort_still_in_its_window_is_refused_naming_the_latest_complete_one(
    monkeypatch, tmp_path, capsys
):
    from datetime import datetime, timezone

    from energymobile.cohorts import cohort_keys, latest_complete_cohort

    latest = latest_complete_cohort(datetime.now(timezone.utc).replace(tzinfo=None))
    running = cohort_keys(latest, 2)[1]
    status, err = _main_fails(["backfill", "--from", running], monkeypatch, tmp_path, capsys)
    assert status == 2
    assert f"cohort {running} is not complete" in err
    assert f"the latest complete cohort is {latest}" in err


@pytest.mark.unit
def test_bad_settings_are_each_named_on_one_line(monkeypatch, tmp_path, capsys):
    status, err = _main_fails(
        ["backfill"],
        monkeypatch,
        tmp_path,
        capsys,
        ENERGYMOBILE_MAX_SHORTFALL_HOURS="24h",
        ENERGYMOBILE_EXPORT_DUE_DAYS="-1",
        ENERGYMOBILE_DATABASE_URL="mysql+mysqldb://app:Sec@ret-pw@db.example/wh",
    )
    assert status == 2
    lines = err.strip().splitlines()
    assert len(lines) == 3, err
    assert lines[0].startswith("energymobile: ENERGYMOBILE_DATABASE_URL (mysql+mysqldb://app:***@")
    assert "ENERGYMOBILE_MAX_SHORTFALL_HOURS='24h' is not a whole number of hours" in err
    assert "ENERGYMOBILE_EXPORT_DUE_DAYS='-1' is negative" in err
    assert "Sec" not in err and "ret-pw" not in err


@pytest.mark.unit
def test_debug_adds_the_traceback(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("ENERGYMOBILE_HOME", str(tmp_path / "home"))
    assert main(["--debug", "backfill", "--from", "2008-03-27"]) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "InvalidCohortKey" in err
    assert err.strip().splitlines()[-1].startswith("energymobile: --from 2008-03-27")
    assert main(["backfill", "--from", "2008-03-27", "--debug"]) == 2  # after the command too
    assert "Traceback" in capsys.readouterr().err
