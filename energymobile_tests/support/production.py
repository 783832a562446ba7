"""Dagster as it runs in production, on this machine: the code location served by a code server
(`dagster code-server start`), `dagster-webserver` and `dagster-daemon` as separate processes
loading a workspace that points at it, all on the shipped dagster.production.yaml (PostgreSQL
storage, the queued run coordinator, the default run launcher: a process per run, started by the
code server). Every process runs from the installed product (a venv holding the wheel and the
locked dependencies, `installed_wheel`), in a folder of its own with its own DAGSTER_HOME and
TMPDIR, so nothing local is shared between them: only PostgreSQL, S3 and the warehouse.

Each is started through `env --default-signal=INT` (as energymobile_tests.support.dagster_dev
explains) and with `die_with_parent`, and stopped by pid: SIGINT, then its process tree.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from energymobile_tests.support import REPO_ROOT
from energymobile_tests.support.processes import StartedProcess, stop_process_tree
from energymobile_tests.support.servers import HOST, die_with_parent, free_port
from energymobile_tests.support.webserver import wait_until_location_loaded
from energymobile_tests.support.wheel import InstalledWheel

START_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class CodeLocation:
    """The code location as pyproject.toml's [tool.dg] declares it (the one declaration)."""

    module: str
    name: str

    @property
    def code_server_args(self) -> list[str]:
        """What `dagster code-server start` (or `dagster api grpc`) needs to serve it."""
        return ["-m", self.module, "--location-name", self.name]


def declared_code_location(pyproject: Path = REPO_ROOT / "pyproject.toml") -> CodeLocation:
    """<root_module>.definitions named code_location_name, as dg reads [tool.dg.project]."""
    project = tomllib.loads(pyproject.read_text())["tool"]["dg"]["project"]
    module = project.get("code_location_target_module") or f"{project['root_module']}.definitions"
    return CodeLocation(module=module, name=project["code_location_name"])


@dataclass
class ProductionDeployment:
    """The running processes, the webserver's URL and the folders each process owns."""

    url: str
    location: CodeLocation
    processes: dict[str, StartedProcess] = field(default_factory=dict)

    def graphql(self, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """POST a query to the webserver's GraphQL API; raises on GraphQL errors."""
        body = json.dumps({"query": query, "variables": dict(variables or {})}).encode()
        request = urllib.request.Request(
            f"{self.url}/graphql", data=body, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                payload = json.load(response)
        except urllib.error.HTTPError as error:  # GraphQL's own error, in the body
            raise AssertionError(f"GraphQL {error.code}: {error.read()[:2000]!r}") from None
        if payload.get("errors"):
            raise AssertionError(f"GraphQL errors: {payload['errors']}")
        return payload["data"]

    def logs(self) -> str:
        return "\n".join(p.log_tail() for p in self.processes.values())


def instance_home(wheel: InstalledWheel, folder: Path) -> Path:
    """A DAGSTER_HOME holding dagster.production.yaml, written by the installed package's own
    command (as docs/deploy.md and the Dockerfile do)."""
    home = folder / "dagster_home"
    written = wheel.run(
        "python", "-m", "energymobile.instance", "--production", "--into", str(home), cwd=folder
    )
    assert written.returncode == 0, written.stderr
    return home


@contextmanager
def running_production(
    wheel: InstalledWheel,
    root: Path,
    *,
    instance_env: Mapping[str, str],
    code_env: Mapping[str, str],
) -> Iterator[ProductionDeployment]:
    """Start the code server, the webserver and the daemon under `root`; yield once the
    webserver shows the location loaded; stop all three (and any run they started) after.

    `instance_env` (PostgreSQL, S3 compute logs, AWS) goes to all three; `code_env` (the
    pipeline's ENERGYMOBILE_* settings, the warehouse's password) to the code server alone,
    which passes it on to the runs it starts: the webserver and the daemon never hold it."""
    location = declared_code_location()
    code_port, web_port = free_port(), free_port()
    root.mkdir(parents=True, exist_ok=True)
    workspace = root / "workspace.yaml"
    workspace.write_text(
        "load_from:\n  - grpc_server:\n"
        f"      host: {HOST}\n      port: {code_port}\n      location_name: {location.name}\n"
    )
    commands = {
        "code_server": [
            *("dagster", "code-server", "start", "-h", HOST, "-p", str(code_port)),
            *location.code_server_args,
        ],
        "webserver": ["dagster-webserver", "-h", HOST, "-p", str(web_port), "-w", str(workspace)],
        "daemon": ["dagster-daemon", "run", "-w", str(workspace)],
    }
    deployment = ProductionDeployment(f"http://{HOST}:{web_port}", location)
    with ExitStack() as stack:
        for name, (program, *args) in commands.items():
            folder = root / name
            (folder / "tmp").mkdir(parents=True)
            env = dict(instance_env)
            if name == "code_server":
                env |= code_env
            env |= {
                "DAGSTER_HOME": str(instance_home(wheel, folder)),
                "TMPDIR": str(folder / "tmp"),
                "PYTHONUNBUFFERED": "1",
            }
            process = _start(wheel, name, folder, [str(wheel.bin(program)), *args], env)
            stack.callback(stop_process_tree, process.popen, STOP_TIMEOUT_S)
            deployment.processes[name] = process
            if name == "code_server":
                _wait_for_port(code_port, process)
        _wait_until_loaded(deployment, START_TIMEOUT_S)
        yield deployment


def _start(
    wheel: InstalledWheel, name: str, folder: Path, command: list[str], env: Mapping[str, str]
) -> StartedProcess:
    log = folder / f"{name}.log"
    with log.open("wb") as out:
        popen = subprocess.Popen(
            ["env", "--default-signal=INT", *command],  # execs: same pid, SIGINT not ignored
            cwd=folder,
            env=wheel.environment(**env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
        )
    return StartedProcess(name, folder, log, popen)


def _wait_for_port(port: int, process: StartedProcess, timeout_s: float = START_TIMEOUT_S) -> None:
    """Until the code server accepts connections (it loads the definitions first)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            raise RuntimeError(f"{process.name} exited early:\n{process.log_tail()}")
        with socket.socket() as probe:
            probe.settimeout(1)
            if probe.connect_ex((HOST, port)) == 0:
                return
        time.sleep(0.5)
    raise TimeoutError(f"{process.name} not listening in {timeout_s:.0f} s:\n{process.log_tail()}")


def _wait_until_loaded(deployment: ProductionDeployment, timeout_s: float) -> None:
    """Until the webserver answers and the code location is loaded (or fail with the logs)."""

    def exited() -> str | None:
        gone = [p.name for p in deployment.processes.values() if p.popen.poll() is not None]
        return ", ".join(gone) or None

    wait_until_location_loaded(
        deployment.graphql,
        deployment.location.name,
        exited=exited,
        logs=deployment.logs,
        what="webserver",
        timeout_s=timeout_s,
    )
