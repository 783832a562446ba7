"""What every throwaway server of the tests shares: loopback, a free port, a child that dies
with its parent, and (ThrowawayServer) the URLs, start loop, log and per-test databases of a
database server run from a temporary folder.

Why not pytest-postgresql and pytest-mysql: the first cannot start PostgreSQL as root (CI's
user), the second runs MariaDB under mysqld_safe, which restarts a server a test has just
SIGKILLed; test_server_plugins.py shows both with the plugins' own executors."""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import shutil
import signal
import socket
import subprocess
import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar
from urllib.parse import quote

from energymobile.settings import redact_url

if TYPE_CHECKING:
    from typing_extensions import Self  # typing.Self is Python >= 3.11

HOST = "127.0.0.1"
DEFAULT_DATABASE = "energymobile"
DEFAULT_USER = "energymobile"
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


class ServerStartError(RuntimeError):
    """A throwaway server did not come up; the message carries the tail of its log."""


@dataclass
class ThrowawayServer(ABC):
    """A database server run from a temporary folder on a loopback port, and the credentials
    of its application user. Subclasses say how to spawn, probe, kill and administer their own
    server; what every such server shares (URLs, the start and stop loops, the log, per-test
    databases) is here."""

    DRIVER: ClassVar[str]
    PROGRAM: ClassVar[str]
    """The server's program, as its errors name it."""
    START_ERROR: ClassVar[type[ServerStartError]] = ServerStartError
    START_TIMEOUT_S: ClassVar[float] = 60.0
    STOP_SIGNAL: ClassVar[signal.Signals] = signal.SIGTERM
    """The server's clean and quick shutdown."""
    STOP_TIMEOUT_S: ClassVar[float] = 60.0

    workdir: Path
    port: int
    database: str
    user: str
    password: str = field(repr=False)
    host: str = HOST
    _admin_password: str = field(default="", repr=False)
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _databases_made: Iterator[int] = field(default_factory=lambda: itertools.count(1), repr=False)

    @property
    def datadir(self) -> Path:
        return self.workdir / "data"

    @property
    @abstractmethod
    def error_log(self) -> Path: ...

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        """The server's (main) process id."""
        return self._process.pid if self._process else None

    def url(self, database: str | None = None, password: str | None = None) -> str:
        """The SQLAlchemy URL of the application user (it holds the password: export it,
        never log it; `safe_url` is for display)."""
        secret = quote(self.password if password is None else password, safe="")
        user = quote(self.user, safe="")
        return (
            f"{self.DRIVER}://{user}:{secret}@{self.host}:{self.port}/{database or self.database}"
        )

    @property
    def safe_url(self) -> str:
        return redact_url(self.url())

    def start(self, timeout: float | None = None) -> None:
        """Start the server on its existing data directory (again, after `kill`), on another
        free port if some other process took this one meanwhile."""
        if self.running:
            return
        for attempt in range(3):
            self._spawn()
            try:
                self._wait_ready(timeout or self.START_TIMEOUT_S)
                return
            except ServerStartError:
                if attempt < 2 and self._port_was_taken():
                    self.port = free_port()
                    continue
                raise

    def create_database(self, name: str) -> str:
        """A new empty database the application user may use as production does (and no
        more); returns its URL. Tests use one per test so each starts from an empty schema."""
        if not name.replace("_", "").isalnum():
            raise ValueError(f"database names here are letters, digits and _: {name!r}")
        self._create_database(name)
        return self.url(name)

    @abstractmethod
    def _create_database(self, name: str) -> None:
        """Create it as the administrator, and grant the application user its privileges."""

    @abstractmethod
    def drop_database(self, name: str) -> None: ...

    @contextlib.contextmanager
    def fresh_database(self) -> Iterator[str]:
        """A new empty database (`test_<n>`) for one test, dropped after it; yields its URL,
        which holds the password (never print it)."""
        name = f"test_{next(self._databases_made)}"
        url = self.create_database(name)
        try:
            yield url
        finally:
            self.drop_database(name)

    @abstractmethod
    def kill(self) -> None:
        """SIGKILL, as a power cut would: no shutdown, uncommitted work left to recovery."""

    def stop(self, *, keep_files: bool = False) -> None:
        """Shut down cleanly (STOP_SIGNAL), killed if not down within STOP_TIMEOUT_S; then
        delete the folder (unless `keep_files`)."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(self.STOP_SIGNAL)
            try:
                self._process.wait(timeout=self.STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.kill()
        self._process = None
        if not keep_files:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def error_log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.error_log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"

    @abstractmethod
    def _spawn(self) -> None: ...

    def _wait_ready(self, timeout: float) -> None:
        """Return once the server answers; raise START_ERROR (with the log) if not."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running:
                raise self.START_ERROR(
                    f"{self.PROGRAM} exited during start-up; its log ({self.error_log}):\n"
                    + self.error_log_tail()
                )
            if self._answers():
                return
            time.sleep(0.05)
        self.kill()
        raise self.START_ERROR(
            f"{self.PROGRAM} not ready after {timeout:.0f} s; its log:\n" + self.error_log_tail()
        )

    @abstractmethod
    def _answers(self) -> bool:
        """Whether the administrator can connect now."""

    @abstractmethod
    def _port_was_taken(self) -> bool:
        """Whether the last start failed because another process holds the port."""
