"""The real thing, once: 60 full-size cohorts (15 years) through the chain, one process.

Generation is not counted. To save disk, cohorts share generated files: one cohort is
generated per window length (90, 91 and 92 days), and each of the 60 cohort folders hard-links
the files of its length (the landing refuses a symbolic link out of it). Run with
`make bench ARGS="--only backfill60"` (about 8 minutes).
"""

from __future__ import annotations

from benchmarks import BenchContext, Figure
from benchmarks._cohort import linked_landing
from benchmarks.pipeline import run_child
from energymobile.channels import CHANNELS
from energymobile.cohorts import cohort_keys, window_hours

NAME = "backfill60"
EXPLICIT = True
COHORTS = 60


def run(ctx: BenchContext) -> list[Figure]:
    count = 3 if ctx.quick else COHORTS
    keys = cohort_keys("2008-03-26", count)
    landing = linked_landing(ctx, keys, "landing-60", quick_cycles=24)
    shortfall = max(map(window_hours, keys)) if ctx.quick else 24
    report = run_child(ctx.work / "home-60", landing, keys, shortfall)
    megabytes = (
        sum((landing / "logs" / key / c.file_name).stat().st_size for key in keys for c in CHANNELS)
        / 1e6
    )
    return [
        Figure(
            NAME,
            f"{count} cohorts through the chain",
            report["seconds"] / 60,
            "min",
            "target < 10 for 60 full-size cohorts",
        ),
        Figure(
            NAME,
            "throughput",
            megabytes / report["seconds"],
            "MB/s",
            f"{megabytes / 1000:.1f} GB of text",
        ),
        Figure(NAME, "peak memory of the backfill process", report["max_rss_mb"], "MB"),
    ]
