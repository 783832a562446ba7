"""Waiting for a Dagster webserver's code location: shared by the `dg dev` fixture
(dagster_dev.py) and the production topology (production.py)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

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
