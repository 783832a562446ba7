"""Fault injection through the whole chain: the warehouse connection killed mid-load, the
process killed mid-load, a locked SQLite file, S3 unreachable or throttled mid-export.

Every fault is real: a MariaDB `KILL` of the loader's connection, SIGKILL of a backfill
process, a second SQLite connection holding the write lock, a TCP proxy in front of the moto
S3 server that cuts or throttles. After each, every cohort is either as it was or fully
replaced, and a re-run (or the automatic retry) completes it.

To stop the load at a known point, a second connection holds the cohort's row of `cohorts`
(`SELECT … FOR UPDATE`): the loader's transaction has then already deleted the cohort's fact
rows, uncommitted, and waits on `DELETE FROM cohorts`. That is where the fault strikes.
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import pytest
from sqlalchemy import Connection, create_engine, text

from energymobile.backfill import CohortOutcome, materialize_combined
from energymobile.definitions import COHORT_JOB, build_definitions
from energymobile.defs.partitions import partition_key
from energymobile.settings import DATABASE_URL_VAR, Settings
from energymobile.storage.exports import COMBINED_KEY, cohort_csv_key, cohort_parquet_key
from energymobile.storage.warehouse import COHORTS_TABLE, Warehouse
from energymobile_tests.support.cli import ENERGYMOBILE, settings_environment
from energymobile_tests.support.fault_proxy import FaultProxy, Mode
from energymobile_tests.support.polling import wait_for
from energymobile_tests.support.readback import fact_rows
from energymobile_tests.support.s3 import S3_BUCKET, MotoS3
from energymobile_tests.support.short_cohorts import SHORT_CYCLES, short_cohort_settings

pytestmark = pytest.mark.integration

KEY = "2008-03-26"
WAIT_S = 60.0
POLL = {"timeout_s": WAIT_S, "interval_s": 0.05}
BLOCKED_STATEMENT = f"DELETE FROM {COHORTS_TABLE}%"
UP_TO_THE_WAREHOUSE = (
    "raw_logs",
    "raw_archive",
    "hourly_readings",
    "profile_merged",
    "mysql_tables",
)
EXPORT = "s3_historical_csv"


def run_messages(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    return [entry.user_message for entry in instance.all_logs(run_id)]


def transient_warnings(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """The warehouse IO manager's account of each transient failure it let through."""
    return [m for m in run_messages(instance, run_id) if "failed (transient" in m]


def step_retries(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """The steps Dagster's retry policy put up for another attempt, one entry per retry."""
    events = instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_UP_FOR_RETRY)
    return [entry.step_key or "" for entry in events]


@contextmanager
def cohort_row_held(url: str, key: str = KEY) -> Iterator[Connection]:
    """Hold the cohort's `cohorts` row locked until the block ends (then roll back)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(
                text(f"SELECT cohort FROM {COHORTS_TABLE} WHERE cohort = :k FOR UPDATE"), {"k": key}
            )
            yield conn
            conn.rollback()
    finally:
        engine.dispose()


def blocked_loader_id(conn: Connection) -> int | None:
    """The connection id of a loader waiting on the held row, if one is waiting yet."""
    row = conn.execute(
        text(
            "SELECT id FROM information_schema.processlist WHERE info LIKE :s AND id <> "
            "CONNECTION_ID()"
        ),
        {"s": BLOCKED_STATEMENT},
    ).first()
    return int(row[0]) if row else None


def run_assets(
    settings: Settings, instance: dg.DagsterInstance, *assets: str
) -> dg.ExecuteInProcessResult:
    """Run part of the cohort job (these assets and their checks) for KEY."""
    job = build_definitions(settings).resolve_job_def(COHORT_JOB)
    return job.execute_in_process(
        partition_key=partition_key(KEY),
        instance=instance,
        asset_selection=[dg.AssetKey(name) for name in assets],
        raise_on_error=False,
    )


def in_thread(action: Callable[[], list[CohortOutcome]]) -> tuple[threading.Thread, list]:
    result: list = []
    thread = threading.Thread(target=lambda: result.append(action()), daemon=True)
    thread.start()
    return thread, result


# -- MariaDB ------------------------------------------------------------------------------------


@pytest.fixture
def mysql_settings(tmp_path: Path, mysql_url: str, monkeypatch) -> Settings:
    monkeypatch.setenv(DATABASE_URL_VAR, mysql_url)
    return short_cohort_settings(tmp_path / "home", database_url=mysql_url)


def test_a_connection_killed_mid_load_is_retried_and_the_cohort_replaced(
    mysql_settings, generate, materialize, mysql_url, instance
):
    generate(KEY, seed=1)
    assert materialize(KEY, on=mysql_settings)[0].success
    old = fact_rows(mysql_url, KEY)
    generate(KEY, cycles=SHORT_CYCLES + 2, seed=2)  # a corrected re-delivery

    with cohort_row_held(mysql_url) as holder:
        thread, result = in_thread(lambda: materialize(KEY, on=mysql_settings))
        loader = wait_for("the loader to block", lambda: blocked_loader_id(holder), **POLL)
        assert fact_rows(mysql_url, KEY) == old  # its deletes are not visible: uncommitted
        holder.execute(text(f"KILL CONNECTION {loader}"))
        assert fact_rows(mysql_url, KEY) == old  # the killed transaction was rolled back
    thread.join(WAIT_S)

    [[outcome]] = result
    assert outcome.success, outcome.failure
    new = fact_rows(mysql_url, KEY)
    assert len(new) == SHORT_CYCLES + 2 and new[:SHORT_CYCLES] != old
    assert step_retries(instance, outcome.run_id) == ["mysql_tables"]  # the RetryPolicy, once
    [warning] = transient_warnings(instance, outcome.run_id)
    assert f"loading cohort {KEY}" in warning and "OperationalError" in warning, warning
    latest = instance.fetch_materializations(
        dg.AssetRecordsFilter(
            asset_key=dg.AssetKey("mysql_tables"), asset_partitions=[str(partition_key(KEY))]
        ),
        limit=1,
    ).records[0]
    assert latest.asset_materialization.metadata["load_attempts"].value == 2


def test_a_permanent_error_is_not_retried(tmp_path, generate, mariadb, mysql_url, instance):
    from urllib.parse import urlsplit

    from energymobile.backfill import materialize_cohorts

    bad_url = mariadb.url(urlsplit(mysql_url).path.lstrip("/"), password="not-the-password")
    generate(KEY)
    started = time.monotonic()
    [outcome] = materialize_cohorts(
        [KEY],
        settings=short_cohort_settings(tmp_path / "home", database_url=bad_url),
        instance=instance,
    )
    assert not outcome.success and "1045" in (outcome.failure or "")
    assert step_retries(instance, outcome.run_id) == []  # the policy was bypassed
    assert transient_warnings(instance, outcome.run_id) == []
    assert time.monotonic() - started < 30


def test_a_backfill_killed_mid_load_leaves_the_old_rows_and_a_rerun_completes(
    mysql_settings, generate, materialize, mysql_url, tmp_path
):
    generate(KEY, seed=1)
    assert materialize(KEY, on=mysql_settings)[0].success
    old = fact_rows(mysql_url, KEY)
    generate(KEY, cycles=SHORT_CYCLES + 2, seed=2)

    env = settings_environment(mysql_settings, dagster_home=tmp_path / "dagster_home")
    log = tmp_path / "backfill.log"
    with cohort_row_held(mysql_url) as holder, log.open("wb") as output:
        process = subprocess.Popen(
            [ENERGYMOBILE, "backfill", "--from", KEY, "--cohorts", "1"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )

        def loader_blocked() -> int | None:
            if process.poll() is not None:
                raise AssertionError(f"backfill ended early:\n{log.read_text()}")
            return blocked_loader_id(holder)

        try:
            wait_for("the backfill to reach the load", loader_blocked, **POLL)
            process.send_signal(signal.SIGKILL)
            assert process.wait(10) == -signal.SIGKILL
        finally:
            if process.poll() is None:
                process.kill()
    # The server rolls the orphaned transaction back once it notices the client is gone.
    with create_engine(mysql_url).connect() as conn:
        wait_for("the orphaned load to end", lambda: blocked_loader_id(conn) is None, **POLL)
    assert fact_rows(mysql_url, KEY) == old

    [outcome] = materialize(KEY, on=mysql_settings)
    assert outcome.success, outcome.failure
    assert len(fact_rows(mysql_url, KEY)) == SHORT_CYCLES + 2


# -- SQLite -------------------------------------------------------------------------------------


def test_a_sqlite_warehouse_locked_past_its_timeout_is_retried(
    settings, generate, materialize, instance
):
    """Another writer holds the file longer than SQLite's 5 s busy timeout: the first attempt
    fails with `database is locked`, the retry succeeds once the writer is done."""
    generate(KEY, seed=1)
    assert materialize(KEY)[0].success
    generate(KEY, cycles=SHORT_CYCLES + 2, seed=2)
    engine = create_engine(settings.database_url)
    try:
        with engine.connect() as writer:
            writer.exec_driver_sql("BEGIN EXCLUSIVE")
            thread, result = in_thread(lambda: materialize(KEY))
            # Held past the load's first 5 s wait wherever the run reaches it in its first 6 s
            # (a loaded machine takes seconds to get there), short of the four attempts' end.
            time.sleep(11)
            writer.rollback()
        thread.join(WAIT_S)
    finally:
        engine.dispose()
    [[outcome]] = result
    assert outcome.success, outcome.failure
    assert step_retries(instance, outcome.run_id)[:1] == ["mysql_tables"]
    warnings = transient_warnings(instance, outcome.run_id)
    assert warnings and "OperationalError" in warnings[0], warnings


# -- S3 -----------------------------------------------------------------------------------------


@pytest.fixture
def s3_proxy(moto_s3: MotoS3, monkeypatch) -> Iterator[FaultProxy]:
    """A fault proxy in front of the moto server. The pipeline reaches S3 through it (boto3
    reads AWS_ENDPOINT_URL); the test's admin client still talks to moto directly."""
    port = int(moto_s3.endpoint.rsplit(":", 1)[1])
    with FaultProxy("127.0.0.1", port) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.endpoint)
        yield proxy


def exported_objects(moto_s3: MotoS3, prefix: str) -> dict[str, bytes]:
    keys = (cohort_csv_key(KEY), cohort_parquet_key(KEY), COMBINED_KEY)
    return {key: moto_s3.object_bytes(S3_BUCKET, f"{prefix}/{key}") for key in keys}


@pytest.fixture
def exported_then_redelivered(
    s3_settings, s3_drop, s3_proxy, s3_prefix, moto_s3, materialize, instance
) -> dict[str, bytes]:
    """KEY loaded and exported; then a corrected re-delivery (two more cycles) loaded into
    the warehouse, its export still to do. Returns the first export's objects."""
    s3_drop(KEY, seed=1)
    assert materialize(KEY, on=s3_settings)[0].success
    assert materialize_combined(settings=s3_settings, instance=instance).success
    before = exported_objects(moto_s3, s3_prefix)
    s3_drop(KEY, cycles=SHORT_CYCLES + 2, seed=2)
    assert run_assets(s3_settings, instance, *UP_TO_THE_WAREHOUSE).success
    return before


def test_s3_unreachable_during_the_export_leaves_the_previous_files_and_a_rerun_completes(
    exported_then_redelivered, s3_settings, s3_proxy, s3_prefix, moto_s3, instance
):
    before = exported_then_redelivered

    s3_proxy.set_mode(Mode.CUT)
    failed = run_assets(s3_settings, instance, EXPORT)
    assert not failed.success
    assert s3_proxy.counts.refused >= 1
    failure = next(e for e in failed.all_events if e.is_step_failure)
    message = failure.step_failure_data.error.to_string()
    assert s3_proxy.endpoint in message, message  # says where S3 was unreachable
    assert moto_s3.secret_access_key not in message
    assert exported_objects(moto_s3, s3_prefix) == before  # as before, byte for byte
    rebuild = materialize_combined(settings=s3_settings, instance=instance)
    assert not rebuild.success and s3_proxy.endpoint in (rebuild.failure or "")
    assert exported_objects(moto_s3, s3_prefix) == before  # the combined file too

    s3_proxy.set_mode(Mode.PASS)
    assert run_assets(s3_settings, instance, EXPORT).success
    assert materialize_combined(settings=s3_settings, instance=instance).success
    after = exported_objects(moto_s3, s3_prefix)
    warehouse = Warehouse(s3_settings.database_url)
    try:
        rows = warehouse.read_cohorts([KEY])
    finally:
        warehouse.dispose()
    assert len(rows) == SHORT_CYCLES + 2
    assert after[cohort_csv_key(KEY)].count(b"\n") == SHORT_CYCLES + 3  # header + rows
    assert after[COMBINED_KEY] == after[cohort_csv_key(KEY)]  # the only cohort exported


def test_s3_throttling_is_retried_by_the_client_and_the_export_completes(
    exported_then_redelivered, s3_settings, s3_proxy, s3_prefix, moto_s3, instance
):
    s3_proxy.throttle(2)  # the next two requests get 503 SlowDown
    result = run_assets(s3_settings, instance, EXPORT)
    assert result.success
    assert s3_proxy.counts.throttled == 2
    csv = moto_s3.object_bytes(S3_BUCKET, f"{s3_prefix}/{cohort_csv_key(KEY)}")
    assert csv.count(b"\n") == SHORT_CYCLES + 3
