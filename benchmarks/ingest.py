"""Parse + reduce throughput of our ingest, against plain pandas and polars' typed read.

All read the same 17 files of one full-size cohort from memory, in the same run, taking turns
(`interleaved_best`: a busy moment on the shared machine slows every contender alike):
- ours: `read_delivery` as raw_logs calls it (screening, validation, float64 parse, per-cycle
  mean and first sample, sha256 of every file; two files parsed at once, ingest/formats/
  per_channel.py), and `read_channel` on one file after another, as before;
- pandas: `read_csv(sep="\\t", header=None)` (C engine) and a row mean;
- polars typed: `read_csv` with an explicit Float32 or Float64 schema and nothing else, one
  file after another (Float32 is the practical limit measured in the architecture notes;
  Float64 is the type we keep, issue 16's baseline: target ≥ 1.0×).
Also the archive compressor: zstd throughput and ratio at a few levels on the largest file.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable

import pandas as pd
import polars as pl
import zstandard

from benchmarks import BenchContext, Figure, best_of, verdict
from benchmarks._cohort import KEY, cached_landing, cohort_files
from energymobile.channels import CHANNEL_BY_CODE, PROFILE_FILE_NAME
from energymobile.ingest.delivery import read_delivery
from energymobile.ingest.reduce import read_channel

NAME = "ingest"


def interleaved_best(
    repeats: int, runs: dict[str, Callable[[], object]]
) -> tuple[dict[str, float], dict[str, float]]:
    """Each run's best wall time over `repeats` rounds of all of them in turn (on a shared
    machine, a busy moment then slows every contender alike), and the cores it kept busy
    (process CPU time / wall time) in its best round."""
    best = dict.fromkeys(runs, float("inf"))
    cores = dict.fromkeys(runs, 0.0)
    for _ in range(repeats):
        for name, fn in runs.items():
            cpu, started = time.process_time(), time.perf_counter()
            fn()
            wall = time.perf_counter() - started
            if wall < best[name]:
                best[name], cores[name] = wall, (time.process_time() - cpu) / wall
    return best, cores


def run(ctx: BenchContext) -> list[Figure]:
    landing = cached_landing(ctx)
    files = cohort_files(landing)
    data = {code: path.read_bytes() for code, path in files.items()}
    by_name = {CHANNEL_BY_CODE[code].file_name: raw for code, raw in data.items()}
    profile = (landing / "profile" / PROFILE_FILE_NAME).read_bytes()
    megabytes = sum(len(d) for d in data.values()) / 1e6
    repeats = 1 if ctx.quick else 3

    def ours() -> None:
        read_delivery(KEY, by_name.keys(), by_name.__getitem__, lambda: profile)

    def ours_one_file_at_a_time() -> None:
        for code, raw in data.items():
            read_channel(raw, CHANNEL_BY_CODE[code])

    def polars_typed(dtype: type[pl.DataType] = pl.Float32) -> None:
        for code, raw in data.items():
            columns = CHANNEL_BY_CODE[code].samples
            pl.read_csv(
                io.BytesIO(raw),
                separator="\t",
                has_header=False,
                schema={f"v{i}": dtype for i in range(columns)},
            )

    def pandas_plain() -> None:
        for raw in data.values():
            pd.read_csv(io.BytesIO(raw), sep="\t", header=None).mean(axis=1)

    best, cores = interleaved_best(
        repeats,
        {
            "ours": ours,
            "polars": polars_typed,
            "polars64": lambda: polars_typed(pl.Float64),
            "serial": ours_one_file_at_a_time,
        },
    )
    ours_s, polars_s, polars64_s, serial_s = (
        best[k] for k in ("ours", "polars", "polars64", "serial")
    )
    pandas_s = best_of(1, pandas_plain)
    figures = [
        Figure(NAME, "cohort size", megabytes, "MB", "17 files"),
        Figure(
            NAME,
            "ours: parse + validate + reduce + sha256",
            megabytes / ours_s,
            "MB/s",
            f"{ours_s:.2f} s, best of {repeats}; read_delivery, 2 files at once",
        ),
        Figure(
            NAME,
            "ours: cores busy (CPU seconds / wall seconds)",
            cores["ours"],
            "cores",
            f"polars Float64 alone: {cores['polars64']:.2f}",
        ),
        Figure(
            NAME,
            "ours, one file after another",
            megabytes / serial_s,
            "MB/s",
            f"{serial_s:.2f} s, best of {repeats}; read_channel",
        ),
        Figure(
            NAME,
            "polars typed read (Float64), nothing else",
            megabytes / polars64_s,
            "MB/s",
            f"{polars64_s:.2f} s, best of {repeats}",
        ),
        Figure(
            NAME,
            "polars typed read (Float32), nothing else",
            megabytes / polars_s,
            "MB/s",
            f"{polars_s:.2f} s, best of {repeats}",
        ),
        Figure(
            NAME,
            "pandas read_csv + row mean",
            megabytes / pandas_s,
            "MB/s",
            f"{pandas_s:.2f} s, 1 run",
        ),
        Figure(
            NAME,
            "ours / polars typed",
            polars_s / ours_s,
            "x",
            verdict(polars_s / ours_s, 0.8, at_most=False),
        ),
        Figure(
            NAME,
            "ours / polars typed (Float64)",
            polars64_s / ours_s,
            "x",
            verdict(polars64_s / ours_s, 1.0, at_most=False),
        ),
        Figure(NAME, "ours one file after another / polars (Float64)", polars64_s / serial_s, "x"),
        Figure(
            NAME,
            "ours / pandas",
            pandas_s / ours_s,
            "x",
            verdict(pandas_s / ours_s, 3, at_most=False),
        ),
    ]
    largest = max(data.values(), key=len)
    for level in (-1, 1, 3):
        compressor = zstandard.ZstdCompressor(level=level)
        started = time.perf_counter()
        compressed = compressor.compress(largest)
        seconds = time.perf_counter() - started
        figures.append(
            Figure(
                NAME,
                f"zstd level {level}",
                len(largest) / 1e6 / seconds,
                "MB/s",
                f"ratio {len(compressed) / len(largest):.3f}",
            )
        )
    return figures
