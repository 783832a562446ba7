"""The real thing, once: 60 full-size cohorts (15 years) through `energymobile backfill`, as a
user runs it (two cohorts at a time in spawned worker processes, its default), the process
timed from start to exit on a new home.

Beside it, what the parse alone needs, measured in the same run: our parse (read_delivery:
parse, validate, reduce, hash) of each distinct cohort once, summed over the 60, divided by the
2 cores the backfill may use. The gap between the two is the rest of the chain (archive,
warehouse load, exports) and Dagster's own work per run.

Generation is not counted. To save disk, cohorts share generated files: one cohort is
generated per window length (90, 91 and 92 days), and each of the 60 cohort folders hard-links
the files of its length (the landing refuses a symbolic link out of it). Run with
`make bench ARGS="--only backfill60"` (several minutes).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from benchmarks import BenchContext, Figure, verdict
from benchmarks._cohort import linked_landing
from benchmarks._process import cli, cli_environment, parse_alone, run_timed
from energymobile.channels import CHANNELS
from energymobile.cohorts import cohort_keys, window_hours

NAME = "backfill60"
EXPLICIT = True
COHORTS = 60
WORKERS = 2
TARGET_MIN = 10.0
CORES = 2


def run(ctx: BenchContext) -> list[Figure]:
    count = 3 if ctx.quick else COHORTS
    keys = cohort_keys("2008-03-26", count)
    landing = linked_landing(ctx, keys, "landing-60", quick_cycles=24)
    shortfall = max(map(window_hours, keys)) if ctx.quick else 24
    megabytes = (
        sum((landing / "logs" / key / c.file_name).stat().st_size for key in keys for c in CHANNELS)
        / 1e6
    )
    parse_wall, parse_cpu = _parse_needs(landing, keys)
    home = ctx.work / "home-60"
    shutil.rmtree(home, ignore_errors=True)
    command = cli("backfill", "--cohorts", str(count), "--workers", str(WORKERS))
    result = run_timed(command, cli_environment(home, landing, shortfall))
    wall = result.wall_s
    floor = parse_cpu / CORES
    return [
        Figure(
            NAME,
            f"{count} cohorts through energymobile backfill",
            wall / 60,
            "min",
            f"--workers {WORKERS}" + ("" if ctx.quick else f"; {verdict(wall / 60, TARGET_MIN)}"),
        ),
        Figure(NAME, "  its CPU time, with its workers", result.cpu_s / 60, "min"),
        Figure(NAME, "  cores busy", result.cpu_s / wall, "cores", "CPU s / wall s"),
        Figure(
            NAME,
            "  baseline: our parse alone, the same cohorts",
            parse_wall / 60,
            "min",
            "one cohort at a time, two files at once (as a run parses)",
        ),
        Figure(NAME, "  its CPU time", parse_cpu / 60, "min", "all threads"),
        Figure(
            NAME,
            f"  what the parse needs on {CORES} cores",
            floor / 60,
            "min",
            f"its CPU time / {CORES}: both cores kept busy",
        ),
        Figure(NAME, "  backfill / parse alone", wall / parse_wall, "x"),
        Figure(NAME, f"  backfill / parse on {CORES} cores", wall / floor, "x"),
        Figure(NAME, "  backfill CPU / parse CPU", result.cpu_s / parse_cpu, "x", "work beyond"),
        Figure(NAME, "throughput", megabytes / wall, "MB/s", f"{megabytes / 1000:.1f} GB of text"),
        Figure(NAME, "peak memory of one process", result.max_rss_mb, "MB", "largest of them"),
    ]


def _parse_needs(landing: Path, keys: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of our parse of all `keys`: each distinct cohort (they hard-link
    one generated cohort per window length) parsed once, counted once per key of its length."""
    by_length: dict[int, list[str]] = {}
    for key in keys:
        by_length.setdefault(window_hours(key), []).append(key)
    wall = cpu = 0.0
    for same in by_length.values():
        one_wall, one_cpu = parse_alone(landing, [same[0]])
        wall, cpu = wall + one_wall * len(same), cpu + one_cpu * len(same)
    return wall, cpu
