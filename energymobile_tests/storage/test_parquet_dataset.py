"""The Parquet prefix is one Hive-partitioned dataset, as pandas, pyarrow and DuckDB read it,
on the local store and on S3 (moto server); docs/s3.md's Athena table matches the files."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest
from fsspec.implementations.arrow import ArrowFSWrapper

from energymobile.dictionary import (
    ATHENA_MARKER,
    DOCS_LOCATION,
    PARQUET_COLUMNS,
    PARTITION_COLUMNS,
    athena_ddl,
)
from energymobile.rigs import DEFAULT_SITE, Rig
from energymobile.storage.exports import (
    PARQUET_PREFIX,
    cohort_parquet_key,
    write_cohort_export,
)
from energymobile.storage.object_store import ObjectStore, open_object_store
from energymobile_tests.support.s3 import S3_BUCKET
from energymobile_tests.support.synthetic import synthetic_cohort_frame

REPO_ROOT = Path(__file__).resolve().parents[2]
KEYS = ("2008-03-26", "2008-06-26", "2008-09-26")
OTHER_RIG = Rig("north", "rig-1")
"""A rig of another site, which delivered the first cohort too."""
ROWS = 5
DATA_COLUMNS = [c.name for c in PARQUET_COLUMNS]


def _export(store: ObjectStore) -> pd.DataFrame:
    """Three cohorts of the default site and the first of another site exported; their flat
    rows, as the dataset must return them."""
    frames = [synthetic_cohort_frame(key, ROWS, seed=i) for i, key in enumerate(KEYS)]
    for key, frame in zip(KEYS, frames, strict=True):
        write_cohort_export(store, key, frame)
    other = synthetic_cohort_frame(KEYS[0], ROWS, seed=9, rig=OTHER_RIG)
    write_cohort_export(store, KEYS[0], other, OTHER_RIG.site)
    both = pd.concat([*frames, other], ignore_index=True)
    return both[[*DATA_COLUMNS, *PARTITION_COLUMNS]]


def _in_key_order(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame[[*DATA_COLUMNS, *PARTITION_COLUMNS]].copy()  # DuckDB orders partitions its way
    for column in PARTITION_COLUMNS:
        frame[column] = frame[column].astype(str).astype("string")
    frame["date_time"] = frame["date_time"].astype("datetime64[ns]")
    return frame.sort_values(["site", "cohort", "cycle"], ignore_index=True)


def _duckdb_rows(connection: duckdb.DuckDBPyConnection, glob: str) -> pd.DataFrame:
    """DuckDB's hive reader over the prefix; `site` and `cohort` kept strings, as Athena
    declares them."""
    return connection.sql(
        f"SELECT * FROM read_parquet('{glob}', hive_partitioning = true, "
        "hive_types = {'site': VARCHAR, 'cohort': VARCHAR})"
    ).df()


def _assert_one_dataset(
    expected: pd.DataFrame, prefix: str, filesystem: pafs.FileSystem | None, duck_glob: str
) -> None:
    via_pandas = pd.read_parquet(prefix, filesystem=filesystem)
    assert list(via_pandas.columns) == [*DATA_COLUMNS, *PARTITION_COLUMNS]
    pd.testing.assert_frame_equal(_in_key_order(via_pandas), _in_key_order(expected))

    dataset = ds.dataset(prefix, format="parquet", partitioning="hive", filesystem=filesystem)
    recent = dataset.to_table(filter=ds.field("cohort") >= KEYS[1]).to_pandas()
    assert sorted(recent["cohort"].unique()) == list(KEYS[1:])
    assert len(recent) == ROWS * 2
    one_site = dataset.to_table(filter=ds.field("site") == OTHER_RIG.site).to_pandas()
    assert set(one_site["rig"]) == {OTHER_RIG.name} and len(one_site) == ROWS

    via_duckdb = _duckdb_rows(duckdb_connection(filesystem), duck_glob)
    pd.testing.assert_frame_equal(
        _in_key_order(via_duckdb), _in_key_order(expected), check_dtype=False
    )


def duckdb_connection(filesystem: pafs.FileSystem | None) -> duckdb.DuckDBPyConnection:
    """DuckDB in process; for S3 it reads through pyarrow's S3 client (as an fsspec filesystem):
    its own httpfs extension is downloaded on first use, which these machines cannot."""
    connection = duckdb.connect()
    if filesystem is not None:
        connection.register_filesystem(ArrowFSWrapper(filesystem))
    return connection


@pytest.mark.unit
def test_the_prefix_holds_only_parquet_files_and_reads_as_one_dataset(tmp_path):
    store = open_object_store(f"file://{tmp_path / 'store'}")
    expected = _export(store)
    files = store.list_keys(f"{PARQUET_PREFIX}/")
    assert files == sorted(
        [cohort_parquet_key(key) for key in KEYS] + [cohort_parquet_key(KEYS[0], OTHER_RIG.site)]
    )
    assert all(
        re.fullmatch(rf"{PARQUET_PREFIX}/site=[a-z-]+/cohort=[0-9-]+/data\.parquet", f)
        for f in files
    )
    assert cohort_parquet_key(KEYS[0]).startswith(f"{PARQUET_PREFIX}/site={DEFAULT_SITE}/")
    prefix = str(tmp_path / "store" / PARQUET_PREFIX)
    _assert_one_dataset(expected, prefix, None, f"{prefix}/*/*/*.parquet")


@pytest.mark.integration
def test_the_prefix_reads_as_one_dataset_from_s3(moto_s3, s3_prefix):
    """The same readers on the bucket: pandas and pyarrow through pyarrow's S3 client (from the
    standard AWS variables), DuckDB through the same client."""
    store = open_object_store(f"s3://{S3_BUCKET}/{s3_prefix}")
    expected = _export(store)
    prefix = f"s3://{S3_BUCKET}/{s3_prefix}/{PARQUET_PREFIX}/"
    assert moto_s3.keys(S3_BUCKET, f"{s3_prefix}/{PARQUET_PREFIX}/") == sorted(
        [f"{s3_prefix}/{cohort_parquet_key(key)}" for key in KEYS]
        + [f"{s3_prefix}/{cohort_parquet_key(KEYS[0], OTHER_RIG.site)}"]
    )
    pd.testing.assert_frame_equal(
        _in_key_order(pd.read_parquet(prefix)), _in_key_order(expected)
    )  # the URI alone, as in a notebook
    filesystem, path = pafs.FileSystem.from_uri(prefix)
    _assert_one_dataset(expected, path, filesystem, f"s3://{path.rstrip('/')}/*/*/*.parquet")


# -- Athena ---------------------------------------------------------------------------------

DDL_COLUMN = re.compile(r"^\s+(\w+) (\w+),?$")
ARROW_FOR_ATHENA = {
    "bigint": pa.int64(),
    "double": pa.float64(),
    "string": pa.string(),
    "timestamp": pa.timestamp("ms"),
}
DUCKDB_FOR_ATHENA = {
    "bigint": "BIGINT",
    "double": "DOUBLE",
    "string": "VARCHAR",
    "timestamp": "TIMESTAMP",
}


def _documented_ddl() -> str:
    text = (REPO_ROOT / "docs" / "s3.md").read_text("utf-8")
    block = re.search(rf"{re.escape(ATHENA_MARKER)}\n```sql\n(.*?)```", text, re.S)
    assert block, "docs/s3.md has no Athena statement"
    return block.group(1)


def _parse(ddl: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]], str]:
    """(data columns, partition columns, location) of a CREATE EXTERNAL TABLE statement."""
    body = ddl.split("(", 1)[1].split("\n)\n", 1)[0]
    columns = [m.groups() for m in map(DDL_COLUMN.match, body.splitlines()) if m]
    partitions = re.search(r"PARTITIONED BY \((.*?)\)", ddl)
    location = re.search(r"LOCATION '([^']+)'", ddl)
    assert partitions and location
    parts = [tuple(p.split()) for p in partitions.group(1).split(",")]
    return columns, parts, location.group(1)  # type: ignore[return-value]


@pytest.mark.unit
def test_the_athena_table_in_the_docs_matches_the_files_and_queries_like_duckdb(tmp_path):
    ddl = _documented_ddl()
    assert ddl == athena_ddl(DOCS_LOCATION), "run `make docs`"
    columns, partitions, location = _parse(ddl)
    assert location.endswith(f"/{PARQUET_PREFIX}/")

    store = open_object_store(f"file://{tmp_path / 'store'}")
    expected = _export(store)
    schema = pq.read_schema(store.root / cohort_parquet_key(KEYS[0]))  # type: ignore[attr-defined]
    assert [(f.name, f.type) for f in schema] == [
        (name, ARROW_FOR_ATHENA[kind]) for name, kind in columns
    ]
    # Athena's rule: a partition column is in the path, never also in the files.
    assert [name for name, _ in partitions] == list(PARTITION_COLUMNS)
    assert not {name for name, _ in partitions} & set(schema.names)
    assert all(kind == "string" for _, kind in partitions)

    # The table's query, in DuckDB over the same files: every declared column cast to its
    # declared type, the partition typed as declared.
    prefix = tmp_path / "store" / PARQUET_PREFIX
    casts = ", ".join(
        f"CAST({name} AS {DUCKDB_FOR_ATHENA[kind]}) AS {name}" for name, kind in columns
    )
    hive_types = ", ".join(f"'{name}': {DUCKDB_FOR_ATHENA[kind]}" for name, kind in partitions)
    table = duckdb.connect().sql(
        f"SELECT {casts}, {', '.join(name for name, _ in partitions)} FROM read_parquet("
        f"'{prefix}/*/*/*.parquet', hive_partitioning = true, hive_types = {{{hive_types}}})"
    )
    assert [str(t) for t in table.types] == [
        *(DUCKDB_FOR_ATHENA[kind] for _, kind in columns),
        *(DUCKDB_FOR_ATHENA[kind] for _, kind in partitions),
    ]
    pd.testing.assert_frame_equal(
        _in_key_order(table.df()), _in_key_order(expected), check_dtype=False
    )
