"""Where exports and archives go: a local folder or an S3 bucket, behind one small interface.

Every write replaces an object whole (a local write goes to a temporary file that is renamed;
an S3 PUT or multipart upload only becomes visible when complete), so readers never see half a
file.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import secrets
import shutil
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from energymobile.settings import local_folder


class S3ClientFactory(Protocol):
    """What gives an S3 client: dagster-aws's `S3Resource`, or our `S3ClientResource` (which
    imports dagster-aws only when asked for a client)."""

    def get_client(self) -> Any: ...


READ_CHUNK_BYTES = 1 << 20
NEW_FILE_MODE = 0o666
"""Mode asked for new files; the process umask takes its bits away (022: rw-r--r--)."""
CONTENT_TYPES = {
    "csv": "text/csv",
    "parquet": "application/vnd.apache.parquet",
    "json": "application/json",
    "zst": "application/zstd",
    "nc": "application/x-netcdf",
}


@dataclass(frozen=True)
class StoredObject:
    key: str
    bytes: int
    sha256: str
    uri: str
    rows: int | None = None
    """Data rows (CSV lines without the header, or a received file's rows), where known."""


@dataclass(frozen=True)
class ObjectVersion:
    """What a listing says about a stored object: its size, and a token that changes whenever
    the object is rewritten (S3: the ETag; a folder: size, modification time and inode)."""

    bytes: int
    version: str


class ObjectStore(ABC):
    """Keys are '/'-separated paths relative to the store's root (bucket and prefix).

    `metadata` (short ASCII strings) is kept with the object where the store can (S3 user
    metadata); the local folder has nowhere to keep it and ignores it."""

    @abstractmethod
    def put_bytes(
        self,
        key: str,
        data: bytes,
        *,
        rows: int | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> StoredObject: ...

    @abstractmethod
    def put_file(
        self,
        key: str,
        path: Path,
        *,
        rows: int | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> StoredObject:
        """Upload a local file (streamed, never read whole into memory)."""

    @abstractmethod
    def put_stream(
        self, key: str, chunks: Iterable[bytes], *, metadata: Mapping[str, str] | None = None
    ) -> StoredObject:
        """Write the concatenated chunks as one object without holding them all in memory.
        The object appears only when the stream ends; if it fails, the old object stays."""

    @abstractmethod
    def get_bytes(self, key: str) -> bytes: ...

    @abstractmethod
    def iter_chunks(self, key: str, chunk_bytes: int = READ_CHUNK_BYTES) -> Iterator[bytes]:
        """The object's bytes in chunks of at most `chunk_bytes`, streamed."""

    @abstractmethod
    def download(self, key: str, path: Path) -> None: ...

    @abstractmethod
    def list_keys(self, prefix: str) -> list[str]:
        """Keys under `prefix`, sorted."""

    @abstractmethod
    def list_versions(self, prefix: str) -> dict[str, ObjectVersion]:
        """Each key under `prefix` with its size and version, from one listing (no reads)."""

    @abstractmethod
    def uri(self, key: str) -> str:
        """A location pandas can read directly (`file://…` or `s3://…`)."""

    def exists(self, key: str) -> bool:
        return key in self.list_keys(key)

    def _stored(self, key: str, size: int, sha256: str, rows: int | None = None) -> StoredObject:
        """What a write returns: the object written, with its size, digest and URI."""
        return StoredObject(key, size, sha256, self.uri(key), rows)


class ObjectStoreError(OSError):
    """An object could not be written or read; the message says which, where, why and what to
    do, in one line."""

    @classmethod
    def writing(cls, path: Path, err: OSError) -> ObjectStoreError:
        reason = err.strerror or type(err).__name__
        hint = _HINTS.get(err.errno or 0, "")
        return cls(err.errno, f"cannot write {path}: {reason}{hint}")

    def __str__(self) -> str:
        return str(self.strerror)


_HINTS = {
    errno.ENOSPC: " (the disk is full): free space there, or point ENERGYMOBILE_OBJECT_STORE "
    "at another disk, and re-run",
    errno.EDQUOT: " (disk quota exceeded): free space or raise the quota, and re-run",
    errno.EROFS: ": the folder is on a read-only file system; point ENERGYMOBILE_OBJECT_STORE "
    "at a writable folder, and re-run",
    errno.EACCES: ": this user may not write there; make the folder writable or point "
    "ENERGYMOBILE_OBJECT_STORE elsewhere, and re-run",
    errno.EPERM: ": this user may not write there; make the folder writable or point "
    "ENERGYMOBILE_OBJECT_STORE elsewhere, and re-run",
}


def _is_write_failure(err: OSError, tmp: Path, target: Path) -> bool:
    """An error of writing our own files (not of reading a source handed to us): one about
    the temporary file, the target or a folder on its way, or, without a file name (a write
    on an open handle), one of the errors writing can meet (disk full, read-only, …)."""
    if err.filename is not None:
        path = Path(os.fsdecode(err.filename))
        return path == tmp or target.is_relative_to(path)
    return err.errno in _HINTS


def check_key(key: str) -> str:
    """Keys are relative and never climb out of the store's root."""
    if not key or key.startswith("/") or ".." in key.split("/"):
        raise ValueError(f"object key {key!r} escapes the store")
    return key


def content_type(key: str) -> str:
    return CONTENT_TYPES.get(key.rsplit(".", 1)[-1], "application/octet-stream")


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

    @contextmanager
    def _replacing(self, key: str) -> Iterator[Path]:
        """A temporary file beside the target, renamed over it on success, removed on failure.

        Created with mode 0666 less the umask, as any new file (`tempfile.mkstemp` would make
        it 0600, and the rename would keep that: exports other users and sync jobs cannot
        read). An OSError (disk full, read-only or forbidden folder) is raised as
        ObjectStoreError naming the object's path."""
        target = self._path(key)
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, NEW_FILE_MODE))
            yield tmp
            os.replace(tmp, target)
        except OSError as err:
            if not _is_write_failure(err, tmp, target):
                raise
            raise ObjectStoreError.writing(target, err) from err
        finally:
            with contextlib.suppress(OSError):  # never hides the error that got us here
                tmp.unlink(missing_ok=True)

    def put_bytes(
        self,
        key: str,
        data: bytes,
        *,
        rows: int | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> StoredObject:
        with self._replacing(key) as tmp:
            tmp.write_bytes(data)
        sha256 = hashlib.sha256(data).hexdigest()
        return self._stored(key, len(data), sha256, rows)

    def put_file(
        self,
        key: str,
        path: Path,
        *,
        rows: int | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> StoredObject:
        with self._replacing(key) as tmp:
            shutil.copyfile(path, tmp)
            size, sha256 = tmp.stat().st_size, file_sha256(tmp)
        return self._stored(key, size, sha256, rows)

    def put_stream(
        self, key: str, chunks: Iterable[bytes], *, metadata: Mapping[str, str] | None = None
    ) -> StoredObject:
        digest = hashlib.sha256()
        size = 0
        with self._replacing(key) as tmp, tmp.open("wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
                digest.update(chunk)
                size += len(chunk)
        return self._stored(key, size, digest.hexdigest())

    def get_bytes(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def iter_chunks(self, key: str, chunk_bytes: int = READ_CHUNK_BYTES) -> Iterator[bytes]:
        with self._path(key).open("rb") as handle:
            while chunk := handle.read(chunk_bytes):
                yield chunk

    def download(self, key: str, path: Path) -> None:
        shutil.copyfile(self._path(key), path)

    def list_keys(self, prefix: str) -> list[str]:
        return sorted(self._files(prefix))

    def list_versions(self, prefix: str) -> dict[str, ObjectVersion]:
        versions = {}
        for key, path in self._files(prefix).items():
            try:
                stat = path.stat()
            except FileNotFoundError:  # replaced or removed since the listing
                continue
            token = f"{stat.st_size}-{stat.st_mtime_ns}-{stat.st_ino}"
            versions[key] = ObjectVersion(stat.st_size, token)
        return dict(sorted(versions.items()))

    def _files(self, prefix: str) -> dict[str, Path]:
        """Visible files under the root whose key starts with `prefix` (temporary files of
        writes in progress start with a dot and are not objects yet)."""
        if not self.root.exists():
            return {}
        paths = (p for p in self.root.rglob("*") if p.is_file() and not p.name.startswith("."))
        keyed = ((p.relative_to(self.root).as_posix(), p) for p in paths)
        return {key: path for key, path in keyed if key.startswith(prefix)}

    def uri(self, key: str) -> str:
        return self._path(key).as_uri()


def open_object_store(url: str, s3: S3ClientFactory | None = None) -> ObjectStore:
    """`file:///path` (percent-escapes decoded) or a plain path for a folder;
    `s3://bucket[/prefix]` for S3, through the given S3 client settings (default: boto3's
    standard AWS environment)."""
    folder = local_folder(url)
    if folder is not None:
        return LocalObjectStore(folder)
    parts = urlsplit(url)
    if parts.scheme == "s3":
        from energymobile.storage.s3 import S3ObjectStore

        return S3ObjectStore(bucket=parts.netloc, prefix=parts.path.strip("/"), s3=s3)
    raise ValueError(f"unsupported object store {url!r}: use file:///path or s3://bucket/prefix")
