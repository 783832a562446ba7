"""Materialize cohorts through the cohort job and say plainly what failed; then the site's
combined CSV, once.

Used by the CLI (`energymobile backfill`, `demo`) and by the tests. In-process execution avoids
the multiprocess executor's start-up cost (~8 s a run here) for these small runs. A cohort's
chain is sequential, so several cohorts keep several cores busy only by running at once:
`workers=2` runs two cohorts at a time, each in a worker process of its own (spawned: a clean
interpreter, ~3 s of imports once per worker), each run on the same persistent instance.
Where the warehouse has one writer (SQLite), the loads take turns and the rest overlaps.

Every run carries the host, pid and start time of this process as tags, and claims its pool
slots before it starts (run_slots.py), so a run whose process was killed blocks nobody: the
next backfill marks it failed and frees what it held. A SIGINT or SIGTERM received during a
run stops the backfill once that run has returned (stopping.py); a run interrupted before
Dagster could record its end is marked failed here.

With the Celery executor (ENERGYMOBILE_EXECUTOR=celery) this process only orchestrates: several
runs at once, each step sent to whichever worker takes it (docs/fleet.md, "Engine").
"""

from __future__ import annotations

import multiprocessing
import re
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace

import dagster as dg
from dagster._core.definitions.reconstruct import ReconstructableRepository
from dagster._core.instance.ref import InstanceRef

from energymobile.definitions import COHORT_JOB, COMBINED_JOB, build_definitions
from energymobile.defs.partitions import add_sites, partition_key
from energymobile.redaction import scrub, url_secrets
from energymobile.rigs import DEFAULT_SITE
from energymobile.run_slots import (
    PoolWaitTimeout,
    fail_runs_of_dead_processes,
    owner_tags,
    pool_slots,
    pooled_steps,
)
from energymobile.settings import CELERY, Settings
from energymobile.stopping import cleanup_if_forced, raise_if_stopped

DEFAULT_WORKERS = 2
"""Cohorts at once in `energymobile backfill`: one per core of the 2-core machines this runs on
(each cohort's parse already uses two threads while its archive compresses on a third)."""
ALL_COHORTS = "all cohorts"
"""The key of a combined-CSV outcome: its run covers every cohort of its site, not one."""
QUIET_RUN_CONFIG: dict[str, object] = {
    "loggers": {"console": {"config": {"log_level": "CRITICAL"}}},
}
_WORDED_FOR_PEOPLE = ("energymobile.", "dagster._core.definitions.events.Failure")
_DAGSTER_WRAPPERS = re.compile(r"Dagster\w*(Execution|UserCode|Invariant)\w*Error")
"""Dagster's errors that only say where a user error happened (step, input, output)."""

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
    """What failed, one line per failure joined by '; ' (secrets of the URLs masked)."""
    run_id: str
    details: str = ""
    """The failed steps' errors with their tracebacks, for `--debug`."""


def materialize_cohorts(
    keys: Sequence[str],
    *,
    settings: Settings,
    instance: dg.DagsterInstance,
    on_done: Callable[[int, CohortOutcome], None] | None = None,
    job_name: str = COHORT_JOB,
    on_note: Callable[[str], None] | None = None,
    workers: int = 1,
    site: str = DEFAULT_SITE,
) -> list[CohortOutcome]:
    """Run a cohort job (by default the load, every asset and check up to the CSV) for each
    cohort; a failure of one does not stop the next. Outcomes in the order of `keys`; `on_done`
    hears of each as it finishes, with its position in `keys` (from 1). Each run loads one
    cohort of one site (every rig of it that delivered the cohort); the site is added to the
    instance's sites first, if new.

    With `workers` > 1 and a persistent instance, that many cohorts run at once in worker
    processes (an ephemeral instance lives in this process only: one at a time then)."""
    add_sites(instance, [site])
    if settings.executor == CELERY:
        return execute_cohorts_on_workers(
            [partition_key(key, site) for key in keys],
            instance=instance,
            on_done=on_done,
            job_name=job_name,
            secrets=url_secrets(settings.database_url),
        )
    job = build_definitions(settings).resolve_job_def(job_name)
    run_config: dict[str, object] = dict(QUIET_RUN_CONFIG)
    fail_runs_of_dead_processes(instance, on_note)
    workers = min(workers, len(keys))
    if workers > 1 and instance.is_persistent:
        return _materialize_in_workers(keys, settings, instance, on_done, job_name, workers, site)
    outcomes = []
    for index, key in enumerate(keys, start=1):
        outcome = _execute(
            job, key, partition_key(key, site), settings, instance, run_config, on_note
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
    secrets: Sequence[str] = (),
) -> list[CohortOutcome]:
    """One run per partition key through the deployment's executor (Celery: steps on the
    workers), `parallel_runs` runs at a time, each orchestrated by a process of its own
    (Dagster's run orchestration is not thread-safe: two runs in threads of one process
    deadlock in its logging set-up).

    The job is the code location's own (`energymobile.definitions:defs`, built from the
    environment), so the workers, reloading it from theirs, run the same job. The instance must
    be one every worker reaches (PostgreSQL), and the values between steps must live in the
    shared object store (S3). The keys are whatever the job's partitions are (cohorts today;
    cohort x site later): nothing here reads them. `secrets` are masked in failure reasons."""
    reference = instance.get_ref()
    outcomes: dict[str, CohortOutcome] = {}
    spawn = multiprocessing.get_context("spawn")  # a clean interpreter: no inherited locks
    with ProcessPoolExecutor(max_workers=max(1, parallel_runs), mp_context=spawn) as pool:
        futures = [pool.submit(execute_run, reference, job_name, key, secrets) for key in keys]
        for index, future in enumerate(as_completed(futures), start=1):
            outcome = future.result()
            outcomes[outcome.key] = outcome
            if on_done:
                on_done(index, outcome)
    return [outcomes[key] for key in keys]


def execute_run(
    reference: InstanceRef, job_name: str, key: str, secrets: Sequence[str] = ()
) -> CohortOutcome:
    """One run of the code location's job for one partition key, through its executor;
    `secrets` masked in its failure reason."""
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
        return run_outcome(key, result, started, secrets)


def _materialize_in_workers(
    keys: Sequence[str],
    settings: Settings,
    instance: dg.DagsterInstance,
    on_done: Callable[[int, CohortOutcome], None] | None,
    job_name: str,
    workers: int,
    site: str,
) -> list[CohortOutcome]:
    """Each cohort in one of `workers` processes, each opening the instance from its reference;
    nothing else is shared. Spawned, not forked: a forked child inherits locks held by this
    process's threads (polars' thread pool, the signal watcher) but not the threads, and its
    first parse then waits forever (seen: `energymobile demo` hung in polars' read_csv)."""
    context = multiprocessing.get_context("spawn")
    ref = instance.get_ref()
    outcomes: dict[str, CohortOutcome] = {}
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        running: dict[Future[CohortOutcome], str] = {
            pool.submit(_worker_materialize, key, site, settings, job_name, ref): key
            for key in keys
        }
        try:
            for future in as_completed(running):
                key = running[future]
                try:
                    outcome = future.result()
                except Exception as exc:  # the worker died or could not load the definitions
                    outcome = CohortOutcome(key, False, 0.0, f"worker process: {exc!r}", "")
                outcomes[key] = outcome
                if on_done:
                    on_done(keys.index(key) + 1, outcome)
        except BaseException:  # Stopped (here or in a worker): start no further cohort
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    raise_if_stopped()
    return [outcomes[key] for key in keys]


_worker_instance: list[dg.DagsterInstance] = []
"""A worker process's instance (it serves one pool, so one instance), opened on first use."""
_worker_jobs: dict[tuple[Settings, str], dg.JobDefinition] = {}


def _worker_materialize(
    key: str, site: str, settings: Settings, job_name: str, ref: InstanceRef
) -> CohortOutcome:
    """In a worker process: the instance opened and the job built once per process."""
    if not _worker_instance:
        _worker_instance.append(dg.DagsterInstance.from_ref(ref))
    if (settings, job_name) not in _worker_jobs:
        _worker_jobs[settings, job_name] = build_definitions(settings).resolve_job_def(job_name)
    job = _worker_jobs[settings, job_name]
    partition = partition_key(key, site)
    return _execute(job, key, partition, settings, _worker_instance[0], QUIET_RUN_CONFIG, None)


def materialize_combined(
    *,
    settings: Settings,
    instance: dg.DagsterInstance,
    on_note: Callable[[str], None] | None = None,
    site: str = DEFAULT_SITE,
) -> CohortOutcome:
    """Rebuild the site's combined CSV (`oil-well-data-all-historical.csv` for the default
    site) from every exported cohort of the site and check it against the site's rows in the
    warehouse: one run of the site's partition, after however many cohorts were loaded; other
    sites' files are left alone. It waits for its pool slot at most
    `settings.pool_wait_seconds`; `on_note` receives a line for each run found dead and
    released, and for the wait."""
    add_sites(instance, [site])
    job = build_definitions(settings).resolve_job_def(COMBINED_JOB)
    fail_runs_of_dead_processes(instance, on_note)
    return _execute(job, ALL_COHORTS, site, settings, instance, QUIET_RUN_CONFIG, on_note)


def _execute(
    job: dg.JobDefinition,
    label: str,
    partition_key: str | None,
    settings: Settings,
    instance: dg.DagsterInstance,
    run_config: Mapping[str, object],
    on_note: Callable[[str], None] | None,
) -> CohortOutcome:
    """One run of the job, its pool slots claimed first; a SIGINT/SIGTERM that arrived during
    it is raised (Stopped) once it has returned."""
    started = time.perf_counter()
    run_id = str(uuid.uuid4())
    secrets = url_secrets(settings.database_url)
    try:
        with (
            cleanup_if_forced(lambda: abandon(instance, run_id)),
            pool_slots(
                instance,
                pooled_steps(job),
                run_id,
                wait_s=settings.pool_wait_seconds,
                report=on_note or (lambda _line: None),
            ),
        ):
            result = job.execute_in_process(
                partition_key=partition_key,
                instance=instance,
                run_config=run_config,
                raise_on_error=False,
                run_id=run_id,
                tags=owner_tags(),
            )
    except PoolWaitTimeout as timeout:
        seconds = time.perf_counter() - started
        return CohortOutcome(label, False, seconds, str(timeout), run_id)
    except BaseException:
        abandon(instance, run_id)
        raise
    raise_if_stopped()
    outcome = run_outcome(label, result, started, secrets)
    return replace(outcome, details=failure_details(result, secrets))


def abandon(instance: dg.DagsterInstance, run_id: str) -> None:
    """Mark a run this process will not finish as failed, if Dagster has not recorded its end
    (a signal or an error outside its steps interrupted it), and free its pool slots."""
    run = instance.get_run_by_id(run_id)
    if run is not None and not run.is_finished:
        instance.report_run_failed(run, message="Interrupted: the energymobile CLI was stopped.")
    if instance.event_log_storage.supports_global_concurrency_limits:
        instance.event_log_storage.free_concurrency_slots_for_run(run_id)


def run_outcome(
    label: str,
    result: dg.ExecuteInProcessResult | dg.JobExecutionResult,
    started: float,
    secrets: Sequence[str] = (),
) -> CohortOutcome:
    """A finished run's outcome: a success only when no step and no check failed (a failed
    non-blocking check leaves Dagster's own `success` true); `started` is its
    time.perf_counter() at the start."""
    reason = failure_reason(result, secrets)
    return CohortOutcome(
        label,
        result.success and reason is None,
        time.perf_counter() - started,
        reason,
        result.run_id,
    )


def failure_reason(
    result: dg.ExecuteInProcessResult | dg.JobExecutionResult, secrets: Sequence[str] = ()
) -> str | None:
    """Failed checks and step errors of a run, as one line; None when all went well. A step's
    error is the first one in its chain that is not Dagster's wrapper (which only says where
    it happened), its first line only (`_one_line`)."""
    reasons = [
        f"{e.asset_key.to_user_string()}:{e.check_name}: {e.description}"
        for e in result.get_asset_check_evaluations()
        if not e.passed
    ]
    for event in result.all_events:
        error = event.step_failure_data.error if event.is_step_failure else None
        if error and error.cls_name != "DagsterAssetCheckFailedError":  # reported above
            cause = error
            while cause.cause is not None and _DAGSTER_WRAPPERS.fullmatch(cause.cls_name):
                cause = cause.cause
            reasons.append(f"{event.step_key}: {_one_line(cause.message, cause.cls_name)}")
    return scrub("; ".join(reasons), secrets) or None


def failure_details(result: dg.ExecuteInProcessResult, secrets: Sequence[str] = ()) -> str:
    """Every failed step's error with its traceback and causes."""
    parts = [
        f"{event.step_key}:\n{event.step_failure_data.error.to_string()}"
        for event in result.all_events
        if event.is_step_failure and event.step_failure_data.error
    ]
    return scrub("\n".join(parts), secrets)


def _one_line(message: str, cls_name: str) -> str:
    """The first line of an error's message. Our own errors and `dagster.Failure` are worded
    for people: their class is dropped (`energymobile.ingest.errors.InputError: x` -> `x`);
    a library's keeps its class name, without its module (`ValueError: x`)."""
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    if not lines:
        return cls_name
    head, sep, rest = lines[0].partition(": ")
    if not sep or head.rsplit(".", 1)[-1] != cls_name:
        return lines[0]
    if head.startswith(_WORDED_FOR_PEOPLE):
        return rest.strip() or cls_name
    return f"{cls_name}: {rest.strip()}"
