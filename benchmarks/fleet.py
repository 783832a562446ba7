"""The fleet on Dagster's Celery executor (issue 17): full-size cohorts through 1 and then 2
Celery workers, throughput and peak memory per worker, beside the same run's polars typed read
of the same files; then what grows with the fleet: one cohort's replacement in MariaDB against
the fact table's size, and the combined CSV's rebuild against the history's length.

Topology as in energymobile_tests/deploy/test_celery_backfill.py: redis-server as the broker,
workers as separate processes (`celery -A energymobile.celery_app worker`, one step at a time
each), the Dagster instance on a throwaway PostgreSQL (dagster.production.yaml), the warehouse on
a throwaway MariaDB. Here the object store and the values between steps are a local folder all
workers share (one machine; moto would hold gigabytes in memory), and the runs are launched all
at once (one per cohort) by `execute_cohorts_on_workers`, as `energymobile backfill` does with
ENERGYMOBILE_EXECUTOR=celery. This machine has 2 cores, shared: two workers compete for them.

`make bench ARGS="--only fleet"` (about 15 minutes: 4 full-size cohorts, 2.4 GB of text, twice)
or `--quick` (3 cohorts of 48 rows: checks it runs, measures the engine's per-step overhead).
"""

from __future__ import annotations

import io
import os
import statistics
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path

import dagster as dg
import polars as pl
import psutil

from benchmarks import BenchContext, Figure
from benchmarks._cohort import QUICK_CYCLES, linked_landing
from energymobile.backfill import execute_cohorts_on_workers
from energymobile.channels import CHANNELS
from energymobile.cohorts import cohort_keys, window_hours
from energymobile.defs.partitions import add_sites, partition_key
from energymobile.instance import PRODUCTION, ensure_instance_yaml
from energymobile.rigs import DEFAULT_SITE
from energymobile.settings import (
    CELERY_BROKER_VAR,
    DATABASE_URL_VAR,
    EXECUTOR_VAR,
    HOME_VAR,
    LANDING_VAR,
    MAX_SHORTFALL_VAR,
    OBJECT_STORE_VAR,
)
from energymobile.storage.exports import rebuild_combined, write_cohort_export
from energymobile.storage.object_store import open_object_store
from energymobile.storage.warehouse import Warehouse
from energymobile_tests.support.celery import CeleryWorker, celery_workers, redis_broker
from energymobile_tests.support.mariadb import start_mariadb
from energymobile_tests.support.postgres import start_postgres
from energymobile_tests.support.synthetic import synthetic_cohort_frame, synthetic_load

NAME = "fleet"
EXPLICIT = True
COHORTS, QUICK_COHORTS = 4, 3
WORKER_COUNTS = (1, 2)
FLEET_RIGS = 1_860
RIG_QUARTER_MB = 600.0
"""The full fleet (issue 17): 1,860 rigs, ~0.6 GB of text each a quarter."""
QUARTERS_15_YEARS = 60
DAY_S, WEEK_S = 86_400, 7 * 86_400
TABLE_SIZES, QUICK_TABLE_SIZES = (0, 100_000, 400_000), (0, 4_400)
HISTORIES, QUICK_HISTORIES = (8, 32), (2, 4)
ROWS_PER_COHORT = 2_200


def run(ctx: BenchContext) -> list[Figure]:
    count = QUICK_COHORTS if ctx.quick else COHORTS
    keys = cohort_keys("2008-03-26", count)
    landing = linked_landing(ctx, keys, "fleet-landing", QUICK_CYCLES)
    megabytes = sum(f.stat().st_size for k in keys for f in _cohort_files(landing, k)) / 1e6
    figures = [Figure(NAME, "text through the engine", megabytes, "MB", f"{count} cohorts")]
    figures.append(_polars_baseline(landing, keys[0]))
    shortfall = max(map(window_hours, keys)) if ctx.quick else 24
    pg, maria = start_postgres(), start_mariadb()
    try:
        with redis_broker(ctx.work / "fleet-redis") as broker:
            for workers in WORKER_COUNTS:
                figures += _through_workers(
                    ctx, workers, keys, landing, megabytes, shortfall, pg, maria, broker
                )
        figures += _replace_against_table_size(ctx, maria)
    finally:
        maria.stop()
        pg.stop()
    figures += _combined_against_history(ctx)
    return figures


def _cohort_files(landing: Path, key: str) -> list[Path]:
    return [landing / "logs" / key / c.file_name for c in CHANNELS]


def _polars_baseline(landing: Path, key: str) -> Figure:
    """polars' typed read of one cohort's 17 files, nothing else: the ceiling of one core."""
    data = {c: (landing / "logs" / key / c.file_name).read_bytes() for c in CHANNELS}
    started = time.perf_counter()
    for channel, raw in data.items():
        pl.read_csv(
            io.BytesIO(raw),
            separator="\t",
            has_header=False,
            schema={f"v{i}": pl.Float32 for i in range(channel.samples)},
        )
    seconds = time.perf_counter() - started
    megabytes = sum(map(len, data.values())) / 1e6
    return Figure(NAME, "baseline: polars typed read, one process", megabytes / seconds, "MB/s")


def _through_workers(
    ctx, workers: int, keys, landing, megabytes, shortfall, pg, maria, broker
) -> list[Figure]:
    label = f"{workers} worker{'s' if workers > 1 else ''}"
    root = ctx.work / f"fleet-{workers}w"
    home = root / "shared-home"
    instance_db = pg.create_database(f"fleet_instance_{workers}_{int(time.time())}")
    shared = {
        HOME_VAR: str(home),  # one machine: the workers share a local object store
        LANDING_VAR: str(landing),
        OBJECT_STORE_VAR: f"file://{home / 's3'}",
        DATABASE_URL_VAR: maria.create_database(f"fleet_{workers}_{int(time.time())}"),
        MAX_SHORTFALL_VAR: str(shortfall),
        **pg.dagster_instance_env(instance_db),
    }
    base = {k: v for k, v in os.environ.items() if not k.startswith(("ENERGYMOBILE_", "DAGSTER_"))}
    launcher_home = root / "launcher" / "dagster_home"
    _local_compute_logs(ensure_instance_yaml(launcher_home, PRODUCTION))
    with celery_workers(workers, root / "workers", broker, base | shared) as started:
        # A step opens the instance its run names (the launcher's), compute logs included.
        launch = shared | {EXECUTOR_VAR: "celery", CELERY_BROKER_VAR: broker.url}
        with (
            _environment(launch | {"DAGSTER_HOME": str(launcher_home)}),
            _peak_memory(started) as peaks,
            dg.DagsterInstance.from_config(str(launcher_home)) as instance,
        ):
            began = time.perf_counter()
            add_sites(instance, [DEFAULT_SITE])
            partitions = [partition_key(key, DEFAULT_SITE) for key in keys]
            outcomes = execute_cohorts_on_workers(
                partitions, instance=instance, parallel_runs=len(keys)
            )
            seconds = time.perf_counter() - began
    failed = [f"{o.key}: {o.failure}" for o in outcomes if not o.success]
    if failed:
        raise RuntimeError(f"fleet benchmark runs failed: {failed}")
    per_worker = megabytes / seconds / workers
    hours = seconds / 3600
    quarter_mb = FLEET_RIGS * RIG_QUARTER_MB
    return [
        Figure(NAME, f"{label}: {len(keys)} cohorts", seconds, "s"),
        Figure(NAME, f"{label}: throughput", megabytes / seconds, "MB/s", "all workers"),
        Figure(NAME, f"{label}: throughput per worker", per_worker, "MB/s"),
        Figure(NAME, f"{label}: cohorts per hour per worker", len(keys) / hours / workers, "/h"),
        Figure(NAME, f"{label}: peak memory per worker", max(peaks.values()), "MB", str(peaks)),
        Figure(
            NAME,
            f"{label}: workers for a fleet quarter in a day",
            quarter_mb / (per_worker * DAY_S),
            "workers",
            f"{quarter_mb / 1e6:.2f} TB at this per-worker rate",
        ),
        Figure(
            NAME,
            f"{label}: workers for 15 years in a week",
            QUARTERS_15_YEARS * quarter_mb / (per_worker * WEEK_S),
            "workers",
        ),
    ]


def _local_compute_logs(instance_yaml: Path) -> None:
    """dagster.production.yaml with its S3 compute logs replaced by local ones (no S3 here)."""
    text = instance_yaml.read_text()
    start = text.index("compute_logs:")
    end = text.index("retention:")
    instance_yaml.write_text(
        text[:start]
        + "compute_logs:\n  module: dagster.core.storage.noop_compute_log_manager\n"
        + "  class: NoOpComputeLogManager\n\n"
        + text[end:]
    )


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    """os.environ with `values` set (the run orchestrators, spawned, inherit it); restored."""
    saved = dict(os.environ)
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextmanager
def _peak_memory(workers: list[CeleryWorker], interval_s: float = 0.25) -> Iterator[dict]:
    """Peak resident memory (MB) of each worker's process tree, sampled while the block runs."""
    peaks = {w.name: 0.0 for w in workers}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            for worker in workers:
                rss = 0
                for process in worker.processes():
                    with suppress(psutil.Error):
                        rss += process.memory_info().rss
                peaks[worker.name] = max(peaks[worker.name], rss / 1e6)
            stop.wait(interval_s)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield peaks
    finally:
        stop.set()
        thread.join()
        for name in peaks:
            peaks[name] = round(peaks[name])


def _replace_against_table_size(ctx: BenchContext, maria) -> list[Figure]:
    """One full-size cohort replaced (median of 3) in a fact table already holding N rows."""
    sizes = QUICK_TABLE_SIZES if ctx.quick else TABLE_SIZES
    warehouse = Warehouse(maria.create_database(f"fleet_replace_{int(time.time())}"))
    keys = cohort_keys("2008-03-26", max(sizes) // ROWS_PER_COHORT + 1)
    probe, filled, figures = keys[-1], 0, []
    try:
        for size in sizes:
            while filled * ROWS_PER_COHORT < size:
                warehouse.replace_cohort(synthetic_load(keys[filled], ROWS_PER_COHORT, 0))
                filled += 1
            times = [
                warehouse.replace_cohort(synthetic_load(probe, ROWS_PER_COHORT, seed)).seconds
                for seed in range(3)
            ]
            figures.append(
                Figure(
                    NAME,
                    f"replace a cohort in a table of {filled * ROWS_PER_COHORT:,} rows",
                    statistics.median(times),
                    "s",
                    "MariaDB, median of 3",
                )
            )
    finally:
        warehouse.dispose()
    return figures


def _combined_against_history(ctx: BenchContext) -> list[Figure]:
    """The combined CSV rebuilt (streamed from the cohort CSVs) over H cohorts of history."""
    histories = QUICK_HISTORIES if ctx.quick else HISTORIES
    rows = QUICK_CYCLES if ctx.quick else ROWS_PER_COHORT
    store_root = ctx.work / ("fleet-combined-quick" if ctx.quick else "fleet-combined")
    store = open_object_store(f"file://{store_root}")
    keys = cohort_keys("2008-03-26", max(histories))
    written, figures = 0, []
    for history in histories:
        while written < history:
            write_cohort_export(store, keys[written], synthetic_cohort_frame(keys[written], rows))
            written += 1
        started = time.perf_counter()
        combined = rebuild_combined(store)
        seconds = time.perf_counter() - started
        figures.append(
            Figure(
                NAME,
                f"combined CSV rebuilt over {history} cohorts",
                seconds,
                "s",
                f"{combined.bytes / 1e6:.0f} MB, {combined.bytes / 1e6 / seconds:.0f} MB/s",
            )
        )
    return figures
