"""Waiting for something a server or a daemon does in its own time."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(
    what: str,
    probe: Callable[[], T | None],
    timeout_s: float,
    log: Callable[[], str] = lambda: "",
    *,
    interval_s: float = 1.0,
) -> T:
    """Poll `probe` until it returns something truthy, or fail saying what did not happen
    (with `log()`, e.g. the end of a server's output, read at that moment)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(interval_s)
    raise AssertionError(f"{what}: not within {timeout_s:.0f} s\n{log()}")
