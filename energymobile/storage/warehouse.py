"""The warehouse (SQLite by default, MySQL/MariaDB in production) through SQLAlchemy.

`replace_cohort` is the only write: it deletes a cohort's rows and inserts the new ones in one
transaction, so a reader sees the old cohort or the new one, never half, and a re-run never
duplicates. The same code serves both dialects; what differs (bulk path, locks, isolation, DDL
spelling) is in `dialects.py`. Identifiers are constants of this module; every value is a bound
parameter. Errors name the warehouse by its redacted URL, never with the password.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd
import polars as pl
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.exc import InterfaceError, OperationalError

from energymobile.channels import CHANNEL_COLUMNS, CONDITION_COLUMNS, DESCRIPTION_COLUMNS
from energymobile.cohorts import cohort_window
from energymobile.ingest.hourly import KEY_COLUMNS
from energymobile.ingest.reduce import FileReceipt
from energymobile.settings import redact_url
from energymobile.storage.dialects import (
    EXECUTEMANY,
    LOAD_DATA,
    bulk_method,
    configure_engine,
    driver_error_message,
    engine_options,
    load_data_local,
)
from energymobile.storage.schema import apply_migrations

FACT_TABLE = "sensor_hourly"
COHORTS_TABLE = "cohorts"
FILES_TABLE = "cohort_files"
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


class WarehouseError(RuntimeError):
    """The warehouse cannot be used (unreachable, wrong credentials, missing privileges);
    the message names it by its redacted URL."""


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
    method: str = EXECUTEMANY
    """How the fact rows went in: LOAD DATA LOCAL INFILE or batched executemany."""


class Warehouse:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = create_engine(url, pool_pre_ping=True, **engine_options(url))
        configure_engine(self.engine)
        self._schema_checked = False
        self._bulk_method: str | None = None

    @property
    def safe_url(self) -> str:
        return redact_url(self.url)

    def __repr__(self) -> str:
        return f"Warehouse({self.safe_url!r})"

    def ensure_schema(self) -> list[str]:
        """Apply pending `sql/` migrations (once per process); returns those applied now.

        The first use of the warehouse, so a wrong password or an unreachable server is
        reported here, worded for people and without the password."""
        if self._schema_checked:
            return []
        try:
            applied = apply_migrations(self.engine)
        except (OperationalError, InterfaceError) as exc:
            raise WarehouseError(
                f"cannot use the warehouse {self.safe_url}: {driver_error_message(exc)}"
            ) from exc
        self._schema_checked = True
        return applied

    def replace_cohort(self, load: CohortLoad) -> LoadReport:
        """Delete the cohort's rows and insert the new ones, in one transaction."""
        self.ensure_schema()
        started = time.perf_counter()
        facts = fact_table(load.frame, load.key)
        start, end = cohort_window(load.key)
        key = {"k": load.key}
        with self.engine.begin() as conn:
            method = self._method(conn)
            replaced = conn.execute(
                text(f"DELETE FROM {FACT_TABLE} WHERE cohort = :k"), key
            ).rowcount
            conn.execute(text(f"DELETE FROM {FILES_TABLE} WHERE cohort = :k"), key)
            conn.execute(text(f"DELETE FROM {COHORTS_TABLE} WHERE cohort = :k"), key)
            conn.execute(
                text(
                    f"INSERT INTO {COHORTS_TABLE} (cohort, window_start, window_end, row_count,"
                    " statistic, source_sha256, loaded_at)"
                    " VALUES (:k, :s, :e, :n, :stat, :sha, :at)"
                ),
                {
                    **key,
                    "s": start,
                    "e": end,
                    "n": facts.height,
                    "stat": load.statistic,
                    "sha": load.source_sha256,
                    "at": datetime.now(UTC).replace(tzinfo=None),
                },
            )
            if load.receipts:
                conn.execute(
                    text(
                        f"INSERT INTO {FILES_TABLE} (cohort, file_name, byte_count, row_count,"
                        " sha256) VALUES (:k, :name, :bytes, :rows, :sha)"
                    ),
                    [
                        {**key, "name": r.name, "bytes": r.bytes, "rows": r.rows, "sha": r.sha256}
                        for r in load.receipts
                    ],
                )
            if method == LOAD_DATA:
                written = load_data_local(conn, FACT_TABLE, FACT_COLUMNS, facts)
            else:
                written = insert_facts_many(conn, facts)
        return LoadReport(FACT_TABLE, written, int(replaced), time.perf_counter() - started, method)

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
            rows = conn.execute(
                text(f"SELECT cohort, row_count FROM {COHORTS_TABLE} ORDER BY cohort")
            )
            return {key: int(n) for key, n in rows}

    def dispose(self) -> None:
        self.engine.dispose()

    def _method(self, conn: Connection) -> str:
        if self._bulk_method is None:
            self._bulk_method = bulk_method(conn)
        return self._bulk_method


FACT_SCHEMA: dict[str, pl.DataType] = {
    "cohort": pl.String(),
    "cycle": pl.Int64(),
    "date_time": pl.Datetime("us"),
    "cumulative_minutes": pl.Int64(),
    **{c: pl.Float64() for c in CHANNEL_COLUMNS},
    **{c: pl.Int64() for c in CONDITION_COLUMNS},
}
"""What is written: naive UTC timestamps, plain ints and doubles, no nulls."""


def fact_table(frame: pd.DataFrame, key: str) -> pl.DataFrame:
    """The fact columns of one cohort's rows, checked and cast to what the table holds.

    Refuses (before touching the database) rows of another cohort, missing values and
    non-finite numbers: the table cannot hold them, and a bulk load would only warn. Polars,
    because this runs for every load and pandas' per-column checks cost more than the load.
    """
    absent = [c for c in FACT_COLUMNS if c not in frame.columns]
    if absent:
        raise ValueError(f"cohort {key}: columns missing from the load: {absent}")
    facts = pl.from_pandas(frame[list(FACT_COLUMNS)].reset_index(drop=True))
    nulls = [c for c, n in zip(facts.columns, facts.null_count().row(0), strict=True) if n]
    if nulls:
        raise ValueError(f"cohort {key}: missing values in {nulls}; nothing was loaded")
    strangers = sorted(set(facts["cohort"].cast(pl.String).unique().to_list()) - {key})
    if strangers:
        raise ValueError(f"cohort {key}: the load holds rows of other cohorts {strangers}")
    stamps = facts["date_time"]
    if getattr(stamps.dtype, "time_zone", None):
        facts = facts.with_columns(
            pl.col("date_time").dt.convert_time_zone("UTC").dt.replace_time_zone(None)
        )
    facts = facts.cast(FACT_SCHEMA)  # type: ignore[arg-type]
    finite = facts.select(pl.all_horizontal(pl.col(list(CHANNEL_COLUMNS)).is_finite().all())).item()
    if not finite:
        raise ValueError(f"cohort {key}: NaN or infinite sensor values; nothing was loaded")
    return facts


def insert_facts_many(conn: Connection, facts: pl.DataFrame) -> int:
    """The portable bulk path: executemany in batches (mysqlclient turns each batch into
    multi-row INSERT statements); returns the rows inserted."""
    insert = text(
        f"INSERT INTO {FACT_TABLE} ({', '.join(FACT_COLUMNS)}) "
        f"VALUES ({', '.join(':' + c for c in FACT_COLUMNS)})"
    )
    for batch in facts.iter_slices(INSERT_BATCH_ROWS):
        conn.execute(insert, batch.rows(named=True))
    return facts.height


def typed_flat_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Cast rows read from any dialect to the same explicit dtypes."""
    typed = frame.astype(FLAT_DTYPES)
    typed["date_time"] = pd.to_datetime(typed["date_time"]).astype("datetime64[ns]")
    return typed[list(FLAT_COLUMNS)]
