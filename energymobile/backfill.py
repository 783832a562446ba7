"""Materialize cohorts through the cohort job, in process, and say plainly what failed; then
the combined CSV, once.

Used by the CLI (`energymobile backfill`, `demo`) and by the tests. In-process execution avoids
the multiprocess executor's start-up cost (~8 s a run here) for these small runs. A cohort's
chain is sequential, so several cohorts keep several cores busy only by running at once:
`workers=2` runs two cohorts at a time, each in a worker process forked from this one (it
inherits the imports, so it starts in milliseconds), each run on the same persistent instance.
Where the warehouse has one writer (SQLite), the loads take turns and the rest overlaps.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from typing import TYPE_CHECKING

import dagster as dg

from energymobile.definitions import COHORT_JOB, COMBINED_JOB, build_definitions
from energymobile.settings import Settings

if TYPE_CHECKING:
    from dagster._core.instance.ref import InstanceRef

DEFAULT_WORKERS = 2
"""Cohorts at once in `energymobile backfill`: one per core of the 2-core machines this runs on
(each cohort's parse already uses two threads while its archive compresses on a third)."""
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
    workers: int = 1,
) -> list[CohortOutcome]:
    """Run a cohort job (by default the load, every asset and check up to the CSV) for each
    cohort; a failure of one does not stop the next. Outcomes in the order of `keys`; `on_done`
    hears of each as it finishes, with its position in `keys` (from 1).

    With `workers` > 1 and a persistent instance, that many cohorts run at once in worker
    processes (an ephemeral instance lives in this process only: one at a time then)."""
    job = build_definitions(settings).resolve_job_def(job_name)
    workers = min(workers, len(keys))
    if workers > 1 and instance.is_persistent:
        _worker_jobs[settings, job_name] = job  # forked workers inherit it
        return _materialize_in_workers(keys, settings, instance, on_done, job_name, workers)
    outcomes = []
    for index, key in enumerate(keys, start=1):
        outcome = _materialize_one(job, key, instance)
        outcomes.append(outcome)
        if on_done:
            on_done(index, outcome)
    return outcomes


def _materialize_one(
    job: dg.JobDefinition, key: str, instance: dg.DagsterInstance
) -> CohortOutcome:
    started = time.perf_counter()
    result = job.execute_in_process(
        partition_key=key,
        instance=instance,
        run_config=dict(QUIET_RUN_CONFIG),
        raise_on_error=False,
    )
    reason = failure_reason(result)
    return CohortOutcome(
        key, result.success and reason is None, time.perf_counter() - started, reason, result.run_id
    )


def _materialize_in_workers(
    keys: Sequence[str],
    settings: Settings,
    instance: dg.DagsterInstance,
    on_done: Callable[[int, CohortOutcome], None] | None,
    job_name: str,
    workers: int,
) -> list[CohortOutcome]:
    """Each cohort in one of `workers` processes. Fork where the platform has it: the workers
    inherit this process's imports and definitions (spawning would pay the ~3 s start-up again
    in each); each opens the instance from its reference, nothing else is shared. A forked
    child gets none of its parent's threads, so this process must not have started a thread
    pool its workers would use (polars', a parse pool): the CLI only builds definitions and
    runs the combined CSV's job (pandas) in between; `backfill --netcdf` of 2 cohorts checks
    the second fork."""
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    ref = instance.get_ref()
    outcomes: dict[str, CohortOutcome] = {}
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        running: dict[Future[CohortOutcome], str] = {
            pool.submit(_worker_materialize, key, settings, job_name, ref): key for key in keys
        }
        for future in as_completed(running):
            key = running[future]
            try:
                outcome = future.result()
            except Exception as exc:  # the worker died or could not load the definitions
                outcome = CohortOutcome(key, False, 0.0, f"worker process: {exc!r}", "")
            outcomes[key] = outcome
            if on_done:
                on_done(keys.index(key) + 1, outcome)
    return [outcomes[key] for key in keys]


_worker_instance: list[dg.DagsterInstance] = []
"""A worker process's instance (it serves one pool, so one instance), opened on first use."""
_worker_jobs: dict[tuple[Settings, str], dg.JobDefinition] = {}


def _worker_materialize(
    key: str, settings: Settings, job_name: str, ref: InstanceRef
) -> CohortOutcome:
    """In a worker process: the instance opened and the job built once per process."""
    if not _worker_instance:
        _worker_instance.append(dg.DagsterInstance.from_ref(ref))
    if (settings, job_name) not in _worker_jobs:
        _worker_jobs[settings, job_name] = build_definitions(settings).resolve_job_def(job_name)
    return _materialize_one(_worker_jobs[settings, job_name], key, _worker_instance[0])


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
