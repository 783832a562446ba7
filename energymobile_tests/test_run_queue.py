"""Concurrency through the real run queue: `dg dev` with the package's dagster.yaml.

Two runs of the same cohort never run at once (tag limit on `dagster/partition`), while a run
of another cohort runs beside them. Runs are launched through the webserver's GraphQL API,
as a click in the UI would, and timed by what Dagster recorded for each. The sensors are
stopped first (as an operator can in the UI), so that no run of theirs takes one of the
queue's two slots and the timing shows the per-cohort limit alone.

Launching a run takes the daemon seconds, more than a short cohort takes to load, so the test
holds the SQLite warehouse's write lock until the other cohort's run has started: the runs
wait in their load step meanwhile (with a busy timeout long enough not to give up).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from energymobile.cohorts import cohort_keys
from energymobile.definitions import COHORT_JOB
from energymobile.defs.partitions import partition_key
from energymobile.rigs import DEFAULT_SITE
from energymobile.sample.generate import generate_cohort
from energymobile_tests.support.dagster_dev import DagsterDev
from energymobile_tests.support.graphql import (
    IN_PROGRESS,
    REPOSITORY,
    TERMINAL,
    add_site,
    launch_run,
    stop_sensors,
)
from energymobile_tests.support.graphql import runs as graphql_runs
from energymobile_tests.support.polling import wait_for
from energymobile_tests.support.short_cohorts import SHORT_CYCLES

pytestmark = [pytest.mark.ui, pytest.mark.timeout(300)]

FIRST, SECOND = cohort_keys("2008-03-26", 2)
RUNS_TIMEOUT_S = 180.0
DAGSTER_DEV_SQLITE_TIMEOUT_S = 120
"""Read by the dagster_dev fixture: runs wait this long for the held warehouse."""
WAITING = {"QUEUED", "NOT_STARTED"}


def quiet(dev: DagsterDev) -> None:
    """Stop every sensor, then wait until no run is queued or in progress."""
    stop_sensors(dev.graphql)
    wait_for(
        "no run queued or in progress",
        lambda: not graphql_runs(dev.graphql, statuses=IN_PROGRESS),
        RUNS_TIMEOUT_S,
        dev.log_tail,
        interval_s=0.5,
    )


def launch(dev: DagsterDev, key: str) -> str:
    """A run of the cohort job for the cohort of the default site (added first, as the landing
    sensor or the CLI would)."""
    add_site(dev.graphql, DEFAULT_SITE)
    job = {**REPOSITORY, "jobName": COHORT_JOB}
    return launch_run(dev.graphql, job, str(partition_key(key)))


def runs(dev: DagsterDev, ids: list[str]) -> dict[str, dict[str, Any]]:
    return {run["runId"]: run for run in graphql_runs(dev.graphql, runIds=ids)}


def overlap(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a["startTime"] < b["endTime"] and b["startTime"] < a["endTime"]


def warehouse_path(dev: DagsterDev) -> str:
    return dev.settings.database_url.removeprefix("sqlite:///").split("?")[0]


@contextmanager
def warehouse_held(dev: DagsterDev) -> Iterator[None]:
    """Hold the SQLite warehouse's write lock: every run then waits in its load step, so the
    runs last long enough for the queue to show what it lets run at once, however slowly the
    machine launches them."""
    path = warehouse_path(dev)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN EXCLUSIVE")
        yield
    finally:
        conn.close()  # ends the transaction


def wait_for_statuses(dev: DagsterDev, ids: list[str], done: Callable[[list[str]], bool]) -> list:
    """The runs, once their statuses satisfy `done`."""
    seen: list[dict[str, Any]] = []

    def probe() -> list[dict[str, Any]] | None:
        state = runs(dev, ids)
        seen[:] = [state[i] for i in ids]
        return seen if done([run["status"] for run in seen]) else None

    def log() -> str:
        return f"{seen}\n{dev.log_tail()}"

    return wait_for("the runs' statuses", probe, RUNS_TIMEOUT_S, log, interval_s=0.25)


def test_runs_of_one_cohort_queue_while_another_cohort_runs_beside_them(dagster_dev: DagsterDev):
    quiet(dagster_dev)
    for seed, key in enumerate((FIRST, SECOND)):
        generate_cohort(dagster_dev.landing, key, cycles=SHORT_CYCLES, seed=seed)

    with warehouse_held(dagster_dev):
        ids = [launch(dagster_dev, FIRST), launch(dagster_dev, FIRST), launch(dagster_dev, SECOND)]
        # Wait until the other cohort's run is executing.
        a1, a2, b = wait_for_statuses(dagster_dev, ids, lambda s: s[2] in TERMINAL | {"STARTED"})
        assert b["status"] == "STARTED", b
        assert {a1["status"], a2["status"]} == {"STARTED", "QUEUED"}, (a1, a2)

    a1, a2, b = wait_for_statuses(dagster_dev, ids, lambda s: set(s) <= TERMINAL)
    assert {a1["status"], a2["status"], b["status"]} == {"SUCCESS"}, dagster_dev.log_tail()
    assert not overlap(a1, a2), (a1, a2)  # the same cohort: one after the other
    assert overlap(b, a1) or overlap(b, a2), (a1, a2, b)  # another cohort: side by side

    with sqlite3.connect(warehouse_path(dagster_dev)) as conn:
        counts = dict(conn.execute("SELECT cohort, COUNT(*) FROM sensor_hourly GROUP BY cohort"))
    assert counts == {FIRST: SHORT_CYCLES, SECOND: SHORT_CYCLES}
