"""A throwaway moto S3 server for tests and benchmarks: a real S3 HTTP endpoint on loopback.

`moto_server()` starts `python -m moto.server` on a free 127.0.0.1 port, waits until it
answers, yields its endpoint and stops it afterwards. moto is a dev dependency
(`moto[server]`); its state lives in the server process and is gone when it stops.
"""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from energymobile_tests.support.servers import free_port

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


@contextmanager
def moto_server(log: Path | None = None) -> Iterator[str]:
    """Run a moto S3 server until the block ends; yields `http://127.0.0.1:<port>`. Its
    output goes to `log` if given (shown when it fails to start)."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    output = log.open("wb") if log else subprocess.DEVNULL
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=output,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_until_ready(endpoint, server, log)
        yield endpoint
    finally:
        server.terminate()
        try:
            server.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        if log:
            output.close()  # type: ignore[union-attr]


def _wait_until_ready(endpoint: str, server: subprocess.Popen[bytes], log: Path | None) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"moto server exited early (is moto[server] installed?){_tail(log)}")
        try:
            with urllib.request.urlopen(f"{endpoint}/moto-api/data.json", timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"moto server not ready after {START_TIMEOUT_S:.0f} s{_tail(log)}")


def _tail(log: Path | None) -> str:
    return f":\n{log.read_text(errors='replace')[-2000:]}" if log and log.exists() else ""
