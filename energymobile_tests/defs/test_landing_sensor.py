"""The landing sensor on a real landing folder, evaluated with `build_sensor_context`.

The sensor is built by the same factory as in `definitions.py`, with a clock the test moves
forward, so "unchanged for 30 s" is tested without sleeping.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import dagster as dg
import pytest

from energymobile.cohorts import cohort_keys
from energymobile.definitions import COHORT_JOB, build_definitions, cohort_pipeline
from energymobile.defs.landing_sensor import (
    FINGERPRINT_TAG,
    FORMAT_TAG,
    MAX_RELOADS,
    REASON_TAG,
    SENSOR_NAME,
    SETTLE_SECONDS,
    STALLED_AFTER_SECONDS,
    SUCCESS_MARKER,
    LandingCursor,
    StoredRecords,
    build_landing_sensor,
    scan_landing,
)
from energymobile.defs.partitions import cohort_partitions, partition_key
from energymobile.rigs import DEFAULT_RIG, Rig
from energymobile.settings import LANDING_SETTLE_VAR, Settings
from energymobile.storage.landing import LandedFile, LocalLanding
from energymobile_tests.support.fleet import deliver
from energymobile_tests.support.short_cohorts import SHORT_CYCLES

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
    """Evaluates the sensor tick after tick, carrying the cursor, on a clock the test sets,
    with the project's resources (landing, archive, warehouse) and a Dagster instance."""

    def __init__(self, settings: Settings, instance: dg.DagsterInstance | None = None) -> None:
        self.now = 0.0
        self.cursor: str | None = None
        self.sensor = build_landing_sensor(cohort_pipeline, clock=lambda: self.now)
        resources = build_definitions(settings).resources
        self.resources = {k: resources[k] for k in ("landing", "object_store", "warehouse")}
        self.instance = instance

    def tick(self, after: float = 0.0) -> dg.SensorResult:
        self.now += after
        with dg.build_sensor_context(
            cursor=self.cursor, resources=self.resources, instance=self.instance
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
    assert request.partition_key == partition_key(KEY)
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
    assert {e.partition for e in run.get_asset_materialization_events()} == {partition_key(KEY)}


@pytest.mark.unit
def test_the_project_sensor_is_on_by_default_and_targets_the_cohort_job(settings):
    sensor = build_definitions(settings).resolve_sensor_def(SENSOR_NAME)
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert sensor.job_name == COHORT_JOB


@pytest.mark.integration
def test_a_copy_that_keeps_old_times_waits_the_settle_time_from_when_it_appeared(generate, ticker):
    """`cp -p`, `rsync -t` or an S3 object's LastModified can date files long before they
    arrived: the drop must still be seen unchanged for the settle time."""
    ticker.tick()  # the sensor looked before the drop arrived
    looked = ticker.now
    folder = generate(KEY)
    for path in folder.iterdir():
        os.utime(path, (looked - 3600, looked - 3600))  # an hour old
    waited = 0.0
    while not (result := ticker.tick(after=5)).run_requests:
        waited = ticker.now - looked
        assert waited < 2 * SETTLE_SECONDS, "never requested"
        assert "to settle" in _skip(result)
    assert ticker.now - looked >= SETTLE_SECONDS
    assert waited >= SETTLE_SECONDS - 5  # not one tick after it appeared, as its times suggest


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
    assert request.partition_key == partition_key(KEY)


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
    assert sorted(r.partition_key for r in first) == [
        partition_key("2008-03-26"),
        partition_key("2008-06-26"),
    ]

    _drop(generate, ticker, key="2008-03-26", seed=2, cycles=30)  # the old cohort, corrected
    ticker.tick(after=1)
    [again] = ticker.tick(after=SETTLE_SECONDS).run_requests
    old = next(r for r in first if r.partition_key == partition_key("2008-03-26"))
    assert again.partition_key == partition_key("2008-03-26")
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
    assert request.partition_key == partition_key(KEY)
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
    assert request.partition_key == partition_key(KEY)


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
    assert request.partition_key == partition_key(KEY)
    assert not ticker.tick().run_requests  # unchanged: not requested again
    run = (
        build_definitions(s3_settings)
        .resolve_job_def(COHORT_JOB)
        .execute_in_process(partition_key=partition_key(KEY), tags=request.tags, instance=instance)
    )
    assert run.success


# ---------------------------------------------------------------------------------------------
# Delivery formats: a CSV or JSON Lines drop is complete by the same rules as the TSV one
# ---------------------------------------------------------------------------------------------


def _drop_as(landing: Path, ticker: Ticker, fmt: str) -> Path:
    """Deliver a short cohort in `fmt` and set the clock to just after its files were written."""
    from energymobile.sample.generate import generate_cohort

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
        .execute_in_process(partition_key=partition_key(KEY), tags=request.tags, instance=instance)
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


# ---------------------------------------------------------------------------------------------
# What is stored already: nothing loaded twice, a half-loaded cohort reloaded
# ---------------------------------------------------------------------------------------------


def _rewrite_same_size(path: Path) -> None:
    """Change one digit of the file (its size stays the same) and move its time forward."""
    data = bytearray(path.read_bytes())
    at = next(i for i in range(len(data) - 1, 0, -1) if chr(data[i]).isdigit())
    data[at] = ord("1") if data[at] != ord("1") else ord("2")
    stat = path.stat()
    path.write_bytes(bytes(data))
    os.utime(path, (stat.st_atime + 60, stat.st_mtime + 60))


def _touch(folder: Path, seconds: float = 60) -> None:
    """Every file's time moved forward, bytes untouched (a copy that does not keep times)."""
    for path in folder.iterdir():
        stat = path.stat()
        os.utime(path, (stat.st_atime + seconds, stat.st_mtime + seconds))


def _half_load(settings: Settings, instance: dg.DagsterInstance, key: str) -> None:
    """A run that archived the landing's delivery and stopped before the warehouse: what a run
    killed between the two leaves (the real kill, in `dagster dev`: test_ui_no_double_work)."""
    run = (
        build_definitions(settings)
        .resolve_implicit_global_asset_job_def()
        .execute_in_process(
            partition_key=partition_key(key),
            asset_selection=[dg.AssetKey("raw_logs"), dg.AssetKey("raw_archive")],
            instance=instance,
        )
    )
    assert run.success


def _deliveries(settings: Settings) -> dict[str, str | None]:
    from energymobile.storage.warehouse import Warehouse

    warehouse = Warehouse(settings.database_url)
    try:
        return warehouse.cohort_deliveries()
    finally:
        warehouse.dispose()


def _archived_delivery(settings: Settings, key: str) -> str:
    from energymobile.storage.archive import read_archive
    from energymobile.storage.object_store import open_object_store

    return read_archive(open_object_store(settings.object_store), key).delivery


@pytest.mark.integration
def test_a_cohort_loaded_elsewhere_is_not_requested(settings, generate, materialize, instance):
    """Loaded by the CLI's job before the sensor ever saw it: the drop is the archived delivery
    and the warehouse holds it, so the first tick already says so and requests nothing."""
    _drop_keys = ("2008-03-26", "2008-06-26")
    for key in _drop_keys:
        generate(key)
    assert all(o.success for o in materialize(*_drop_keys))
    ticker = Ticker(settings, instance)
    ticker.now = time.time()
    reason = _skip(ticker.tick())
    for key in _drop_keys:
        assert f"{key}: already loaded (delivery {_archived_delivery(settings, key)})" in reason
    for _ in range(3):
        assert "2 cohorts up to date" in _skip(ticker.tick(after=SETTLE_SECONDS))


@pytest.mark.integration
def test_the_same_bytes_with_new_times_are_not_requested_but_a_changed_byte_is(
    settings, generate, materialize, instance
):
    touched, changed = "2008-03-26", "2008-06-26"
    folders = {key: generate(key) for key in (touched, changed)}
    assert all(o.success for o in materialize(touched, changed))
    ticker = Ticker(settings, instance)
    ticker.now = time.time()
    ticker.tick()

    _touch(folders[touched])  # re-copied without keeping times: same bytes
    _rewrite_same_size(folders[changed] / "TS1.txt")  # one digit, same size
    ticker.now = _newest_mtime(folders[touched].parent) + 1
    assert "settle" in _skip(ticker.tick())
    [request] = ticker.tick(after=SETTLE_SECONDS).run_requests
    assert request.partition_key == partition_key(changed)
    assert request.tags[REASON_TAG] == "changed delivery"
    assert "2 cohorts up to date" in _skip(ticker.tick(after=SETTLE_SECONDS))  # or requested


@pytest.mark.integration
def test_a_cohort_archived_but_not_loaded_is_reloaded_once(
    settings, generate, materialize, instance
):
    generate(KEY, seed=1)
    assert materialize(KEY)[0].success
    before = _deliveries(settings)[KEY]
    ticker = Ticker(settings, instance)
    ticker.now = time.time()
    ticker.tick()

    _drop(generate, ticker, seed=2, cycles=SHORT_CYCLES + 2)  # a corrected re-delivery
    ticker.tick()
    [first] = ticker.tick(after=SETTLE_SECONDS).run_requests
    _half_load(settings, instance, KEY)  # ...whose run stops after archiving it
    new = _archived_delivery(settings, KEY)
    assert new != before == _deliveries(settings)[KEY]

    # A run of the cohort not started yet may still load it: wait for it.
    queued = instance.create_run_for_job(
        build_definitions(settings).resolve_job_def(COHORT_JOB),
        tags={"dagster/partition": str(partition_key(KEY))},
        status=dg.DagsterRunStatus.NOT_STARTED,
    )
    reason = _skip(ticker.tick(after=SETTLE_SECONDS))
    assert f"the archive holds delivery {new}, the warehouse delivery {before}" in reason
    assert f"waiting for run {queued.run_id[:8]}" in reason
    instance.report_run_canceled(queued)

    [reload] = ticker.tick(after=SETTLE_SECONDS).run_requests
    assert reload.partition_key == partition_key(KEY)
    assert reload.run_key == f"{first.run_key}:reload-{new}-1"
    assert reload.tags[REASON_TAG].startswith("reload: the archive holds delivery")
    run = (
        build_definitions(settings)
        .resolve_job_def(COHORT_JOB)
        .execute_in_process(partition_key=partition_key(KEY), tags=reload.tags, instance=instance)
    )
    assert run.success
    assert _deliveries(settings)[KEY] == new
    for _ in range(2):
        assert "1 cohorts up to date" in _skip(ticker.tick(after=SETTLE_SECONDS))


@pytest.mark.integration
def test_reloads_stop_after_a_few_and_say_so(settings, generate, materialize, instance, capsys):
    generate(KEY)
    ticker = Ticker(settings, instance)
    ticker.now = time.time()
    _half_load(settings, instance, KEY)  # archived, never loaded, and reloads never finish
    keys = [r.run_key for _ in range(MAX_RELOADS) for r in ticker.tick(after=1).run_requests]
    assert len(set(keys)) == MAX_RELOADS
    reason = _skip(ticker.tick(after=1))
    assert f"{MAX_RELOADS} reloads did not fix it" in reason
    assert f"{MAX_RELOADS} reloads did not fix it" in capsys.readouterr().err
    _skip(ticker.tick(after=1))
    assert "reloads did not fix it" not in capsys.readouterr().err  # warned once


@pytest.mark.integration
def test_rows_loaded_before_revision_006_count_as_their_recorded_files(
    settings, generate, materialize, instance
):
    """cohorts.delivery is NULL for rows loaded before it existed: the delivery is worked out
    from cohort_files, so an upgrade reloads nothing."""
    import sqlite3

    generate(KEY)
    assert materialize(KEY)[0].success
    with sqlite3.connect(settings.database_url.removeprefix("sqlite:///")) as conn:
        conn.execute("UPDATE cohorts SET delivery = NULL")
    assert _deliveries(settings) == {KEY: _archived_delivery(settings, KEY)}
    ticker = Ticker(settings, instance)
    ticker.now = time.time()
    assert "already loaded" in _skip(ticker.tick())


@pytest.mark.integration
def test_an_unreadable_warehouse_is_reported_and_nothing_requested(
    settings, generate, materialize, instance
):
    generate(KEY)
    assert materialize(KEY)[0].success
    _touch(Path(settings.landing) / "logs" / KEY)
    broken = replace(settings, database_url=f"sqlite:///{Path(settings.landing) / 'logs'}")
    ticker = Ticker(broken, instance)  # a folder where the database file should be
    ticker.now = time.time() + 120
    ticker.tick()
    reason = _skip(ticker.tick(after=SETTLE_SECONDS))
    assert f"{KEY}: not compared with what is stored this tick (the warehouse sqlite:///" in reason


@pytest.mark.integration
def test_comparing_contents_is_spread_over_ticks(
    landing, settings, generate, materialize, instance
):
    """Re-copied history (new times, same bytes) is read a bounded number of bytes per tick."""
    keys = cohort_keys("2008-03-26", 3)
    for key in keys:
        generate(key)
    assert all(o.success for o in materialize(*keys))
    for key in keys:
        _touch(landing / "logs" / key)
    now = _newest_mtime(landing) + SETTLE_SECONDS + 1
    records = StoredRecords(
        LocalLanding(landing),
        *(build_definitions(settings).resources[k] for k in ("object_store", "warehouse")),
        lambda: instance,
    )
    one_cohort = max(
        sum(p.stat().st_size for p in (landing / "logs" / key).iterdir()) for key in keys
    )
    cursor = LandingCursor()
    waiting = []
    for step in range(4):
        scan = scan_landing(
            LocalLanding(landing),
            cursor,
            now + step * SETTLE_SECONDS,
            records=records,
            hash_bytes=one_cohort,
        )
        cursor = scan.cursor
        assert not scan.drops
        waiting.append(sum("compared by content on a later tick" in n for n in scan.notes))
    assert waiting[1:] == [2, 1, 0]  # one cohort's bytes a tick
    assert scan.up_to_date == 3


@pytest.mark.unit
def test_the_settle_time_is_a_setting(tmp_path):
    assert Settings.from_env({}).landing_settle_seconds == SETTLE_SECONDS == 30
    env = {"ENERGYMOBILE_HOME": str(tmp_path), LANDING_SETTLE_VAR: "45"}
    settings = Settings.from_env(env)
    assert settings.landing_settle_seconds == 45
    sensor = build_definitions(settings).resolve_sensor_def(SENSOR_NAME)
    assert "unchanged for 45 s" in (sensor.description or "")
    assert Settings.from_env({LANDING_SETTLE_VAR: " 0 "}).landing_settle_seconds == 0
    for wrong in ("30s", "-1", "2.5", "1e3", "86401", "³"):
        with pytest.raises(ValueError, match=rf"{LANDING_SETTLE_VAR}='{wrong}': expected whole"):
            Settings.from_env({LANDING_SETTLE_VAR: wrong})


@pytest.mark.integration
def test_a_fleet_landing_requests_exactly_the_sites_and_cohorts_that_landed(
    settings, landing, ticker, instance
):
    """Two rigs of site north and the default rig drop cohorts: one request per (cohort, site)
    that landed (both north rigs in one), the new site added to the site partitions first; the
    request loads both rigs; the next ticks ask nothing more."""
    north = [Rig("north", "rig-1"), Rig("north", "rig-2")]
    deliver(landing, north[0], KEY, seed=1)
    deliver(landing, north[1], KEY, seed=2)
    deliver(landing, DEFAULT_RIG, "2008-06-26", seed=3)
    ticker.now = _newest_mtime(landing) + 1
    ticker.tick()
    result = ticker.tick(after=SETTLE_SECONDS)
    by_key = {r.partition_key: r for r in result.run_requests}
    assert sorted(by_key) == [partition_key(KEY, "north"), partition_key("2008-06-26")]
    [added] = result.dynamic_partitions_requests
    assert added.partitions_def_name == "sites"
    assert sorted(added.partition_keys) == ["default", "north"]
    request = by_key[partition_key(KEY, "north")]
    assert request.run_key.count("rig-") == 2 and request.run_key.startswith("rig-1/")

    instance.add_dynamic_partitions("sites", ["north"])  # what the daemon does with `added`
    run = (
        build_definitions(settings)
        .resolve_job_def(COHORT_JOB)
        .execute_in_process(
            partition_key=request.partition_key, tags=request.tags, instance=instance
        )
    )
    assert run.success
    ticker.instance = instance
    assert "3 cohorts up to date" in _skip(ticker.tick(after=SETTLE_SECONDS))  # asked once each
