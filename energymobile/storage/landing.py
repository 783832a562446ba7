"""The technicians' drop area: `<landing>/logs/<cohort>/<CODE>.txt` and `<landing>/profile/`.

A local folder now; S3 (same layout under a prefix) behind the same interface.

The local folder is a boundary: a file is read only if its real path (every symbolic link
followed) lies inside the landing folder. A link to a file elsewhere on the machine (a
credentials file, `/etc/passwd`) is refused naming the file as the landing names it, without
reading a byte of the target; links that stay inside the landing (a file shared by two cohort
folders, a landing that is itself a link) are read like files. Only regular files are read
(a FIFO named `TS1.txt` would block the load forever). A link leading out, an unreadable file
or one that is not a regular file is an `InputError` naming the file relative to the landing
root; a missing one a FileNotFoundError, which `read_delivery` reports the same way.
"""

from __future__ import annotations

import errno
import os
import stat
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from energymobile.channels import PROFILE_FILE_NAME
from energymobile.ingest.errors import InputError

if TYPE_CHECKING:
    from energymobile.storage.object_store import S3ClientFactory

LOGS_DIR = "logs"
PROFILE_DIR = "profile"


@dataclass(frozen=True)
class LandedFile:
    name: str
    size: int
    modified: float
    """Seconds since the epoch."""


class Landing(ABC):
    @abstractmethod
    def cohort_folders(self) -> list[str]:
        """Names of the folders under logs/, sorted (valid cohort keys or not)."""

    @abstractmethod
    def list_cohort(self, folder: str) -> dict[str, LandedFile]:
        """The files in logs/<folder>/, by name."""

    @abstractmethod
    def read_cohort_file(self, folder: str, name: str) -> bytes: ...

    @abstractmethod
    def read_profile(self) -> bytes: ...

    @abstractmethod
    def describe(self, folder: str | None = None) -> str:
        """Where a cohort (or the landing root) lives, for messages."""


class LocalLanding(Landing):
    def __init__(self, root: Path) -> None:
        self.root = root

    def cohort_folders(self) -> list[str]:
        logs = self.root / LOGS_DIR
        if not logs.is_dir():
            return []
        return sorted(p.name for p in logs.iterdir() if p.is_dir() and not p.name.startswith("."))

    def list_cohort(self, folder: str) -> dict[str, LandedFile]:
        path = self.root / LOGS_DIR / folder
        if not path.is_dir():
            return {}
        files = {}
        for item in path.iterdir():
            if item.is_file() and not item.name.startswith("."):
                stat = item.stat()
                files[item.name] = LandedFile(item.name, stat.st_size, stat.st_mtime)
        return files

    def read_cohort_file(self, folder: str, name: str) -> bytes:
        return self._read_inside(f"{LOGS_DIR}/{folder}/{name}")

    def read_profile(self) -> bytes:
        return self._read_inside(f"{PROFILE_DIR}/{PROFILE_FILE_NAME}")

    def _read_inside(self, relative: str) -> bytes:
        """The bytes of `relative` (a path under the root), if it is a regular file whose real
        path lies inside the landing; InputError naming `relative` otherwise."""
        root = self.root.resolve()
        real = (self.root / relative).resolve()
        if not real.is_relative_to(root):
            raise InputError(relative, _LINK_OUT)
        flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(real, flags)  # FileNotFoundError: read_delivery names the file
        except PermissionError:
            raise InputError(
                relative, "cannot be read: permission denied (make it readable to the loader)"
            ) from None
        except OSError as err:
            if err.errno == errno.ELOOP:  # replaced by a link since it was resolved
                raise InputError(relative, _LINK_OUT) from None
            raise
        with os.fdopen(fd, "rb") as file:
            opened = _opened_path(fd)
            if opened is not None and not opened.is_relative_to(root):
                raise InputError(relative, _LINK_OUT)  # a folder on the way was swapped
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise InputError(relative, "not a regular file: deliver the file itself")
            os.set_blocking(fd, True)
            return file.read()

    def describe(self, folder: str | None = None) -> str:
        path = self.root / LOGS_DIR / folder if folder else self.root
        return str(path)


_LINK_OUT = (
    "a symbolic link to a file outside the landing folder: refused, nothing read (deliver the "
    "file itself, or a link that stays inside the landing)"
)


def _opened_path(fd: int) -> Path | None:
    """Where an open file really is, on Linux (None elsewhere): checked after opening, so a
    link swapped in between the check and the open cannot lead the read outside."""
    try:
        return Path(os.readlink(f"/proc/self/fd/{fd}"))
    except OSError:
        return None


def open_landing(location: str, s3: S3ClientFactory | None = None) -> Landing:
    """A folder path (or file:// URL), or s3://bucket/prefix read through the given
    S3 client settings (default: boto3's standard AWS environment)."""
    parts = urlsplit(location)
    if parts.scheme in ("", "file"):
        return LocalLanding(Path(parts.path if parts.scheme else location))
    if parts.scheme == "s3":
        from energymobile.storage.s3 import S3Landing

        return S3Landing(bucket=parts.netloc, prefix=parts.path.strip("/"), s3=s3)
    raise ValueError(f"unsupported landing {location!r}: use a folder or s3://bucket/prefix")
