"""Loading cohorts into MariaDB and PostgreSQL: our `Warehouse.replace_cohort` against
`DataFrame.to_sql`.

60 full-size cohorts of hourly rows (~2,200 each, ~131,000 in all, built with the pipeline's own
`hourly_frame` and `merge_profile`) go into a throwaway MariaDB started for the run
(energymobile_tests.support.mariadb: server defaults, durable commits). Every attempt gets a fresh
database with the schema from sql/ (001-004), so all contenders write the same table with the
same primary key, two foreign keys (cohort, condition profile) and two secondary indexes
(date_time, profile_id), every key checked by the server row by row:
- baseline: `frame.to_sql("sensor_hourly", engine, if_exists="append", index=False)` per cohort
  (pandas' default method) of the rows as the table holds them (profile_id for the five
  codes); the frames and the cohorts' parent rows are prepared beforehand, untimed;
- ours: `replace_cohort` per cohort (in one transaction: delete the cohort, insert its cohort
  and file rows, LOAD DATA LOCAL INFILE the facts, check the server took every row);
- ours again over the loaded cohorts (each delete now removes ~2,200 rows first);
- ours with `?local_infile=0`: the executemany fallback for servers that refuse LOAD DATA;
- ours, two cohorts at a time (two connections, as a Dagster backfill runs two runs at once
  with dagster.yaml's max_concurrent_runs: 2; `energymobile backfill` runs one at a time);
- the server's ceiling: the bare LOAD DATA statements of pre-written files, nothing else.
Targets (issue "MySQL for real"): ours >= 5× to_sql and >= 50,000 rows/s.

The same cohorts then go into a throwaway PostgreSQL (energymobile_tests.support.postgres: server
defaults, durable commits), same schema, same contenders: to_sql (psycopg), ours with COPY FROM
STDIN, replacing, ours with executemany, two at a time (issue 8; no target set).
"""

from __future__ import annotations

import itertools
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import create_engine, text

from benchmarks import BenchContext, Figure
from energymobile.cohorts import cohort_keys, default_cycles
from energymobile.storage.dialects import EXECUTEMANY, LOAD_DATA
from energymobile.storage.warehouse import (
    FACT_COLUMNS,
    FACT_TABLE,
    CohortLoad,
    Warehouse,
    fact_table,
)
from energymobile_tests.support.mariadb import MariaDBServer, start_mariadb
from energymobile_tests.support.postgres import start_postgres
from energymobile_tests.support.servers import ThrowawayServer
from energymobile_tests.support.synthetic import synthetic_load

NAME = "warehouse"
FIRST_KEY = "2008-03-26"
COHORTS = 60
QUICK_COHORTS = 3
QUICK_ROWS = 48
TARGET_RATIO = 5.0
TARGET_ROWS_PER_S = 50_000


def run(ctx: BenchContext) -> list[Figure]:
    count = QUICK_COHORTS if ctx.quick else COHORTS
    keys = cohort_keys(FIRST_KEY, count)
    loads = [
        synthetic_load(key, QUICK_ROWS if ctx.quick else default_cycles(key), seed)
        for seed, key in enumerate(keys)
    ]
    rows = sum(len(load.frame) for load in loads)
    repeats = 1 if ctx.quick else 3
    print(f"  {count} cohorts, {rows:,} rows; starting a throwaway MariaDB", flush=True)

    server = start_mariadb()
    try:
        databases = itertools.count(1)
        to_sql_s, ours_s, again_s, pair_s = [], [], [], []
        method = ""
        for _ in range(repeats):  # interleaved, so both see the same machine load
            first, again, method = _ours(server, f"bench_{next(databases)}", loads, rows)
            ours_s.append(first)
            again_s.append(again)
            to_sql_s.append(_to_sql(server, f"bench_{next(databases)}", loads, rows))
            pair_s.append(_ours_in_pairs(server, f"bench_{next(databases)}", loads, rows))
        fallback_s, _, fallback_method = _ours(
            server,
            f"bench_{next(databases)}",
            loads,
            rows,
            url_suffix="?local_infile=0",
            again=False,
        )
        ceiling_s = _load_data_alone(server, f"bench_{next(databases)}", loads, rows)
        version = _server_version(server)
    finally:
        server.stop()

    baseline, ours, again, pairs = min(to_sql_s), min(ours_s), min(again_s), min(pair_s)
    runs = f"best of {repeats}"
    ratio = baseline / ours
    mariadb = [
        Figure(NAME, "rows loaded per attempt", rows, "rows", f"{count} cohorts, {version}"),
        Figure(
            NAME,
            "baseline: DataFrame.to_sql",
            rows / baseline,
            "rows/s",
            f"{baseline:.2f} s, {runs}",
        ),
        Figure(
            NAME,
            f"ours: replace_cohort ({'LOAD DATA' if method == LOAD_DATA else method})",
            rows / ours,
            "rows/s",
            f"{ours:.2f} s, {runs}; target >= {TARGET_ROWS_PER_S:,}",
        ),
        Figure(
            NAME,
            "ours: replacing the loaded cohorts",
            rows / again,
            "rows/s",
            f"{again:.2f} s, {runs}",
        ),
        Figure(
            NAME,
            f"ours: replace_cohort ({fallback_method} fallback)",
            rows / fallback_s,
            "rows/s",
            f"{fallback_s:.2f} s, 1 run; local_infile off",
        ),
        Figure(
            NAME, "ours, two cohorts at a time", rows / pairs, "rows/s", f"{pairs:.2f} s, {runs}"
        ),
        Figure(
            NAME,
            "ceiling: bare LOAD DATA statements",
            rows / ceiling_s,
            "rows/s",
            f"{ceiling_s:.2f} s, 1 run; files pre-written, per-row key checks as ours",
        ),
        Figure(NAME, "ours / to_sql", ratio, "x", f"target >= {TARGET_RATIO:g}"),
        Figure(NAME, "ours two at a time / to_sql", baseline / pairs, "x", ""),
    ]
    return mariadb + postgres_figures(loads, repeats)


def postgres_figures(loads: list[CohortLoad], repeats: int) -> list[Figure]:
    """The same contenders on a throwaway PostgreSQL, interleaved, best of `repeats`."""
    rows = sum(len(load.frame) for load in loads)
    print(f"  {len(loads)} cohorts, {rows:,} rows; starting a throwaway PostgreSQL", flush=True)
    server = start_postgres()
    try:
        databases = itertools.count(1)
        to_sql_s, ours_s, again_s, pair_s, many_s = [], [], [], [], []
        for _ in range(repeats):
            first, again, method = _ours(server, f"bench_{next(databases)}", loads, rows)
            ours_s.append(first)
            again_s.append(again)
            to_sql_s.append(_to_sql(server, f"bench_{next(databases)}", loads, rows))
            pair_s.append(_ours_in_pairs(server, f"bench_{next(databases)}", loads, rows))
            many_s.append(
                _ours(
                    server, f"bench_{next(databases)}", loads, rows, bulk=EXECUTEMANY, again=False
                )[0]
            )
        with server.admin_connection() as admin:
            version = f"PostgreSQL {admin.execute('SHOW server_version').fetchone()[0].split()[0]}"
    finally:
        server.stop()
    baseline, ours, again, pairs, many = (
        min(s) for s in (to_sql_s, ours_s, again_s, pair_s, many_s)
    )
    runs = f"best of {repeats}"
    return [
        Figure(
            NAME, "pg: rows loaded per attempt", rows, "rows", f"{len(loads)} cohorts, {version}"
        ),
        Figure(
            NAME,
            "pg baseline: DataFrame.to_sql",
            rows / baseline,
            "rows/s",
            f"{baseline:.2f} s, {runs}",
        ),
        Figure(
            NAME,
            f"pg ours: replace_cohort ({method})",
            rows / ours,
            "rows/s",
            f"{ours:.2f} s, {runs}",
        ),
        Figure(
            NAME,
            "pg ours: replacing the loaded cohorts",
            rows / again,
            "rows/s",
            f"{again:.2f} s, {runs}",
        ),
        Figure(
            NAME,
            f"pg ours: replace_cohort ({EXECUTEMANY})",
            rows / many,
            "rows/s",
            f"{many:.2f} s, {runs}",
        ),
        Figure(
            NAME, "pg ours, two cohorts at a time", rows / pairs, "rows/s", f"{pairs:.2f} s, {runs}"
        ),
        Figure(NAME, "pg ours / to_sql", baseline / ours, "x", ""),
        Figure(NAME, "pg ours two at a time / to_sql", baseline / pairs, "x", ""),
    ]


def _ours(
    server: ThrowawayServer,
    database: str,
    loads: list[CohortLoad],
    rows: int,
    url_suffix: str = "",
    again: bool = True,
    bulk: str | None = None,
) -> tuple[float, float, str]:
    """Seconds to load every cohort into an empty database, then (if `again`) to replace
    them all; and the bulk method used."""
    warehouse = Warehouse(server.create_database(database) + url_suffix, bulk=bulk)
    try:
        warehouse.ensure_schema()
        started = time.perf_counter()
        reports = [warehouse.replace_cohort(load) for load in loads]
        first = time.perf_counter() - started
        started = time.perf_counter()
        for load in loads if again else []:
            warehouse.replace_cohort(load)
        replaced = time.perf_counter() - started
        assert sum(warehouse.loaded_cohorts().values()) == rows
    finally:
        warehouse.dispose()
    return first, replaced, reports[0].method


def _ours_in_pairs(
    server: ThrowawayServer, database: str, loads: list[CohortLoad], rows: int
) -> float:
    """Seconds to load every cohort with two loaders at once, each on its own connection."""
    warehouse = Warehouse(server.create_database(database))
    try:
        warehouse.ensure_schema()
        started = time.perf_counter()
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(warehouse.replace_cohort, loads))
        elapsed = time.perf_counter() - started
        assert sum(warehouse.loaded_cohorts().values()) == rows
    finally:
        warehouse.dispose()
    return elapsed


def _database_with_cohort_rows(
    server: ThrowawayServer, database: str, loads: list[CohortLoad]
) -> str:
    """A new database holding each cohort's parent rows (for the foreign key), no facts yet:
    what a bare fact-table load needs before it is timed. Returns its URL."""
    url = server.create_database(database)
    warehouse = Warehouse(url)
    try:
        for load in loads:
            warehouse.replace_cohort(CohortLoad(load.key, load.frame.iloc[:0], []))
    finally:
        warehouse.dispose()
    return url


def _to_sql(server: ThrowawayServer, database: str, loads: list[CohortLoad], rows: int) -> float:
    """Seconds for pandas to append every cohort's fact rows to the same table."""
    url = _database_with_cohort_rows(server, database, loads)
    # The rows as the table holds them (profile_id for the five codes), prepared untimed.
    frames = [fact_table(load.frame, load.key).to_pandas() for load in loads]
    engine = create_engine(url)
    try:
        started = time.perf_counter()
        for frame in frames:
            frame.to_sql(FACT_TABLE, engine, if_exists="append", index=False)
        elapsed = time.perf_counter() - started
        with engine.connect() as conn:
            assert conn.execute(text(f"SELECT COUNT(*) FROM {FACT_TABLE}")).scalar_one() == rows
    finally:
        engine.dispose()
    return elapsed


def _load_data_alone(
    server: MariaDBServer, database: str, loads: list[CohortLoad], rows: int
) -> float:
    """Seconds for the LOAD DATA statements alone (one transaction per cohort), from files
    written beforehand: what the server needs for these rows, whatever the client does."""
    url = _database_with_cohort_rows(server, database, loads)
    engine = create_engine(url, connect_args={"local_infile": 1})
    with tempfile.TemporaryDirectory(dir="/dev/shm" if Path("/dev/shm").is_dir() else None) as tmp:
        files = []
        for load in loads:
            path = Path(tmp) / f"{load.key}.csv"
            fact_table(load.frame, load.key).write_csv(
                path, include_header=False, datetime_format="%Y-%m-%d %H:%M:%S"
            )
            files.append(str(path))
        statement = text(
            f"LOAD DATA LOCAL INFILE :path INTO TABLE {FACT_TABLE} "
            f"FIELDS TERMINATED BY ',' ({', '.join(FACT_COLUMNS)})"
        )
        try:
            started = time.perf_counter()
            for path in files:
                with engine.begin() as conn:
                    conn.execute(statement, {"path": path})
            elapsed = time.perf_counter() - started
            with engine.connect() as conn:
                loaded = conn.execute(text(f"SELECT COUNT(*) FROM {FACT_TABLE}")).scalar_one()
            assert loaded == rows
        finally:
            engine.dispose()
    return elapsed


def _server_version(server: MariaDBServer) -> str:
    conn = server.admin_connection()
    try:
        cursor = conn.cursor()
        cursor.execute("SELECT VERSION()")
        return f"MariaDB {cursor.fetchone()[0].split('-')[0]}"
    finally:
        conn.close()
