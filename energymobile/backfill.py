"""Materialize cohorts through the cohort job, in process, and say plainly what failed; then
the combined CSV, once.

Used by the CLI (`energymobile backfill`, `demo`) and by the tests. In-process execution avoids
the multiprocess executor's start-up cost (~8 s a run here) for these small, sequential runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import dagster as dg

from energymobile.definitions import COHORT_JOB, COMBINED_JOB, build_definitions
from energymobile.defs.partitions import add_sites, partition_key
from energymobile.rigs import DEFAULT_SITE
from energymobile.settings import Settings

ALL_COHORTS = "all cohorts"
"""The key of a combined-CSV outcome: its run covers every cohort, not one."""
QUIET_RUN_CONFIG: dict[str, object] = {
    "loggers": {"console": {"config": {"log_level": "CRITICAL"}}},
}


@dataclass(frozen=True)
class CohortOutcome:
    key: str
    success: bool
    seconds: float
    failure: str | None
    run_id: str


def materialize_cohorts(
    keys: Sequence[str],
    *,
    settings: Settings,
    instance: dg.DagsterInstance,
    on_done: Callable[[int, CohortOutcome], None] | None = None,
    job_name: str = COHORT_JOB,
    site: str = DEFAULT_SITE,
) -> list[CohortOutcome]:
    """Run a cohort job (by default the load, every asset and check up to the CSV) for each
    cohort of one site (every rig of it that delivered the cohort); a failure of one does not
    stop the next. The site is added to the instance's sites first, if new."""
    job = build_definitions(settings).resolve_job_def(job_name)
    run_config: dict[str, object] = dict(QUIET_RUN_CONFIG)
    add_sites(instance, [site])
    outcomes = []
    for index, key in enumerate(keys, start=1):
        started = time.perf_counter()
        result = job.execute_in_process(
            partition_key=partition_key(key, site),
            instance=instance,
            run_config=run_config,
            raise_on_error=False,
        )
        reason = failure_reason(result)
        outcome = CohortOutcome(
            key,
            result.success and reason is None,
            time.perf_counter() - started,
            reason,
            result.run_id,
        )
        outcomes.append(outcome)
        if on_done:
            on_done(index, outcome)
    return outcomes


def materialize_combined(*, settings: Settings, instance: dg.DagsterInstance) -> CohortOutcome:
    """Rebuild `oil-well-data-all-historical.csv` from every exported cohort and check it
    against the warehouse: one run, after however many cohorts were loaded."""
    job = build_definitions(settings).resolve_job_def(COMBINED_JOB)
    started = time.perf_counter()
    result = job.execute_in_process(
        instance=instance, run_config=QUIET_RUN_CONFIG, raise_on_error=False
    )
    reason = failure_reason(result)
    return CohortOutcome(
        ALL_COHORTS,
        result.success and reason is None,
        time.perf_counter() - started,
        reason,
        result.run_id,
    )


def failure_reason(result: dg.ExecuteInProcessResult) -> str | None:
    """Failed checks and step errors of a run, as one line; None when all went well."""
    reasons = [
        f"{e.asset_key.to_user_string()}:{e.check_name}: {e.description}"
        for e in result.get_asset_check_evaluations()
        if not e.passed
    ]
    for event in result.all_events:
        error = event.step_failure_data.error if event.is_step_failure else None
        if error and error.cls_name != "DagsterAssetCheckFailedError":  # reported above
            cause = error
            while cause.cause is not None:
                cause = cause.cause
            reasons.append(f"{event.step_key}: {cause.message.strip()}")
    return "; ".join(reasons) or None
