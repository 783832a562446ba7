"""The two partition-aware IO managers: the warehouse tables and the historical CSV export."""

from __future__ import annotations

import dagster as dg
import pandas as pd

from energymobile.storage.exports import (
    cohort_csv_key,
    read_csv_export,
    rebuild_combined,
    write_cohort_export,
)
from energymobile.storage.object_store import StoredObject
from energymobile.storage.resources import ObjectStoreResource, WarehouseResource
from energymobile.storage.retry import error_code, is_transient_database_error
from energymobile.storage.warehouse import FACT_TABLE, CohortLoad


class WarehouseIOManager(dg.ConfigurableIOManager):
    """Stores a `CohortLoad` by atomically replacing its cohort in the star schema; loads the
    cohort back from the flat view `oil_well_hourly` with explicit dtypes.

    A transient database failure (lost connection, deadlock, lock wait timeout, a locked
    SQLite file) is raised as is, for the asset's RetryPolicy (storage/retry.py) to try the
    step again: the failed transaction was rolled back, so each attempt starts from the
    cohort as it was. Any other failure fails the step at once, bypassing the policy."""

    warehouse: WarehouseResource

    def handle_output(self, context: dg.OutputContext, obj: CohortLoad) -> None:
        warehouse = self.warehouse.get()
        what = f"loading cohort {obj.key} into {warehouse.safe_url}"
        try:
            report = warehouse.replace_cohort(obj)
        except Exception as error:
            # Name the error's type and driver code, never its text, which may quote values.
            if not is_transient_database_error(error):
                raise dg.Failure(
                    f"{what} failed ({error_code(error)}, not transient: not retried)",
                    allow_retries=False,
                ) from error
            context.log.warning(
                f"{what} failed (transient {error_code(error)}); the step is retried while "
                "its retry policy allows"
            )
            raise
        context.add_output_metadata(
            {
                "table": FACT_TABLE,
                "rows_written": report.rows_written,
                "rows_replaced": report.rows_replaced,
                "load_seconds": dg.FloatMetadataValue(round(report.seconds, 3)),
                "load_method": report.method,
                "warehouse": warehouse.safe_url,
            }
        )

    def load_input(self, context: dg.InputContext) -> pd.DataFrame:
        return self.warehouse.get().read_cohorts(context.asset_partition_keys)


def object_metadata(prefix: str, stored: StoredObject) -> dict[str, object]:
    """Key, size, rows, checksum and a location to paste into `pandas.read_csv`."""
    return {
        f"{prefix}_key": stored.key,
        f"{prefix}_uri": dg.MetadataValue.path(stored.uri),
        f"{prefix}_bytes": stored.bytes,
        f"{prefix}_rows": stored.rows if stored.rows is not None else -1,
        f"{prefix}_sha256": stored.sha256,
    }


class HistoricalCsvIOManager(dg.ConfigurableIOManager):
    """Writes `oil-well-data-all-historical/cohort=<key>/data.csv` (+ Parquet) and rebuilds the
    combined `oil-well-data-all-historical.csv`; loads a cohort's CSV back as input."""

    object_store: ObjectStoreResource

    def handle_output(self, context: dg.OutputContext, obj: pd.DataFrame) -> None:
        store = self.object_store.open()
        metadata: dict[str, object] = {}
        for key in context.asset_partition_keys:
            rows = obj[obj["cohort"] == key]
            for stored in write_cohort_export(store, key, rows):
                metadata |= object_metadata(stored.key.rsplit(".", 1)[-1], stored)
        metadata |= object_metadata("combined", rebuild_combined(store))
        context.add_output_metadata(metadata)

    def load_input(self, context: dg.InputContext) -> pd.DataFrame:
        store = self.object_store.open()
        frames = [
            read_csv_export(store.get_bytes(cohort_csv_key(key)))
            for key in context.asset_partition_keys
        ]
        return pd.concat(frames, ignore_index=True)
