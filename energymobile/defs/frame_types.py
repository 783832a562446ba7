"""The hourly frames' schemas as Dagster types (dagster-pandas): every column by name, in order,
with its exact dtype.

A frame that lacks a column, has one more, or holds a column of another dtype fails its step's
type check with the column's name, so nothing downstream (the warehouse, the files) sees it.
The same columns, with their meanings from the data dictionary, are each asset's
`dagster/column_schema`, which the UI shows before anything runs.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import dagster as dg
from dagster_pandas import PandasColumn, create_dagster_pandas_dataframe_type
from dagster_pandas.constraints import (
    ColumnDTypeInSetConstraint,
    NonNullableColumnConstraint,
    StrictColumnsConstraint,
)

from energymobile.channels import CONDITION_COLUMNS, DESCRIPTION_COLUMNS
from energymobile.dictionary import PARQUET_COLUMNS, PARQUET_PARTITIONS
from energymobile.ingest.hourly import KEY_COLUMNS
from energymobile.storage.warehouse import FLAT_COLUMNS, FLAT_DTYPES, SENSOR_COLUMNS

HOURLY_DTYPES: dict[str, str] = {
    "site": "string",
    "rig": "string",
    "cohort": "string",
    "cycle": "int64",
    "date_time": "datetime64[ns]",
    "cumulative_minutes": "int64",
    **{c: "float64" for c in SENSOR_COLUMNS},
}
"""hourly_readings: the rig and keys, then each channel's first sample and each channel's
mean."""
PROFILE_MERGED_DTYPES: dict[str, str] = {
    **HOURLY_DTYPES,
    **{c: "Int64" for c in CONDITION_COLUMNS},  # nullable: profile_covers_cycles judges gaps
    **{c: "string" for c in DESCRIPTION_COLUMNS},
}
"""profile_merged: + the five codes and their descriptions."""
EXPORT_DTYPES: dict[str, str] = {
    name: FLAT_DTYPES.get(name, "datetime64[ns]") for name in FLAT_COLUMNS
}
"""The cohort read back from oil_well_hourly for export: the view's columns."""

DESCRIPTIONS: dict[str, str] = {
    c.source: c.description for c in (*PARQUET_PARTITIONS, *PARQUET_COLUMNS)
}
"""Each flat column's meaning, from the data dictionary (energymobile/dictionary.py)."""


def column_schema(dtypes: Mapping[str, str]) -> dg.TableSchema:
    """The columns as the UI lists them: name, dtype, meaning."""
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name=name, type=dtype, description=DESCRIPTIONS.get(name))
            for name, dtype in dtypes.items()
        ]
    )


def frame_type(
    name: str, description: str, dtypes: Mapping[str, str], non_nullable: tuple[str, ...]
) -> dg.DagsterType:
    """A DataFrame type holding exactly these columns, in this order, with these dtypes.
    (dagster-pandas marks its API beta; the parts used here are its documented core.)"""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)
        columns = [
            PandasColumn(
                column,
                constraints=[
                    ColumnDTypeInSetConstraint({dtype}),
                    *([NonNullableColumnConstraint()] if column in non_nullable else []),
                ],
            )
            for column, dtype in dtypes.items()
        ]
        return create_dagster_pandas_dataframe_type(
            name=name,
            description=description,
            columns=columns,
            dataframe_constraints=[StrictColumnsConstraint(list(dtypes), enforce_ordering=True)],
        )


HourlyReadingsFrame = frame_type(
    "HourlyReadingsFrame",
    "One row per cycle: keys, each channel's first sample and mean (no missing value).",
    HOURLY_DTYPES,
    non_nullable=tuple(HOURLY_DTYPES),
)
ProfileMergedFrame = frame_type(
    "ProfileMergedFrame",
    "The hourly rows with the profile's five codes and their documented descriptions.",
    PROFILE_MERGED_DTYPES,
    non_nullable=tuple(HOURLY_DTYPES),
)
ExportFrame = frame_type(
    "ExportFrame",
    "A cohort's rows as oil_well_hourly returns them, the source of its CSV and Parquet. A "
    "statistic may be missing only for a cohort loaded before warehouse revision 005, which "
    "the export refuses with the way to re-derive it.",
    EXPORT_DTYPES,
    non_nullable=(*KEY_COLUMNS, *CONDITION_COLUMNS, *DESCRIPTION_COLUMNS),
)
