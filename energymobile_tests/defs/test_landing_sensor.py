"""The landing sensor on a real landing folder, evaluated with `build_sensor_context`.

The sensor is built by the same factory as in `definitions.py`, with a clock the test moves
forward, so "unchanged for 30 s" is tested without sleeping.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

import dagster as dg
import pytest

from energymobile.cohorts import cohort_keys
from energymobile.definitions import COHORT_JOB, build_definitions, cohort_pipeline
from energymobile.defs.landing_sensor import (
    FINGERPRINT_TAG,
    FORMAT_TAG,
    SENSOR_NAME,
    SETTLE_SECONDS,
    STALLED_AFTER_SECONDS,
    SUCCESS_MARKER,
    LandingCursor,
    build_landing_sensor,
    scan_landing,
)
from energymobile.defs.partitions import cohort_partitions
from energymobile.settings import Settings
from energymobile.storage.landing import LandedFile, LocalLanding

KEY = "2008-03-26"
ASSETS = {
    "raw_logs",
    "raw_archive",
    "hourly_readings",
    "profile_merged",
    "mysql_tables",
    "s3_historical_csv",
}


class Ticker:
    """Evaluates the sensor tick after tick, carrying the cursor, on a clock the test sets."""

    def __init__(self, settings: Settings) -> None:
        self.now = 0.0
        self.cursor: str | None = None
        self.sensor = build_landing_sensor(cohort_pipeline, clock=lambda: self.now)
        self.landing = build_definitions(settings).resources["landing"]

    def tick(self, after: float = 0.0) -> dg.SensorResult:
        self.now += after
        with dg.build_sensor_context(
            cursor=self.cursor, resources={"landing": self.landing}
        ) as ctx:
            result = self.sensor(ctx)
        assert isinstance(result, dg.SensorResult)
        self.cursor = result.cursor
        return result


@pytest.fixture
def ticker(settings: Settings, landing: Path) -> Ticker:
    ticker = Ticker(settings)
    ticker.now = time.time()
    return ticker


def _newest_mtime(landing: Path) -> float:
    return max((p.stat().st_mtime for p in landing.rglob("*") if p.is_file()), default=0.0)


def _drop(generate: Callable[..., Path], ticker: Ticker, key: str = KEY, **kwargs) -> Path:
    """Generate a cohort and set the test clock to just after its files were written."""
    folder = generate(key, **kwargs)
    ticker.now = max(ticker.now, _newest_mtime(folder.parent.parent) + 1)
    return folder


def _skip(result: dg.SensorResult) -> str:
    assert not result.run_requests, [r.run_key for r in result.run_requests]
    assert result.skip_reason is not None
    return result.skip_reason.skip_message or ""


@pytest.mark.integration
def test_a_new_cohort_is_requested_once_settled_and_runs_the_whole_chain(
    settings, generate, ticker, instance
):
    _drop(generate, ticker)
    assert "waiting for them to settle" in _skip(ticker.tick())
    assert "waiting for them to settle" in _skip(ticker.tick(after=SETTLE_SECONDS / 2))

    result = ticker.tick(after=SETTLE_SECONDS)
    [request] = result.run_requests
    assert request.partition_key == KEY
    assert request.run_key == f"{KEY}:{request.tags[FINGERPRINT_TAG]}"

    # The request targets the cohort job, which materializes the five load assets for the cohort.
    defs = build_definitions(settings)
    sensor = defs.resolve_sensor_def(SENSOR_NAME)
    assert sensor.job_name == COHORT_JOB
    job = defs.resolve_job_def(COHORT_JOB)
    run = job.execute_in_process(
        partition_key=request.partition_key, tags=request.tags, instance=instance
    )
    assert run.success
    materialized = {e.asset_key.to_user_string() for e in run.get_asset_materialization_events()}
    assert materialized == ASSETS
    assert {e.partition for e in run.get_asset_materialization_events()} == {KEY}


@pytest.mark.unit
def test_the_project_sensor_is_on_by_default_and_targets_the_cohort_job(settings):
    sensor = build_definitions(settings).resolve_sensor_def(SENSOR_NAME)
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert sensor.job_name == COHORT_JOB


@pytest.mark.integration
def test_an_incomplete_cohort_waits_and_says_which_files_are_missing(generate, ticker):
    folder = _drop(generate, ticker)
    (folder / "PS1.txt").unlink()
    (folder / "TS4.txt").unlink()
    for after in (0, SETTLE_SECONDS, 10 * SETTLE_SECONDS):
        reason = _skip(ticker.tick(after=after))
        assert f"{KEY}: incomplete, 15 of 17 files (missing PS1.txt, TS4.txt)" in reason

    _drop(generate, ticker)  # the technicians finish the drop
    assert "settle" in _skip(ticker.tick())
    [request] = ticker.tick(after=SETTLE_SECONDS).run_requests
    assert request.partition_key == KEY


@pytest.mark.integration
def test_a_drop_that_stays_incomplete_is_warned_about_once(generate, ticker, capsys):
    folder = _drop(generate, ticker)
    (folder / "CE.txt").unlink()
    ticker.tick()
    assert "stayed incomplete" not in capsys.readouterr().err

    ticker.tick(after=STALLED_AFTER_SECONDS)
    assert f"cohort {KEY} has stayed incomplete for 15 min and lacks 1 files: CE.txt" in (
        capsys.readouterr().err
    )
    reason = _skip(ticker.tick(after=STALLED_AFTER_SECONDS))
    assert "stayed incomplete" not in capsys.readouterr().err  # once, not every tick
    assert "missing CE.txt" in reason  # ...but still in every tick's skip reason


@pytest.mark.integration
def test_an_unchanged_cohort_is_not_requested_again(generate, ticker):
    _drop(generate, ticker)
    ticker.tick()
    [first] = ticker.tick(after=SETTLE_SECONDS).run_requests

    for _ in range(3):
        assert "1 cohorts up to date" in _skip(ticker.tick(after=SETTLE_SECONDS))

    # Even with the cursor lost, the same files give the same run key, which Dagster will not
    # launch twice for this sensor.
    ticker.cursor = None
    ticker.tick()
    [again] = ticker.tick(after=SETTLE_SECONDS).run_requests
    assert again.run_key == first.run_key


@pytest.mark.integration
def test_a_corrected_redelivery_of_an_old_cohort_is_requested_with_a_new_key(generate, ticker):
    _drop(generate, ticker, key="2008-03-26", seed=1)
    _drop(generate, ticker, key="2008-06-26", seed=1)
    ticker.tick()
    first = ticker.tick(after=SETTLE_SECONDS).run_requests
    assert sorted(r.partition_key for r in first) == ["2008-03-26", "2008-06-26"]

    _drop(generate, ticker, key="2008-03-26", seed=2, cycles=30)  # the old cohort, corrected
    ticker.tick(after=1)
    [again] = ticker.tick(after=SETTLE_SECONDS).run_requests
    old = next(r for r in first if r.partition_key == "2008-03-26")
    assert again.partition_key == "2008-03-26"
    assert again.run_key != old.run_key
    assert again.tags[FINGERPRINT_TAG] != old.tags[FINGERPRINT_TAG]
    assert "2 cohorts up to date" in _skip(ticker.tick(after=SETTLE_SECONDS))


@pytest.mark.integration
def test_folders_that_are_not_cohort_keys_are_reported_not_ignored(
    landing, generate, ticker, capsys
):
    _drop(generate, ticker)
    for name in ("2008-04-01", "scans", "2008-02-30"):
        (landing / "logs" / name).mkdir()
    ticker.tick()
    err = capsys.readouterr().err
    assert "'2008-04-01' is not a cohort start" in err
    assert "'scans' is not a cohort key" in err
    assert "'2008-02-30' is not a valid date" in err

    # The valid cohort is still loaded; the bad names stay in the skip reason every tick.
    [request] = ticker.tick(after=SETTLE_SECONDS).run_requests
    assert request.partition_key == KEY
    reason = _skip(ticker.tick(after=SETTLE_SECONDS))
    assert "ignored folder 'scans'" in reason
    assert "ignored folder '2008-04-01'" in reason
    assert "is not a cohort" not in capsys.readouterr().err  # warned once


@pytest.mark.integration
def test_a_cohort_still_in_progress_is_not_requested(landing, ticker):
    last = cohort_partitions.get_last_partition_key()
    running = cohort_keys(last, 2)[1]  # exists as a key, but its window has not ended
    folder = landing / "logs" / running
    shutil.copytree(_a_generated_cohort(landing), folder)
    ticker.tick()
    reason = _skip(ticker.tick(after=SETTLE_SECONDS))
    assert f"{running}: the cohort runs until" in reason


def _a_generated_cohort(landing: Path) -> Path:
    from energymobile.sample.generate import generate_cohort

    return generate_cohort(landing.parent / "elsewhere", KEY, cycles=2)


@pytest.mark.integration
def test_a_success_marker_loads_without_waiting(generate, ticker):
    folder = _drop(generate, ticker)
    (folder / SUCCESS_MARKER).touch()
    [request] = ticker.tick().run_requests
    assert request.partition_key == KEY


@pytest.mark.integration
def test_a_marker_older_than_the_data_does_not_count(generate, ticker, landing):
    folder = _drop(generate, ticker)
    marker = folder / SUCCESS_MARKER
    marker.touch()
    ticker.tick()
    _drop(generate, ticker, seed=3)  # rewritten after the marker
    assert "settle" in _skip(ticker.tick())


class CountingLanding(LocalLanding):
    """The real local landing, counting which folders' contents are listed."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.listed: list[str] = []

    def list_cohort(self, folder: str) -> dict[str, LandedFile]:
        self.listed.append(folder)
        return super().list_cohort(folder)


@pytest.mark.integration
def test_loaded_history_is_rechecked_a_few_folders_per_tick(landing):
    source = _a_generated_cohort(landing)
    keys = cohort_keys("2008-03-26", 10)
    for key in keys:
        shutil.copytree(source, landing / "logs" / key)
    counting = CountingLanding(landing)
    now = _newest_mtime(landing) + 1

    cursor = scan_landing(counting, LandingCursor(), now).cursor
    requested = []
    for step in range(1, 4):
        scan = scan_landing(counting, cursor, now + step * SETTLE_SECONDS, max_requests=4)
        cursor = scan.cursor
        requested += [d.key for d in scan.drops]
    assert sorted(requested) == keys  # at most 4 a tick, all within 3 ticks

    # Once loaded, each tick re-lists only a few folders, the least recently checked first, so
    # the whole history is re-checked over a few ticks and never on one.
    seen: list[str] = []
    for step in range(4, 7):
        counting.listed.clear()
        scan = scan_landing(counting, cursor, now + step * SETTLE_SECONDS, recheck_per_tick=4)
        cursor = scan.cursor
        assert len(counting.listed) == 4
        assert not scan.drops
        seen += counting.listed
    assert set(keys) <= set(seen)


@pytest.mark.integration
def test_a_drop_in_an_s3_landing_is_requested_and_loads(s3_settings, s3_drop, instance):
    """The same sensor on an S3 prefix (moto): settles, requests, and the run loads it."""
    ticker = Ticker(s3_settings)
    s3_drop(KEY)
    ticker.now = time.time() + 1
    assert "waiting for them to settle" in _skip(ticker.tick())
    [request] = ticker.tick(after=SETTLE_SECONDS + 1).run_requests
    assert request.partition_key == KEY
    assert not ticker.tick().run_requests  # unchanged: not requested again
    run = (
        build_definitions(s3_settings)
        .resolve_job_def(COHORT_JOB)
        .execute_in_process(partition_key=KEY, tags=request.tags, instance=instance)
    )
    assert run.success


# ---------------------------------------------------------------------------------------------
# Delivery formats: a CSV or JSON Lines drop is complete by the same rules as the TSV one
# ---------------------------------------------------------------------------------------------


def _drop_as(landing: Path, ticker: Ticker, fmt: str) -> Path:
    """Deliver a short cohort in `fmt` and set the clock to just after its files were written."""
    from energymobile.sample.generate import generate_cohort
    from energymobile_tests.support.short_cohorts import SHORT_CYCLES

    folder = generate_cohort(landing, KEY, cycles=SHORT_CYCLES, delivery_format=fmt)
    ticker.now = max(ticker.now, _newest_mtime(landing) + 1)
    return folder


@pytest.mark.integration
def test_a_jsonl_drop_is_requested_once_settled_and_loads(landing, ticker, settings, instance):
    _drop_as(landing, ticker, "jsonl")
    assert f"{KEY}: cycles.jsonl present, waiting for it to settle" in _skip(ticker.tick())
    [request] = ticker.tick(after=SETTLE_SECONDS).run_requests
    assert request.tags[FORMAT_TAG] == "jsonl"
    assert request.run_key == f"{KEY}:{request.tags[FINGERPRINT_TAG]}"
    assert "1 cohorts up to date" in _skip(ticker.tick(after=SETTLE_SECONDS))
    run = (
        build_definitions(settings)
        .resolve_job_def(COHORT_JOB)
        .execute_in_process(partition_key=KEY, tags=request.tags, instance=instance)
    )
    assert run.success


@pytest.mark.integration
def test_a_csv_drop_with_a_success_marker_loads_without_waiting(landing, ticker):
    folder = _drop_as(landing, ticker, "csv")
    (folder / SUCCESS_MARKER).touch()
    [request] = ticker.tick().run_requests
    assert request.tags[FORMAT_TAG] == "csv"


@pytest.mark.integration
def test_an_incomplete_csv_drop_names_its_missing_files(landing, ticker):
    folder = _drop_as(landing, ticker, "csv")
    (folder / "FS2.csv").unlink()
    reason = _skip(ticker.tick(after=SETTLE_SECONDS))
    assert f"{KEY}: incomplete, 16 of 17 files (missing FS2.csv)" in reason


@pytest.mark.integration
def test_a_redelivery_in_another_format_gets_a_new_run_key(landing, ticker):
    _drop_as(landing, ticker, "tsv")
    ticker.tick()
    [first] = ticker.tick(after=SETTLE_SECONDS).run_requests
    _drop_as(landing, ticker, "csv")  # the same values, now as CSV (the .txt files removed)
    ticker.tick(after=1)
    [again] = ticker.tick(after=SETTLE_SECONDS).run_requests
    assert (first.tags[FORMAT_TAG], again.tags[FORMAT_TAG]) == ("tsv", "csv")
    assert again.run_key != first.run_key


@pytest.mark.integration
def test_a_folder_mixing_formats_waits_and_is_warned_about_once(landing, ticker, capsys):
    folder = _drop_as(landing, ticker, "tsv")
    (folder / "cycles.jsonl").write_bytes(b"{}\n")
    mixed = f"{KEY}: mixes delivery formats: 17 tsv files"
    assert mixed in _skip(ticker.tick(after=SETTLE_SECONDS))
    assert "mixes delivery formats" not in capsys.readouterr().err
    assert mixed in _skip(ticker.tick(after=STALLED_AFTER_SECONDS))
    assert f"cohort {KEY} has stayed incomplete for 15 min and mixes delivery formats" in (
        capsys.readouterr().err
    )
    assert mixed in _skip(ticker.tick(after=SETTLE_SECONDS))
    assert "mixes delivery formats" not in capsys.readouterr().err  # warned once

    (folder / "cycles.jsonl").unlink()  # cleared up: the TSV drop settles and loads
    ticker.tick(after=1)
    [request] = ticker.tick(after=SETTLE_SECONDS).run_requests
    assert request.tags[FORMAT_TAG] == "tsv"


@pytest.mark.unit
def test_a_folder_of_unrecognised_files_is_reported(landing, ticker):
    folder = landing / "logs" / KEY
    folder.mkdir(parents=True)
    (folder / "cycles.json").write_bytes(b"{}\n")
    reason = _skip(ticker.tick(after=SETTLE_SECONDS))
    assert f"{KEY}: holds no recognised delivery: found cycles.json; expected 17 <CODE>.txt" in (
        reason
    )
