"""The combined-file rebuild on S3: MB/s and peak memory while writing it, for 60 cohorts.

A moto S3 server (energymobile_tests.support.moto) is started on a free loopback port for the run
(moto is a dev dependency, as are all benchmarks). 60 full-size synthetic cohorts are
exported to it, then `exports.rebuild_combined` streams them into one multipart upload.
Measured in the same run:

- the baseline the streaming replaced (download every cohort into a temporary file, then upload
  that file), and the plain upload of the finished file (the endpoint's ceiling);
- peak memory while writing: Python allocations (tracemalloc, in a separate pass, since tracing
  slows the run) and growth of the process's resident set (sampled), at 15 and at 60 cohorts,
  to show it does not grow with history.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from dagster_aws.s3 import S3Resource

from benchmarks import BenchContext, Figure
from energymobile.cohorts import FIRST_COHORT, KEY_FORMAT, cohort_keys
from energymobile.dictionary import CSV_HEADER
from energymobile.storage.exports import (
    cohort_csv_key,
    exported_cohorts,
    rebuild_combined,
    write_cohort_export,
)
from energymobile.storage.object_store import ObjectStore, StoredObject
from energymobile.storage.s3 import PART_BYTES, S3ObjectStore
from energymobile_tests.support.moto import moto_server
from energymobile_tests.support.synthetic import synthetic_cohort_frame

NAME = "object_store"
BUCKET = "energymobile-bench"
REGION = "us-east-1"
MB = 1_000_000
COHORTS = 60
FIRST_MEASURE = 15


def run(ctx: BenchContext) -> list[Figure]:
    count = 4 if ctx.quick else COHORTS
    first = 2 if ctx.quick else FIRST_MEASURE
    keys = cohort_keys(FIRST_COHORT.strftime(KEY_FORMAT), count)
    figures: list[Figure] = []
    with moto_server() as endpoint:
        store = _bench_store(endpoint)
        rows = 200 if ctx.quick else None
        export = _timed(lambda: _export(store, keys[:first], rows))
        figures += _rebuild_figures(ctx, store, first)
        export += _timed(lambda: _export(store, keys[first:], rows))
        figures.append(
            Figure(NAME, f"export {count} cohorts (CSV + Parquet PUTs)", export, "s", "")
        )
        figures += _rebuild_figures(ctx, store, count)
        figures += _baseline_figures(ctx, store, count)
    return figures


def _rebuild_figures(ctx: BenchContext, store: ObjectStore, count: int) -> list[Figure]:
    repeats = 1 if ctx.quick else 3
    seconds = float("inf")
    combined: StoredObject | None = None
    rss_growth = 0.0
    for _ in range(repeats):
        with _rss_sampler() as sampled:
            started = time.perf_counter()
            combined = rebuild_combined(store)
            elapsed = time.perf_counter() - started
        seconds = min(seconds, elapsed)
        rss_growth = max(rss_growth, sampled())
    assert combined is not None
    traced = _traced_peak(lambda: rebuild_combined(store))
    size = combined.bytes / MB
    how = "multipart" if combined.bytes > PART_BYTES else "single PUT"
    note = f"{size:.1f} MB, {combined.rows} rows, {how}, best of {repeats}"
    return [
        Figure(NAME, f"combined rebuild, {count} cohorts", size / seconds, "MB/s", note),
        Figure(NAME, f"  peak Python memory while writing ({count})", traced, "MB", "tracemalloc"),
        Figure(NAME, f"  resident set growth while writing ({count})", rss_growth, "MB", "sampled"),
    ]


def _baseline_figures(ctx: BenchContext, store: ObjectStore, count: int) -> list[Figure]:
    """What the streaming replaced (temp file, then upload) and the bare upload of the result."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "combined.csv"
        spooled = _timed(lambda: _spool_to_file(store, path))
        traced = _traced_peak(lambda: store.put_file("baseline/combined.csv", path))
        upload = min(
            _timed(lambda: store.put_file("baseline/combined.csv", path))
            for _ in range(1 if ctx.quick else 3)
        )
        size = path.stat().st_size / MB
    return [
        Figure(
            NAME,
            f"baseline: temp file then upload ({count})",
            size / (spooled + upload),
            "MB/s",
            "the previous rebuild_combined",
        ),
        Figure(NAME, "baseline: upload of the finished file", size / upload, "MB/s", "ceiling"),
        Figure(NAME, "  peak Python memory, file upload", traced, "MB", "tracemalloc"),
    ]


def _spool_to_file(store: ObjectStore, path: Path) -> None:
    with path.open("wb") as out:
        out.write(CSV_HEADER)
        for key in exported_cohorts(store):
            part = path.with_suffix(".part")
            store.download(cohort_csv_key(key), part)
            with part.open("rb") as handle:
                handle.readline()
                while chunk := handle.read(1 << 20):
                    out.write(chunk)
            part.unlink()


def _export(store: ObjectStore, keys: list[str], rows: int | None) -> None:
    for index, key in enumerate(keys):
        write_cohort_export(store, key, synthetic_cohort_frame(key, rows, seed=index))


def _bench_store(endpoint: str) -> S3ObjectStore:
    s3 = S3Resource(
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="bench",  # moto without credential checking: any key will do
        aws_secret_access_key="bench",
    )
    s3.get_client().create_bucket(Bucket=BUCKET)
    return S3ObjectStore(BUCKET, "bench", s3=s3)


def _timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def _traced_peak(fn: Callable[[], object]) -> float:
    """Peak of Python allocations (every thread) during fn(), in MB."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        fn()
        return (tracemalloc.get_traced_memory()[1] - before) / MB
    finally:
        tracemalloc.stop()


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@contextmanager
def _rss_sampler(interval_s: float = 0.005) -> Iterator[Callable[[], float]]:
    """Samples the resident set while the block runs; yields a function returning the peak
    growth over the starting size, in MB (0 where /proc is unavailable)."""
    if not Path("/proc/self/statm").exists():
        yield lambda: 0.0
        return
    start = _rss_bytes()
    peak = start
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _rss_bytes())
            done.wait(interval_s)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield lambda: (peak - start) / MB
    finally:
        done.set()
        thread.join()
        peak = max(peak, _rss_bytes())
