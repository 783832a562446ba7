"""Run cohorts through the chain in a fresh process and print timings and peak memory as JSON.

Used by the pipeline benchmarks so that the peak resident memory (ru_maxrss) is that of one
materialization, not of the benchmark process.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

import dagster as dg

from energymobile.backfill import materialize_cohorts
from energymobile.settings import Settings


def main() -> None:
    home, landing, max_shortfall, *keys = sys.argv[1:]
    settings = Settings(
        home=Path(home),
        landing=landing,
        database_url=f"sqlite:///{Path(home) / 'warehouse.sqlite'}",
        object_store=f"file://{Path(home) / 's3'}",
        max_shortfall_hours=int(max_shortfall),
    )
    started = time.perf_counter()
    with dg.DagsterInstance.ephemeral() as instance:
        outcomes = materialize_cohorts(keys, settings=settings, instance=instance)
    print(
        json.dumps(
            {
                "seconds": time.perf_counter() - started,
                "per_cohort": [o.seconds for o in outcomes],
                "failures": [o.failure for o in outcomes if not o.success],
                "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


if __name__ == "__main__":
    main()
