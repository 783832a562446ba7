"""The real `dg dev` (as `make dev` runs it: Dagster's webserver and daemon, the code location
declared by pyproject's [tool.dg]) on a free loopback port, with a temporary DAGSTER_HOME
holding the package's dagster.yaml and the given settings exported as ENERGYMOBILE_* variables.

Started through `env --default-signal=INT` (coreutils), which execs it with SIGINT at its
default disposition: a process started from a background job inherits SIGINT ignored, and
`dagster dev` then neither stops on SIGINT nor on SIGTERM. Stopped with SIGINT (it shuts its
webserver, daemon, code server and runs down), then any process left of its tree is ended by pid.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from energymobile.instance import ensure_instance_yaml
from energymobile.settings import LANDING_SETTLE_VAR, Settings
from energymobile_tests.support import REPO_ROOT
from energymobile_tests.support.cli import settings_environment
from energymobile_tests.support.processes import stop_process_tree
from energymobile_tests.support.servers import free_port
from energymobile_tests.support.webserver import wait_until_location_loaded

START_TIMEOUT_S = 180.0  # a bound, not a target: a loaded 2-core machine took over 90 s
STOP_TIMEOUT_S = 30.0


@dataclass
class DagsterDev:
    """A running `dagster dev`: where it answers, its settings and its log."""

    url: str
    settings: Settings
    dagster_home: Path
    log: Path
    process: subprocess.Popen[bytes]

    @property
    def landing(self) -> Path:
        return Path(self.settings.landing)

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """POST a query to the webserver's GraphQL API; raises on GraphQL errors."""
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(
            f"{self.url}/graphql", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            payload = json.load(response)
        if payload.get("errors"):
            raise AssertionError(f"GraphQL errors: {payload['errors']}")
        return payload["data"]

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:]


@contextmanager
def running_dagster_dev(root: Path, settings: Settings) -> Iterator[DagsterDev]:
    """`dagster dev` on this project with `settings`, its home and log under `root`, ready to
    answer; stopped (with its children) when the block ends. `root / "dagster_home"` may hold
    the state of earlier runs (the CLI's, say): `dagster dev` then starts on it."""
    dagster_home = root / "dagster_home"
    ensure_instance_yaml(dagster_home)
    if "://" not in settings.landing:  # a local landing folder (not s3://)
        Path(settings.landing).mkdir(parents=True, exist_ok=True)
    env = settings_environment(
        settings,
        dagster_home=dagster_home,
        **{LANDING_SETTLE_VAR: str(settings.landing_settle_seconds)},
        PYTHONUNBUFFERED="1",
    )
    port = free_port()
    log = root / "dagster_dev.log"
    command = [
        *("env", "--default-signal=INT"),  # execs dg: same pid, SIGINT not ignored
        str(Path(sys.executable).with_name("dg")),
        *("dev", "-h", "127.0.0.1", "-p", str(port)),
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    dev = DagsterDev(f"http://127.0.0.1:{port}", settings, dagster_home, log, process)
    try:
        _wait_until_loaded(dev, START_TIMEOUT_S)
        yield dev
    finally:
        stop_process_tree(process, STOP_TIMEOUT_S)


def _wait_until_loaded(dev: DagsterDev, timeout_s: float) -> None:
    """Until the webserver answers and the code location is loaded (or fail with the log)."""
    wait_until_location_loaded(
        dev.graphql,
        "energymobile",
        exited=lambda: "dagster dev" if dev.process.poll() is not None else None,
        logs=dev.log_tail,
        what="dagster dev",
        timeout_s=timeout_s,
    )
