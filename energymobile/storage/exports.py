"""The scientists' files in the object store, their layout and format.

- `raw/cohort=<key>/`: raw_logs' archive of each accepted delivery (archive.py).
- `oil-well-data-all-historical/cohort=<key>/data.csv` (+ `data.parquet`): one cohort's flat
  rows, a Hive-style layout that pandas, Athena and SageMaker read as one dataset.
- `oil-well-data-all-historical.csv`: every exported cohort, in key order, rebuilt by
  streaming the per-cohort files into one upload (never all of history in memory).
"""

from __future__ import annotations

import dataclasses
import io
import re
from collections.abc import Iterator

import pandas as pd

from energymobile.storage.object_store import ObjectStore, StoredObject
from energymobile.storage.warehouse import FLAT_COLUMNS, FLAT_DTYPES, typed_flat_frame

HISTORICAL_PREFIX = "oil-well-data-all-historical"
COMBINED_KEY = f"{HISTORICAL_PREFIX}.csv"
_COHORT_CSV = re.compile(rf"{HISTORICAL_PREFIX}/cohort=([0-9-]+)/data\.csv")


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
    keys = (_COHORT_CSV.fullmatch(k) for k in store.list_keys(f"{HISTORICAL_PREFIX}/"))
    return sorted(m.group(1) for m in keys if m)


def csv_header() -> bytes:
    return ",".join(FLAT_COLUMNS).encode() + b"\n"


def rebuild_combined(store: ObjectStore) -> StoredObject:
    """Concatenate every cohort's CSV (one header) into the combined file, streaming each
    cohort's chunks straight into the upload (a multipart upload on S3): memory holds a few
    chunks, never history. Replaces the old file only once complete."""
    rows = 0

    def chunks() -> Iterator[bytes]:
        nonlocal rows
        yield csv_header()
        for key in exported_cohorts(store):
            for chunk in _without_header(store.iter_chunks(cohort_csv_key(key)), key):
                rows += chunk.count(b"\n")
                yield chunk

    stored = store.put_stream(COMBINED_KEY, chunks())
    return dataclasses.replace(stored, rows=rows)


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
