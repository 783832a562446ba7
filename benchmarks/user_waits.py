"""The seconds a user waits (issue 16), each measured as the user meets it: a whole process,
from its start to its exit, beside a baseline measured in the same run (taking turns, best of
a few), printed with its target and MET or MISSED.

- `energymobile --help` against a bare `python -c pass`;
- a tiny cohort (24 cycles) through `energymobile backfill`, on a new home and again on the same
  home, against `python -c "import dagster"`: what importing and running costs beyond Dagster;
- one full-size cohort through `energymobile backfill` against polars' typed (Float64) read of
  the same 17 files in this process, nothing else;
- several full-size cohorts through `energymobile backfill` (two at once, its default, and one
  at a time), against our parse alone of the same files (`read_delivery`, in this process),
  with the cores the backfill kept busy (CPU seconds of the process and its workers / wall).

Python caches the bytecode of what it imports (unless PYTHONDONTWRITEBYTECODE is set, as on
some CI machines): every command runs once before it is timed, with the cache allowed, so the
figures are those of a user's second and later runs. The parse against polars' Float64 read is
the ingest benchmark's; the drop to its CSV in the running UI is ui_drop's.
"""

from __future__ import annotations

import shutil

from benchmarks import BenchContext, Figure, verdict
from benchmarks._cohort import KEY, cached_landing, cohort_files, linked_landing
from benchmarks._process import (
    cli,
    cli_environment,
    parse_alone,
    plain_environment,
    polars_typed_read,
    python,
    timed,
)
from energymobile.cohorts import cohort_keys, window_hours
from energymobile.sample.generate import generate_cohort

NAME = "user_waits"
TINY_CYCLES = 24
MULTI_COHORTS = 4
HELP_TARGET_S = 0.25


def run(ctx: BenchContext) -> list[Figure]:
    repeats = 2 if ctx.quick else 3
    figures = _help_and_tiny(ctx, repeats)
    figures += _one_full_cohort(ctx, 1 if ctx.quick else 2)
    figures += _several_cohorts(ctx)
    return figures


def _help_and_tiny(ctx: BenchContext, repeats: int) -> list[Figure]:
    landing = ctx.work / "landing-tiny-one"
    if not (landing / "logs" / KEY).exists():
        generate_cohort(landing, KEY, cycles=TINY_CYCLES)
    env = cli_environment(ctx.work / "home-tiny-one", landing, window_hours(KEY))
    commands = {
        "python": (python("pass"), plain_environment()),
        "help": (cli("--help"), env),
        "dagster": (python("import dagster"), plain_environment()),
        "again": (cli("backfill", "--cohorts", "1", "--workers", "1"), env),
    }
    for command, command_env in commands.values():  # bytecode cached, as on a second run
        timed(command, command_env)
    best = dict.fromkeys([*commands, "new home"], float("inf"))
    for _ in range(repeats):
        for name, (command, command_env) in commands.items():
            best[name] = min(best[name], timed(command, command_env)[0])
        shutil.rmtree(ctx.work / "home-tiny-new", ignore_errors=True)
        new_env = cli_environment(ctx.work / "home-tiny-new", landing, window_hours(KEY))
        best["new home"] = min(best["new home"], timed(commands["again"][0], new_env)[0])
    note = f"best of {repeats}"
    figures = [
        Figure(NAME, "energymobile --help (process)", best["help"], "s", note),
        Figure(NAME, "  baseline: python -c pass", best["python"], "s", note),
        Figure(
            NAME,
            "  --help, absolute",
            best["help"],
            "s",
            verdict(best["help"], HELP_TARGET_S),
        ),
        Figure(NAME, "python -c 'import dagster' (baseline)", best["dagster"], "s", note),
    ]
    for name, label in (("again", "again on its home"), ("new home", "on a new home")):
        ratio = best[name] / best["dagster"]
        figures += [
            Figure(NAME, f"tiny-cohort backfill, {label}", best[name], "s", note),
            Figure(NAME, f"  / import dagster ({label})", ratio, "x", verdict(ratio, 2)),
        ]
    return figures


def _one_full_cohort(ctx: BenchContext, repeats: int) -> list[Figure]:
    landing = cached_landing(ctx)
    files = cohort_files(landing)
    env = cli_environment(ctx.work / "home-full-one", landing, window_hours(KEY))
    shutil.rmtree(ctx.work / "home-full-one", ignore_errors=True)
    command = cli("backfill", "--cohorts", "1")
    timed(command, env)  # creates the home; later runs reload the cohort, the same work
    best_cli, best_cpu, best_polars = float("inf"), 0.0, float("inf")
    for _ in range(repeats):
        best_polars = min(best_polars, polars_typed_read(files))
        wall, cpu = timed(command, env)
        if wall < best_cli:
            best_cli, best_cpu = wall, cpu
    ratio = best_cli / best_polars
    megabytes = sum(p.stat().st_size for p in files.values()) / 1e6
    note = f"best of {repeats}; {megabytes:.0f} MB"
    return [
        Figure(NAME, "one cohort through energymobile backfill", best_cli, "s", note),
        Figure(NAME, "  its CPU seconds (all threads)", best_cpu, "s"),
        Figure(NAME, "  baseline: polars typed read (Float64)", best_polars, "s", note),
        Figure(NAME, "  backfill / polars typed read", ratio, "x", verdict(ratio, 2)),
    ]


def _several_cohorts(ctx: BenchContext) -> list[Figure]:
    keys = cohort_keys(KEY, MULTI_COHORTS)
    landing = linked_landing(ctx, keys, "landing-multi", TINY_CYCLES)
    home = ctx.work / "home-multi"
    env = cli_environment(home, landing, max(map(window_hours, keys)))
    repeats = 1 if ctx.quick else 2
    parse_s = float("inf")
    results = {2: (float("inf"), 0.0), 1: (float("inf"), 0.0)}
    for _ in range(repeats):  # taking turns: a busy spell of the machine slows each alike
        parse_s = min(parse_s, parse_alone(landing, keys)[0])
        for workers in (2, 1):
            shutil.rmtree(home, ignore_errors=True)
            command = cli("backfill", "--cohorts", str(len(keys)), "--workers", str(workers))
            results[workers] = min(results[workers], timed(command, env))
    (two, two_cpu), (one, one_cpu) = results[2], results[1]
    note = f"best of {repeats}"
    return [
        Figure(
            NAME,
            f"{len(keys)} cohorts through energymobile backfill",
            two,
            "s",
            f"two at once; {note}",
        ),
        Figure(NAME, "  cores busy", two_cpu / two, "cores", "CPU s / wall s, with its workers"),
        Figure(NAME, "  the same, one at a time (--workers 1)", one, "s", note),
        Figure(NAME, "  cores busy, one at a time", one_cpu / one, "cores"),
        Figure(
            NAME,
            "  baseline: our parse alone of the same files",
            parse_s,
            "s",
            f"in process; {note}",
        ),
        Figure(NAME, "  two at once / parse alone", two / parse_s, "x"),
        Figure(NAME, "  one at a time / two at once", one / two, "x", "the gain"),
    ]
