"""The warehouse (SQLite by default, MySQL/MariaDB in production) through SQLAlchemy.

`replace_cohort` is the only write: it deletes a cohort's rows and inserts the new ones in one
transaction, so a reader sees the old cohort or the new one, never half, and a re-run never
duplicates. Identifiers are constants of this module; every value is a bound parameter.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd
from sqlalchemy import Engine, create_engine, text

from energymobile.channels import CHANNEL_COLUMNS, CONDITION_COLUMNS, DESCRIPTION_COLUMNS
from energymobile.cohorts import cohort_window
from energymobile.ingest.hourly import KEY_COLUMNS
from energymobile.ingest.reduce import FileReceipt
from energymobile.settings import redact_url
from energymobile.storage.dialects import configure_engine
from energymobile.storage.schema import apply_migrations

FACT_TABLE = "sensor_hourly"
FLAT_VIEW = "oil_well_hourly"
FACT_COLUMNS: tuple[str, ...] = (*KEY_COLUMNS, *CHANNEL_COLUMNS, *CONDITION_COLUMNS)
FLAT_COLUMNS: tuple[str, ...] = (*FACT_COLUMNS, *DESCRIPTION_COLUMNS)

FLAT_DTYPES: dict[str, str] = {
    "cohort": "string",
    "cycle": "int64",
    "cumulative_minutes": "int64",
    **{c: "float64" for c in CHANNEL_COLUMNS},
    **{c: "int64" for c in CONDITION_COLUMNS},
    **{c: "string" for c in DESCRIPTION_COLUMNS},
}
"""Explicit types for reading back: ints stay ints, date_time is naive UTC datetime64."""

INSERT_BATCH_ROWS = 5000


@dataclass(frozen=True)
class CohortLoad:
    """Everything one cohort's load writes: its flat rows and where they came from."""

    key: str
    frame: pd.DataFrame
    statistic: str
    receipts: Sequence[FileReceipt]

    @property
    def source_sha256(self) -> str:
        """One checksum over the received files' checksums, in name order."""
        digest = hashlib.sha256()
        for receipt in sorted(self.receipts, key=lambda r: r.name):
            digest.update(f"{receipt.name}:{receipt.sha256}\n".encode())
        return digest.hexdigest()


@dataclass(frozen=True)
class LoadReport:
    table: str
    rows_written: int
    rows_replaced: int
    seconds: float


class Warehouse:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = create_engine(url, pool_pre_ping=True)
        configure_engine(self.engine)
        self._schema_checked = False

    @property
    def safe_url(self) -> str:
        return redact_url(self.url)

    def ensure_schema(self) -> list[str]:
        """Apply pending `sql/` migrations (once per process); returns those applied now."""
        if self._schema_checked:
            return []
        applied = apply_migrations(self.engine)
        self._schema_checked = True
        return applied

    def replace_cohort(self, load: CohortLoad) -> LoadReport:
        """Delete the cohort's rows and insert the new ones, in one transaction."""
        self.ensure_schema()
        started = time.perf_counter()
        rows = fact_rows(load.frame)
        start, end = cohort_window(load.key)
        with self.engine.begin() as conn:
            replaced = conn.execute(
                text(f"SELECT COUNT(*) FROM {FACT_TABLE} WHERE cohort = :k"), {"k": load.key}
            ).scalar_one()
            for table in (FACT_TABLE, "cohort_files", "cohorts"):
                conn.execute(text(f"DELETE FROM {table} WHERE cohort = :k"), {"k": load.key})
            conn.execute(
                text(
                    "INSERT INTO cohorts (cohort, window_start, window_end, row_count, statistic,"
                    " source_sha256, loaded_at) VALUES (:k, :s, :e, :n, :stat, :sha, :at)"
                ),
                {
                    "k": load.key,
                    "s": start,
                    "e": end,
                    "n": len(rows),
                    "stat": load.statistic,
                    "sha": load.source_sha256,
                    "at": datetime.now(UTC).replace(tzinfo=None),
                },
            )
            conn.execute(
                text(
                    "INSERT INTO cohort_files (cohort, file_name, byte_count, row_count, sha256)"
                    " VALUES (:k, :name, :bytes, :rows, :sha)"
                ),
                [
                    {
                        "k": load.key,
                        "name": r.name,
                        "bytes": r.bytes,
                        "rows": r.rows,
                        "sha": r.sha256,
                    }
                    for r in load.receipts
                ],
            )
            insert = text(
                f"INSERT INTO {FACT_TABLE} ({', '.join(FACT_COLUMNS)}) "
                f"VALUES ({', '.join(':' + c for c in FACT_COLUMNS)})"
            )
            for begin in range(0, len(rows), INSERT_BATCH_ROWS):
                conn.execute(insert, rows[begin : begin + INSERT_BATCH_ROWS])
        return LoadReport(FACT_TABLE, len(rows), int(replaced), time.perf_counter() - started)

    def read_cohorts(self, keys: Sequence[str]) -> pd.DataFrame:
        """The flat rows of `oil_well_hourly` for these cohorts, in (cohort, cycle) order."""
        self.ensure_schema()
        params = {f"k{i}": key for i, key in enumerate(keys)}
        placeholders = ", ".join(f":{name}" for name in params) or "NULL"
        query = text(
            f"SELECT {', '.join(FLAT_COLUMNS)} FROM {FLAT_VIEW} "
            f"WHERE cohort IN ({placeholders}) ORDER BY cohort, cycle"
        )
        with self.engine.connect() as conn:
            result = conn.execute(query, params)
            frame = pd.DataFrame(result.fetchall(), columns=list(FLAT_COLUMNS))
        return typed_flat_frame(frame)

    def loaded_cohorts(self) -> dict[str, int]:
        """Cohort key -> rows, for every cohort in the warehouse."""
        self.ensure_schema()
        with self.engine.connect() as conn:
            rows = conn.execute(text("SELECT cohort, row_count FROM cohorts ORDER BY cohort"))
            return {key: int(n) for key, n in rows}

    def dispose(self) -> None:
        self.engine.dispose()


def fact_rows(frame: pd.DataFrame) -> list[dict[str, object]]:
    """The fact columns as plain Python values (DB drivers do not take numpy scalars)."""
    columns: dict[str, list[object]] = {}
    for name in FACT_COLUMNS:
        series = frame[name]
        if name == "date_time":
            columns[name] = [ts.to_pydatetime() for ts in pd.to_datetime(series)]
        elif name == "cohort":
            columns[name] = series.astype(str).tolist()
        else:
            columns[name] = series.to_numpy(
                dtype=np.float64 if name in CHANNEL_COLUMNS else np.int64
            ).tolist()
    return [
        dict(zip(FACT_COLUMNS, values, strict=True))
        for values in zip(*columns.values(), strict=True)
    ]


def typed_flat_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Cast rows read from any dialect to the same explicit dtypes."""
    typed = frame.astype(FLAT_DTYPES)
    typed["date_time"] = pd.to_datetime(typed["date_time"]).astype("datetime64[ns]")
    return typed[list(FLAT_COLUMNS)]
