"""What every throwaway server of energymobile.devtools shares: loopback, a free port, and a
child that dies with its parent."""

from __future__ import annotations

import contextlib
import ctypes
import signal
import socket
import sys

HOST = "127.0.0.1"
_PR_SET_PDEATHSIG = 1


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: the server gets SIGTERM if the process that started it dies (a crashed test
    run must not leave servers behind). Pass as `preexec_fn`."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
