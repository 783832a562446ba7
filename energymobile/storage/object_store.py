"""Where exports and archives go: a local folder or an S3 bucket, behind one small interface.

Every write replaces an object whole (a local write goes to a temporary file that is renamed;
an S3 PUT or multipart upload only becomes visible when complete), so readers never see half a
file.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit


@dataclass(frozen=True)
class StoredObject:
    key: str
    bytes: int
    sha256: str
    uri: str


class ObjectStore(ABC):
    """Keys are '/'-separated paths relative to the store's root (bucket and prefix)."""

    @abstractmethod
    def put_bytes(self, key: str, data: bytes) -> StoredObject: ...

    @abstractmethod
    def put_file(self, key: str, path: Path) -> StoredObject:
        """Upload a local file (streamed, never read whole into memory)."""

    @abstractmethod
    def get_bytes(self, key: str) -> bytes: ...

    @abstractmethod
    def download(self, key: str, path: Path) -> None: ...

    @abstractmethod
    def list_keys(self, prefix: str) -> list[str]:
        """Keys under `prefix`, sorted."""

    @abstractmethod
    def uri(self, key: str) -> str:
        """A location pandas can read directly (`file://…` or `s3://…`)."""

    def exists(self, key: str) -> bool:
        return key in self.list_keys(key)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


class LocalObjectStore(ObjectStore):
    """A folder standing in for S3: the embedded default."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError(f"object key {key!r} escapes the store")
        return path

    def put_bytes(self, key: str, data: bytes) -> StoredObject:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
        return StoredObject(key, len(data), hashlib.sha256(data).hexdigest(), self.uri(key))

    def put_file(self, key: str, path: Path) -> StoredObject:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        os.close(fd)
        shutil.copyfile(path, tmp)
        os.replace(tmp, target)
        return StoredObject(key, target.stat().st_size, file_sha256(target), self.uri(key))

    def get_bytes(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def download(self, key: str, path: Path) -> None:
        shutil.copyfile(self._path(key), path)

    def list_keys(self, prefix: str) -> list[str]:
        if not self.root.exists():
            return []
        keys = (
            p.relative_to(self.root).as_posix()
            for p in self.root.rglob("*")
            if p.is_file() and not p.name.startswith(".")
        )
        return sorted(k for k in keys if k.startswith(prefix))

    def uri(self, key: str) -> str:
        return self._path(key).as_uri()


def open_object_store(url: str) -> ObjectStore:
    """`file:///path` or a plain path for a folder; `s3://bucket[/prefix]` for S3."""
    parts = urlsplit(url)
    if parts.scheme in ("", "file"):
        return LocalObjectStore(Path(parts.path if parts.scheme else url))
    if parts.scheme == "s3":
        from energymobile.storage.s3 import S3ObjectStore

        return S3ObjectStore(bucket=parts.netloc, prefix=parts.path.strip("/"))
    raise ValueError(f"unsupported object store {url!r}: use file:///path or s3://bucket/prefix")
