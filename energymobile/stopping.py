"""Ctrl-C (SIGINT) and SIGTERM stop the CLI at any point, with one clear line.

Three things stand in the way, each handled here:
- While a run executes, Dagster installs its own handler for both signals: inside a step it
  raises `DagsterExecutionInterruptedError` (the step and run fail; nothing half-written is
  visible, every write replaces its target whole), between steps it only sets a flag, which
  is dropped when the run returns. So the interpreter also writes every signal into a pipe
  (`signal.set_wakeup_fd`), which no handler swap affects; a watcher thread reads it, and
  `raise_if_stopped` (called after each run) stops the CLI before it starts the next one.
- A library may not let go at once: boto3's transfer manager, interrupted, waits for the
  requests its threads have in flight, however long a stalled endpoint takes. So the watcher
  gives the CLI STOP_GRACE_S to wind down after the first signal (a second signal: none),
  then runs the registered clean-ups (the current run marked failed, its pool slots freed)
  and ends the process.
- Worker threads left blocked would keep the interpreter from exiting; the command's entry
  point leaves with `os._exit` once stopped (cli.entry).
- A handler raises wherever the main thread happens to be, also inside a weakref or garbage
  collector callback, where Python cannot pass the exception on: it prints "Exception ignored
  in: …" and a traceback, and drops it. Within `stop_on_signals` such a dropped interruption
  is not printed (`_quiet_interruptions`); the watcher saw the signal and ends the CLI anyway.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
STOP_GRACE_S = 10.0
"""How long the CLI may take to wind down after the first SIGINT/SIGTERM before it is ended."""
_watchers: list[_Watcher] = []
_cleanups: list[Callable[[], None]] = []


class Stopped(BaseException):
    """The user (Ctrl-C) or the system (SIGTERM) asked the CLI to stop. A BaseException, as
    KeyboardInterrupt is, so that no `except Exception` on the way swallows it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def name(self) -> str:
        return signal_name(self.signum)

    @property
    def exit_code(self) -> int:
        """128 + the signal's number, as a shell reports a process ended by it."""
        return 128 + self.signum


def signal_name(signum: int) -> str:
    return "Ctrl-C (SIGINT)" if signum == signal.SIGINT else signal.Signals(signum).name


def _raise_stopped(signum: int, _frame: FrameType | None) -> None:
    raise Stopped(signum)


def _quiet_interruptions(
    previous: Callable[[sys.UnraisableHookArgs], object],
) -> Callable[[sys.UnraisableHookArgs], None]:
    """An unraisable-exception hook that drops interruptions (Stopped, KeyboardInterrupt,
    Dagster's DagsterExecutionInterruptedError: BaseExceptions that are not Exceptions) and
    passes anything else to `previous`."""

    def hook(unraisable: sys.UnraisableHookArgs) -> None:
        if isinstance(unraisable.exc_value, BaseException) and not isinstance(
            unraisable.exc_value, Exception
        ):
            return
        previous(unraisable)

    return hook


class _Watcher(threading.Thread):
    """Reads the signals the interpreter writes into the wakeup pipe; ends the process if the
    CLI has not wound down STOP_GRACE_S after the first, or at the second."""

    def __init__(self, read_end: int) -> None:
        super().__init__(name="energymobile-stop-watcher", daemon=True)
        self.read_end = read_end
        self.received: list[int] = []
        self.finished = threading.Event()

    def run(self) -> None:
        deadline: float | None = None
        while not self.finished.is_set():
            wait = 0.2 if deadline is None else max(0.0, min(0.2, deadline - time.monotonic()))
            ready, _, _ = select.select([self.read_end], [], [], wait)
            if ready:
                with contextlib.suppress(BlockingIOError, OSError):
                    stops = [s for s in os.read(self.read_end, 512) if s in STOP_SIGNALS]
                    self.received.extend(stops)
                if len(self.received) >= 2:
                    self._force("a second signal")
                if self.received and deadline is None:
                    deadline = time.monotonic() + STOP_GRACE_S
            if deadline is not None and time.monotonic() >= deadline and not self.finished.is_set():
                self._force(f"still busy {STOP_GRACE_S:.0f} s later")

    def _force(self, why: str) -> None:
        signum = self.received[-1]
        print(
            f"energymobile: stopped by {signal_name(signum)} ({why}: ended at once; the run "
            "is marked failed and nothing half-written is visible): run the command again "
            "to finish",
            file=sys.stderr,
            flush=True,
        )
        for cleanup in reversed(_cleanups):
            with contextlib.suppress(Exception):
                cleanup()
        os._exit(128 + signum)


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM raise Stopped in the main thread, and end the
    process if it has not wound down in STOP_GRACE_S (elsewhere than the main thread: no
    effect). Handlers and the wakeup fd are restored after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)
    os.set_blocking(write_end, False)
    previous_handlers = {s: signal.getsignal(s) for s in STOP_SIGNALS}
    previous_fd = signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
    previous_hook = sys.unraisablehook
    sys.unraisablehook = _quiet_interruptions(previous_hook)
    watcher = _Watcher(read_end)
    watcher.start()
    _watchers.append(watcher)
    try:
        for signum in STOP_SIGNALS:
            signal.signal(signum, _raise_stopped)
        yield
    finally:
        for signum, handler in previous_handlers.items():
            signal.signal(signum, handler)
        signal.set_wakeup_fd(previous_fd)
        sys.unraisablehook = previous_hook
        watcher.finished.set()
        watcher.join()
        _watchers.remove(watcher)
        os.close(read_end)
        os.close(write_end)


@contextmanager
def cleanup_if_forced(cleanup: Callable[[], None]) -> Iterator[None]:
    """Within the block, a forced stop runs `cleanup` (from the watcher thread) before the
    process ends: e.g. mark the current run failed and free its pool slots."""
    _cleanups.append(cleanup)
    try:
        yield
    finally:
        _cleanups.remove(cleanup)


def raise_if_stopped() -> None:
    """Raise Stopped if SIGINT or SIGTERM arrived (whichever handler was in place then); no
    effect outside `stop_on_signals`."""
    if not _watchers:
        return
    watcher = _watchers[-1]
    deadline = time.monotonic() + 0.5  # the watcher reads the pipe within 0.2 s
    while not watcher.received and time.monotonic() < deadline and _pending(watcher.read_end):
        time.sleep(0.01)
    if watcher.received:
        raise Stopped(watcher.received[-1])


def _pending(fd: int) -> bool:
    """Whether the pipe holds bytes the watcher has not read yet."""
    ready, _, _ = select.select([fd], [], [], 0)
    return bool(ready)
