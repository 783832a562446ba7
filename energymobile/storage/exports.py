"""Layouts and formats of what lands in the object store: archives and the scientists' CSVs.

- `raw/cohort=<key>/<file>.zst`: the received files, byte-exact after decompression.
- `oil-well-data-all-historical/cohort=<key>/data.csv` (+ `data.parquet`): one cohort's flat
  rows, a Hive-style layout that pandas, Athena and SageMaker read as one dataset.
- `oil-well-data-all-historical.csv`: every exported cohort, in key order, rebuilt by
  streaming the per-cohort files into one upload (never all of history in memory).
"""

from __future__ import annotations

import io
import json
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
import zstandard

from energymobile.ingest.reduce import FileReceipt
from energymobile.storage.object_store import ObjectStore, StoredObject
from energymobile.storage.warehouse import FLAT_COLUMNS, FLAT_DTYPES, typed_flat_frame

ARCHIVE_PREFIX = "raw"
HISTORICAL_PREFIX = "oil-well-data-all-historical"
COMBINED_KEY = f"{HISTORICAL_PREFIX}.csv"
ZSTD_LEVEL = 3
_COHORT_CSV = re.compile(rf"{HISTORICAL_PREFIX}/cohort=([0-9-]+)/data\.csv")


def archive_key(key: str, name: str) -> str:
    return f"{ARCHIVE_PREFIX}/cohort={key}/{name}.zst"


def cohort_csv_key(key: str) -> str:
    return f"{HISTORICAL_PREFIX}/cohort={key}/data.csv"


def cohort_parquet_key(key: str) -> str:
    return f"{HISTORICAL_PREFIX}/cohort={key}/data.parquet"


def compress(data: bytes) -> bytes:
    return zstandard.ZstdCompressor(level=ZSTD_LEVEL).compress(data)


def decompress(data: bytes) -> bytes:
    return zstandard.ZstdDecompressor().decompress(data)


def archive_delivery(
    store: ObjectStore, key: str, compressed: Mapping[str, bytes], receipts: list[FileReceipt]
) -> list[StoredObject]:
    """Store the compressed received files and a manifest of their original checksums."""
    stored = [store.put_bytes(archive_key(key, name), data) for name, data in compressed.items()]
    manifest = {"cohort": key, "files": [r.__dict__ for r in receipts]}
    stored.append(
        store.put_bytes(
            f"{ARCHIVE_PREFIX}/cohort={key}/manifest.json", json.dumps(manifest, indent=2).encode()
        )
    )
    return stored


def csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame[list(FLAT_COLUMNS)].to_csv(index=False, date_format="%Y-%m-%d %H:%M:%S").encode()


def write_cohort_export(store: ObjectStore, key: str, frame: pd.DataFrame) -> list[StoredObject]:
    """The cohort's CSV and its Parquet twin."""
    parquet = io.BytesIO()
    frame[list(FLAT_COLUMNS)].to_parquet(parquet, index=False)
    return [
        store.put_bytes(cohort_csv_key(key), csv_bytes(frame)),
        store.put_bytes(cohort_parquet_key(key), parquet.getvalue()),
    ]


def exported_cohorts(store: ObjectStore) -> list[str]:
    keys = (_COHORT_CSV.fullmatch(k) for k in store.list_keys(f"{HISTORICAL_PREFIX}/"))
    return sorted(m.group(1) for m in keys if m)


def rebuild_combined(store: ObjectStore) -> StoredObject:
    """Concatenate every cohort's CSV (one header) into the combined file, streaming."""
    with tempfile.TemporaryDirectory() as tmp:
        combined = Path(tmp) / "combined.csv"
        with combined.open("wb") as out:
            out.write(",".join(FLAT_COLUMNS).encode() + b"\n")
            for key in exported_cohorts(store):
                part = Path(tmp) / "part.csv"
                store.download(cohort_csv_key(key), part)
                with part.open("rb") as handle:
                    handle.readline()  # header
                    while chunk := handle.read(1 << 20):
                        out.write(chunk)
                part.unlink()
        return store.put_file(COMBINED_KEY, combined)


def read_csv_export(data: bytes) -> pd.DataFrame:
    """A cohort CSV (or the combined file) back as typed flat rows."""
    frame = pd.read_csv(
        io.BytesIO(data),
        dtype={k: v for k, v in FLAT_DTYPES.items()},
        keep_default_na=False,
        na_values=[""],
    )
    return typed_flat_frame(frame)
