"""Shared by the benchmarks: one full-size generated cohort, cached between runs."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from benchmarks import BenchContext
from energymobile.channels import CHANNELS
from energymobile.cohorts import window_hours
from energymobile.sample.generate import generate_cohort, write_profile

KEY = "2008-03-26"
QUICK_CYCLES = 48


def cached_landing(ctx: BenchContext) -> Path:
    """A landing folder holding cohort KEY at full size (or QUICK_CYCLES rows when quick)."""
    landing = ctx.work / ("landing-quick" if ctx.quick else "landing-full")
    folder = landing / "logs" / KEY
    if not all((folder / c.file_name).exists() for c in CHANNELS):
        print(f"  generating {KEY} into {landing} (cached for later runs)", flush=True)
        generate_cohort(landing, KEY, cycles=QUICK_CYCLES if ctx.quick else None)
    return landing


def cohort_files(landing: Path) -> dict[str, Path]:
    return {c.code: landing / "logs" / KEY / c.file_name for c in CHANNELS}


def linked_landing(ctx: BenchContext, keys: Sequence[str], name: str, quick_cycles: int) -> Path:
    """A landing `name` holding `keys`, each hard-linking the files of one generated cohort of
    its window length (90, 91 or 92 days), generated once and kept: the disk holds three
    cohorts. Hard links, since the landing refuses a symbolic link to a file outside it. Quick
    cohorts are kept per cycle count, so benchmarks asking for different counts never share
    (and silently reuse) each other's files."""
    suffix = "-quick" if ctx.quick else ""
    shared = ctx.work / ("landing-by-length" + (f"-quick-{quick_cycles}" if ctx.quick else ""))
    landing = ctx.work / f"{name}{suffix}"
    write_profile(landing)
    for key in keys:
        source = shared / "logs" / f"{window_hours(key)}h"
        if not source.exists():
            print(f"  generating a {window_hours(key)}-hour cohort into {shared}", flush=True)
            generate_cohort(shared, key, cycles=quick_cycles if ctx.quick else None).rename(source)
        folder = landing / "logs" / key
        folder.mkdir(parents=True, exist_ok=True)
        for channel in CHANNELS:
            link = folder / channel.file_name
            if not link.exists():
                os.link(source / channel.file_name, link)
    return landing
