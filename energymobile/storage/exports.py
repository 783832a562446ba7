"""The scientists' files in the object store, their layout and format.

- `raw/cohort=<key>/`: raw_logs' archive of each accepted delivery (archive.py).
- `oil-well-data-all-historical/cohort=<key>/data.csv` (+ `data.parquet`): one cohort's flat
  rows, a Hive-style layout that pandas, Athena and SageMaker read as one dataset.
- `oil-well-data-all-historical.csv`: every exported cohort, in key order, rebuilt by
  streaming the per-cohort files into one upload (never all of history in memory). It is the
  asset combined_csv, rebuilt once after any number of cohort exports, not by each.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import pandas as pd

from energymobile.storage.object_store import ObjectStore, ObjectVersion, StoredObject
from energymobile.storage.warehouse import FLAT_COLUMNS, FLAT_DTYPES, typed_flat_frame

HISTORICAL_PREFIX = "oil-well-data-all-historical"
COMBINED_KEY = f"{HISTORICAL_PREFIX}.csv"
_COHORT_CSV = re.compile(rf"{HISTORICAL_PREFIX}/cohort=([0-9-]+)/data\.csv")
REBUILD_PASSES = 3
"""Rebuilds tried when cohort exports change while the combined file is written."""
COUNT_CHUNK_ROWS = 100_000


def cohort_csv_key(key: str) -> str:
    return f"{HISTORICAL_PREFIX}/cohort={key}/data.csv"


def cohort_parquet_key(key: str) -> str:
    return f"{HISTORICAL_PREFIX}/cohort={key}/data.parquet"


def csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame[list(FLAT_COLUMNS)].to_csv(index=False, date_format="%Y-%m-%d %H:%M:%S").encode()


def write_cohort_export(store: ObjectStore, key: str, frame: pd.DataFrame) -> list[StoredObject]:
    """The cohort's CSV and its Parquet twin, each replaced whole. The Parquet goes first:
    the CSV is what the combined file and the IO manager read, so it changes last, and a
    run that dies between the two leaves the CSV as it was (the re-run writes both)."""
    parquet = io.BytesIO()
    frame[list(FLAT_COLUMNS)].to_parquet(parquet, index=False)
    rows = len(frame)
    stored_parquet = store.put_bytes(cohort_parquet_key(key), parquet.getvalue(), rows=rows)
    stored_csv = store.put_bytes(cohort_csv_key(key), csv_bytes(frame), rows=rows)
    return [stored_csv, stored_parquet]


def exported_cohorts(store: ObjectStore) -> list[str]:
    return sorted(_cohort_csv_versions(store))


def _cohort_csv_versions(store: ObjectStore) -> dict[str, ObjectVersion]:
    """Cohort key -> the version of its CSV, in key order, from one listing."""
    listed = store.list_versions(f"{HISTORICAL_PREFIX}/")
    matches = ((_COHORT_CSV.fullmatch(key), version) for key, version in listed.items())
    return dict(sorted((m.group(1), version) for m, version in matches if m))


def csv_header() -> bytes:
    return ",".join(FLAT_COLUMNS).encode() + b"\n"


class ExportsChanged(RuntimeError):
    """Cohort CSVs changed while the combined file was being written from them."""


@dataclass(frozen=True)
class CombinedFile(StoredObject):
    """The stored combined file, with the cohorts it holds and the passes it took."""

    cohorts: tuple[str, ...] = ()
    passes: int = 1


def rebuild_combined(store: ObjectStore) -> CombinedFile:
    """Concatenate every cohort's CSV (one header) into the combined file, streaming each
    cohort's chunks straight into the upload (a multipart upload on S3): memory holds a few
    chunks, never history. Replaces the old file only once complete.

    The cohort CSVs are listed before and again after streaming, before the new file is
    committed; if any was written, added or removed meanwhile (an export that finished during
    the rebuild), the new file is discarded and the rebuild starts over, up to REBUILD_PASSES
    times. So a rebuild that read an older export never replaces a newer file with it."""
    for attempt in range(1, REBUILD_PASSES + 1):
        versions = _cohort_csv_versions(store)
        rows = Counter[str]()
        try:
            stored = store.put_stream(COMBINED_KEY, _combined_chunks(store, versions, rows))
        except ExportsChanged as changed:
            if attempt == REBUILD_PASSES:
                raise ExportsChanged(
                    f"{COMBINED_KEY} not rebuilt: cohort exports kept changing during "
                    f"{REBUILD_PASSES} rebuilds ({changed}); the previous file is unchanged, "
                    "rebuild it once the exports are done"
                ) from None
            continue
        return CombinedFile(
            stored.key,
            stored.bytes,
            stored.sha256,
            stored.uri,
            rows=sum(rows.values()),
            cohorts=tuple(versions),
            passes=attempt,
        )
    raise AssertionError("unreachable")


def _combined_chunks(
    store: ObjectStore, versions: dict[str, ObjectVersion], rows: Counter[str]
) -> Iterator[bytes]:
    """The header, each listed cohort's rows in key order, then the check that none of them
    changed (raising ExportsChanged makes the store discard what was written)."""
    yield csv_header()
    for key in versions:
        for chunk in _without_header(store.iter_chunks(cohort_csv_key(key)), key):
            rows[key] += chunk.count(b"\n")
            yield chunk
    now = _cohort_csv_versions(store)
    if now != versions:
        changed = sorted(k for k in versions.keys() | now.keys() if versions.get(k) != now.get(k))
        raise ExportsChanged(f"changed meanwhile: {', '.join(changed)}")


def _without_header(chunks: Iterator[bytes], key: str) -> Iterator[bytes]:
    """A cohort CSV's chunks after its header line, which must be today's header: a file
    written with other columns would corrupt the combined file silently."""
    head: bytes | None = b""
    for chunk in chunks:
        if head is not None:
            head += chunk
            if b"\n" not in head:
                continue
            line, _, chunk = head.partition(b"\n")
            if line + b"\n" != csv_header():
                raise ValueError(
                    f"{cohort_csv_key(key)} has another header than today's columns; "
                    "re-materialize the cohort before rebuilding the combined file"
                )
            head = None
        if chunk:
            yield chunk
    if head is not None:
        raise ValueError(f"{cohort_csv_key(key)} has no complete header line")


def combined_cohort_rows(store: ObjectStore) -> dict[str, int]:
    """Rows per cohort in the stored combined file, read back from the store (streamed, one
    column at a time in memory); empty if the file does not exist."""
    if not store.exists(COMBINED_KEY):
        return {}
    counts = Counter[str]()
    reader = pd.read_csv(
        _ChunkStream(store.iter_chunks(COMBINED_KEY)),
        usecols=["cohort"],
        dtype={"cohort": "string"},
        chunksize=COUNT_CHUNK_ROWS,
    )
    with reader:
        for chunk in reader:
            counts.update(chunk["cohort"].value_counts().to_dict())
    return dict(sorted(counts.items()))


class _ChunkStream(io.RawIOBase):
    """A readable file object over an iterator of byte chunks (for pandas' reader)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = chunk
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def read_csv_export(data: bytes) -> pd.DataFrame:
    """A cohort CSV (or the combined file) back as typed flat rows."""
    frame = pd.read_csv(
        io.BytesIO(data),
        dtype={k: v for k, v in FLAT_DTYPES.items()},
        keep_default_na=False,
        na_values=[""],
        float_precision="round_trip",  # pandas' default parser can be off by an ulp
    )
    return typed_flat_frame(frame)
