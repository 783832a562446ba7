"""S3 (or any S3-compatible endpoint) behind the `ObjectStore` and `Landing` interfaces.

The client comes from dagster-aws's `S3Resource`. Credentials, region and endpoint come from the
standard AWS environment through boto3's own chain (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
AWS_REGION, AWS_ENDPOINT_URL or AWS_ENDPOINT_URL_S3, profiles, instance roles), never from our
configuration, so no secret reaches Dagster's run config, logs or metadata.

Every botocore failure becomes an `S3AccessError` whose message names the bucket, the endpoint
and what to fix, and never a credential. Writes replace objects whole: a PUT, or a multipart
upload that only becomes visible when completed (and is aborted if the stream fails).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from boto3.s3.transfer import TransferConfig
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
)
from dagster_aws.s3 import S3Resource
from dagster_aws.s3.sensor import get_objects

from energymobile.settings import LANDING_VAR, OBJECT_STORE_VAR, redact_url
from energymobile.storage.landing import LandedFile, Landing
from energymobile.storage.object_store import (
    READ_CHUNK_BYTES,
    ObjectStore,
    ObjectVersion,
    S3ClientFactory,
    StoredObject,
    check_key,
    content_type,
    file_sha256,
)

PART_BYTES = 8 * 1024 * 1024
"""Multipart part size. Memory while streaming is bounded by a few parts, not by the object."""


def transfer_config(
    part_bytes: int = PART_BYTES, concurrency: int = 2, parts_in_memory: int = 2
) -> TransferConfig:
    """boto3's transfer settings, with the bound on parts buffered from a stream (an
    s3transfer setting boto3's constructor does not expose)."""
    config = TransferConfig(
        multipart_threshold=part_bytes,
        multipart_chunksize=part_bytes,
        max_concurrency=concurrency,
    )
    config.max_in_memory_upload_chunks = parts_in_memory
    return config


TRANSFER = transfer_config()
DOCS = "docs/s3.md"

_MISSING_KEY_CODES = {"NoSuchKey", "404", "NotFound"}
_DENIED_CODES = {"AccessDenied", "403", "Forbidden", "AllAccessDisabled"}


class S3AccessError(RuntimeError):
    """An S3 call failed. The message names bucket and endpoint, never a credential."""

    def __init__(self, message: str, *, bucket: str, code: str) -> None:
        super().__init__(message)
        self.bucket = bucket
        self.code = code


class _S3Location:
    """A bucket and a key prefix reached through one client, with errors made readable."""

    def __init__(self, bucket: str, prefix: str, s3: S3ClientFactory | None, setting: str) -> None:
        if not bucket:
            raise ValueError(f"{setting}: an s3:// URL needs a bucket (s3://bucket/prefix)")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.setting = setting
        self._client: Any = (s3 or S3Resource()).get_client()

    @property
    def endpoint(self) -> str:
        return redact_url(str(self._client.meta.endpoint_url))

    def _full_key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def _s3_uri(self, full_key: str) -> str:
        return f"s3://{self.bucket}/{full_key}"

    @contextmanager
    def _translated(self, operation: str, full_key: str | None = None) -> Iterator[None]:
        """Turn botocore errors into messages that say what to fix (raised `from None`, so the
        clear message is the root cause Dagster shows, not botocore's)."""
        where = self._s3_uri(full_key) if full_key is not None else f"s3://{self.bucket}"
        try:
            yield
        except ClientError as err:
            code = str(err.response.get("Error", {}).get("Code", "Unknown"))
            if code in _MISSING_KEY_CODES and full_key is not None:
                raise FileNotFoundError(f"{where} does not exist ({operation})") from None
            raise S3AccessError(
                self._client_error_message(code, operation, where, err),
                bucket=self.bucket,
                code=code,
            ) from None
        except (NoCredentialsError, PartialCredentialsError):
            raise S3AccessError(
                f"no AWS credentials for S3 bucket '{self.bucket}' ({self.setting}): set "
                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a profile or an instance role",
                bucket=self.bucket,
                code="NoCredentials",
            ) from None
        except EndpointConnectionError:
            raise S3AccessError(
                f"cannot reach the S3 endpoint {self.endpoint} for bucket '{self.bucket}' "
                f"({self.setting}): check AWS_ENDPOINT_URL and the network",
                bucket=self.bucket,
                code="EndpointConnectionError",
            ) from None
        except BotoCoreError as err:
            raise S3AccessError(
                f"S3 {operation} on {where} at {self.endpoint} failed: {type(err).__name__}",
                bucket=self.bucket,
                code=type(err).__name__,
            ) from None

    def _client_error_message(self, code: str, operation: str, where: str, err: ClientError) -> str:
        at = f"at {self.endpoint} ({self.setting})"
        if code == "NoSuchBucket":
            return f"S3 bucket '{self.bucket}' does not exist {at}: create it or fix the URL"
        if code == "InvalidAccessKeyId":
            return (
                f"S3 does not know the access key used for bucket '{self.bucket}' {at}: "
                "check AWS_ACCESS_KEY_ID"
            )
        if code == "SignatureDoesNotMatch":
            return (
                f"S3 rejected the request signature for bucket '{self.bucket}' {at}: "
                "AWS_SECRET_ACCESS_KEY does not match AWS_ACCESS_KEY_ID"
            )
        if code in {"ExpiredToken", "InvalidToken", "TokenRefreshRequired"}:
            return (
                f"S3 rejected the session token for bucket '{self.bucket}' {at}: "
                "refresh AWS_SESSION_TOKEN"
            )
        if code in _DENIED_CODES:
            return (
                f"access denied to {where} for {operation} {at}: the credentials' IAM policy "
                f"must allow it (see the least-privilege policy in {DOCS})"
            )
        message = str(err.response.get("Error", {}).get("Message", ""))
        return f"S3 {operation} on {where} {at} failed: {code}: {message}".rstrip(": ")

    def _get_bytes(self, full_key: str) -> bytes:
        with self._translated("GetObject", full_key):
            response = self._client.get_object(Bucket=self.bucket, Key=full_key)
            return response["Body"].read()


class S3ObjectStore(_S3Location, ObjectStore):
    """Exports and archives in `s3://bucket/prefix/…`. Each object carries its SHA-256 (and row
    count where known) as S3 user metadata, and single PUTs are checksum-verified by S3."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        s3: S3ClientFactory | None = None,
        transfer: TransferConfig = TRANSFER,
    ) -> None:
        super().__init__(bucket, prefix, s3, OBJECT_STORE_VAR)
        self.transfer = transfer

    def put_bytes(
        self,
        key: str,
        data: bytes,
        *,
        rows: int | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> StoredObject:
        full_key = self._full_key(check_key(key))
        digest = hashlib.sha256(data)
        with self._translated("PutObject", full_key):
            self._client.put_object(
                Bucket=self.bucket,
                Key=full_key,
                Body=data,
                ContentType=content_type(key),
                Metadata=_user_metadata(metadata, sha256=digest.hexdigest(), rows=rows),
                ChecksumSHA256=base64.b64encode(digest.digest()).decode(),
            )
        return self._stored(key, len(data), digest.hexdigest(), rows)

    def put_file(
        self,
        key: str,
        path: Path,
        *,
        rows: int | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> StoredObject:
        full_key = self._full_key(check_key(key))
        sha256 = file_sha256(path)
        extra = {
            "ContentType": content_type(key),
            "Metadata": _user_metadata(metadata, sha256=sha256, rows=rows),
        }
        with self._translated("PutObject", full_key), path.open("rb") as handle:
            self._client.upload_fileobj(
                handle, self.bucket, full_key, ExtraArgs=extra, Config=self.transfer
            )
        return self._stored(key, path.stat().st_size, sha256, rows)

    def put_stream(
        self, key: str, chunks: Iterable[bytes], *, metadata: Mapping[str, str] | None = None
    ) -> StoredObject:
        """Stream into a multipart upload (a single PUT when under one part); at most a few
        parts are in memory. The SHA-256 is known only at the end, so it is returned (for the
        materialization metadata) rather than stored as S3 metadata."""
        full_key = self._full_key(check_key(key))
        reader = _ChunkReader(chunks)
        extra = {"ContentType": content_type(key), "Metadata": dict(metadata or {})}
        with self._translated("PutObject (multipart)", full_key):
            self._client.upload_fileobj(
                reader, self.bucket, full_key, ExtraArgs=extra, Config=self.transfer
            )
        return self._stored(key, reader.bytes, reader.sha256.hexdigest(), None)

    def get_bytes(self, key: str) -> bytes:
        return self._get_bytes(self._full_key(check_key(key)))

    def iter_chunks(self, key: str, chunk_bytes: int = READ_CHUNK_BYTES) -> Iterator[bytes]:
        full_key = self._full_key(check_key(key))
        with self._translated("GetObject", full_key):
            body = self._client.get_object(Bucket=self.bucket, Key=full_key)["Body"]
            try:
                while chunk := body.read(chunk_bytes):
                    yield chunk
            finally:
                body.close()

    def download(self, key: str, path: Path) -> None:
        with path.open("wb") as handle:
            for chunk in self.iter_chunks(key):
                handle.write(chunk)

    def list_keys(self, prefix: str) -> list[str]:
        return list(self.list_versions(prefix))

    def list_versions(self, prefix: str) -> dict[str, ObjectVersion]:
        root = self._full_key("")
        versions: dict[str, ObjectVersion] = {}
        with self._translated("ListObjectsV2"):
            pages = self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=root + prefix
            )
            for page in pages:
                for item in page.get("Contents", []):
                    key = item["Key"][len(root) :]
                    versions[key] = ObjectVersion(int(item["Size"]), str(item["ETag"]))
        return dict(sorted(versions.items()))

    def uri(self, key: str) -> str:
        return self._s3_uri(self._full_key(key))

    def head_metadata(self, key: str) -> dict[str, str]:
        """The object's S3 user metadata (sha256, rows, source checksums of archives)."""
        full_key = self._full_key(check_key(key))
        with self._translated("HeadObject", full_key):
            return dict(self._client.head_object(Bucket=self.bucket, Key=full_key)["Metadata"])


class S3Landing(_S3Location, Landing):
    """The technicians' drops in `s3://bucket/prefix/`, in the local folder's layouts
    (storage/landing.py): `logs/<cohort>/<CODE>.txt`, `sites/<site>/<rig>/logs/<cohort>/…` and
    `profile/profile.txt`."""

    def __init__(self, bucket: str, prefix: str = "", *, s3: S3ClientFactory | None = None) -> None:
        super().__init__(bucket, prefix, s3, LANDING_VAR)

    def subfolders(self, relative: str) -> list[str]:
        logs = self._full_key(f"{relative}/" if relative else "")
        folders: list[str] = []
        with self._translated("ListObjectsV2"):
            pages = self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=logs, Delimiter="/"
            )
            for page in pages:
                for common in page.get("CommonPrefixes", []):
                    name = common["Prefix"][len(logs) :].rstrip("/")
                    if name and not name.startswith("."):
                        folders.append(name)
        return sorted(folders)

    def list_files(self, relative: str) -> dict[str, LandedFile]:
        """The folder's direct files (not sub-folders, not hidden names, not the zero-byte
        "folder" markers consoles create)."""
        folder_key = self._full_key(f"{relative}/")
        with self._translated("ListObjectsV2"):
            objects = get_objects(self.bucket, prefix=folder_key, client=self._client)
        files = {}
        for item in objects:
            name = item["Key"][len(folder_key) :]
            if name and "/" not in name and not name.startswith("."):
                files[name] = LandedFile(name, item["Size"], item["LastModified"].timestamp())
        return files

    def read_file(self, relative: str) -> bytes:
        return self._get_bytes(self._full_key(relative))

    def describe_path(self, relative: str = "") -> str:
        return self._s3_uri(self._full_key(relative) if relative else self.prefix)


class _ChunkReader:
    """A non-seekable file object over byte chunks, hashing what it hands out. boto3 reads it
    one part at a time, so only those parts are ever in memory; each read joins exactly the
    chunks it needs (one copy), splitting at most one."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._pending = b""
        self.sha256 = hashlib.sha256()
        self.bytes = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def read(self, size: int = -1) -> bytes:
        parts = [self._pending] if self._pending else []
        have = len(self._pending)
        self._pending = b""
        while size < 0 or have < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            if 0 <= size < have + len(chunk):
                cut = size - have
                chunk, self._pending = chunk[:cut], chunk[cut:]
            parts.append(chunk)
            have += len(chunk)
        data = b"".join(parts)
        del parts
        self.sha256.update(data)
        self.bytes += len(data)
        return data


def _user_metadata(
    extra: Mapping[str, str] | None, *, sha256: str, rows: int | None
) -> dict[str, str]:
    metadata = {"sha256": sha256, **(extra or {})}
    if rows is not None:
        metadata["rows"] = str(rows)
    return metadata


def least_privilege_policy(
    object_stores: Sequence[str], landings: Sequence[str] = ()
) -> dict[str, Any]:
    """The IAM policy the pipeline needs, and no more: list, read and write objects under its
    object store prefixes (no delete: rewrites replace objects; abort for failed multipart
    uploads), list and read under its landing prefixes. Shown in docs/s3.md and enforced in the
    tests' S3 server."""
    listed: dict[str, set[str]] = {}
    writes: list[str] = []
    reads: list[str] = []
    for url, objects in [(u, writes) for u in object_stores] + [(u, reads) for u in landings]:
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise ValueError(f"not an s3://bucket[/prefix] URL: {url!r}")
        prefix = parts.path.strip("/")
        listed.setdefault(parts.netloc, set()).add(f"{prefix}/*" if prefix else "*")
        objects.append(f"arn:aws:s3:::{parts.netloc}/{prefix + '/' if prefix else ''}*")
    statements: list[dict[str, Any]] = []
    for bucket, prefixes in sorted(listed.items()):
        statement: dict[str, Any] = {
            "Sid": f"List{_sid(bucket)}",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": [f"arn:aws:s3:::{bucket}"],
        }
        if "*" not in prefixes:
            statement["Condition"] = {"StringLike": {"s3:prefix": sorted(prefixes)}}
        statements.append(statement)
    if writes:
        statements.append(
            {
                "Sid": "ReadWriteExportsAndArchives",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
                "Resource": sorted(set(writes)),
            }
        )
    if reads:
        statements.append(
            {
                "Sid": "ReadLanding",
                "Effect": "Allow",
                "Action": ["s3:GetObject"],
                "Resource": sorted(set(reads)),
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def _sid(bucket: str) -> str:
    return "".join(part.capitalize() for part in bucket.replace(".", "-").split("-"))
