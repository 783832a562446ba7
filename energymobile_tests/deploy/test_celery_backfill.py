"""A backfill on Dagster's Celery executor, as a fleet deployment runs it: a Redis broker, two
Celery workers as separate processes in folders of their own, sharing nothing but the broker,
the Dagster instance (PostgreSQL, dagster.production.yaml), the warehouse (MariaDB) and the
object store (moto S3). Several short cohorts are backfilled through it; steps ran on both
workers (the executor's engine events name the worker of each step), and the warehouse holds
exactly the rows an in-process backfill of the same deliveries loads.

The partition keys are the test's: the backfill runs whatever keys the job is partitioned by
(cohorts today; cohort x site once sites land)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import dagster as dg
import pytest

from energymobile.backfill import execute_cohorts_on_workers, materialize_cohorts
from energymobile.cohorts import cohort_keys
from energymobile.defs.partitions import add_sites, partition_key
from energymobile.instance import PRODUCTION, ensure_instance_yaml
from energymobile.rigs import Rig
from energymobile.settings import (
    CELERY_BROKER_VAR,
    DATABASE_URL_VAR,
    EXECUTOR_VAR,
    LANDING_VAR,
    MAX_SHORTFALL_VAR,
    OBJECT_STORE_VAR,
    Settings,
)
from energymobile_tests.support.celery import RedisBroker, celery_workers, wait_until_ready
from energymobile_tests.support.mariadb import MariaDBServer
from energymobile_tests.support.postgres import PostgresServer
from energymobile_tests.support.readback import fleet_fact_rows
from energymobile_tests.support.s3 import S3_BUCKET

pytestmark = pytest.mark.integration

KEYS = cohort_keys("2008-03-26", 3)
SITE = "north"
RIGS = (Rig(SITE, "rig-a"), Rig(SITE, "rig-b"))
"""Two rigs of one site: each run loads both (a partition is a cohort of a site)."""
PARTITIONS = [partition_key(key, SITE) for key in KEYS]
WORKER_EVENT_FIELD = "Celery worker"
"""dagster-celery's engine event at the start of each step names the worker's host name."""


@pytest.mark.timeout(600)
def test_a_backfill_on_two_celery_workers_loads_the_rows_an_in_process_run_loads(
    redis: RedisBroker,
    postgres: PostgresServer,
    postgres_url: str,
    mariadb: MariaDBServer,
    mysql_url: str,
    s3_settings: Settings,
    s3_prefix: str,
    s3_drop,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
):
    started = time.monotonic()
    for seed, (key, rig) in enumerate((k, r) for k in KEYS for r in RIGS):
        s3_drop(key, seed=seed, rig=rig)

    with mariadb.fresh_database() as reference_url:
        shared = {
            LANDING_VAR: s3_settings.landing,
            OBJECT_STORE_VAR: f"s3://{S3_BUCKET}/{s3_prefix}/celery",
            DATABASE_URL_VAR: mysql_url,
            MAX_SHORTFALL_VAR: str(s3_settings.max_shortfall_hours),
            **postgres.dagster_instance_env(postgres_url),
            "DAGSTER_COMPUTE_LOGS_BUCKET": S3_BUCKET,
            "DAGSTER_COMPUTE_LOGS_PREFIX": f"{s3_prefix}/compute-logs",
        }
        base = {
            k: v for k, v in os.environ.items() if not k.startswith(("ENERGYMOBILE_", "DAGSTER_"))
        }
        workers_root = tmp_path / "workers"
        with celery_workers(2, workers_root, redis, base | shared, wait=False) as workers:
            # The in-process reference while the workers import the code location.
            reference = Settings(
                **{
                    **s3_settings.__dict__,
                    "database_url": reference_url,
                    "object_store": f"s3://{S3_BUCKET}/{s3_prefix}/in-process",
                }
            )
            with dg.DagsterInstance.ephemeral() as instance:
                in_process = materialize_cohorts(
                    KEYS, settings=reference, instance=instance, site=SITE
                )
            assert [o.failure for o in in_process] == [None] * len(KEYS)
            expected = {key: fleet_fact_rows(reference_url, key) for key in KEYS}
            reference_done = time.monotonic()
            wait_until_ready(workers)
            workers_ready = time.monotonic()
            # This process launches the runs (as `energymobile backfill` would), on the same
            # settings as the workers and its own Dagster home on the shared PostgreSQL.
            launcher_home = tmp_path / "launcher" / "dagster_home"
            ensure_instance_yaml(launcher_home, PRODUCTION)
            for name, value in shared.items():
                monkeypatch.setenv(name, value)
            monkeypatch.setenv(EXECUTOR_VAR, "celery")
            monkeypatch.setenv(CELERY_BROKER_VAR, redis.url)
            monkeypatch.setenv("DAGSTER_HOME", str(launcher_home))
            with dg.DagsterInstance.from_config(str(launcher_home)) as instance:
                add_sites(instance, [SITE])
                outcomes = execute_cohorts_on_workers(
                    PARTITIONS, instance=instance, parallel_runs=3
                )
                logs = "\n".join(w.log_tail() for w in workers)
                assert [(o.key, o.failure) for o in outcomes] == [(k, None) for k in PARTITIONS], (
                    logs
                )
                ran_on = {o.run_id: _step_workers(instance, o.run_id) for o in outcomes}
                for outcome in outcomes:  # the broker's password is nowhere Dagster keeps
                    run = instance.get_run_by_id(outcome.run_id)
                    assert run is not None
                    assert redis.password not in repr(run.run_config)
            for worker in workers:
                assert redis.password not in worker.log.read_text(errors="replace")
            runs_done = time.monotonic()

    names = {worker.split("@")[0] for steps in ran_on.values() for worker in steps.values()}
    assert names == {"worker1", "worker2"}, ran_on
    for steps in ran_on.values():  # every step of every run went through a worker
        assert {"raw_logs", "hourly_readings", "mysql_tables"} <= {s.split(".")[0] for s in steps}
    for key in KEYS:
        rows = fleet_fact_rows(mysql_url, key)
        assert {row[:2] for row in rows} == {(rig.site, rig.name) for rig in RIGS}, key
        assert rows == expected[key], key
    print(
        f"\ncelery backfill of {len(KEYS)} cohorts x {len(RIGS)} rigs: in-process reference "
        f"{reference_done - started:.0f} s, workers ready {workers_ready - started:.0f} s, "
        f"runs {runs_done - workers_ready:.0f} s; steps per worker "
        f"{ {n: sum(w.startswith(n) for s in ran_on.values() for w in s.values()) for n in names} }"
    )


def _step_workers(instance: dg.DagsterInstance, run_id: str) -> dict[str, str]:
    """step key -> the Celery worker (`name@host`) that executed it, from the run's events."""
    records = instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT)
    workers = {}
    for record in records:
        event = record.dagster_event
        metadata = event.engine_event_data.metadata if event and event.engine_event_data else {}
        if WORKER_EVENT_FIELD in metadata and event.step_key:
            workers[event.step_key] = str(metadata[WORKER_EVENT_FIELD].value)
    return workers
