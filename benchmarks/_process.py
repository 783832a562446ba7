"""Shared by the benchmarks that time what a user runs: the `energymobile` command as a whole
process (start to exit, with the CPU seconds of it and its workers) and the baselines measured
beside it in the same run (polars' typed read, our parse alone)."""

from __future__ import annotations

import io
import os
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from energymobile.channels import CHANNEL_BY_CODE, CHANNELS, PROFILE_FILE_NAME
from energymobile.settings import LANDING_VAR
from energymobile_tests.support.cli import CLI_MODULE
from energymobile_tests.support.cli import cli_environment as test_cli_environment

REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Timed:
    wall_s: float
    cpu_s: float
    """CPU seconds of the process and every process it waited for (its workers)."""
    max_rss_mb: float
    """The largest peak resident set of any process waited for so far (ru_maxrss)."""


def cli_environment(home: Path, landing: Path, shortfall: int) -> dict[str, str]:
    """The tests' environment of the CLI on `home` and `landing`, writing bytecode as a user's
    does (a test run may say not to)."""
    env = test_cli_environment(home, shortfall_hours=shortfall, **{LANDING_VAR: str(landing)})
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def plain_environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def cli(*args: str) -> list[str]:
    return [*CLI_MODULE, *args]


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def run_timed(command: Sequence[str], env: dict[str, str] | None = None) -> Timed:
    """Run `command` to its exit (failing with its output if it fails); what it took."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    run = subprocess.run(
        list(command), env=env, cwd=REPO_ROOT, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if run.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{run.stdout}\n{run.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Timed(wall, cpu, after.ru_maxrss / 1024)


def timed(command: Sequence[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall seconds of the process from start to exit, and the CPU seconds of it and every
    process it waited for."""
    result = run_timed(command, env)
    return result.wall_s, result.cpu_s


def polars_typed_read(files: dict[str, Path]) -> float:
    """Seconds for polars to read the 17 files as Float64 columns: the baseline of a parse."""
    import polars as pl

    started = time.perf_counter()
    for code, path in files.items():
        columns = CHANNEL_BY_CODE[code].samples
        pl.read_csv(
            io.BytesIO(path.read_bytes()),
            separator="\t",
            has_header=False,
            schema={f"v{i}": pl.Float64 for i in range(columns)},
        )
    return time.perf_counter() - started


def parse_alone(landing: Path, keys: Sequence[str]) -> tuple[float, float]:
    """Wall and CPU seconds (all threads) of our parse (read_delivery: parse, validate,
    reduce, hash; two files at once) of `keys`, one after the other in this process."""
    from energymobile.ingest.delivery import read_delivery

    profile = (landing / "profile" / PROFILE_FILE_NAME).read_bytes()
    started, cpu_started = time.perf_counter(), time.process_time()
    for key in keys:
        folder = landing / "logs" / key
        names = [c.file_name for c in CHANNELS]
        read_delivery(key, names, lambda n, f=folder: (f / n).read_bytes(), lambda: profile)
    return time.perf_counter() - started, time.process_time() - cpu_started
