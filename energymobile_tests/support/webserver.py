"""Waiting for a Dagster webserver's code location and stopping the processes a test started:
shared by the `dg dev` fixture (dagster_dev.py), the production topology (production.py) and
the Celery broker and workers (celery.py)."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from typing import Any

import psutil

LOCATION_STATUS = """
{ workspaceOrError { __typename ... on Workspace { locationEntries {
    name loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }
"""


def wait_until_location_loaded(
    graphql: Callable[[str], dict[str, Any]],
    location: str,
    *,
    exited: Callable[[], str | None],
    logs: Callable[[], str],
    what: str,
    timeout_s: float,
) -> None:
    """Until the webserver answers and `location` is loaded; fail with the logs when a process
    exited (`exited` names it), the location failed to load, or `timeout_s` passed."""
    deadline = time.monotonic() + timeout_s
    last = "no answer yet"
    while time.monotonic() < deadline:
        gone = exited()
        if gone:
            raise RuntimeError(f"{gone} exited early:\n{logs()}")
        try:
            entries = graphql(LOCATION_STATUS)["workspaceOrError"]["locationEntries"]
        except (OSError, AssertionError, KeyError) as err:  # not up yet
            last = repr(err)
        else:
            entry = {e["name"]: e for e in entries}.get(location)
            if entry and entry["loadStatus"] == "LOADED":
                if entry["locationOrLoadError"]["__typename"] == "PythonError":
                    raise RuntimeError(f"code location failed: {entry['locationOrLoadError']}")
                return
            last = f"location: {entry}"
        time.sleep(0.5)
    raise TimeoutError(f"{what} not ready in {timeout_s:.0f} s ({last}):\n{logs()}")


def stop_process_tree(
    popen: subprocess.Popen[bytes],
    timeout_s: float = 30.0,
    signum: signal.Signals = signal.SIGINT,
) -> None:
    """`signum` (SIGINT, as Ctrl-C would; SIGTERM for a Celery worker's warm shutdown), killed
    if still up after `timeout_s`; then end whatever of its process tree is left, by pid."""
    try:
        tree = psutil.Process(popen.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        tree = []
    if popen.poll() is None:
        popen.send_signal(signum)
        try:
            popen.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            popen.kill()
            popen.wait(timeout=10)
    alive = [p for p in tree if p.is_running()]
    for child in alive:
        child.terminate()
    _, still = psutil.wait_procs(alive, timeout=10)
    for child in still:
        child.kill()
