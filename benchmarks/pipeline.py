"""One cohort through the whole chain on the embedded default, and Dagster's own overhead.

- end to end: one full-size cohort, raw files to CSV, in a fresh process (best of 2), with its
  peak resident memory; compared with the parse time of the same files (ingest benchmark);
- Dagster overhead per partition: a backfill of tiny cohorts (24 cycles), where the data work
  is negligible, so the time per partition is what Dagster itself costs;
- projected 60-cohort backfill: 60 × the end-to-end time.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from benchmarks import BenchContext, Figure, verdict
from benchmarks._cohort import KEY, cached_landing, cohort_files
from energymobile.channels import CHANNEL_BY_CODE
from energymobile.cohorts import cohort_keys, window_hours
from energymobile.ingest.reduce import read_channel
from energymobile.sample.generate import generate_cohort

NAME = "pipeline"
REPO_ROOT = Path(__file__).resolve().parents[1]
"""Where `python -m benchmarks._child` resolves (the benchmarks are not installed)."""
TINY_CYCLES = 24
TINY_COHORTS = 8


def run_child(home: Path, landing: Path, keys: list[str], max_shortfall: int) -> dict:
    """Materialize `keys` in a fresh Python process on a new home; its JSON report."""
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks._child",
            str(home),
            str(landing),
            str(max_shortfall),
            *keys,
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO_ROOT,
    )
    report = json.loads(out.stdout.strip().splitlines()[-1])
    if report["failures"]:
        raise RuntimeError(f"benchmark run failed: {report['failures']}")
    return report


def run(ctx: BenchContext) -> list[Figure]:
    landing = cached_landing(ctx)
    files = cohort_files(landing)
    started = time.perf_counter()
    for code, path in files.items():
        read_channel(path.read_bytes(), CHANNEL_BY_CODE[code])
    parse_s = time.perf_counter() - started

    shortfall = window_hours(KEY)
    runs = [
        run_child(ctx.work / "home-e2e", landing, [KEY], shortfall)
        for _ in range(1 if ctx.quick else 2)
    ]
    best = min(runs, key=lambda r: r["seconds"])
    e2e_s = best["per_cohort"][0]

    tiny = ctx.work / "landing-tiny"
    keys = cohort_keys(KEY, TINY_COHORTS)
    for key in keys:
        if not (tiny / "logs" / key).exists():
            generate_cohort(tiny, key, cycles=TINY_CYCLES)
    backfill = run_child(ctx.work / "home-tiny", tiny, keys, max(map(window_hours, keys)))
    per_partition = sorted(backfill["per_cohort"][1:])  # the first run pays the imports
    overhead_s = per_partition[len(per_partition) // 2]

    return [
        Figure(NAME, "parse + reduce of the cohort (in process)", parse_s, "s"),
        Figure(
            NAME,
            "one cohort end to end (raw files -> CSV)",
            e2e_s,
            "s",
            f"best of {len(runs)}, fresh process",
        ),
        Figure(NAME, "end to end / parse", e2e_s / parse_s, "x", verdict(e2e_s / parse_s, 2)),
        Figure(
            NAME,
            "peak memory of one cohort's materialization",
            best["max_rss_mb"],
            "MB",
            "target < 1536",
        ),
        Figure(
            NAME,
            "Dagster overhead per partition (median)",
            overhead_s,
            "s",
            f"{TINY_COHORTS} cohorts of {TINY_CYCLES} cycles; {verdict(overhead_s, 1)}",
        ),
        Figure(
            NAME,
            "projected 60-cohort full-size backfill",
            60 * e2e_s / 60,
            "min",
            "60 x end to end",
        ),
    ]
