"""Pool slots for the runs the CLI executes in process: claimed before the run, with dead
holders released, the wait bounded and reported, and nothing left held when the run ends.

Dagster limits a pool (here `historical_csv`, the combined CSV's rebuild) with slots in its
instance storage. A step claims one when it starts and frees it when it ends, so a process
killed in between (SIGKILL, an OOM kill, a lost node) keeps its slot for ever. Runs launched
by the daemon are covered by Dagster itself (dagster.yaml: the code server fails a run whose
worker died, run monitoring frees the slots of ended runs). For in-process runs nobody does
it, and Dagster 1.13's in-process executor then waits for the slot in a busy loop that
neither reports, nor ends, nor heeds SIGINT/SIGTERM.

So the CLI claims a run's pool slots itself, before the run, through the instance's own
claim API and under the run's id: the run's step then finds its slot claimed and proceeds at
once. While it waits:
- a holder whose run has ended, or whose process is gone (each CLI run carries its host, pid
  and process start time as tags), has its run marked failed and its slots freed;
- a free slot that no waiting step was given is handed out: Dagster assigns freed slots only
  at the moment they are freed, so a step that queued just after that moment was never
  given the slot (the hang of two overlapping backfills, with no kill at all);
- it says what it waits for, held by whom and since when, and gives up after the bound
  (ENERGYMOBILE_POOL_WAIT_SECONDS) with a message saying what to do.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone

import dagster as dg
import psutil

HOST_TAG = "energymobile/host"
PID_TAG = "energymobile/pid"
PROCESS_STARTED_TAG = "energymobile/process_started"
"""The process's start time (seconds since the epoch): tells a reused pid from the owner."""
IN_PROGRESS = [
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]
UNBORN_RUN_GRACE_S = 20.0
"""A slot claimed for a run that does not exist this long after it was given is released:
the CLI creates its run within milliseconds of claiming (measured: 3-10 ms), so its process
died in between."""
POLL_S = 0.5
REPORT_EVERY_S = 30.0
PROCESS_START_TOLERANCE_S = 1.0


class PoolWaitTimeout(RuntimeError):
    """A run waited the longest it may for a pool slot held by a live run."""


def owner_tags() -> dict[str, str]:
    """Tags naming this process, recorded on every run the CLI executes."""
    me = psutil.Process()
    return {
        HOST_TAG: socket.gethostname(),
        PID_TAG: str(me.pid),
        PROCESS_STARTED_TAG: f"{me.create_time():.2f}",
    }


def pooled_steps(job: dg.JobDefinition) -> dict[str, str]:
    """Step key -> pool, for the job's steps that are in a pool (asset jobs: one op a step)."""
    nodes = job.graph.nodes
    return {node.name: node.definition.pool for node in nodes if node.definition.pool}


# -- who holds a pool, and whether their process still runs ------------------------------------


@dataclass(frozen=True)
class Holder:
    """A run holding (or given and about to claim) a slot of a pool."""

    run_id: str
    step_key: str
    since: datetime | None
    run: dg.DagsterRun | None

    @property
    def owner(self) -> str:
        """Who runs it, in words."""
        if self.run is None:
            return "a run not created yet"
        tags = self.run.tags
        if PID_TAG in tags:
            return f"energymobile CLI, pid {tags[PID_TAG]} on host {tags.get(HOST_TAG, '?')}"
        return "launched by the Dagster daemon"

    def describe(self) -> str:
        since = f" since {_clock(self.since)}" if self.since else ""
        status = self.run.status.value if self.run else "no run yet"
        return f"run {self.run_id[:8]} ({self.owner}; {status}){since}"


def holders(instance: dg.DagsterInstance, pool: str) -> list[Holder]:
    """The runs holding a slot of the pool, or given one and about to claim it."""
    info = instance.event_log_storage.get_concurrency_info(pool)
    since = {
        (p.run_id, p.step_key): p.assigned_timestamp
        for p in info.pending_steps
        if p.assigned_timestamp is not None
    }
    keys = dict.fromkeys([(s.run_id, s.step_key) for s in info.claimed_slots] + list(since))
    return [
        Holder(run_id, step_key, since.get((run_id, step_key)), instance.get_run_by_id(run_id))
        for run_id, step_key in keys
    ]


def dead_reason(holder: Holder, now: datetime) -> str | None:
    """Why the holder can no longer use its slot, or None if it may still be working (or runs
    elsewhere, where this process cannot look)."""
    run = holder.run
    if run is None:
        age = (now - holder.since).total_seconds() if holder.since else 0.0
        return "its run was never created" if age > UNBORN_RUN_GRACE_S else None
    if run.is_finished:
        return f"its run has ended ({run.status.value})"
    return process_gone(run.tags)


def process_gone(tags: Mapping[str, str]) -> str | None:
    """Why the CLI process named by a run's tags is gone, if it ran on this host and is gone."""
    if tags.get(HOST_TAG) != socket.gethostname() or PID_TAG not in tags:
        return None
    pid = int(tags[PID_TAG])
    where = f"pid {pid} on host {tags[HOST_TAG]}"
    try:
        started = psutil.Process(pid).create_time()
    except psutil.NoSuchProcess:
        return f"its process ({where}) is gone"
    except psutil.Error:
        return None  # cannot tell (another user's process): assume alive
    recorded = float(tags.get(PROCESS_STARTED_TAG, started))
    if abs(started - recorded) > PROCESS_START_TOLERANCE_S:
        return f"its process ({where}) is gone (the pid now belongs to another process)"
    return None


def release(instance: dg.DagsterInstance, run_id: str, run: dg.DagsterRun | None, why: str) -> None:
    """Mark the run failed (if it has not ended) and free every slot and queue place it has."""
    if run is not None and not run.is_finished:
        instance.report_run_failed(
            run, message=f"Marked failed by energymobile: {why}; its pool slots were freed."
        )
    instance.event_log_storage.free_concurrency_slots_for_run(run_id)


def fail_runs_of_dead_processes(
    instance: dg.DagsterInstance, report: Callable[[str], None] | None = None
) -> list[str]:
    """Mark failed every run still shown in progress whose CLI process on this host is gone
    (killed while parsing, loading or exporting: it held no slot, but the UI would show it
    running for ever), freeing anything it held; each is reported. Returns their ids."""
    runs = instance.get_runs(
        filters=dg.RunsFilter(statuses=IN_PROGRESS, tags={HOST_TAG: socket.gethostname()})
    )
    released = []
    for run in runs:
        why = process_gone(run.tags)
        if why:
            release(instance, run.run_id, run, why)
            released.append(run.run_id)
            if report:
                report(f"marked run {run.run_id[:8]} ({run.job_name}) failed: {why}")
    return released


def hand_out_free_slots(instance: dg.DagsterInstance, pool: str) -> bool:
    """Give a free slot to the first waiting step if none was given it; True if one was.

    Dagster assigns a freed slot to the queue when the slot is freed; a step that joined the
    queue in the instant after (it saw no free slot, then queued) is never given it."""
    storage = instance.event_log_storage
    info = storage.get_concurrency_info(pool)
    claimed = {(s.run_id, s.step_key) for s in info.claimed_slots}
    given = [p for p in info.pending_steps if p.assigned_timestamp is not None]
    waiting = [p for p in info.pending_steps if p.assigned_timestamp is None]
    free = info.slot_count - len(claimed)
    given_unclaimed = [p for p in given if (p.run_id, p.step_key) not in claimed]
    if waiting and free > len(given_unclaimed):
        storage.assign_pending_steps([pool])
        return True
    return False


# -- the claim, before the run -----------------------------------------------------------------


@contextmanager
def pool_slots(
    instance: dg.DagsterInstance,
    steps: Mapping[str, str],
    run_id: str,
    *,
    wait_s: float,
    report: Callable[[str], None],
) -> Iterator[None]:
    """Claim a slot of each pooled step's pool for the run `run_id` (to be created by the
    block), then free whatever the run still holds when the block ends, however it ends."""
    try:
        for step_key, pool in steps.items():
            _claim(instance, pool, run_id, step_key, wait_s, report)
        yield
    finally:
        if steps and instance.event_log_storage.supports_global_concurrency_limits:
            instance.event_log_storage.free_concurrency_slots_for_run(run_id)


def _claim(
    instance: dg.DagsterInstance,
    pool: str,
    run_id: str,
    step_key: str,
    wait_s: float,
    report: Callable[[str], None],
) -> None:
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits or not _pool_limited(instance, pool):
        return
    started = time.monotonic()
    waiting_since = datetime.now(timezone.utc)
    next_report = started
    seen: list[Holder] = []
    while True:
        if storage.claim_concurrency_slot(pool, run_id, step_key).is_claimed:
            if seen:
                report(f"{step_key}: got a slot of pool {pool} after {_waited(started)}")
            return
        now = datetime.now(timezone.utc)
        others = [h for h in holders(instance, pool) if h.run_id != run_id]
        released = False
        for holder in others:
            why = dead_reason(holder, now)
            if why:
                release(instance, holder.run_id, holder.run, why)
                report(
                    f"{step_key}: freed the slot of pool {pool} held by {holder.describe()}: {why}"
                )
                released = True
        if released or hand_out_free_slots(instance, pool):
            continue
        seen = others or seen
        held_by = "; ".join(h.describe() for h in seen) or "a step about to claim it"
        if time.monotonic() - started >= wait_s:
            raise PoolWaitTimeout(
                f"{step_key} waited {_waited(started)} (the most ENERGYMOBILE_POOL_WAIT_SECONDS "
                f"allows) for pool {pool}, held by {held_by}: not run. Run it again once that "
                "run ends; if that run is stuck, terminate it in the Dagster UI (Runs) or "
                "free its slot there (Deployment > Concurrency)"
            )
        if time.monotonic() >= next_report:
            report(
                f"{step_key}: waiting since {_clock(waiting_since)} for pool {pool} "
                f"(limit {_limit(instance, pool)}), held by {held_by}; giving up after "
                f"{wait_s:.0f} s (ENERGYMOBILE_POOL_WAIT_SECONDS)"
            )
            next_report = time.monotonic() + REPORT_EVERY_S
        time.sleep(POLL_S)


def _pool_limited(instance: dg.DagsterInstance, pool: str) -> bool:
    """Whether the pool has a limit, setting it to the instance's default limit the first time
    (as Dagster's own step claim does)."""
    storage = instance.event_log_storage
    if pool not in {limit.name for limit in storage.get_pool_limits()}:
        if storage.get_pool_config().default_pool_limit is None:
            return False
        storage.initialize_concurrency_limit_to_default(pool)
    return True


def _limit(instance: dg.DagsterInstance, pool: str) -> int:
    return instance.event_log_storage.get_concurrency_info(pool).limit or 0


def _clock(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _waited(started: float) -> str:
    return f"{time.monotonic() - started:.0f} s"
