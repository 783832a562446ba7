"""How a full-size cohort arrives in a landing: the longest pause in its listing while it is
being copied, which is what the landing sensor's settle time (ENERGYMOBILE_LANDING_SETTLE_SECONDS)
must outlast. Run from the checkout:
`PYTHONPATH=. uv run python scripts/landing_arrivals.py [--work DIR]`.

Copies one generated full-size cohort (17 files, ~670 MB) the ways a technician's tools do:
`cp -r` (writes in place, new times), `cp -rp` and `rsync -a` (rsync writes each file under a
temporary name and renames it; both keep the source's times), and uploads it to S3 (a moto
server on loopback) one file at a time and ten at a time (as `aws s3 cp --recursive` does).
A thread lists the destination every 20 ms (S3: 100 ms) and records each change of the
listing (names, sizes, modification times of the 17 files). Printed per way: the copy's
duration, the longest time the listing stood still before the copy finished, and (S3) how old
an object's LastModified is when it appears. Not a benchmark of ours: a measurement of the
tools, for docs/automation.md.
"""

from __future__ import annotations

import argparse
import itertools
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3

from energymobile.channels import CHANNELS
from energymobile.sample.generate import generate_cohort
from energymobile_tests.support.moto import moto_server

KEY = "2008-03-26"
NAMES = sorted(c.file_name for c in CHANNELS)


def local_listing(folder: Path) -> tuple:
    listed = []
    for name in NAMES:
        try:
            stat = (folder / name).stat()
        except FileNotFoundError:
            continue
        listed.append((name, stat.st_size, stat.st_mtime_ns))
    return tuple(listed)


class Watcher:
    """Lists a destination on a thread until stopped; keeps the time of each change."""

    def __init__(self, listing: Callable[[], tuple], every: float) -> None:
        self.listing, self.every = listing, every
        self.changes: list[tuple[float, tuple]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Watcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        last = None
        while not self._stop.is_set():
            now = self.listing()
            if now != last:
                self.changes.append((time.monotonic(), now))
                last = now
            time.sleep(self.every)


def report(way: str, started: float, done: float, watcher: Watcher, extra: str = "") -> None:
    times = [t for t, _ in watcher.changes if t <= done] + [done]
    pauses = [b - a for a, b in itertools.pairwise(times)]
    print(
        f"{way:<34} copy {done - started:6.1f} s   longest still listing {max(pauses):5.2f} s"
        f"   changes seen {len(watcher.changes):5d}{extra}",
        flush=True,
    )


def copy_locally(source: Path, work: Path) -> None:
    for way, command in (
        ("cp -r (in place, new times)", ["cp", "-r"]),
        ("cp -rp (in place, times kept)", ["cp", "-rp"]),
        ("rsync -a (temp file + rename)", ["rsync", "-a"]),
    ):
        target = work / "landing-copy" / KEY
        shutil.rmtree(target.parent, ignore_errors=True)
        target.parent.mkdir(parents=True)
        arg_source = f"{source}/" if command[0] == "rsync" else str(source)
        with Watcher(lambda t=target: local_listing(t), 0.02) as watcher:
            started = time.monotonic()
            subprocess.run([*command, arg_source, str(target)], check=True)
            done = time.monotonic()
            time.sleep(0.1)
        report(way, started, done, watcher)
    shutil.rmtree(work / "landing-copy", ignore_errors=True)


def upload(source: Path, workers: int) -> None:
    with moto_server() as endpoint:
        s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        s3.create_bucket(Bucket="landing")
        prefix = f"logs/{KEY}/"
        first_seen: dict[str, float] = {}
        ages: list[float] = []

        def listing() -> tuple:
            listed = s3.list_objects_v2(Bucket="landing", Prefix=prefix).get("Contents", [])
            now = time.time()
            for obj in listed:
                if obj["Key"] not in first_seen:
                    first_seen[obj["Key"]] = now
                    ages.append(now - obj["LastModified"].timestamp())
            return tuple((o["Key"], o["Size"], o["LastModified"]) for o in listed)

        with Watcher(listing, 0.1) as watcher:
            started = time.monotonic()
            with ThreadPoolExecutor(workers) as pool:
                list(
                    pool.map(
                        lambda n: s3.upload_file(str(source / n), "landing", prefix + n), NAMES
                    )
                )
            done = time.monotonic()
            time.sleep(0.5)
        extra = f"   LastModified age on appearance up to {max(ages):4.1f} s"
        report(f"S3 upload, {workers} file(s) at a time", started, done, watcher, extra)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "arrivals")
    args = parser.parse_args()
    source_landing = args.work / "landing-source"
    source = source_landing / "logs" / KEY
    if not all((source / n).exists() for n in NAMES):
        print(f"generating a full-size cohort into {source_landing} ...", flush=True)
        generate_cohort(source_landing, KEY)
    size = sum((source / n).stat().st_size for n in NAMES)
    largest = max((source / n).stat().st_size for n in NAMES)
    print(f"cohort {KEY}: 17 files, {size / 1e6:.0f} MB, the largest {largest / 1e6:.0f} MB")
    copy_locally(source, args.work)
    upload(source, 1)
    upload(source, 10)
    for mbit in (10, 100):
        print(f"the largest file alone at {mbit} Mbit/s: {largest * 8 / (mbit * 1e6):.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
