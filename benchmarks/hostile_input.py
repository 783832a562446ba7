"""Hostile input against the parser (issue 15): each case's time and peak memory, beside a
normal full-size file's and a normal cohort's parse measured in the same run.

Every case is parsed in a fresh child process, so its peak memory is that process's maximum
resident set: VmHWM, which the kernel resets at exec (ru_maxrss is not: a child's starts at
the parent's size when it forked).
Each child runs under an address-space limit (CHILD_MEMORY_LIMIT) and a time limit, so that a
case this code fails to bound (or an older version, run with PYTHONPATH pointing at it) is
reported as killed instead of taking the shared machine down. The tests
(energymobile_tests/ingest/test_parse.py) prove each case is refused; this only measures.

    make bench ARGS="--only hostile_input"   (each case: -m benchmarks.hostile_input --child)
"""

from __future__ import annotations

import gzip
import json
import resource
import signal
import subprocess
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path

from benchmarks import BenchContext, Figure
from benchmarks._cohort import KEY, QUICK_CYCLES, cached_landing

NAME = "hostile_input"
CHILD_MEMORY_LIMIT = 8 << 30
"""Address space a child may reserve: far above any bounded case, far below the machine."""
CHILD_SECONDS = 300
REPO_ROOT = Path(__file__).resolve().parents[1]


def _whole_numbers_truncated(columns: int, rows: int, keep: int) -> bytes:
    """`rows` lines of whole numbers (35, 36, …), the last cut after `keep` values: the old
    line expression tried every split of every number."""
    line = b"\t".join(str(35 + i % 50).encode() for i in range(columns)) + b"\n"
    last = b"\t".join(str(35 + i % 50).encode() for i in range(keep))
    return line * (rows - 1) + last


def _digits_then_junk(digits: int) -> bytes:
    return b"\t".join([b"2"] * 5 + [b"1" * digits + b"x"] + [b"2"] * 5994) + b"\n"


def _one_value_of(digits: int, normal: bytes) -> bytes:
    """The normal file with one value of its last line replaced by `digits` nines."""
    head, _, last = normal.rstrip(b"\n").rpartition(b"\n")
    fields = last.split(b"\t")
    fields[len(fields) // 2] = b"9" * digits
    return head + b"\n" + b"\t".join(fields) + b"\n"


def _cases(normal: bytes, quick: bool) -> dict[str, tuple[Callable[[], bytes], int]]:
    """name: (how to make the file, columns the parser expects)."""
    rows = QUICK_CYCLES if quick else 2205
    scale = 10 if quick else 1
    return {
        "whole numbers, 60 per line, last line cut at 40": (
            lambda: _whole_numbers_truncated(60, rows, 40),
            60,
        ),
        "whole numbers, 6000 per line, last line cut at 5990": (
            lambda: _whole_numbers_truncated(6000, rows, 5990),
            6000,
        ),
        "16,000 digits then junk": (lambda: _digits_then_junk(16_000), 6000),
        "60,000-digit value in a normal file": (lambda: _one_value_of(60_000, normal), 6000),
        "100 MB single line": (lambda: b"1.5\t" * (25_000_000 // scale), 6000),
        "200 MB single line": (lambda: b"1.5\t" * (50_000_000 // scale), 6000),
        "gzip of the normal file": (lambda: gzip.compress(normal, compresslevel=1), 6000),
        "truncated zlib of the normal file": (lambda: zlib.compress(normal, 1)[:-1000], 6000),
    }


def _measure(args: list[str]) -> dict:
    """Run a child; its report, or why it died, with its peak RSS either way."""
    command = [sys.executable, "-m", __name__, "--child", *args]
    started = time.perf_counter()
    child = subprocess.run(command, capture_output=True, check=False, cwd=REPO_ROOT)
    report = {"wall": time.perf_counter() - started}
    if child.returncode == 0:
        return report | json.loads(child.stdout)
    code = child.returncode
    why = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit {code}"
    limits = f"limits {CHILD_MEMORY_LIMIT >> 30} GB of address space, {CHILD_SECONDS} s"
    return report | {"seconds": None, "peak_mb": None, "outcome": f"{why} ({limits})"}


def _peak_mb() -> float:
    """This process's peak resident memory since it started (exec), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(kind: str, path: str, columns: str) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (CHILD_MEMORY_LIMIT, CHILD_MEMORY_LIMIT))
    signal.alarm(CHILD_SECONDS)
    import energymobile.ingest.parse  # noqa: F401  (what every case pays: polars, numpy)
    from energymobile.ingest.errors import InputError

    outcome = "nothing"
    started = time.perf_counter()
    try:
        if kind == "file":
            from energymobile.ingest.parse import parse_table

            data = Path(path).read_bytes()
            started = time.perf_counter()
            table = parse_table(data, file=Path(path).name, columns=int(columns))
            outcome = f"parsed: {table.rows} rows"
        elif kind == "cohort":
            from energymobile.ingest.delivery import read_delivery
            from energymobile.storage.landing import LocalLanding

            source = LocalLanding(Path(path))
            delivery = read_delivery(
                KEY,
                source.list_cohort(KEY).keys(),
                lambda name: source.read_cohort_file(KEY, name),
                source.read_profile,
            )
            outcome = f"read: {delivery.total_bytes / 1e6:.0f} MB"
    except InputError as err:
        outcome = f"refused: {str(err)[:110]}"
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "peak_mb": _peak_mb(), "outcome": outcome}))


def run(ctx: BenchContext) -> list[Figure]:
    """Each case's seconds and peak memory, beside a normal file's and a normal cohort's."""
    landing = cached_landing(ctx)
    normal_path = landing / "logs" / KEY / "PS1.txt"
    normal = normal_path.read_bytes()
    cases = _cases(normal, ctx.quick)
    folder = ctx.work / "hostile"
    folder.mkdir(parents=True, exist_ok=True)
    figures: list[Figure] = []

    def figure(name: str, value: float, unit: str, note: str = "") -> None:
        figures.append(Figure(NAME, name, value, unit, note))

    idle = _measure(["idle", "-", "0"])
    cohort = _measure(["cohort", str(landing), "0"])
    baseline = _measure(["file", str(normal_path), "6000"])
    figure("interpreter + imports, peak memory", idle["peak_mb"], "MB")
    figure("normal cohort (17 files + profile): seconds", cohort["seconds"], "s", cohort["outcome"])
    figure("normal cohort: peak memory", cohort["peak_mb"], "MB")
    figure(
        f"normal PS1.txt ({len(normal) / 1e6:.0f} MB): seconds",
        baseline["seconds"],
        "s",
        baseline["outcome"],
    )
    figure("normal PS1.txt: peak memory", baseline["peak_mb"], "MB")
    for name, (make, columns) in cases.items():
        path = folder / "case.txt"
        data = make()
        path.write_bytes(data)
        del data
        result = _measure(["file", str(path), str(columns)])
        size = f"{path.stat().st_size / 1e6:.1f} MB file"
        nan = float("nan")
        seconds, peak = result["seconds"] or nan, result["peak_mb"] or nan
        figure(f"{name}: seconds", seconds, "s", f"{size}; {result['outcome']}")
        figure(f"{name}: peak memory", peak, "MB", f"{peak / cohort['peak_mb']:.2f}× the cohort's")
        path.unlink()
    return figures


if __name__ == "__main__" and sys.argv[1:2] == ["--child"]:
    _child(*sys.argv[2:5])
