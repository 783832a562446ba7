"""Dagster's Celery executor on this machine: a throwaway Redis broker and Celery workers as
separate processes, each in a folder of its own (its own ENERGYMOBILE_HOME, DAGSTER_HOME and
TMPDIR), sharing nothing but what their environment names: the broker, the Dagster instance
(PostgreSQL), the warehouse and the object store.

`redis_broker()` starts Debian's redis-server on a free loopback port with a password (so a
leaked URL would show in the logs the tests read) and no persistence; `celery_workers()` starts
`celery -A energymobile.celery_app worker` processes and yields once each says it is ready.
Both stop what they started by pid (SIGTERM, then the process tree), also when a test fails.
"""

from __future__ import annotations

import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from energymobile.instance import PRODUCTION, ensure_instance_yaml
from energymobile.settings import CELERY_BROKER_VAR, EXECUTOR_VAR, HOME_VAR
from energymobile_tests.support.processes import StartedProcess, stop_process_tree
from energymobile_tests.support.servers import HOST, die_with_parent, free_port

START_TIMEOUT_S = 180.0
"""A worker imports the code location before it says ready (~5 s alone, more under load)."""
STOP_TIMEOUT_S = 30.0
READY = " ready."
"""What a Celery worker logs once it consumes from the broker (`<name>@<host> ready.`)."""


@dataclass(frozen=True)
class RedisBroker:
    port: int
    password: str = field(repr=False)
    host: str = HOST

    @property
    def url(self) -> str:
        """The broker (and result backend) URL; holds the password: export it, never log it."""
        return f"redis://:{self.password}@{self.host}:{self.port}/0"


class CeleryWorker(StartedProcess):
    """One started worker (its name is its Celery node name) and its pool's processes."""

    def processes(self) -> list[psutil.Process]:
        """The worker and its pool's processes (the prefork child runs the steps)."""
        try:
            main = psutil.Process(self.popen.pid)
            return [main, *main.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []


def redis_server_program() -> str:
    program = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not Path(program).exists():
        raise RuntimeError("redis-server is not installed: run scripts/bootstrap.sh test")
    return program


@contextmanager
def redis_broker(folder: Path) -> Iterator[RedisBroker]:
    """redis-server on a free loopback port until the block ends, its files under `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    broker = RedisBroker(port=free_port(), password=secrets.token_hex(16))
    config = folder / "redis.conf"  # the password in a file, not on a command line
    config.write_text(
        f"bind {HOST}\nport {broker.port}\nrequirepass {broker.password}\n"
        f'dir {folder}\nsave ""\nappendonly no\nlogfile {folder / "redis.log"}\n'
    )
    config.chmod(0o600)
    server = subprocess.Popen(
        [redis_server_program(), str(config)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        preexec_fn=die_with_parent,
    )
    try:
        _wait_for_redis(broker, server, folder / "redis.log")
        yield broker
    finally:
        stop_process_tree(server, STOP_TIMEOUT_S, signal.SIGTERM)


def _wait_for_redis(broker: RedisBroker, server: subprocess.Popen[bytes], log: Path) -> None:
    import redis

    client = redis.Redis(host=broker.host, port=broker.port, password=broker.password)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"redis-server exited early:\n{tail}")
        try:
            if client.ping():
                return
        except redis.RedisError:
            time.sleep(0.1)
    raise RuntimeError("redis-server did not answer within 30 s")


def worker_environment(
    base: Mapping[str, str], folder: Path, broker: RedisBroker
) -> dict[str, str]:
    """What one worker gets: the shared settings in `base` (warehouse, object store, landing,
    DAGSTER_PG_*, AWS), and its own home (unless `base` names one: the benchmark's workers
    share a local folder as their object store), Dagster home and temporary folder."""
    home = folder / "dagster_home"
    ensure_instance_yaml(home, PRODUCTION)
    (folder / "tmp").mkdir(parents=True, exist_ok=True)
    return {
        HOME_VAR: str(folder / "energymobile"),
        **base,
        EXECUTOR_VAR: "celery",
        CELERY_BROKER_VAR: broker.url,
        "DAGSTER_HOME": str(home),
        "TMPDIR": str(folder / "tmp"),
        "PYTHONUNBUFFERED": "1",
    }


@contextmanager
def celery_workers(
    count: int,
    root: Path,
    broker: RedisBroker,
    environment: Mapping[str, str],
    *,
    wait: bool = True,
) -> Iterator[list[CeleryWorker]]:
    """`count` workers, one step at a time each (concurrency 1: a worker stands for a
    machine), started together; yields once every one is ready (at once with wait=False:
    call `wait_until_ready` after other work); stops them after."""
    with ExitStack() as stack:
        workers = []
        for index in range(1, count + 1):
            name = f"worker{index}"
            folder = root / name
            folder.mkdir(parents=True, exist_ok=True)
            log = folder / "worker.log"
            command = [
                *(sys.executable, "-m", "celery", "-A", "energymobile.celery_app", "worker"),
                *("-n", f"{name}@%h", "--concurrency", "1", "--prefetch-multiplier", "1"),
                *("--loglevel", "INFO", "--without-gossip", "--without-mingle"),
            ]
            with log.open("wb") as out:
                popen = subprocess.Popen(
                    command,
                    cwd=folder,
                    env=worker_environment(environment, folder, broker),
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    preexec_fn=die_with_parent,
                )
            stack.callback(stop_process_tree, popen, STOP_TIMEOUT_S, signal.SIGTERM)
            workers.append(CeleryWorker(name, folder, log, popen))
        if wait:
            wait_until_ready(workers)
        yield workers


def wait_until_ready(workers: list[CeleryWorker]) -> None:
    """Until every worker has logged that it consumes from the broker."""
    deadline = time.monotonic() + START_TIMEOUT_S
    waiting = list(workers)
    while waiting and time.monotonic() < deadline:
        for worker in list(waiting):
            if worker.popen.poll() is not None:
                raise RuntimeError(f"{worker.name} exited early:\n{worker.log_tail()}")
            if READY in worker.log.read_text(errors="replace"):
                waiting.remove(worker)
        time.sleep(0.5)
    if waiting:
        tails = "\n".join(w.log_tail() for w in waiting)
        raise TimeoutError(f"workers not ready in {START_TIMEOUT_S:.0f} s:\n{tails}")
