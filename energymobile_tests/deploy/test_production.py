"""The production topology, end to end, on the shipped dagster.production.yaml: the installed
product served by a code server, dagster-webserver and dagster-daemon as separate processes, the
Dagster instance on PostgreSQL, runs queued and launched by the daemon in processes of their own,
the landing and the object store on (moto) S3, the warehouse on MariaDB.

A cohort dropped into the S3 landing is loaded to its CSV with no click. Then every local folder
the processes and runs wrote to is deleted, and `profile_merged` alone is re-materialized for the
cohort through the webserver's GraphQL API: it succeeds, reading hourly_readings and raw_logs
from the shared store (S3), as a run in another pod would."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from energymobile.defs.partitions import partition_key
from energymobile.rigs import DEFAULT_SITE
from energymobile.settings import Settings
from energymobile_tests.support.graphql import (
    IN_PROGRESS,
    TERMINAL,
    launch_run,
    run,
    run_events,
    runs,
)
from energymobile_tests.support.mariadb import MariaDBServer
from energymobile_tests.support.polling import wait_for
from energymobile_tests.support.postgres import PostgresServer
from energymobile_tests.support.production import ProductionDeployment, running_production
from energymobile_tests.support.s3 import S3_BUCKET, S3_LANDING_BUCKET, S3_REGION, MotoS3
from energymobile_tests.support.wheel import InstalledWheel

pytestmark = pytest.mark.integration

KEY = "2008-03-26"
LOAD_TIMEOUT_S = 420.0
RUN_TIMEOUT_S = 300.0
KEPT = {"dagster.yaml", "code_server.log", "webserver.log", "daemon.log"}
"""What the deletion keeps: each host's instance configuration and the processes' logs."""

INSTANCE = """
{ instance { runLauncher { name } runQueuingSupported
    daemonHealth { allDaemonStatuses { daemonType healthy required } } } }
"""
MATERIALIZATIONS = """
query Materializations($partition: String!) {
  assetOrError(assetKey: {path: ["profile_merged"]}) { ... on Asset {
    assetMaterializations(partitions: [$partition], limit: 1) { runId } } } }
"""


@pytest.mark.timeout(1800)
def test_a_dropped_cohort_loads_and_profile_merged_reruns_alone_from_the_shared_store(
    installed_wheel: InstalledWheel,
    postgres: PostgresServer,
    postgres_url: str,
    mariadb: MariaDBServer,
    mysql_url: str,
    moto_s3: MotoS3,
    s3_prefix: str,
    s3_settings: Settings,
    s3_drop,
    tmp_path: Path,
):
    started = time.monotonic()
    instance_env = {
        **postgres.dagster_instance_env(postgres_url),
        "DAGSTER_COMPUTE_LOGS_BUCKET": S3_BUCKET,
        "DAGSTER_COMPUTE_LOGS_PREFIX": f"{s3_prefix}/compute-logs",
        **_aws_environment(moto_s3),
    }
    root = tmp_path / "hosts"
    code_env = {
        "ENERGYMOBILE_HOME": str(root / "code_server" / "energymobile"),
        "ENERGYMOBILE_LANDING": s3_settings.landing,
        "ENERGYMOBILE_OBJECT_STORE": s3_settings.object_store,
        "ENERGYMOBILE_DATABASE_URL": mysql_url,
        "ENERGYMOBILE_MAX_SHORTFALL_HOURS": str(s3_settings.max_shortfall_hours),
    }
    with running_production(
        installed_wheel, root, instance_env=instance_env, code_env=code_env
    ) as prod:
        ready = time.monotonic()
        instance = prod.graphql(INSTANCE)["instance"]
        assert instance["runLauncher"]["name"] == "DefaultRunLauncher"
        assert instance["runQueuingSupported"]  # QueuedRunCoordinator: the daemon launches
        daemons = instance["daemonHealth"]["allDaemonStatuses"]
        assert {d["daemonType"] for d in daemons if d["required"]} >= {
            "SENSOR",
            "QUEUED_RUN_COORDINATOR",
            "MONITORING",  # run monitoring is on
        }

        # A technician's drop into the S3 landing, closed by a _SUCCESS marker.
        s3_drop(KEY)
        moto_s3.admin.put_object(
            Bucket=S3_LANDING_BUCKET, Key=f"{s3_prefix}/logs/{KEY}/_SUCCESS", Body=b""
        )
        csv_key = f"{s3_prefix}/oil-well-data-all-historical/cohort={KEY}/data.csv"
        wait_for(
            f"cohort {KEY}'s CSV exported to S3 by the runs the daemon launched",
            lambda: csv_key in moto_s3.keys(S3_BUCKET, csv_key),
            LOAD_TIMEOUT_S,
            prod.logs,
            interval_s=2,
        )
        loaded = time.monotonic()
        [load] = wait_for(
            "the landing sensor's run to finish",
            lambda: [r for r in _cohort_runs(prod, "cohort_pipeline") if r["status"] in TERMINAL],
            RUN_TIMEOUT_S,
            prod.logs,
        )
        assert load["status"] == "SUCCESS", _failures(prod, load["runId"])
        intermediates = f"{s3_prefix}/intermediate/"
        assert {
            f"{intermediates}{a}/{KEY}/{DEFAULT_SITE}" for a in ("raw_logs", "hourly_readings")
        } <= set(moto_s3.keys(S3_BUCKET, intermediates))
        wait_for("no run in progress", lambda: _quiet(prod), RUN_TIMEOUT_S, prod.logs)

        deleted = _delete_local_state(root)
        print(f"\ndeleted after the load ({len(deleted)}): {', '.join(deleted) or 'nothing'}")
        assert not (root / "code_server" / "energymobile").exists()

        run_id = _launch_profile_merged(prod, KEY)
        rerun = wait_for(
            "profile_merged's run to finish",
            lambda: _terminal(prod, run_id),
            RUN_TIMEOUT_S,
            prod.logs,
        )
        assert rerun["status"] == "SUCCESS", _failures(prod, run_id)
        assert rerun["stepKeysToExecute"] == ["profile_merged"]
        materialized = prod.graphql(MATERIALIZATIONS, {"partition": str(partition_key(KEY))})[
            "assetOrError"
        ]
        assert materialized["assetMaterializations"] == [{"runId": run_id}]
        stored = f"{intermediates}profile_merged/{KEY}/{DEFAULT_SITE}"
        assert stored in moto_s3.keys(S3_BUCKET, intermediates)
    print(
        f"production topology: ready in {ready - started:.0f} s, drop to CSV "
        f"{loaded - ready:.0f} s, total {time.monotonic() - started:.0f} s"
    )


def _aws_environment(moto_s3: MotoS3) -> dict[str, str]:
    """The pipeline's least-privilege identity on the moto server, as the moto_s3 fixture
    exports it to this process (no developer profile, no instance metadata)."""
    names = ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_EC2_METADATA_DISABLED")
    return {
        "AWS_ENDPOINT_URL": moto_s3.endpoint,
        "AWS_REGION": S3_REGION,
        "AWS_DEFAULT_REGION": S3_REGION,
        "AWS_ACCESS_KEY_ID": moto_s3.access_key_id,
        "AWS_SECRET_ACCESS_KEY": moto_s3.secret_access_key,
        **{name: os.environ[name] for name in names},
    }


def _cohort_runs(prod: ProductionDeployment, job: str) -> list[dict[str, Any]]:
    cohort = {"key": "dagster/partition", "value": str(partition_key(KEY))}
    return [r for r in runs(prod.graphql, tags=[cohort]) if r["jobName"] == job]


def _quiet(prod: ProductionDeployment) -> bool:
    """No run queued, starting or started right now."""
    return not runs(prod.graphql, statuses=IN_PROGRESS)


def _terminal(prod: ProductionDeployment, run_id: str) -> dict[str, Any] | None:
    found = run(prod.graphql, run_id)
    return found if found["status"] in TERMINAL else None


def _failures(prod: ProductionDeployment, run_id: str) -> str:
    events = run_events(prod.graphql, run_id)
    kinds = ("ExecutionStepFailureEvent", "RunFailureEvent")
    failed = [e for e in events if e["__typename"] in kinds]
    return f"run {run_id} failed: {failed}\n{prod.logs()}"


def _launch_profile_merged(prod: ProductionDeployment, key: str) -> str:
    """profile_merged alone for one cohort, as the UI's Materialize button sends it."""
    selector = {
        "repositoryLocationName": prod.location.name,
        "repositoryName": "__repository__",
        "jobName": "__ASSET_JOB",
        "assetSelection": [{"path": ["profile_merged"]}],
        "assetCheckSelection": [],
    }
    return launch_run(prod.graphql, selector, str(partition_key(key)))


def _delete_local_state(root: Path) -> list[str]:
    """Delete every file and folder the processes and their runs wrote under their folders (the
    pipeline's home, temporary files, Dagster's local storage), keeping each host's dagster.yaml,
    the processes' logs, and the sockets a live process listens on; returns what was deleted."""
    deleted = []
    for host in sorted(p for p in root.iterdir() if p.is_dir()):
        kept_folders = {host / "tmp", host / "dagster_home"}
        for path in sorted(host.rglob("*"), key=lambda p: len(p.parts), reverse=True):
            if path.name in KEPT or path in kept_folders:
                continue
            if path.is_symlink() or path.is_file():
                path.unlink()
            elif path.is_dir() and not any(path.iterdir()):
                path.rmdir()
            else:
                continue  # a socket of a running process, or a folder holding one
            deleted.append(str(path.relative_to(root)))
    return sorted(deleted)
