"""Every column of every export, defined once: its name in each file, order, type, unit,
physical quantity, sampling rate, statistic and meaning.

The export writers (storage/exports.py) take their columns from here, and so do the data
dictionary written beside the exports (`oil-well-data-all-historical-dictionary.csv`), its table
in docs/data-dictionary.md and the Athena table in docs/s3.md (tests regenerate both and compare).
Pure: no I/O, no Dagster.

The CSVs start with the scientists' template (HourlyData.csv) exactly: its header line byte for
byte, its order, its values (`Time` in cumulative minutes, each sensor's first sample of the
cycle, `Date` as `YYYY-MM-DD HH:MM:SS`). After those, and only after: the keys, the five profile
codes and their descriptions, and each sensor's cycle mean (`<sensor>_mean`). A later column
(a rig, say) goes after the template's too: the template's columns never move.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from energymobile.channels import (
    CHANNELS,
    CONDITIONS,
    CYCLE_SECONDS,
    TEMPLATE_ORDER,
    Channel,
    Condition,
)

INTEGER, FLOAT, STRING, TIMESTAMP = "integer", "float", "string", "timestamp"
FIRST_SAMPLE = "first sample of the cycle"
CYCLE_MEAN = "mean of the cycle's samples"
EVERY_SAMPLE = "every sample of the cycle"

CSV_FILES = (
    "oil-well-data-all-historical.csv; oil-well-data-all-historical/site=<site>.csv; "
    "oil-well-data-all-historical/cohort=<key>/data.csv; "
    "oil-well-data-all-historical/site=<site>/cohort=<key>/data.csv"
)
PARQUET_FILES = "oil-well-data-all-historical-parquet/site=<site>/cohort=<key>/data.parquet"
NETCDF_FILES = "netcdf/cohort=<key>.nc"
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
"""The CSVs' `Date`, as the template writes it: naive UTC, whole seconds."""


@dataclass(frozen=True)
class ExportColumn:
    """One column of an exported file."""

    name: str
    type: str
    description: str
    source: str
    """The column of the warehouse's flat view `oil_well_hourly` it holds."""
    quantity: str = ""
    unit: str = ""
    sampling_rate_hz: int | None = None
    statistic: str = ""


def _cycle_minutes(name: str) -> ExportColumn:
    return ExportColumn(
        name,
        INTEGER,
        "minutes since the cohort's start: 60 × cycle (each cycle counts as one hour)"
        + (
            "; the template's unnamed first column, a copy of Time"
            if name == ""
            else ("" if name == "cumulative_minutes" else "; the template's Time")
        ),
        "cumulative_minutes",
        "Elapsed time",
        "min",
    )


def _sensor(channel: Channel, name: str, statistic: str) -> ExportColumn:
    source = channel.first_column if statistic == FIRST_SAMPLE else channel.mean_column
    if statistic == FIRST_SAMPLE:
        what = f"the cycle's first sample (of {channel.samples}): the template's value"
    else:
        what = f"the mean of the cycle's {channel.samples} samples"
    return ExportColumn(
        name,
        FLOAT,
        f"{channel.code}, {channel.quantity.lower()} in {channel.unit}: {what}",
        source,
        channel.quantity,
        channel.unit,
        channel.rate_hz,
        statistic,
    )


def _date_time(name: str) -> ExportColumn:
    written = " as YYYY-MM-DD HH:MM:SS" if name == "Date" else ""
    template = "; the template's Date" if name == "Date" else ""
    return ExportColumn(
        name,
        TIMESTAMP,
        f"the cycle's hour: the cohort's start plus one hour per cycle, UTC{written}{template}",
        "date_time",
        "Date and time",
        "UTC",
    )


COHORT = ExportColumn(
    "cohort",
    STRING,
    "the quarterly delivery the row belongs to: its first day, YYYY-MM-DD (a cohort starts at "
    "midnight UTC on the 26th of March, June, September or December)",
    "cohort",
)
CYCLE = ExportColumn(
    "cycle",
    INTEGER,
    "the cycle's number within the cohort, from 0: line cycle + 1 of every delivered file",
    "cycle",
)
SITE = ExportColumn(
    "site",
    STRING,
    "the site (location) of the rig the row comes from, as the landing names it "
    "(sites/<site>/<rig>/); `default` for a delivery of the single-rig layout (logs/<cohort>/)",
    "site",
)
RIG = ExportColumn(
    "rig",
    STRING,
    "the rig the row comes from: its name within its site, as the landing names it "
    "(sites/<site>/<rig>/); `default` for a delivery of the single-rig layout (logs/<cohort>/)",
    "rig",
)


def _condition(condition: Condition) -> ExportColumn:
    quantity, _, unit = condition.title.partition(" / ")
    codes = "; ".join(f"{code} = {words}" for code, words in condition.codes.items())
    return ExportColumn(
        condition.column,
        INTEGER,
        f"{quantity} from profile.txt, as a code: {codes}",
        condition.column,
        quantity,
        unit,
    )


def _condition_words(condition: Condition) -> ExportColumn:
    quantity = condition.title.partition(" / ")[0]
    return ExportColumn(
        condition.description_column,
        STRING,
        f"{quantity}: the dataset documentation's words for the code in {condition.column}",
        condition.description_column,
    )


EXPORT_KEY_COLUMNS: tuple[ExportColumn, ...] = (COHORT, CYCLE, RIG)
"""A row's keys, in the CSVs right after the template's columns: the rig last, so the columns
before it keep their places (the site is in the file's path, `site=<site>/`)."""
EXPORT_KEYS: tuple[str, ...] = tuple(c.name for c in EXPORT_KEY_COLUMNS)


def _keys_and_conditions() -> tuple[ExportColumn, ...]:
    return (
        *EXPORT_KEY_COLUMNS,
        *(_condition(c) for c in CONDITIONS),
        *(_condition_words(c) for c in CONDITIONS),
    )


CSV_COLUMNS: tuple[ExportColumn, ...] = (
    _cycle_minutes(""),
    _cycle_minutes("Time"),
    *(_sensor(c, c.template_header, FIRST_SAMPLE) for c in TEMPLATE_ORDER),
    _date_time("Date"),
    *_keys_and_conditions(),
    *(_sensor(c, c.mean_column, CYCLE_MEAN) for c in TEMPLATE_ORDER),
)
"""The CSVs' columns: the template's 20, then the keys, the conditions and the means."""
TEMPLATE_COLUMN_COUNT = 2 + len(TEMPLATE_ORDER) + 1
"""How many of CSV_COLUMNS are the template's: the unnamed column, Time, 17 sensors, Date."""
CSV_HEADER: bytes = ",".join(c.name for c in CSV_COLUMNS).encode() + b"\n"

PARQUET_COLUMNS: tuple[ExportColumn, ...] = (
    RIG,
    CYCLE,
    _date_time("date_time"),
    _cycle_minutes("cumulative_minutes"),
    *(_sensor(c, c.first_column, FIRST_SAMPLE) for c in CHANNELS),
    *(_sensor(c, c.mean_column, CYCLE_MEAN) for c in CHANNELS),
    *(_condition(c) for c in CONDITIONS),
    *(_condition_words(c) for c in CONDITIONS),
)
"""The Parquet files' data columns: the flat view's, named as there, less the partition columns
(in the path: `site=<site>/cohort=<key>/`)."""
PARQUET_PARTITIONS: tuple[ExportColumn, ...] = (SITE, COHORT)
"""The Parquet dataset's Hive partition folders (`site=<site>/cohort=<key>/`), outermost
first: one site's files are one prefix. A partition column is not also a data column
(Athena's rule): it is in the path, not in the files."""
PARTITION_COLUMNS: tuple[str, ...] = tuple(c.name for c in PARQUET_PARTITIONS)

NETCDF_VARIABLES: tuple[ExportColumn, ...] = (
    ExportColumn("cycle", INTEGER, "dimension: " + CYCLE.description, "cycle"),
    _date_time("date_time"),
    *(
        ExportColumn(
            c.column,
            FLOAT,
            f"{c.code}, {c.quantity.lower()} in {c.unit}: every sample of the cycle as delivered "
            f"(cycle × {c.samples}, on dimension sample_{c.rate_hz}hz, seconds from the cycle's "
            f"start, 0 to {CYCLE_SECONDS - 1 / c.rate_hz:g})",
            "",
            c.quantity,
            c.unit,
            c.rate_hz,
            EVERY_SAMPLE,
        )
        for c in CHANNELS
    ),
    *(_condition(c) for c in CONDITIONS),
)
"""The netCDF file's variables and coordinates on `cycle` (docs/netcdf.md)."""

EXPORTS: tuple[tuple[str, tuple[ExportColumn, ...]], ...] = (
    (CSV_FILES, CSV_COLUMNS),
    (PARQUET_FILES, PARQUET_PARTITIONS + PARQUET_COLUMNS),
    (NETCDF_FILES, NETCDF_VARIABLES),
)
"""Each export's files and their columns in file order (the Parquet's partition first)."""

DICTIONARY_FIELDS: tuple[str, ...] = (
    "file",
    "position",
    "column",
    "type",
    "unit",
    "quantity",
    "sampling_rate_hz",
    "statistic",
    "description",
    "warehouse_column",
)
"""The data dictionary's own columns."""


def dictionary_rows() -> list[dict[str, object]]:
    """One row per column of every export, in file order (`position` from 1; 0 for a Parquet
    partition column, which is in the path)."""
    rows: list[dict[str, object]] = []
    for files, columns in EXPORTS:
        in_file = [c for c in columns if not (files == PARQUET_FILES and c in PARQUET_PARTITIONS)]
        for column in columns:
            partition = column not in in_file
            rows.append(
                {
                    "file": files,
                    "position": 0 if partition else in_file.index(column) + 1,
                    "column": column.name,
                    "type": column.type,
                    "unit": column.unit,
                    "quantity": column.quantity,
                    "sampling_rate_hz": column.sampling_rate_hz or "",
                    "statistic": column.statistic,
                    "description": column.description
                    + (" (Hive partition: in the path, not in the file)" if partition else ""),
                    "warehouse_column": column.source,
                }
            )
    return rows


def dictionary_csv() -> bytes:
    """The data dictionary as the CSV written beside the exports."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(DICTIONARY_FIELDS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(dictionary_rows())
    return out.getvalue().encode()


def _cell(field: str, value: object) -> str:
    text = str(value).replace("|", "\\|")
    if field == "column":  # exactly as in the file: the template's spaces matter
        return f"`{text}`" if text else "*(unnamed)*"
    return text


def dictionary_markdown() -> str:
    """docs/data-dictionary.md's tables, one per export (written by `make docs`)."""
    lines = [
        "# Data dictionary",
        "",
        "<!-- Generated from energymobile/dictionary.py by `make docs`; do not edit. -->",
        "",
        "Every column of every file the scientists get. The same table is written beside the",
        "exports as `oil-well-data-all-historical-dictionary.csv`, with the columns",
        ", ".join(f"`{f}`" for f in DICTIONARY_FIELDS) + ";",
        "`warehouse_column` names the column of the warehouse's view `oil_well_hourly` it holds.",
        "Column names are exactly as in the file: the template's `Temperature  2` has two",
        "spaces, its ` Vibration mm/s` a leading space, and its first column has no name.",
        "",
    ]
    shown = ("column", "type", "unit", "quantity", "sampling_rate_hz", "statistic", "description")
    by_file: dict[str, list[dict[str, object]]] = {}
    for row in dictionary_rows():
        by_file.setdefault(str(row["file"]), []).append(row)
    for files, rows in by_file.items():
        lines += [f"## {' and '.join(f'`{f.strip()}`' for f in files.split(';'))}", ""]
        lines.append("| # | " + " | ".join(f.replace("_", " ") for f in shown) + " |")
        lines.append("|---" * (len(shown) + 1) + "|")
        for row in rows:
            position = row["position"] or "path"
            lines.append(f"| {position} | " + " | ".join(_cell(f, row[f]) for f in shown) + " |")
        lines.append("")
    return "\n".join(lines)


ATHENA_TYPES: dict[str, str] = {
    INTEGER: "bigint",
    FLOAT: "double",
    STRING: "string",
    TIMESTAMP: "timestamp",
}
"""Each logical type as Athena (Hive DDL) names the Parquet files' type for it."""
ATHENA_TABLE = "oil_well_hourly"
FIRST_COHORT = "2008-03-26"


def athena_ddl(location: str) -> str:
    """Athena's CREATE EXTERNAL TABLE over the Parquet prefix at `location` (s3://…/), with
    partition projection on the site folders (injected: a query names its site or sites) and
    the cohort folders (quarterly dates from the first cohort), so a newly exported site or
    cohort is queryable without MSCK REPAIR or a crawler."""
    columns = ",\n".join(f"  {c.name} {ATHENA_TYPES[c.type]}" for c in PARQUET_COLUMNS)
    partitions = ", ".join(f"{c.name} {ATHENA_TYPES[c.type]}" for c in PARQUET_PARTITIONS)
    location = location.rstrip("/") + "/"
    return f"""CREATE EXTERNAL TABLE {ATHENA_TABLE} (
{columns}
)
PARTITIONED BY ({partitions})
STORED AS PARQUET
LOCATION '{location}'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.site.type' = 'injected',
  'projection.cohort.type' = 'date',
  'projection.cohort.format' = 'yyyy-MM-dd',
  'projection.cohort.range' = '{FIRST_COHORT},NOW',
  'projection.cohort.interval' = '3',
  'projection.cohort.interval.unit' = 'MONTHS',
  'storage.location.template' = '{location}site=${{site}}/cohort=${{cohort}}/'
);
"""


DOCS_LOCATION = "s3://energymobile-data/prod/oil-well-data-all-historical-parquet/"
"""The Parquet prefix in docs/s3.md's examples (bucket energymobile-data, prefix prod)."""
ATHENA_MARKER = "<!-- athena -->"


def main(argv: list[str] | None = None) -> None:
    """`python -m energymobile.dictionary DOCS_FOLDER` (`make docs`): write data-dictionary.md
    and the Athena statement of s3.md (the ```sql block after its `<!-- athena -->` line)."""
    import re
    import sys
    from pathlib import Path

    folder = Path((argv if argv is not None else sys.argv[1:])[0])
    (folder / "data-dictionary.md").write_text(dictionary_markdown(), encoding="utf-8")
    s3 = folder / "s3.md"
    block = f"{ATHENA_MARKER}\n```sql\n{athena_ddl(DOCS_LOCATION)}```"
    text = s3.read_text("utf-8")
    updated, found = re.subn(
        rf"{re.escape(ATHENA_MARKER)}\n```sql\n.*?```", lambda _: block, text, flags=re.S
    )
    if not found:
        raise SystemExit(f"{s3} has no {ATHENA_MARKER} line followed by a ```sql block")
    s3.write_text(updated, encoding="utf-8")


if __name__ == "__main__":
    main()
