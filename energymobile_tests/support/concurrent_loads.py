"""Loaders replacing cohorts in one warehouse at the same time, each in a process of its own
(as two Celery workers or two run pods do): what the fleet's concurrent loads look like to the
database. Used by the warehouse-at-fleet-size test and the fleet benchmark."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from threading import Barrier

from energymobile.storage.warehouse import Warehouse
from energymobile_tests.support.synthetic import synthetic_load


@dataclass(frozen=True)
class LoaderReport:
    """What one loader did: its keys, each replacement's seconds, the seed of its last load."""

    keys: tuple[str, ...]
    seconds: tuple[float, ...]
    last_seed: int
    started: float
    """time.time() when its first replacement began (the loaders' starts differ by ms)."""


def replace_repeatedly(
    url: str, keys: Sequence[str], rows: int, rounds: int, start: Barrier
) -> LoaderReport:
    """Wait at `start` (so loaders in other processes start together), then replace each of
    `keys` `rounds` times, a new seed each round, each a transaction."""
    warehouse = Warehouse(url)
    warehouse.ensure_schema()
    loads = [[synthetic_load(key, rows, seed) for key in keys] for seed in range(rounds)]
    start.wait()
    started = time.time()
    seconds = []
    try:
        for round_loads in loads:
            for load in round_loads:
                seconds.append(warehouse.replace_cohort(load).seconds)
    finally:
        warehouse.dispose()
    return LoaderReport(tuple(keys), tuple(seconds), rounds - 1, started)


def load_at_once(
    url: str, keys_per_loader: Sequence[Sequence[str]], rows: int, rounds: int
) -> list[LoaderReport]:
    """One process per loader, all starting together; raises what any loader raised."""
    Warehouse(url).ensure_schema()  # the schema first: loaders then only replace rows
    spawn = multiprocessing.get_context("spawn")
    with (
        spawn.Manager() as manager,
        ProcessPoolExecutor(len(keys_per_loader), mp_context=spawn) as pool,
    ):
        start = manager.Barrier(len(keys_per_loader), timeout=300)
        futures = [
            pool.submit(replace_repeatedly, url, list(keys), rows, rounds, start)
            for keys in keys_per_loader
        ]
        return [future.result() for future in futures]
