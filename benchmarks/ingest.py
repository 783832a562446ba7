"""Parse + reduce throughput of our ingest, against plain pandas and polars' typed read.

All three read the same 17 files of one full-size cohort from the page cache, in the same run:
- ours: `read_channel` (validation, float64 parse, per-cycle mean and first sample, sha256);
- pandas: `read_csv(sep="\\t", header=None)` (C engine) and a row mean;
- polars typed: `read_csv` with an explicit Float32 schema and nothing else (the practical
  limit measured in the architecture notes).
Also the archive compressor: zstd throughput and ratio at a few levels on the largest file.
"""

from __future__ import annotations

import io
import time

import pandas as pd
import polars as pl
import zstandard

from benchmarks import BenchContext, Figure, best_of
from benchmarks._cohort import cached_landing, cohort_files
from energymobile.channels import CHANNEL_BY_CODE
from energymobile.ingest.reduce import read_channel

NAME = "ingest"


def run(ctx: BenchContext) -> list[Figure]:
    files = cohort_files(cached_landing(ctx))
    data = {code: path.read_bytes() for code, path in files.items()}
    megabytes = sum(len(d) for d in data.values()) / 1e6
    repeats = 1 if ctx.quick else 3

    def ours() -> None:
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

    ours_s = best_of(repeats, ours)
    polars_s = best_of(repeats, polars_typed)
    polars64_s = best_of(repeats, lambda: polars_typed(pl.Float64))
    pandas_s = best_of(1, pandas_plain)
    figures = [
        Figure(NAME, "cohort size", megabytes, "MB", "17 files"),
        Figure(
            NAME,
            "ours: parse + validate + reduce + sha256",
            megabytes / ours_s,
            "MB/s",
            f"{ours_s:.2f} s, best of {repeats}",
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
        Figure(NAME, "ours / polars typed", polars_s / ours_s, "x", "target >= 0.8"),
        Figure(NAME, "ours / polars typed (Float64)", polars64_s / ours_s, "x"),
        Figure(NAME, "ours / pandas", pandas_s / ours_s, "x", "target >= 3"),
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
