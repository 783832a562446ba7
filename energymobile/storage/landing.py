"""The technicians' drop area: `<landing>/logs/<cohort>/<CODE>.txt` and `<landing>/profile/`.

A local folder now; S3 (same layout under a prefix) behind the same interface.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from energymobile.channels import PROFILE_FILE_NAME

if TYPE_CHECKING:
    from dagster_aws.s3 import S3Resource

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
        return (self.root / LOGS_DIR / folder / name).read_bytes()

    def read_profile(self) -> bytes:
        return (self.root / PROFILE_DIR / PROFILE_FILE_NAME).read_bytes()

    def describe(self, folder: str | None = None) -> str:
        path = self.root / LOGS_DIR / folder if folder else self.root
        return str(path)


def open_landing(location: str, s3: S3Resource | None = None) -> Landing:
    """A folder path (or file:// URL), or s3://bucket/prefix read through the given dagster-aws
    `S3Resource` (default: boto3's standard AWS environment)."""
    parts = urlsplit(location)
    if parts.scheme in ("", "file"):
        return LocalLanding(Path(parts.path if parts.scheme else location))
    if parts.scheme == "s3":
        from energymobile.storage.s3 import S3Landing

        return S3Landing(bucket=parts.netloc, prefix=parts.path.strip("/"), s3=s3)
    raise ValueError(f"unsupported landing {location!r}: use a folder or s3://bucket/prefix")
