"""Benchmarks (`make bench`, or `python -m benchmarks`): figures printed and written as JSON.

Each module of this package that defines `run(ctx: BenchContext) -> list[Figure]` is one
benchmark; `python -m benchmarks` discovers and runs them all (or `--only NAME`). A module with
`EXPLICIT = True` (a long one) runs only when named with `--only`. Baselines are
measured in the same run as what they are compared with, because the machine is shared and
noisy. Benchmarks are never part of the tests, and not of the wheel: they live beside the
package, and borrow the tests' throwaway servers (energymobile_tests.support).
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Figure:
    benchmark: str
    name: str
    value: float
    unit: str
    note: str = ""


@dataclass
class BenchContext:
    """What every benchmark gets: a scratch folder kept between runs (for cached data)."""

    work: Path
    quick: bool = False
    """A smoke run: tiny sizes, to prove the benchmark runs, not to measure."""
    figures: list[Figure] = field(default_factory=list)


def best_of(repeats: int, fn: Callable[[], object]) -> float:
    """The fastest of `repeats` wall-clock timings of fn(), in seconds."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def verdict(ratio: float, target: float, *, at_most: bool = True) -> str:
    """A figure's target and whether this run met it, for the printed note."""
    met = ratio <= target if at_most else ratio >= target
    return f"target {'<=' if at_most else '>='} {target:g}: {'MET' if met else 'MISSED'}"


def benchmark_names() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def run_benchmarks(ctx: BenchContext, only: list[str] | None = None) -> list[Figure]:
    for name in benchmark_names():
        if only and name not in only:
            continue
        module = importlib.import_module(f"{__name__}.{name}")
        if getattr(module, "EXPLICIT", False) and not (only and name in only):
            continue
        print(f"== {name}", flush=True)
        figures = module.run(ctx)
        load = os.getloadavg()[0]
        figures.append(Figure(name, "load average (1 min) at its end", load, "", "shared machine"))
        for figure in figures:
            ctx.figures.append(figure)
            print(
                f"  {figure.name:<48} {figure.value:>12.3f} {figure.unit:<8} {figure.note}",
                flush=True,
            )
    return ctx.figures


def write_json(figures: list[Figure], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([asdict(f) for f in figures], indent=2))
