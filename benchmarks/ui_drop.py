"""From a cohort dropped into the landing folder of a running `dg dev` to its CSV in the object
store (issue 16), as the user meets it: the embedded default (SQLite, local object store), the
landing settle time at its default, a full-size cohort copied in as `cp -r` copies (new
modification times), timed from the start of the copy until the CSV is there.

Printed beside its target, the settle time + 10 s, and beside baselines from the same run: the
same cohort through `energymobile backfill` (its process, start to exit) and polars' typed read
of its 17 files. Where the seconds went is read back from Dagster's records (the sensor's tick
and the run's events, energymobile_tests.support.run_timeline), so a miss says which stage.

`dg dev` is the tests' (energymobile_tests.support.dagster_dev): started on a free port under
the scratch folder and stopped, with its children, after. With --quick the cohort is short and
the settle time 5 s: a smoke run, not a measurement.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from benchmarks import BenchContext, Figure, verdict
from benchmarks._cohort import KEY, cached_landing, cohort_files
from benchmarks._process import cli, cli_environment, polars_typed_read, timed
from energymobile.channels import PROFILE_FILE_NAME
from energymobile.cohorts import window_hours
from energymobile.settings import DEFAULT_LANDING_SETTLE_SECONDS, Settings
from energymobile.storage.exports import cohort_csv_key
from energymobile.storage.object_store import open_object_store
from energymobile_tests.support.dagster_dev import DagsterDev, running_dagster_dev
from energymobile_tests.support.graphql import runs as graphql_runs
from energymobile_tests.support.graphql import sensor_ticks
from energymobile_tests.support.polling import wait_for
from energymobile_tests.support.run_timeline import load_timeline

NAME = "ui_drop"
SENSOR = "landing_sensor"
QUICK_SETTLE_S = 5
TARGET_BEYOND_SETTLE_S = 10.0
LOAD_TIMEOUT_S = 900.0
"""A bound, not a target: on a loaded 2-core machine a full-size cohort's run took minutes."""
POLL_S = 0.2


def run(ctx: BenchContext) -> list[Figure]:
    source = cached_landing(ctx)
    files = cohort_files(source)
    megabytes = sum(p.stat().st_size for p in files.values()) / 1e6
    shortfall = window_hours(KEY)
    cli_s = _cli_backfill(ctx, source, shortfall)
    polars_s = polars_typed_read(files)
    settle = QUICK_SETTLE_S if ctx.quick else DEFAULT_LANDING_SETTLE_SECONDS
    root = ctx.work / "ui-drop"
    shutil.rmtree(root, ignore_errors=True)
    settings = Settings(
        home=root / "home",
        landing=str(root / "landing"),
        database_url=f"sqlite:///{root / 'home' / 'warehouse.sqlite'}",
        object_store=f"file://{root / 'home' / 's3'}",
        max_shortfall_hours=shortfall,
        landing_settle_seconds=settle,
    )
    with running_dagster_dev(root, settings) as dev:
        seconds, timeline = _drop_and_wait(dev, source, files)
    target = settle + TARGET_BEYOND_SETTLE_S
    beyond = seconds - settle
    note = f"{megabytes:.0f} MB copied in; settle time {settle} s"
    figures = [
        Figure(NAME, "drop -> CSV in the running UI (dg dev)", seconds, "s", note),
        Figure(NAME, "  target: settle time + 10 s", target, "s", verdict(seconds, target)),
        Figure(NAME, "  baseline: energymobile backfill (process)", cli_s, "s", "same cohort"),
        Figure(NAME, "  baseline: polars typed read (Float64)", polars_s, "s", "same files"),
        Figure(NAME, "  (drop -> CSV) - settle time", beyond, "s", "what the UI adds to the wait"),
        Figure(NAME, "  (drop -> CSV - settle) / backfill", beyond / cli_s, "x"),
    ]
    figures += [Figure(NAME, f"  {label}", value, "s") for label, value in timeline.breakdown()]
    figures += [Figure(NAME, f"    step {key}", value, "s") for key, value in timeline.steps]
    return figures


def _cli_backfill(ctx: BenchContext, landing: Path, shortfall: int) -> float:
    """The same cohort through `energymobile backfill` on a new home: wall seconds of the
    second run (the first creates the home and caches bytecode)."""
    home = ctx.work / "home-ui-drop-cli"
    shutil.rmtree(home, ignore_errors=True)
    env = cli_environment(home, landing, shortfall)
    command = cli("backfill", "--cohorts", "1")
    timed(command, env)
    return timed(command, env)[0]


def _drop_and_wait(dev: DagsterDev, source: Path, files: dict[str, Path]) -> tuple[float, Any]:
    """Copy the cohort into the running UI's landing folder; the seconds from the start of the
    copy until its CSV is in the object store, and Dagster's timeline of the load."""
    wait_for("the landing sensor's first tick", lambda: _ticks(dev), 120.0, dev.log_tail)
    profile = dev.landing / "profile" / PROFILE_FILE_NAME
    profile.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source / "profile" / PROFILE_FILE_NAME, profile)
    store = open_object_store(dev.settings.object_store)
    folder = dev.landing / "logs" / KEY
    started = time.monotonic()
    folder.mkdir(parents=True)
    for path in files.values():  # as `cp -r` writes them: in place, new times
        shutil.copyfile(path, folder / path.name)
    dropped = max(p.stat().st_mtime for p in folder.iterdir())
    wait_for(
        f"cohort {KEY}'s CSV",
        lambda: _alive(dev) and store.exists(cohort_csv_key(KEY)),
        LOAD_TIMEOUT_S,
        dev.log_tail,
        interval_s=POLL_S,
    )
    seconds = time.monotonic() - started
    run = wait_for(f"the run of {KEY} to finish", lambda: _finished_run(dev), 300.0, dev.log_tail)
    if run["status"] != "SUCCESS":
        raise RuntimeError(f"the landing sensor's run {run['runId']} failed:\n{dev.log_tail()}")
    return seconds, load_timeline(dev, run["runId"], dropped, SENSOR)


def _alive(dev: DagsterDev) -> bool:
    if dev.process.poll() is not None:
        raise RuntimeError(f"dg dev exited:\n{dev.log_tail()}")
    return True


def _ticks(dev: DagsterDev) -> list[dict[str, Any]]:
    return sensor_ticks(dev.graphql, SENSOR)


def _finished_run(dev: DagsterDev) -> dict[str, Any] | None:
    runs = graphql_runs(dev.graphql, tags=[{"key": "dagster/sensor_name", "value": SENSOR}])
    return next((r for r in runs if r["status"] in ("SUCCESS", "FAILURE")), None)
