"""Pool slots claimed by the CLI before a run, on a real Dagster instance (SQLite storage in a
temporary DAGSTER_HOME with the project's dagster.yaml): dead holders are released, a free
slot nobody was given is handed out, a live holder is waited for with a report and a bound.

A dead holder is a run whose tags name a process that has exited (a real child process that
ran and ended); a live one names this test's own process.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import psutil
import pytest

from energymobile import run_slots
from energymobile.instance import ensure_instance_yaml
from energymobile.run_slots import (
    HOST_TAG,
    PID_TAG,
    PROCESS_STARTED_TAG,
    PoolWaitTimeout,
    fail_runs_of_dead_processes,
    owner_tags,
    pool_slots,
)

pytestmark = pytest.mark.integration

POOL = "historical_csv"
STEP = "combined_csv"


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[dg.DagsterInstance]:
    home = tmp_path / "dagster_home"
    ensure_instance_yaml(home)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        # The pool's limit (dagster.yaml's default_limit, 1), set as a first claim would.
        assert instance.event_log_storage.initialize_concurrency_limit_to_default(POOL)
        yield instance


def dead_process_tags() -> dict[str, str]:
    """Owner tags of a process that ran on this host and has exited."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    started = psutil.Process(child.pid).create_time()
    child.wait()
    return {
        HOST_TAG: socket.gethostname(),
        PID_TAG: str(child.pid),
        PROCESS_STARTED_TAG: f"{started:.2f}",
    }


def add_run(
    instance: dg.DagsterInstance, tags: dict[str, str], status=dg.DagsterRunStatus.STARTED
) -> str:
    run_id = str(uuid.uuid4())
    instance.add_run(
        dg.DagsterRun(job_name="combined_export", run_id=run_id, status=status, tags=tags)
    )
    return run_id


def claimed_by(instance: dg.DagsterInstance) -> list[str]:
    return [s.run_id for s in instance.event_log_storage.get_concurrency_info(POOL).claimed_slots]


def hold(instance: dg.DagsterInstance, run_id: str) -> None:
    assert instance.event_log_storage.claim_concurrency_slot(POOL, run_id, STEP).is_claimed


def claim(instance: dg.DagsterInstance, run_id: str, wait_s: float = 30.0) -> list[str]:
    """Claim through the CLI's path; returns what it reported. The slot is freed after."""
    lines: list[str] = []
    with pool_slots(instance, {STEP: POOL}, run_id, wait_s=wait_s, report=lines.append):
        assert claimed_by(instance) == [run_id]
    assert claimed_by(instance) == []
    return lines


def test_a_slot_held_by_a_run_whose_process_is_gone_is_freed_and_the_run_failed(instance):
    dead = add_run(instance, dead_process_tags())
    hold(instance, dead)
    lines = claim(instance, str(uuid.uuid4()))
    assert instance.get_run_by_id(dead).status == dg.DagsterRunStatus.FAILURE
    [freed] = [line for line in lines if "freed" in line]
    assert f"run {dead[:8]}" in freed and "is gone" in freed, lines
    [failure] = instance.all_logs(dead, of_type=dg.DagsterEventType.RUN_FAILURE)
    message = failure.dagster_event.message or ""
    assert "its process (pid" in message and "is gone" in message


def test_a_slot_held_by_a_run_that_has_ended_is_freed(instance):
    ended = add_run(instance, {}, status=dg.DagsterRunStatus.SUCCESS)
    hold(instance, ended)
    lines = claim(instance, str(uuid.uuid4()))
    assert any("its run has ended (SUCCESS)" in line for line in lines), lines


def test_a_reused_pid_is_not_mistaken_for_the_owner(instance):
    """The holder's pid now belongs to this very process, which started at another time."""
    tags = owner_tags() | {PROCESS_STARTED_TAG: "1000000000.00"}
    reused = add_run(instance, tags)
    hold(instance, reused)
    lines = claim(instance, str(uuid.uuid4()))
    assert any("the pid now belongs to another process" in line for line in lines), lines


def test_a_slot_given_to_a_run_never_created_is_freed_after_the_grace(instance, monkeypatch):
    """The CLI claims just before creating its run: a claim without a run that old died."""
    hold(instance, str(uuid.uuid4()))
    monkeypatch.setattr(run_slots, "UNBORN_RUN_GRACE_S", 0.0)
    lines = claim(instance, str(uuid.uuid4()))
    assert any("its run was never created" in line for line in lines), lines


def test_a_live_holder_is_waited_for_with_a_report_then_given_up_on(instance):
    alive = add_run(instance, owner_tags())
    hold(instance, alive)
    waiter = str(uuid.uuid4())
    lines: list[str] = []
    with (
        pytest.raises(PoolWaitTimeout) as caught,
        pool_slots(instance, {STEP: POOL}, waiter, wait_s=1.0, report=lines.append),
    ):
        pytest.fail("the slot is held by a live run")
    assert lines[0].startswith(f"{STEP}: waiting since ")
    assert f"held by run {alive[:8]} (energymobile CLI, pid " in lines[0]
    assert "giving up after 1 s (ENERGYMOBILE_POOL_WAIT_SECONDS)" in lines[0]
    assert f"held by run {alive[:8]}" in str(caught.value) and "terminate it" in str(caught.value)
    info = instance.event_log_storage.get_concurrency_info(POOL)
    assert claimed_by(instance) == [alive]  # untouched
    assert waiter not in {p.run_id for p in info.pending_steps}  # its place in the queue is gone
    assert instance.get_run_by_id(alive).status == dg.DagsterRunStatus.STARTED


def test_a_free_slot_that_no_waiting_step_was_given_is_handed_out(instance):
    """The race of two overlapping runs, replayed with Dagster's own storage calls: B looks
    for a free slot while A holds it, A frees it (Dagster hands freed slots to the queue at
    that moment, and B is not in it yet), then B joins the queue. Dagster never gives B the
    free slot; the CLI's claim does."""
    storage = instance.event_log_storage
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    hold(instance, a)
    assert not storage.has_unassigned_slots(POOL)  # B: none free, so B will queue unassigned
    storage.free_concurrency_slot_for_step(a, STEP)  # A ends
    storage.add_pending_step(POOL, b, STEP, should_assign=False)  # B queues
    for _ in range(3):  # Dagster's claim, as its step retries it: never given the slot
        assert not storage.claim_concurrency_slot(POOL, b, STEP).is_claimed
    assert claimed_by(instance) == []  # although the slot is free
    claim(instance, b, wait_s=5.0)


def test_runs_left_in_progress_by_dead_processes_are_marked_failed(instance):
    dead = add_run(instance, dead_process_tags())
    alive = add_run(instance, owner_tags())
    daemon = add_run(instance, {})  # launched by the daemon: Dagster's run monitoring's job
    assert fail_runs_of_dead_processes(instance) == [dead]
    status = {r: instance.get_run_by_id(r).status for r in (dead, alive, daemon)}
    assert status == {
        dead: dg.DagsterRunStatus.FAILURE,
        alive: dg.DagsterRunStatus.STARTED,
        daemon: dg.DagsterRunStatus.STARTED,
    }
