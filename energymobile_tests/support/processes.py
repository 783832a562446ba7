"""The processes a test starts (servers, workers): what it keeps of each, and how it stops one
with everything it started. Shared by the `dg dev` fixture (dagster_dev.py), the production
topology (production.py) and the Celery broker and workers (celery.py)."""

from __future__ import annotations

import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psutil


@dataclass
class StartedProcess:
    """One started process: its name, folder, log and Popen."""

    name: str
    folder: Path
    log: Path
    popen: subprocess.Popen[bytes]

    def log_tail(self, chars: int = 3000) -> str:
        return f"--- {self.name} ---\n" + self.log.read_text(errors="replace")[-chars:]


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
