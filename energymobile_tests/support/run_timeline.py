"""Where the seconds from a drop to its CSV go in a running `dagster dev`: read back from the
sensor's tick and the run's event log through the webserver's GraphQL API, for a printed
breakdown (the tests assert nothing on time: the machine is shared and noisy)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from energymobile_tests.support.dagster_dev import DagsterDev
from energymobile_tests.support.graphql import run, run_events, sensor_ticks


@dataclass(frozen=True)
class Timeline:
    """Seconds since the epoch of each stage of one cohort's load."""

    dropped: float
    """The drop's newest file was written."""
    requested: float
    """The sensor's tick that requested the run."""
    enqueued: float
    """The run was created in the queue."""
    dequeued: float
    """The queue daemon took it and handed it to the run launcher (RUN_STARTING)."""
    started: float
    """The run's process was up and began the run (RUN_START)."""
    exported: float
    """The cohort's CSV was written (s3_historical_csv materialized)."""
    finished: float
    ticks: tuple[float, ...] = ()
    """The sensor's ticks from the drop to the request (their spacing)."""
    steps: tuple[tuple[str, float], ...] = ()
    """Each step of the run and its seconds, start to success."""

    def breakdown(self) -> list[tuple[str, float]]:
        return [
            ("drop written -> request tick (settle + tick)", self.requested - self.dropped),
            ("request tick -> run enqueued", self.enqueued - self.requested),
            ("enqueued -> RUN_STARTING (run queue daemon)", self.dequeued - self.enqueued),
            ("RUN_STARTING -> RUN_START (run process start-up)", self.started - self.dequeued),
            ("RUN_START -> CSV written (the run's work)", self.exported - self.started),
        ]

    def report(self, title: str) -> str:
        total = self.exported - self.dropped
        lines = [f"{title}: {total:.1f} s from the drop's last write to its CSV"]
        lines += [f"  {label:<48} {seconds:6.1f} s" for label, seconds in self.breakdown()]
        lines.append(
            f"  {'CSV written -> run finished':<48} {self.finished - self.exported:6.1f} s"
        )
        gaps = [b - a for a, b in itertools.pairwise(self.ticks)]
        if gaps:
            lines.append(
                f"  sensor ticks meanwhile: {len(self.ticks)}, every "
                f"{min(gaps):.1f}-{max(gaps):.1f} s"
            )
        lines += [f"    step {key:<44} {seconds:6.1f} s" for key, seconds in self.steps]
        return "\n".join(lines)


def load_timeline(dev: DagsterDev, run_id: str, dropped: float, sensor: str) -> Timeline:
    """The timeline of the sensor's run `run_id` for a drop last written at `dropped`."""
    run_fields = run(dev.graphql, run_id)
    events = run_events(dev.graphql, run_id)
    ticks = sensor_ticks(dev.graphql, sensor)
    [tick] = [t for t in ticks if run_id in t["runIds"]]

    def first(kind: str, **where: Any) -> float:
        for event in events:
            if event["__typename"] == kind and all(event.get(k) == v for k, v in where.items()):
                return int(event["timestamp"]) / 1000
        kinds = sorted({e["__typename"] for e in events})
        raise AssertionError(f"no {kind} {where} in run {run_id}: only {kinds}")

    exported = next(
        int(e["timestamp"]) / 1000
        for e in events
        if e["__typename"] == "MaterializationEvent"
        and e["assetKey"]["path"] == ["s3_historical_csv"]
    )
    starts = {
        e["stepKey"]: int(e["timestamp"]) / 1000
        for e in events
        if e["__typename"] == "ExecutionStepStartEvent"
    }
    steps = tuple(
        (e["stepKey"], int(e["timestamp"]) / 1000 - starts[e["stepKey"]])
        for e in events
        if e["__typename"] == "ExecutionStepSuccessEvent" and e["stepKey"] in starts
    )
    requested = float(tick["timestamp"])
    return Timeline(
        dropped=dropped,
        requested=requested,
        enqueued=float(run_fields["creationTime"]),
        dequeued=first("RunStartingEvent"),
        started=first("RunStartEvent"),
        exported=exported,
        finished=float(run_fields["endTime"]),
        ticks=tuple(
            sorted(float(t["timestamp"]) for t in ticks if dropped <= t["timestamp"] <= requested)
        ),
        steps=steps,
    )
