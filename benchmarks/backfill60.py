"""The real thing, once: 60 full-size cohorts (15 years) through the chain, one process.

Generation is not counted. To save disk, cohorts share generated files: one cohort is
generated per window length (90, 91 and 92 days), and each of the 60 cohort folders links to
the files of its length. Run with `make bench ARGS="--only backfill60"` (about 8 minutes).
"""

from __future__ import annotations

import os

from benchmarks import BenchContext, Figure
from benchmarks.pipeline import run_child
from energymobile.channels import CHANNELS
from energymobile.cohorts import cohort_keys, window_hours
from energymobile.sample.generate import generate_cohort, write_profile

NAME = "backfill60"
EXPLICIT = True
COHORTS = 60


def run(ctx: BenchContext) -> list[Figure]:
    count = 3 if ctx.quick else COHORTS
    cycles = 24 if ctx.quick else None
    keys = cohort_keys("2008-03-26", count)
    shared = ctx.work / "landing-by-length"
    landing = ctx.work / ("landing-60-quick" if ctx.quick else "landing-60")
    write_profile(landing)
    for key in keys:
        hours = window_hours(key)
        source = shared / "logs" / f"{hours}h"
        if not source.exists():
            print(f"  generating a {hours}-hour cohort (shared by every cohort that long)")
            generated = generate_cohort(shared, key, cycles=cycles)
            generated.rename(source)
        target = landing / "logs" / key
        target.mkdir(parents=True, exist_ok=True)
        for channel in CHANNELS:
            link = target / channel.file_name
            if not link.exists():
                os.symlink(source / channel.file_name, link)
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
