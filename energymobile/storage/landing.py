"""The technicians' drop area, in two layouts that may live side by side:

- one rig (the layout before the fleet, still valid): `<landing>/logs/<cohort>/<CODE>.txt`,
  the default rig (energymobile/rigs.py DEFAULT_RIG);
- a fleet: `<landing>/sites/<site>/<rig>/logs/<cohort>/<CODE>.txt`, one folder per site and
  per rig within it (the names' rules: energymobile/rigs.py).

Either way one `<landing>/profile/profile.txt`, shared by every rig ("one profile.txt reused
for each well"). A local folder or S3 (same layout under a prefix) behind the same interface:
a backend lists folders and files and reads a file by its path under the root; the layout is
worked out here, once (docs/fleet.md, "Landing layout").

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
from energymobile.rigs import DEFAULT_RIG, InvalidRigName, Rig

if TYPE_CHECKING:
    from energymobile.storage.object_store import S3ClientFactory

LOGS_DIR = "logs"
PROFILE_DIR = "profile"
SITES_DIR = "sites"


def logs_dir(rig: Rig = DEFAULT_RIG) -> str:
    """Where a rig's cohort folders are, under the landing root: `logs` for the default rig
    (the single-rig layout), `sites/<site>/<rig>/logs` for any other."""
    return LOGS_DIR if rig == DEFAULT_RIG else f"{SITES_DIR}/{rig.site}/{rig.name}/{LOGS_DIR}"


@dataclass(frozen=True)
class LandedFile:
    name: str
    size: int
    modified: float
    """Seconds since the epoch."""


@dataclass(frozen=True)
class RigFolders:
    """The rigs a landing holds: every `sites/<site>/<rig>/logs/`, and the default rig when
    `logs/` is there; `ignored`: folders under sites/ whose names cannot be a site or rig."""

    rigs: list[Rig]
    ignored: dict[str, str]
    """Path under the landing -> why it is not a rig."""


class Landing(ABC):
    """The layout over a backend's four primitives (folders, files, bytes, a description)."""

    @abstractmethod
    def subfolders(self, relative: str) -> list[str]:
        """Names of the folders directly under `relative` (a path under the root), sorted,
        hidden names left out; empty if there is no such folder."""

    @abstractmethod
    def list_files(self, relative: str) -> dict[str, LandedFile]:
        """The files directly in folder `relative`, by name (hidden names left out)."""

    @abstractmethod
    def read_file(self, relative: str) -> bytes:
        """The bytes of the file at `relative`."""

    @abstractmethod
    def describe_path(self, relative: str = "") -> str:
        """Where `relative` (the root, for "") lives, for messages."""

    def rig_folders(self) -> RigFolders:
        """Every rig with a `logs/` folder in the landing, by site and name."""
        found: list[Rig] = [DEFAULT_RIG] if LOGS_DIR in self.subfolders("") else []
        ignored: dict[str, str] = {}
        for site in self.subfolders(SITES_DIR):
            for name in self.subfolders(f"{SITES_DIR}/{site}"):
                path = f"{SITES_DIR}/{site}/{name}"
                try:
                    rig = Rig(site, name)
                except InvalidRigName as err:
                    ignored[path] = str(err)
                    continue
                if rig == DEFAULT_RIG:
                    ignored[path] = f"the default rig's cohorts go in {LOGS_DIR}/, not here"
                elif LOGS_DIR in self.subfolders(path):
                    found.append(rig)
        return RigFolders(sorted(found), ignored)

    def cohort_folders(self, rig: Rig = DEFAULT_RIG) -> list[str]:
        """Names of the rig's cohort folders, sorted (valid cohort keys or not)."""
        return self.subfolders(logs_dir(rig))

    def list_cohort(self, folder: str, rig: Rig = DEFAULT_RIG) -> dict[str, LandedFile]:
        """The files of the rig's cohort folder, by name."""
        return self.list_files(f"{logs_dir(rig)}/{folder}")

    def read_cohort_file(self, folder: str, name: str, rig: Rig = DEFAULT_RIG) -> bytes:
        return self.read_file(f"{logs_dir(rig)}/{folder}/{name}")

    def read_profile(self) -> bytes:
        """The one profile.txt, shared by every rig."""
        return self.read_file(f"{PROFILE_DIR}/{PROFILE_FILE_NAME}")

    def describe(self, folder: str | None = None, rig: Rig = DEFAULT_RIG) -> str:
        """Where a rig's cohort (or the landing root) lives, for messages."""
        return self.describe_path(f"{logs_dir(rig)}/{folder}" if folder else "")


class LocalLanding(Landing):
    def __init__(self, root: Path) -> None:
        self.root = root

    def subfolders(self, relative: str) -> list[str]:
        path = self.root / relative
        if not path.is_dir():
            return []
        return sorted(p.name for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))

    def list_files(self, relative: str) -> dict[str, LandedFile]:
        path = self.root / relative
        if not path.is_dir():
            return {}
        files = {}
        for item in path.iterdir():
            if item.is_file() and not item.name.startswith("."):
                stat = item.stat()
                files[item.name] = LandedFile(item.name, stat.st_size, stat.st_mtime)
        return files

    def read_file(self, relative: str) -> bytes:
        return self._read_inside(relative)

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

    def describe_path(self, relative: str = "") -> str:
        return str(self.root / relative) if relative else str(self.root)


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


class RigView(Landing):
    """One rig's part of a landing, read through the single-rig interface (`cohort_folders()`,
    `list_cohort(folder)`, …, the rig implied): what the landing sensor scans, rig by rig."""

    def __init__(self, landing: Landing, rig: Rig) -> None:
        self.landing = landing
        self.rig = rig

    def subfolders(self, relative: str) -> list[str]:
        return self.landing.subfolders(relative)

    def list_files(self, relative: str) -> dict[str, LandedFile]:
        return self.landing.list_files(relative)

    def read_file(self, relative: str) -> bytes:
        return self.landing.read_file(relative)

    def describe_path(self, relative: str = "") -> str:
        return self.landing.describe_path(relative)

    def cohort_folders(self, rig: Rig | None = None) -> list[str]:
        return self.landing.cohort_folders(rig or self.rig)

    def list_cohort(self, folder: str, rig: Rig | None = None) -> dict[str, LandedFile]:
        return self.landing.list_cohort(folder, rig or self.rig)

    def read_cohort_file(self, folder: str, name: str, rig: Rig | None = None) -> bytes:
        return self.landing.read_cohort_file(folder, name, rig or self.rig)

    def describe(self, folder: str | None = None, rig: Rig | None = None) -> str:
        return self.landing.describe(folder, rig or self.rig)
