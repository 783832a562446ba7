"""The warehouse (SQLite by default, MySQL/MariaDB or PostgreSQL in production) through
SQLAlchemy.

`replace_cohort` is the only write of rows: it deletes one rig's rows of a cohort and inserts the
new ones in one transaction, so a reader sees the old cohort or the new one, never half, a
re-run never duplicates, and other rigs' rows of the cohort are not touched (two rigs of a
cohort load at once). A rig is registered in `rigs` the first time it delivers, in a short
transaction of its own (`rig_id`). The same code serves every dialect; the tables are those
of `schema.py`, what differs (bulk path, locks, isolation) is in `dialects.py`. Every value
is a bound parameter. Errors name the warehouse by its redacted URL, never with the password.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

import pandas as pd
import polars as pl
from sqlalchemy import Connection, Engine, and_, bindparam, create_engine, select
from sqlalchemy.exc import DBAPIError, IntegrityError

from energymobile.channels import (
    CONDITION_COLUMNS,
    DESCRIPTION_COLUMNS,
    FIRST_COLUMNS,
    MEAN_COLUMNS,
)
from energymobile.cohorts import cohort_window
from energymobile.ingest.hourly import KEY_COLUMNS
from energymobile.ingest.reduce import FileReceipt
from energymobile.rigs import DEFAULT_RIG, Rig
from energymobile.settings import redact_url, sqlite_file
from energymobile.storage.archive import delivery_id
from energymobile.storage.dialects import (
    BULK_METHODS,
    COPY,
    EXECUTEMANY,
    LOAD_DATA,
    bulk_method,
    configure_engine,
    copy_from_stdin,
    driver_error_message,
    engine_options,
    is_access_error,
    load_data_local,
)
from energymobile.storage.migrate import upgrade
from energymobile.storage.schema import (
    PROFILE_RADIXES,
    STATISTICS_BOTH,
    cohort_files,
    cohorts,
    condition_profiles,
    oil_well_hourly,
    rigs,
    sensor_hourly,
)

FACT_TABLE = sensor_hourly.name
PROFILES_TABLE = condition_profiles.name
COHORTS_TABLE = cohorts.name
FILES_TABLE = cohort_files.name
FLAT_VIEW = oil_well_hourly.name
PROFILE_ID = "profile_id"
RIG_ID = "rig_id"
SENSOR_COLUMNS: tuple[str, ...] = (*FIRST_COLUMNS, *MEAN_COLUMNS)
"""Every sensor value of a row: each channel's first sample, then each channel's mean."""
LOAD_COLUMNS: tuple[str, ...] = (*KEY_COLUMNS, *SENSOR_COLUMNS, *CONDITION_COLUMNS)
"""What a cohort's load must hold: its rows with the five condition codes."""
FACT_COLUMNS: tuple[str, ...] = tuple(sensor_hourly.c.keys())
"""The columns of sensor_hourly: the five codes are one key of condition_profiles."""
FLAT_COLUMNS: tuple[str, ...] = tuple(oil_well_hourly.c.keys())
"""The columns of oil_well_hourly and of the cohort CSVs: the load's, with descriptions."""

FLAT_DTYPES: dict[str, str] = {
    "site": "string",
    "rig": "string",
    "cohort": "string",
    "cycle": "int64",
    "cumulative_minutes": "int64",
    **{c: "float64" for c in SENSOR_COLUMNS},
    **{c: "int64" for c in CONDITION_COLUMNS},
    **{c: "string" for c in DESCRIPTION_COLUMNS},
}
"""Explicit types for reading back: ints stay ints, date_time is naive UTC datetime64; a
statistic a cohort loaded before revision 005 lacks reads as NaN."""

INSERT_BATCH_ROWS = 5000

# The statements of every load (children first: the foreign keys hold at every statement),
# each bound to one rig and one cohort: a load never touches another rig's rows.
_DELETE_FACTS = sensor_hourly.delete().where(
    sensor_hourly.c.rig_id == bindparam("r"), sensor_hourly.c.cohort == bindparam("k")
)
_DELETE_FILES = cohort_files.delete().where(
    cohort_files.c.rig_id == bindparam("r"), cohort_files.c.cohort == bindparam("k")
)
_DELETE_COHORT = cohorts.delete().where(
    cohorts.c.rig_id == bindparam("r"), cohorts.c.cohort == bindparam("k")
)


class WarehouseError(RuntimeError):
    """The warehouse cannot be used (unreachable, wrong credentials, missing privileges);
    the message names it by its redacted URL."""


@dataclass(frozen=True)
class CohortLoad:
    """Everything one rig's load of a cohort writes: its flat rows (both statistics of every
    sensor) and where they came from."""

    key: str
    frame: pd.DataFrame
    receipts: Sequence[FileReceipt]
    rig: Rig = DEFAULT_RIG

    @property
    def delivery(self) -> str | None:
        """The delivery these rows come from, as the archive names it (None: no receipts)."""
        return delivery_id(self.receipts) if self.receipts else None

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
    """How the fact rows went in: LOAD DATA LOCAL INFILE, COPY FROM STDIN or executemany."""


@dataclass(frozen=True)
class StoredHours:
    """A cohort's hourly series as stored: `loaded_rows` from `cohorts` (None: not loaded),
    then each fact row's cycle and date_time, in cycle order."""

    loaded_rows: int | None
    cycles: list[int]
    times: list[datetime]


def _make_sqlite_folder(url: str) -> None:
    """SQLite creates its file but not the folder ("unable to open database file"): with the
    default warehouse ($ENERGYMOBILE_HOME/warehouse.sqlite) and an S3 object store nothing else
    creates the home. A folder that cannot be made is left for SQLite to report."""
    database = sqlite_file(url)
    if database is not None:
        with contextlib.suppress(OSError):
            database.absolute().parent.mkdir(parents=True, exist_ok=True)


class Warehouse:
    def __init__(self, url: str, *, bulk: str | None = None) -> None:
        """`bulk` forces a bulk path (benchmarks and tests compare them); by default the
        fastest the dialect and server allow (`dialects.bulk_method`)."""
        if bulk is not None and bulk not in BULK_METHODS:
            raise ValueError(f"bulk must be one of {BULK_METHODS}, not {bulk!r}")
        self.url = url
        _make_sqlite_folder(url)
        self.engine: Engine = create_engine(url, pool_pre_ping=True, **engine_options(url))
        configure_engine(self.engine)
        self._schema_checked = False
        self._bulk_method: str | None = bulk
        self._rig_ids: dict[Rig, int] = {}

    @property
    def safe_url(self) -> str:
        return redact_url(self.url)

    def __repr__(self) -> str:
        return f"Warehouse({self.safe_url!r})"

    def ensure_schema(self) -> list[str]:
        """Upgrade the database to the newest revision (once per process, `migrate.upgrade`);
        returns the revisions applied now.

        The first use of the warehouse, so a wrong password or an unreachable server is
        reported here, worded for people and without the password."""
        if self._schema_checked:
            return []
        try:
            applied = upgrade(self.url)
        except DBAPIError as exc:
            if not is_access_error(exc):
                raise
            raise WarehouseError(
                f"cannot use the warehouse {self.safe_url}: {driver_error_message(exc)}"
            ) from exc
        self._schema_checked = True
        return applied

    def rig_id(self, rig: Rig) -> int:
        """The rig's key in `rigs`, registering the rig (its well: its name) the first time.
        In a transaction of its own, before any load's: two processes registering one rig at
        once both get the one row (the loser of the insert reads the winner's)."""
        if rig in self._rig_ids:
            return self._rig_ids[rig]
        self.ensure_schema()
        find = select(rigs.c.rig_id).where(rigs.c.site == rig.site, rigs.c.name == rig.name)
        with self.engine.connect() as conn:
            found = conn.execute(find).scalar_one_or_none()
        if found is None:
            try:
                with self.engine.begin() as conn:
                    conn.execute(
                        rigs.insert(), {"site": rig.site, "well": rig.well, "name": rig.name}
                    )
            except IntegrityError:
                pass  # registered meanwhile by another load: read below
            with self.engine.connect() as conn:
                found = conn.execute(find).scalar_one()
        self._rig_ids[rig] = int(found)
        return self._rig_ids[rig]

    def rigs(self) -> list[Rig]:
        """Every registered rig, by site and name."""
        self.ensure_schema()
        with self.engine.connect() as conn:
            rows = conn.execute(select(rigs.c.site, rigs.c.name).order_by(rigs.c.site, rigs.c.name))
            return [Rig(site, name) for site, name in rows]

    def replace_cohort(self, load: CohortLoad) -> LoadReport:
        """Delete the rig's rows of the cohort and insert the new ones, in one transaction."""
        self.ensure_schema()
        started = time.perf_counter()
        rig_id = self.rig_id(load.rig)
        facts = fact_table(load.frame, load.key, rig_id)
        start, end = cohort_window(load.key)
        key = {"r": rig_id, "k": load.key}
        with self.engine.begin() as conn:
            method = self._method(conn)
            replaced = conn.execute(_DELETE_FACTS, key).rowcount
            conn.execute(_DELETE_FILES, key)
            conn.execute(_DELETE_COHORT, key)
            conn.execute(
                cohorts.insert(),
                {
                    "rig_id": rig_id,
                    "cohort": load.key,
                    "window_start": start,
                    "window_end": end,
                    "row_count": facts.height,
                    "statistic": STATISTICS_BOTH,
                    "source_sha256": load.source_sha256,
                    "loaded_at": datetime.now(timezone.utc).replace(tzinfo=None),
                    "delivery": load.delivery,
                },
            )
            if load.receipts:
                conn.execute(
                    cohort_files.insert(),
                    [
                        {
                            "rig_id": rig_id,
                            "cohort": load.key,
                            "file_name": r.name,
                            "byte_count": r.bytes,
                            "row_count": r.rows,
                            "sha256": r.sha256,
                        }
                        for r in load.receipts
                    ],
                )
            if method == LOAD_DATA:
                written = load_data_local(conn, FACT_TABLE, FACT_COLUMNS, facts)
            elif method == COPY:
                written = copy_from_stdin(conn, FACT_TABLE, FACT_COLUMNS, facts)
            else:
                written = insert_facts_many(conn, facts)
        return LoadReport(FACT_TABLE, written, int(replaced), time.perf_counter() - started, method)

    def read_cohorts(
        self, keys: Sequence[str], *, site: str | None = None, rig: Rig | None = None
    ) -> pd.DataFrame:
        """The flat rows of `oil_well_hourly` for these cohorts, of every rig, of one site's
        rigs or of one rig, in (site, rig, cohort, cycle) order."""
        self.ensure_schema()
        view = oil_well_hourly
        query = select(*(view.c[name] for name in FLAT_COLUMNS)).where(
            view.c.cohort.in_(list(keys))
        )
        if rig is not None:
            query = query.where(view.c.site == rig.site, view.c.rig == rig.name)
        elif site is not None:
            query = query.where(view.c.site == site)
        query = query.order_by(view.c.site, view.c.rig, view.c.cohort, view.c.cycle)
        with self.engine.connect() as conn:
            frame = pd.DataFrame(conn.execute(query).fetchall(), columns=list(FLAT_COLUMNS))
        return typed_flat_frame(frame)

    def loaded_cohorts(self, site: str | None = None) -> dict[str, int]:
        """Cohort key -> rows (of all its rigs), for every cohort in the warehouse, or of one
        site's rigs."""
        self.ensure_schema()
        query = (
            select(cohorts.c.cohort, cohorts.c.row_count)
            .join(rigs, rigs.c.rig_id == cohorts.c.rig_id)
            .order_by(cohorts.c.cohort)
        )
        if site is not None:
            query = query.where(rigs.c.site == site)
        loaded: dict[str, int] = {}
        with self.engine.connect() as conn:
            for key, n in conn.execute(query):
                loaded[key] = loaded.get(key, 0) + int(n)
        return loaded

    def loaded_rigs(self, site: str | None = None) -> dict[tuple[Rig, str], int]:
        """(rig, cohort) -> rows, for every rig's loaded cohort (or one site's)."""
        self.ensure_schema()
        query = select(rigs.c.site, rigs.c.name, cohorts.c.cohort, cohorts.c.row_count).join(
            rigs, rigs.c.rig_id == cohorts.c.rig_id
        )
        if site is not None:
            query = query.where(rigs.c.site == site)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(rigs.c.site, rigs.c.name, cohorts.c.cohort))
            return {(Rig(s, name), key): int(n) for s, name, key, n in rows}

    def cohorts_to_rederive(self) -> dict[str, str]:
        """Cohort key -> the one statistic it holds, for every cohort loaded before revision
        005 and not loaded since: re-derive each from its archive (docs/mysql.md)."""
        self.ensure_schema()
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(cohorts.c.cohort, cohorts.c.statistic)
                .where(cohorts.c.statistic != STATISTICS_BOTH)
                .order_by(cohorts.c.cohort)
            )
            return {key: str(statistic) for key, statistic in rows}

    def cohort_deliveries(self, rig: Rig = DEFAULT_RIG) -> dict[str, str | None]:
        """Cohort key -> the delivery its rows come from, for every cohort loaded of one rig."""
        return {key: delivery for (of, key), delivery in self.rig_deliveries().items() if of == rig}

    def rig_deliveries(self) -> dict[tuple[Rig, str], str | None]:
        """(rig, cohort) -> the delivery its rows come from, for every loaded (rig, cohort).

        Rows loaded before revision 006 recorded none (NULL): theirs is worked out again from
        the files the load recorded (`cohort_files`: the same names, sizes and SHA-256s the
        archive's id is made of); None only for a load that recorded no files."""
        self.ensure_schema()
        with self.engine.connect() as conn:
            recorded = {
                (rig_id, key): delivery
                for rig_id, key, delivery in conn.execute(
                    select(cohorts.c.rig_id, cohorts.c.cohort, cohorts.c.delivery)
                )
            }
            names = {
                rig_id: Rig(site, name)
                for rig_id, site, name in conn.execute(
                    select(rigs.c.rig_id, rigs.c.site, rigs.c.name)
                )
            }
            unknown = sorted(key for key, delivery in recorded.items() if delivery is None)
            files: dict[tuple[int, str], list[FileReceipt]] = {key: [] for key in unknown}
            if unknown:
                rows = conn.execute(
                    select(
                        cohort_files.c.rig_id,
                        cohort_files.c.cohort,
                        cohort_files.c.file_name,
                        cohort_files.c.byte_count,
                        cohort_files.c.row_count,
                        cohort_files.c.sha256,
                    ).where(cohort_files.c.cohort.in_(sorted({key for _, key in unknown})))
                )
                for rig_id, key, name, size, rows_, sha256 in rows:
                    if (rig_id, key) in files:
                        files[rig_id, key].append(
                            FileReceipt(name, int(size), int(rows_), 0, sha256)
                        )
        return {
            (names[rig_id], key): (
                delivery or (delivery_id(files[rig_id, key]) if files.get((rig_id, key)) else None)
            )
            for (rig_id, key), delivery in recorded.items()
        }

    def stored_hours(self, key: str, rig: Rig = DEFAULT_RIG) -> StoredHours:
        """What the warehouse holds of a rig's hourly series of a cohort, for the check that
        reads back a load: the row count its load recorded and its fact rows' cycles and hours."""
        self.ensure_schema()
        with self.engine.connect() as conn:
            rig_id = conn.execute(
                select(rigs.c.rig_id).where(rigs.c.site == rig.site, rigs.c.name == rig.name)
            ).scalar_one_or_none()
            loaded = conn.execute(
                select(cohorts.c.row_count).where(
                    and_(cohorts.c.rig_id == rig_id, cohorts.c.cohort == key)
                )
            ).scalar_one_or_none()
            rows = conn.execute(
                select(sensor_hourly.c.cycle, sensor_hourly.c.date_time)
                .where(sensor_hourly.c.rig_id == rig_id, sensor_hourly.c.cohort == key)
                .order_by(sensor_hourly.c.cycle)
            ).all()
        times = pd.to_datetime([row[1] for row in rows], format="ISO8601").to_pydatetime().tolist()
        return StoredHours(
            None if loaded is None else int(loaded), [int(row[0]) for row in rows], times
        )

    def dispose(self) -> None:
        self.engine.dispose()

    def _method(self, conn: Connection) -> str:
        if self._bulk_method is None:
            self._bulk_method = bulk_method(conn)
        return self._bulk_method


LOAD_SCHEMA: dict[str, pl.DataType] = {
    "cohort": pl.String(),
    "cycle": pl.Int64(),
    "date_time": pl.Datetime("us"),
    "cumulative_minutes": pl.Int64(),
    **{c: pl.Float64() for c in SENSOR_COLUMNS},
    **{c: pl.Int64() for c in CONDITION_COLUMNS},
}
"""What is written: naive UTC timestamps, plain ints and doubles, no nulls."""


def profile_id_expr() -> pl.Expr:
    """The rows' condition_profiles key, from their five codes (see PROFILE_RADIXES)."""
    first, *rest = CONDITION_COLUMNS
    expr = pl.col(first).cast(pl.Int64)
    for column in rest:
        expr = expr * PROFILE_RADIXES[column] + pl.col(column)
    return expr.alias(PROFILE_ID)


def profile_id(codes: Mapping[str, int]) -> int:
    """One combination's key, the same formula as `profile_id_expr` (tests, diagnostics)."""
    first, *rest = CONDITION_COLUMNS
    value = int(codes[first])
    for column in rest:
        value = value * PROFILE_RADIXES[column] + int(codes[column])
    return value


def fact_table(frame: pd.DataFrame, key: str, rig_id: int = 1) -> pl.DataFrame:
    """The fact rows of one rig's cohort (rig_id: its key in `rigs`), checked, cast and in
    primary key order, as the table holds them: the five condition codes replaced by their
    `profile_id`, the rig's key last.

    Refuses (before touching the database) rows of another cohort, missing values,
    non-finite numbers and codes outside the profile key's digits (no documented code is;
    any other code in range has no condition_profiles row, and the database refuses it).
    Polars, because this runs for every load (under a tenth of its time). Rows go in
    (cohort, cycle) order, so they append to the clustered index.
    """
    absent = [c for c in LOAD_COLUMNS if c not in frame.columns]
    if absent:
        raise ValueError(f"cohort {key}: columns missing from the load: {absent}")
    # Series by series: pl.Series reads numpy-backed columns directly, where pl.from_pandas
    # goes through pyarrow, 4x slower for the 17 doubles. Either way NaN becomes a null.
    facts = pl.DataFrame([pl.Series(c, frame[c]) for c in LOAD_COLUMNS])
    nulls = [c for c, n in zip(facts.columns, facts.null_count().row(0), strict=True) if n]
    if nulls:
        raise ValueError(f"cohort {key}: missing values in {nulls}; nothing was loaded")
    strangers = sorted(set(facts["cohort"].cast(pl.String).unique().to_list()) - {key})
    if strangers:
        raise ValueError(f"cohort {key}: the load holds rows of other cohorts {strangers}")
    if getattr(facts["date_time"].dtype, "time_zone", None):
        facts = facts.with_columns(
            pl.col("date_time").dt.convert_time_zone("UTC").dt.replace_time_zone(None)
        )
    facts = facts.cast(LOAD_SCHEMA)  # type: ignore[arg-type]
    finite, *in_range = facts.select(
        pl.all_horizontal(pl.col(list(SENSOR_COLUMNS)).is_finite()).all(),
        *(pl.col(c).is_between(0, radix - 1).all() for c, radix in PROFILE_RADIXES.items()),
    ).row(0)
    if not finite:
        raise ValueError(f"cohort {key}: NaN or infinite sensor values; nothing was loaded")
    if not all(in_range):
        outside: dict[str, list[int]] = {}
        for column, radix in PROFILE_RADIXES.items():
            codes = facts[column].filter(~facts[column].is_between(0, radix - 1))
            if codes.len():
                outside[column] = codes.unique().sort().to_list()[:5]
        raise ValueError(
            f"cohort {key}: condition codes that no condition profile can hold {outside}; "
            "nothing was loaded"
        )
    if not facts["cycle"].is_sorted():
        facts = facts.sort("cycle")
    return facts.select(
        *KEY_COLUMNS, profile_id_expr(), *SENSOR_COLUMNS, pl.lit(rig_id, pl.Int64).alias(RIG_ID)
    )


def insert_facts_many(conn: Connection, facts: pl.DataFrame) -> int:
    """The portable bulk path: executemany in batches (mysqlclient turns each batch into
    multi-row INSERT statements, psycopg pipelines them); returns the rows inserted."""
    insert = sensor_hourly.insert()
    for batch in facts.iter_slices(INSERT_BATCH_ROWS):
        conn.execute(insert, batch.rows(named=True))
    return facts.height


def typed_flat_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Cast rows read from any dialect to the same explicit dtypes."""
    typed = frame.astype(FLAT_DTYPES)
    typed["date_time"] = pd.to_datetime(typed["date_time"]).astype("datetime64[ns]")
    return typed[list(FLAT_COLUMNS)]
