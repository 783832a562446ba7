"""Shared by the benchmarks: one full-size generated cohort, cached between runs."""

from __future__ import annotations

from pathlib import Path

from benchmarks import BenchContext
from energymobile.channels import CHANNELS
from energymobile.sample.generate import generate_cohort

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
