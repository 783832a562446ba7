"""An exclusive lock on a file between processes of one host: flock, which the kernel releases
when its holder dies, so a killed process never leaves it stuck."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class FileLockTimeout(TimeoutError):
    """Another process held the lock for longer than the caller would wait."""


@contextmanager
def exclusive_file_lock(path: Path, wait_s: float) -> Iterator[None]:
    """Hold an exclusive flock on `path` (created if missing; its folder must exist) for the
    block; FileLockTimeout after `wait_s` seconds of another process holding it."""
    import fcntl  # POSIX only: imported where a lock is taken

    deadline = time.monotonic() + wait_s
    with path.open("a") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise FileLockTimeout(
                        f"{path} held by another process for {wait_s:.0f} s"
                    ) from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
