"""`python -m benchmarks [--only NAME] [--quick] [--work DIR]` (what `make bench` runs)."""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmarks import BenchContext, benchmark_names, run_benchmarks, write_json


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description="run the benchmarks; print figures, write JSON"
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=benchmark_names(),
        help="run only this benchmark (repeatable)",
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    parser.add_argument(
        "--work",
        type=Path,
        default=Path("bench-results"),
        help="scratch folder kept between runs (cached cohorts, bench.json)",
    )
    args = parser.parse_args(argv)
    ctx = BenchContext(work=args.work.absolute(), quick=args.quick)
    figures = run_benchmarks(ctx, only=args.only)
    out = ctx.work / "bench.json"
    write_json(figures, out)
    print(f"figures written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
