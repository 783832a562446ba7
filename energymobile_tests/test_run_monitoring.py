"""A run the daemon launched, killed while it holds the combined CSV's pool slot, blocks no
later run: the real `dagster dev` with the repository's dagster.yaml (run monitoring on).

The object store is in S3 (moto server) behind a proxy that holds the combined file's upload
unanswered, so the first rebuild is caught holding its slot; its run worker (the process the
code server started for it) is then SIGKILLed. The code server marks the run failed, run
monitoring frees the slots of ended runs, and the second rebuild, launched through GraphQL as
a click in the UI would, runs and succeeds. Without `free_slots_after_run_end_seconds` the
dead run kept its slot and the second rebuild stayed queued for ever.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from energymobile.definitions import COMBINED_JOB
from energymobile.rigs import DEFAULT_SITE
from energymobile.storage.exports import COMBINED_KEY
from energymobile_tests.support.dagster_dev import DagsterDev, running_dagster_dev
from energymobile_tests.support.fault_proxy import FaultProxy
from energymobile_tests.support.graphql import (
    REPOSITORY,
    add_site,
    launch_run,
    run,
    stop_sensors,
)
from energymobile_tests.support.polling import wait_for
from energymobile_tests.support.s3 import MotoS3

pytestmark = [pytest.mark.ui, pytest.mark.timeout(600)]

RUN_TIMEOUT_S = 180.0


@pytest.fixture
def dev(
    s3_settings, moto_s3: MotoS3, tmp_path: Path, monkeypatch
) -> Iterator[tuple[DagsterDev, FaultProxy]]:
    """`dagster dev` whose runs reach S3 through the proxy (AWS_ENDPOINT_URL), sensors off."""
    port = int(moto_s3.endpoint.rsplit(":", 1)[1])
    with FaultProxy("127.0.0.1", port) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.endpoint)
        with running_dagster_dev(tmp_path, s3_settings) as dev:
            stop_sensors(dev.graphql)
            yield dev, proxy
            proxy.release()


def launch_combined(dev: DagsterDev) -> str:
    """A rebuild of the default site's combined CSV (its site added first, as the landing
    sensor or the CLI would), as the UI launches it."""
    add_site(dev.graphql, DEFAULT_SITE)
    return launch_run(dev.graphql, {**REPOSITORY, "jobName": COMBINED_JOB}, DEFAULT_SITE)


def status(dev: DagsterDev, run_id: str) -> str:
    return run(dev.graphql, run_id)["status"]


def process_talking_to(dev: DagsterDev, port: int) -> psutil.Process | None:
    """The process of dagster dev's tree with a connection to the proxy: the run worker."""
    for child in psutil.Process(dev.process.pid).children(recursive=True):
        try:
            connections = child.net_connections(kind="tcp")
        except psutil.Error:
            continue
        if any(c.raddr and c.raddr.port == port for c in connections):
            return child
    return None


def wait_status(dev: DagsterDev, run_id: str, wanted: set[str]) -> str:
    seen: dict[str, Any] = {}

    def probe() -> str | None:
        seen["status"] = status(dev, run_id)
        return seen["status"] if seen["status"] in wanted else None

    return wait_for(
        f"run {run_id[:8]} to reach {wanted}",
        probe,
        RUN_TIMEOUT_S,
        lambda: f"last status {seen.get('status')}\n{dev.log_tail()}",
        interval_s=1.0,
    )


def test_a_run_killed_holding_the_pool_slot_blocks_no_later_run(dev):
    dagster_dev, proxy = dev
    proxy.hold_requests(f"/{COMBINED_KEY}")
    killed = launch_combined(dagster_dev)
    assert proxy.held.wait(RUN_TIMEOUT_S), dagster_dev.log_tail()
    worker = wait_for(
        "the run worker holding the upload",
        lambda: process_talking_to(dagster_dev, proxy.port),
        30,
        dagster_dev.log_tail,
        interval_s=0.2,
    )
    assert status(dagster_dev, killed) == "STARTED"
    worker.send_signal(signal.SIGKILL)
    proxy.release()

    assert wait_status(dagster_dev, killed, {"FAILURE", "CANCELED"}) == "FAILURE"
    later = launch_combined(dagster_dev)
    assert wait_status(dagster_dev, later, {"SUCCESS", "FAILURE", "CANCELED"}) == "SUCCESS"
