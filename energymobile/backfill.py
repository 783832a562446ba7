"""Materialize cohorts through the cohort job and say plainly what failed; then the combined
CSV, once.

Used by the CLI (`energymobile backfill`, `demo`) and by the tests. On the embedded default the
runs execute in this process, one after another: that avoids the multiprocess executor's
start-up cost (~8 s a run here) for these small, sequential runs. With the Celery executor
(ENERGYMOBILE_EXECUTOR=celery) this process only orchestrates: several runs at once, each
step sent to whichever worker takes it (docs/fleet.md, "Engine").
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass

import dagster as dg
from dagster._core.definitions.reconstruct import ReconstructableRepository
from dagster._core.instance.ref import InstanceRef

from energymobile.definitions import COHORT_JOB, COMBINED_JOB, build_definitions
from energymobile.settings import CELERY, Settings

ALL_COHORTS = "all cohorts"
"""The key of a combined-CSV outcome: its run covers every cohort, not one."""
QUIET_RUN_CONFIG: dict[str, object] = {
    "loggers": {"console": {"config": {"log_level": "CRITICAL"}}},
}
CODE_LOCATION_MODULE = "energymobile.definitions"
CODE_LOCATION_ATTRIBUTE = "defs"
"""Where a worker finds the job again: it reloads the location with its own environment."""
DEFAULT_PARALLEL_RUNS = 4
"""Runs orchestrated at once under the Celery executor: enough to keep a few workers busy
(each run is a chain of steps, one at a time); the workers' count bounds the real work."""


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
) -> list[CohortOutcome]:
    """Run a cohort job (by default the load, every asset and check up to the CSV) for each
    cohort; a failure of one does not stop the next."""
    if settings.executor == CELERY:
        return execute_cohorts_on_workers(
            keys, instance=instance, on_done=on_done, job_name=job_name
        )
    job = build_definitions(settings).resolve_job_def(job_name)
    run_config: dict[str, object] = dict(QUIET_RUN_CONFIG)
    outcomes = []
    for index, key in enumerate(keys, start=1):
        started = time.perf_counter()
        result = job.execute_in_process(
            partition_key=key, instance=instance, run_config=run_config, raise_on_error=False
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


def execute_cohorts_on_workers(
    keys: Sequence[str],
    *,
    instance: dg.DagsterInstance,
    on_done: Callable[[int, CohortOutcome], None] | None = None,
    job_name: str = COHORT_JOB,
    parallel_runs: int = DEFAULT_PARALLEL_RUNS,
) -> list[CohortOutcome]:
    """One run per partition key through the deployment's executor (Celery: steps on the
    workers), `parallel_runs` runs at a time, each orchestrated by a process of its own
    (Dagster's run orchestration is not thread-safe: two runs in threads of one process
    deadlock in its logging set-up).

    The job is the code location's own (`energymobile.definitions:defs`, built from the
    environment), so the workers, reloading it from theirs, run the same job. The instance must
    be one every worker reaches (PostgreSQL), and the values between steps must live in the
    shared object store (S3). The keys are whatever the job's partitions are (cohorts today;
    cohort x site later): nothing here reads them."""
    reference = instance.get_ref()
    outcomes: dict[str, CohortOutcome] = {}
    spawn = multiprocessing.get_context("spawn")  # a clean interpreter: no inherited locks
    with ProcessPoolExecutor(max_workers=max(1, parallel_runs), mp_context=spawn) as pool:
        futures = [pool.submit(execute_run, reference, job_name, key) for key in keys]
        for index, future in enumerate(as_completed(futures), start=1):
            outcome = future.result()
            outcomes[outcome.key] = outcome
            if on_done:
                on_done(index, outcome)
    return [outcomes[key] for key in keys]


def execute_run(reference: InstanceRef, job_name: str, key: str) -> CohortOutcome:
    """One run of the code location's job for one partition key, through its executor."""
    # What `dagster job execute -m` builds; Dagster exports no public name for a job of a
    # Definitions object found by module (dg.reconstructable takes a function).
    job = ReconstructableRepository.for_module(
        CODE_LOCATION_MODULE, CODE_LOCATION_ATTRIBUTE
    ).get_reconstructable_job(job_name)
    # The job's own tags for the key: `dagster/partition`, and one per dimension when the
    # partitions are multi-dimensional (cohort x site), as the UI's launches carry them.
    tags = job.get_definition().get_tags_for_partition_key(key, selected_asset_keys=None)
    started = time.perf_counter()
    with (
        dg.DagsterInstance.from_ref(reference) as instance,
        dg.execute_job(job, instance=instance, run_config=QUIET_RUN_CONFIG, tags=tags) as result,
    ):
        reason = failure_reason(result)
        return CohortOutcome(
            key,
            result.success and reason is None,
            time.perf_counter() - started,
            reason,
            result.run_id,
        )


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


def failure_reason(result: dg.ExecuteInProcessResult | dg.JobExecutionResult) -> str | None:
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
