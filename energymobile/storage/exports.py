"""The scientists' files in the object store, their layout and format.

- `oil-well-data-all-historical/cohort=<key>/data.csv`: one cohort's rows of the default site
  (every rig of it, the `rig` column saying which), laid out as the scientists' template
  (HourlyData.csv) and then the keys, conditions and means (energymobile/dictionary.py says
  every column); `oil-well-data-all-historical/site=<site>/cohort=<key>/data.csv` for any other
  site. The default site keeps the single-rig path, so an installation of one rig sees its
  files where they always were.
- `oil-well-data-all-historical.csv`: every exported cohort of the default site, in key order,
  rebuilt by streaming the site's cohort files into one upload (never all of history in
  memory); `oil-well-data-all-historical/site=<site>.csv` the same for any other site: beside
  the site's folder of cohort CSVs, not in it, so a reader of that folder never counts it twice.
  Each is a partition of the asset combined_csv (one per site), rebuilt once after any number
  of the site's cohort exports, not by each; there is no fleet-wide CSV (the Parquet dataset
  is the whole fleet's form, docs/fleet.md).
- `oil-well-data-all-historical-parquet/site=<site>/cohort=<key>/data.parquet`: the same rows
  typed, named as in the warehouse's view, in a prefix of their own that holds nothing else, so
  pandas, pyarrow, DuckDB and Athena read it as one Hive-partitioned dataset (`site` and
  `cohort` from the path): the whole fleet's form.
- `oil-well-data-all-historical-dictionary.csv`: the data dictionary, written with the exports.
- `raw/cohort=<key>/`: raw_logs' archive of each accepted delivery (archive.py).
"""

from __future__ import annotations

import io
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from energymobile.dictionary import (
    CSV_COLUMNS,
    CSV_HEADER,
    DATE_FORMAT,
    FLOAT,
    INTEGER,
    PARQUET_COLUMNS,
    STRING,
    TIMESTAMP,
    dictionary_csv,
)
from energymobile.rigs import DEFAULT_SITE
from energymobile.storage.object_store import ObjectStore, ObjectVersion, StoredObject
from energymobile.storage.warehouse import SENSOR_COLUMNS, typed_flat_frame

HISTORICAL_PREFIX = "oil-well-data-all-historical"
COMBINED_KEY = f"{HISTORICAL_PREFIX}.csv"
PARQUET_PREFIX = f"{HISTORICAL_PREFIX}-parquet"
DICTIONARY_KEY = f"{HISTORICAL_PREFIX}-dictionary.csv"
_COHORT_KEY = re.compile(r"([0-9-]+)/data\.csv")
"""What follows a site's cohort-CSV prefix (`…/cohort=`) in its cohort CSVs' keys."""
REBUILD_PASSES = 3
"""Rebuilds tried when cohort exports change while the combined file is written."""
COUNT_CHUNK_ROWS = 100_000

ARROW_TYPES: dict[str, pa.DataType] = {
    INTEGER: pa.int64(),
    FLOAT: pa.float64(),
    STRING: pa.string(),
    TIMESTAMP: pa.timestamp("ms"),
}
"""Each logical type as the Parquet files store it; timestamps in milliseconds, which Athena,
Spark and DuckDB all read (nanoseconds are not)."""
PARQUET_SCHEMA = pa.schema([pa.field(c.name, ARROW_TYPES[c.type]) for c in PARQUET_COLUMNS])
_CSV_READ_DTYPES = {INTEGER: "int64", FLOAT: "float64", STRING: "string", TIMESTAMP: "string"}


class IncompleteCohort(ValueError):
    """A cohort whose rows lack a statistic (loaded before warehouse revision 005): exporting
    it would leave cells empty, so it is re-derived from its archive first."""


def site_cohort_csv_prefix(site: str = DEFAULT_SITE) -> str:
    """The prefix of the site's cohort CSVs and nothing else: the default site's where the
    single-rig layout had them, another site's under `site=<site>/`, which the default site's
    `cohort=` prefix does not reach."""
    if site == DEFAULT_SITE:
        return f"{HISTORICAL_PREFIX}/cohort="
    return f"{HISTORICAL_PREFIX}/site={site}/cohort="


def cohort_csv_key(key: str, site: str = DEFAULT_SITE) -> str:
    """A site's cohort CSV: `<the site's prefix><key>/data.csv`."""
    return f"{site_cohort_csv_prefix(site)}{key}/data.csv"


def combined_csv_key(site: str = DEFAULT_SITE) -> str:
    """A site's combined CSV: the default site's where the single-rig installation had it
    (`oil-well-data-all-historical.csv`), another site's named as the folder of its cohort
    CSVs plus `.csv` (`oil-well-data-all-historical/site=<site>.csv`), just as the default's is
    `oil-well-data-all-historical` plus `.csv`. Never a `cohort=<key>/data.csv` key, and outside
    every site's folder, so nothing that lists or reads a site's cohort CSVs picks it up."""
    if site == DEFAULT_SITE:
        return COMBINED_KEY
    return f"{HISTORICAL_PREFIX}/site={site}.csv"


def cohort_parquet_key(key: str, site: str = DEFAULT_SITE) -> str:
    return f"{PARQUET_PREFIX}/site={site}/cohort={key}/data.parquet"


def require_both_statistics(frame: pd.DataFrame) -> None:
    """Refuse rows missing a sensor value, naming the cohorts and columns and the way out."""
    missing = [c for c in SENSOR_COLUMNS if frame[c].isna().any()]
    if not missing:
        return
    cohorts = sorted(frame.loc[frame[missing].isna().any(axis=1), "cohort"].astype(str).unique())
    raise IncompleteCohort(
        f"cohort {', '.join(cohorts)} has no values in {', '.join(missing[:3])}"
        f"{' …' if len(missing) > 3 else ''} ({len(missing)} columns): it was loaded before "
        "warehouse revision 005 with one statistic only. Re-derive it from its archive "
        "(docs/mysql.md, 'Revision 005'), then export it; nothing was written"
    )


def csv_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Flat rows (the view's columns) laid out as the CSVs: the template's columns, then ours."""
    columns = {}
    for column in CSV_COLUMNS:
        values = frame[column.source]
        if column.type == TIMESTAMP:
            values = values.dt.strftime(DATE_FORMAT)
        columns[column.name] = values.to_numpy()
    return pd.DataFrame(columns)


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """The CSV of flat rows: the header line starts with the template's, byte for byte."""
    body = csv_frame(frame).to_csv(index=False, header=False, lineterminator="\n")
    return CSV_HEADER + body.encode()


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    """The Parquet file of flat rows: the view's columns less `cohort` (in the path)."""
    table = pa.Table.from_pandas(
        frame[[c.name for c in PARQUET_COLUMNS]], schema=PARQUET_SCHEMA, preserve_index=False
    )
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()


def write_cohort_export(
    store: ObjectStore, key: str, frame: pd.DataFrame, site: str = DEFAULT_SITE
) -> dict[str, StoredObject]:
    """The site's cohort CSV (every rig of the site) and its Parquet twin, each replaced
    whole, and the data dictionary.
    The Parquet goes first: the CSV is what the combined file and the IO manager read, so it
    changes last, and a run that dies between the two leaves the CSV as it was (the re-run
    writes both). A cohort lacking a statistic is refused before anything is written.
    Returns what was stored, by kind (csv, parquet, dictionary)."""
    require_both_statistics(frame)
    strangers = sorted(set(frame["site"].astype(str)) - {site}) + sorted(
        set(frame["cohort"].astype(str)) - {key}
    )
    if strangers:
        raise ValueError(f"site {site}, cohort {key}: the rows hold others too: {strangers}")
    rows = len(frame)
    parquet = parquet_bytes(frame)
    stored_parquet = store.put_bytes(cohort_parquet_key(key, site), parquet, rows=rows)
    stored_csv = store.put_bytes(cohort_csv_key(key, site), csv_bytes(frame), rows=rows)
    stored_dictionary = write_dictionary(store)
    return {"csv": stored_csv, "parquet": stored_parquet, "dictionary": stored_dictionary}


def write_dictionary(store: ObjectStore) -> StoredObject:
    """The data dictionary beside the exports (the same bytes every time)."""
    return store.put_bytes(DICTIONARY_KEY, dictionary_csv())


def exported_cohorts(store: ObjectStore, site: str = DEFAULT_SITE) -> list[str]:
    """The cohorts whose CSV the site has in the store, in key order."""
    return sorted(_cohort_csv_versions(store, site))


def _cohort_csv_versions(store: ObjectStore, site: str) -> dict[str, ObjectVersion]:
    """Cohort key -> the version of the site's CSV of it, in key order, from one listing of
    the site's prefix only."""
    prefix = site_cohort_csv_prefix(site)
    listed = store.list_versions(prefix)
    matches = (
        (_COHORT_KEY.fullmatch(key.removeprefix(prefix)), version)
        for key, version in listed.items()
    )
    return dict(sorted((m.group(1), version) for m, version in matches if m))


def csv_header() -> bytes:
    return CSV_HEADER


class ExportsChanged(RuntimeError):
    """Cohort CSVs changed while the combined file was being written from them."""


@dataclass(frozen=True)
class CombinedFile(StoredObject):
    """The stored combined file, with the cohorts it holds and the passes it took."""

    cohorts: tuple[str, ...] = ()
    passes: int = 1


def rebuild_combined(store: ObjectStore, site: str = DEFAULT_SITE) -> CombinedFile:
    """Concatenate every cohort CSV of the site (one header) into the site's combined file,
    streaming each cohort's chunks straight into the upload (a multipart upload on S3): memory
    holds a few chunks, never history. Reads the site's cohort CSVs only, so its cost is
    linear in the site's history; another site's files are neither read nor written. Replaces
    the old file only once complete.

    The site's cohort CSVs are listed before and again after streaming, before the new file is
    committed; if any was written, added or removed meanwhile (an export that finished during
    the rebuild), the new file is discarded and the rebuild starts over, up to REBUILD_PASSES
    times. So a rebuild that read an older export never replaces a newer file with it."""
    target = combined_csv_key(site)
    for attempt in range(1, REBUILD_PASSES + 1):
        versions = _cohort_csv_versions(store, site)
        rows = Counter[str]()
        try:
            stored = store.put_stream(target, _combined_chunks(store, site, versions, rows))
        except ExportsChanged as changed:
            if attempt == REBUILD_PASSES:
                raise ExportsChanged(
                    f"{target} not rebuilt: cohort exports kept changing during "
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
    store: ObjectStore, site: str, versions: dict[str, ObjectVersion], rows: Counter[str]
) -> Iterator[bytes]:
    """The header, each listed cohort's rows in key order, then the check that none of them
    changed (raising ExportsChanged makes the store discard what was written)."""
    yield csv_header()
    for key in versions:
        source = cohort_csv_key(key, site)
        for chunk in _without_header(store.iter_chunks(source), source):
            rows[key] += chunk.count(b"\n")
            yield chunk
    now = _cohort_csv_versions(store, site)
    if now != versions:
        changed = sorted(k for k in versions.keys() | now.keys() if versions.get(k) != now.get(k))
        raise ExportsChanged(f"changed meanwhile: {', '.join(changed)}")


def _without_header(chunks: Iterator[bytes], source: str) -> Iterator[bytes]:
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
                    f"{source} has another header than today's columns; "
                    "re-materialize the cohort before rebuilding the combined file"
                )
            head = None
        if chunk:
            yield chunk
    if head is not None:
        raise ValueError(f"{source} has no complete header line")


def combined_cohort_rows(store: ObjectStore, site: str = DEFAULT_SITE) -> dict[str, int]:
    """Rows per cohort in the site's stored combined file, read back from the store (streamed,
    one column at a time in memory); empty if the file does not exist."""
    key = combined_csv_key(site)
    if not store.exists(key):
        return {}
    counts = Counter[str]()
    reader = pd.read_csv(
        _ChunkStream(store.iter_chunks(key)),
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


def read_csv_export(data: bytes, site: str = DEFAULT_SITE) -> pd.DataFrame:
    """A site's cohort CSV (or its combined file) back as typed flat rows
    (the view's columns; the site, which is in the path, as given)."""
    if not data.startswith(CSV_HEADER):
        raise ValueError("not an export of today's columns: its header line differs")
    names = [c.name for c in CSV_COLUMNS]
    frame = pd.read_csv(
        io.BytesIO(data),
        header=0,
        names=names,
        dtype={c.name: _CSV_READ_DTYPES[c.type] for c in CSV_COLUMNS},
        keep_default_na=False,
        na_values=[""],
        float_precision="round_trip",  # pandas' default parser can be off by an ulp
    )
    flat = {}
    for column in CSV_COLUMNS:
        values = frame[column.name]
        if column.type == TIMESTAMP:
            values = pd.to_datetime(values, format=DATE_FORMAT)
        flat.setdefault(column.source, values)
    return typed_flat_frame(pd.DataFrame(flat).assign(site=site))
