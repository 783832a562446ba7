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
from energymobile.storage.retry import is_transient_database_error, with_retries
from energymobile.storage.warehouse import FACT_TABLE, CohortLoad, LoadReport


class WarehouseIOManager(dg.ConfigurableIOManager):
    """Stores a `CohortLoad` by atomically replacing its cohort in the star schema; loads the
    cohort back from the flat view `oil_well_hourly` with explicit dtypes.

    A transient database failure (lost connection, deadlock, lock wait timeout) is retried with
    backoff up to `load_attempts` times: the failed transaction was rolled back, so each
    attempt starts from the cohort as it was. Any other failure fails the step at once."""

    warehouse: WarehouseResource
    load_attempts: int = 4
    retry_base_delay_s: float = 0.5

    def handle_output(self, context: dg.OutputContext, obj: CohortLoad) -> None:
        warehouse = self.warehouse.get()
        attempts: list[int] = []

        def replace() -> LoadReport:
            attempts.append(1)
            return warehouse.replace_cohort(obj)

        report = with_retries(
            replace,
            is_transient_database_error,
            what=f"loading cohort {obj.key} into {warehouse.safe_url}",
            attempts=self.load_attempts,
            base_delay_s=self.retry_base_delay_s,
            on_retry=context.log.warning,
        )
        context.add_output_metadata(
            {
                "table": FACT_TABLE,
                "rows_written": report.rows_written,
                "rows_replaced": report.rows_replaced,
                "load_seconds": dg.FloatMetadataValue(round(report.seconds, 3)),
                "load_method": report.method,
                "load_attempts": len(attempts),
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
