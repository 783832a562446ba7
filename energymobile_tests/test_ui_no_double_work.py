"""No work done twice, on the real `dagster dev` (webserver and daemon) started on the home the
CLI used: what `make demo` then `make dev` do, with short cohorts.

- `energymobile demo` loads a few cohorts in its own process (and rebuilds the combined CSV);
  `dagster dev` then starts on the same DAGSTER_HOME, landing, warehouse and object store, and
  requests nothing for a full settle period and more: the landing sensor finds each drop
  already archived and loaded, automation finds nothing changed.
- One digit of one file changed (same size): exactly that cohort is loaded again, then
  automation writes that cohort's netCDF file and rebuilds the combined CSV, once.
- A run killed (SIGKILL) between archiving a new delivery and loading it: the archive and the
  warehouse disagree; the landing sensor reloads exactly that cohort once the dead run is
  marked failed, and then requests nothing more.

The settle time is set short here (SETTLE_S) to keep the module to a few minutes; test_ui.py
measures a drop with the default.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from energymobile.cohorts import cohort_keys
from energymobile.defs.partitions import split_key
from energymobile.sample.generate import generate_cohort
from energymobile.storage.archive import read_archive
from energymobile.storage.object_store import open_object_store
from energymobile.storage.warehouse import Warehouse
from energymobile_tests.support.cli import cli_environment, run_cli
from energymobile_tests.support.dagster_dev import DagsterDev, running_dagster_dev
from energymobile_tests.support.graphql import run_events, sensor_ticks
from energymobile_tests.support.graphql import runs as graphql_runs
from energymobile_tests.support.polling import wait_for
from energymobile_tests.support.short_cohorts import SHORT_CYCLES, short_cohort_settings

pytestmark = [pytest.mark.ui, pytest.mark.timeout(1200)]

SETTLE_S = 10
TICK_S = 5
"""The landing sensor's interval (and the daemon's loop)."""
AUTOMATION_TICK_S = 30
COHORTS = cohort_keys("2008-03-26", 3)
CHANGED, KILLED = COHORTS[1], COHORTS[2]
RUN_TIMEOUT_S = 180.0
LANDING = "landing_sensor"
AUTOMATION = "cohort_automation"
FRESHNESS = "export_freshness_sensor"


@dataclass(frozen=True)
class Run:
    id: str
    job: str
    status: str
    created: float
    ended: float | None
    tags: dict[str, str]
    assets: frozenset[str]
    materialized: frozenset[tuple[str, str | None]]

    @property
    def sensor(self) -> str | None:
        return self.tags.get("dagster/sensor_name")

    @property
    def partition(self) -> str | None:
        """The run's cohort (its (cohort, site) partition's cohort: every site is default)."""
        return cohort_of(self.tags.get("dagster/partition"))


def cohort_of(partition: str | None) -> str | None:
    """The cohort of a (cohort, site) partition key; None for a key naming no cohort (a site's
    combined CSV, partitioned by site alone) or no key."""
    return split_key(partition)[0] if partition and "|" in partition else None


def runs(dev: DagsterDev) -> list[Run]:
    return [
        Run(
            r["runId"],
            r["jobName"],
            r["status"],
            float(r["creationTime"]),
            r["endTime"],
            {t["key"]: t["value"] for t in r["tags"]},
            frozenset("/".join(a["path"]) for a in r["assetSelection"] or []),
            frozenset(
                ("/".join(m["assetKey"]["path"]), cohort_of(m["partition"]))
                for m in r["assetMaterializations"]
            ),
        )
        for r in graphql_runs(dev.graphql)
    ]


def ticks(dev: DagsterDev, sensor: str, since: float) -> list[dict[str, Any]]:
    found = sensor_ticks(dev.graphql, sensor)
    return sorted((t for t in found if t["timestamp"] >= since), key=lambda t: t["timestamp"])


def finished(run: Run) -> bool:
    return run.status in ("SUCCESS", "FAILURE", "CANCELED")


def settled(dev: DagsterDev, since: float, landing_ticks: int = 4) -> list[Run]:
    """Wait until all that follows a change is done: every run finished, then two ticks of each
    sensor (landing, automation) after the last one ended, and at least `landing_ticks` landing
    ticks since `since` (a tick's request is a run by the next tick); returns the runs created
    since `since`."""

    def done() -> bool:
        now_runs = runs(dev)
        if not all(finished(r) for r in now_runs):
            return False
        last = max([since, *(r.ended or 0 for r in now_runs if r.created >= since)])
        return (
            len(ticks(dev, LANDING, since)) >= landing_ticks
            and len(ticks(dev, LANDING, last)) >= 2
            and len(ticks(dev, AUTOMATION, last)) >= 2
        )

    wait_for(
        "every run finished, then two ticks of each sensor",
        done,
        landing_ticks * TICK_S + 4 * AUTOMATION_TICK_S + RUN_TIMEOUT_S,
        dev.log_tail,
        interval_s=2,
    )
    return [r for r in runs(dev) if r.created >= since]


def is_freshness_evaluation(run: Run) -> bool:
    """The freshness sensor's run of the export_due checks: reads Dagster's records only."""
    return run.sensor == FRESHNESS and not run.materialized


def deliveries(dev: DagsterDev) -> tuple[dict[str, str], dict[str, str | None]]:
    """The archive's current delivery and the warehouse's, per cohort."""
    store = open_object_store(dev.settings.object_store)
    archived = {key: read_archive(store, key).delivery for key in COHORTS}
    warehouse = Warehouse(dev.settings.database_url)
    try:
        return archived, warehouse.cohort_deliveries()
    finally:
        warehouse.dispose()


@pytest.fixture(scope="module")
def after_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DagsterDev, float]]:
    """`energymobile demo` of three short cohorts on a home, then `dagster dev` on it; yields the
    server and when it was started."""
    root = tmp_path_factory.mktemp("after_demo")
    settings = replace(short_cohort_settings(root / "home"), landing_settle_seconds=SETTLE_S)
    env = cli_environment(
        settings.home,
        shortfall_hours=settings.max_shortfall_hours,
        dagster_home=root / "dagster_home",
    )
    demo = ("demo", "--cohorts", str(len(COHORTS)), "--cycles", str(SHORT_CYCLES))
    done = run_cli(env, *demo, timeout_s=600)
    assert done.returncode == 0, done.stdout + done.stderr
    # the cohorts, the combined CSV
    assert done.stdout.count(" ok (") == len(COHORTS) + 1, done.stdout
    starting = time.time()
    with running_dagster_dev(root, settings) as dev:
        yield dev, starting


def test_dagster_dev_after_the_demo_requests_no_run(after_demo):
    dev, started = after_demo
    demo = [r for r in runs(dev) if r.created < started]  # the CLI's, in its own process
    assert {r.partition for r in demo if r.job == "cohort_pipeline"} == set(COHORTS)
    assert all(r.sensor is None for r in demo)

    new = settled(dev, started, landing_ticks=SETTLE_S // TICK_S + 4)
    loads = [r for r in new if not is_freshness_evaluation(r)]
    assert loads == [], [(r.job, r.sensor, r.partition, sorted(r.assets)) for r in loads]
    landing = ticks(dev, LANDING, started)
    assert not any(t["runKeys"] for t in landing)
    assert "3 cohorts up to date" in landing[-1]["skipReason"]
    said = " ".join(t["skipReason"] or "" for t in landing)
    archived, loaded = deliveries(dev)
    assert archived == loaded
    for key in COHORTS:
        assert f"{key}: already loaded (delivery {archived[key]}); not requested" in said
    print(
        f"\nafter the demo, dagster dev: {len(landing)} landing ticks, "
        f"{len(ticks(dev, AUTOMATION, started))} automation ticks over "
        f"{time.time() - started:.0f} s; runs requested: "
        f"{[(r.sensor, r.job) for r in new]} (the freshness checks' evaluation only)"
    )


def rewrite_one_digit(path: Path) -> None:
    data = bytearray(path.read_bytes())
    at = next(i for i in range(len(data) - 1, 0, -1) if chr(data[i]).isdigit())
    data[at] = ord("1") if data[at] != ord("1") else ord("2")
    path.write_bytes(bytes(data))


def test_changing_one_files_bytes_requests_exactly_that_cohort(after_demo):
    dev, _ = after_demo
    before_archive, _ = deliveries(dev)
    since = time.time()
    rewrite_one_digit(dev.landing / "logs" / CHANGED / "TS1.txt")

    new = settled(dev, since, landing_ticks=SETTLE_S // TICK_S + 4)
    landing = [r for r in new if r.sensor == LANDING]
    assert [(r.partition, r.status, r.tags["energymobile/landing_reason"]) for r in landing] == [
        (CHANGED, "SUCCESS", "changed delivery")
    ]
    followed = [r for r in new if r.sensor == AUTOMATION]
    assert {m for r in followed for m in r.materialized} == {
        ("netcdf_arrays", CHANGED),
        ("combined_csv", None),
    }
    assert len(followed) == 2, [sorted(r.materialized) for r in followed]
    others = [r for r in new if r not in landing + followed and not is_freshness_evaluation(r)]
    assert others == []
    archived, loaded = deliveries(dev)
    assert archived == loaded
    assert archived[CHANGED] != before_archive[CHANGED]
    assert {k: v for k, v in archived.items() if k != CHANGED} == {
        k: v for k, v in before_archive.items() if k != CHANGED
    }


def run_pid(dev: DagsterDev, run_id: str) -> int | None:
    """The pid of a run's process, from its in-process executor's engine event."""
    events = run_events(dev.graphql, run_id)
    for event in events:
        message = event.get("message") or ""
        if message.startswith("Executing steps in process (pid: "):
            return int(message.split("pid: ")[1].split(")")[0])
    return None


def in_step(dev: DagsterDev, run_id: str, step: str) -> bool:
    events = run_events(dev.graphql, run_id)
    return any(
        e["__typename"] == "ExecutionStepStartEvent" and e.get("stepKey") == step for e in events
    )


def test_a_run_killed_between_archiving_and_loading_is_reloaded_once(after_demo):
    dev, _ = after_demo
    archived_before, loaded_before = deliveries(dev)
    assert archived_before[KILLED] == loaded_before[KILLED]
    warehouse_file = dev.settings.database_url.removeprefix("sqlite:///")
    since = time.time()

    # The warehouse held by another writer: the run archives the new delivery, then waits in
    # mysql_tables (SQLite's busy timeout, then Dagster's retries) where it is killed.
    lock = sqlite3.connect(warehouse_file, timeout=0, isolation_level=None)
    try:
        lock.execute("BEGIN EXCLUSIVE")
        generate_cohort(dev.landing, KILLED, cycles=SHORT_CYCLES + 2, seed=7)  # re-delivered

        def loading_run() -> Run | None:
            found = [r for r in runs(dev) if r.sensor == LANDING and r.partition == KILLED]
            return found[0] if found and in_step(dev, found[0].id, "mysql_tables") else None

        run = wait_for("the re-delivery's run in mysql_tables", loading_run, 120, dev.log_tail)
        store = open_object_store(dev.settings.object_store)
        new_delivery = read_archive(store, KILLED).delivery
        assert new_delivery != archived_before[KILLED]  # archived...
        held = "SELECT delivery FROM cohorts WHERE cohort = ?"
        assert lock.execute(held, (KILLED,)).fetchall() == [(loaded_before[KILLED],)]  # not loaded
        pid = wait_for("the run's pid", lambda: run_pid(dev, run.id), 30, dev.log_tail)
        os.kill(pid, signal.SIGKILL)
        kill_sent = time.time()
    finally:
        lock.execute("ROLLBACK")
        lock.close()

    def status(run_id: str) -> str:
        return next(r.status for r in runs(dev) if r.id == run_id)

    wait_for("the killed run marked failed", lambda: status(run.id) == "FAILURE", 60, dev.log_tail)
    killed_at = time.time()

    def converged() -> bool:
        archived, loaded = deliveries(dev)
        return archived == loaded and all(finished(r) for r in runs(dev))

    wait_for("the archive and the warehouse agreeing", converged, RUN_TIMEOUT_S, dev.log_tail)
    assert deliveries(dev)[1][KILLED] == new_delivery
    settled(dev, killed_at)  # the reload and what automation does after it (netCDF, combined)
    quiet = time.time()
    assert [r for r in settled(dev, quiet) if not is_freshness_evaluation(r)] == []

    # Who reloaded it: the landing sensor (a reload of the whole chain) or automation (the
    # steps the killed run did not finish, from its intermediates), whichever came first;
    # the other saw a run of the cohort in progress, then nothing left to do.
    # From the kill, not from when the test saw the run marked failed: the reload may be
    # requested in between.
    after = [r for r in runs(dev) if r.created >= kill_sent and not is_freshness_evaluation(r)]
    loads = [r for r in after if ("mysql_tables", KILLED) in r.materialized]
    assert len(loads) == 1, [(r.sensor, sorted(r.materialized)) for r in after]
    assert {r.partition for r in after} <= {KILLED, None}  # None: the site's combined CSV
    netcdf = [r for r in runs(dev) if ("netcdf_arrays", KILLED) in r.materialized]
    assert len([r for r in netcdf if r.created >= since]) <= 1  # the new delivery's, once
    [reload] = loads
    if reload.sensor == LANDING:
        assert reload.tags["energymobile/landing_reason"] == (
            f"reload: the archive holds delivery {new_delivery}, the warehouse delivery "
            f"{loaded_before[KILLED]}"
        )
        assert reload.tags["dagster/run_key"].endswith(f":reload-{new_delivery}-1")
    else:
        assert reload.sensor == AUTOMATION
    print(
        f"\nrun killed in mysql_tables; reloaded by {reload.sensor} "
        f"({sorted(a for a, _ in reload.materialized)}); then nothing requested for "
        f"{len(ticks(dev, LANDING, quiet))} landing ticks"
    )
