"""The partition-aware IO managers: the delivery archive, the warehouse tables and the cohort
CSV exports. Each stores one asset's value where it belongs and loads it back as input."""

from __future__ import annotations

import dagster as dg
import pandas as pd

from energymobile.ingest.formats import delivered_files
from energymobile.storage.archive import (
    Archive,
    CompressedDelivery,
    archive_delivery,
    manifest_key,
    read_archive,
)
from energymobile.storage.exports import cohort_csv_key, read_csv_export, write_cohort_export
from energymobile.storage.object_store import StoredObject
from energymobile.storage.resources import ObjectStoreResource, WarehouseResource
from energymobile.storage.retry import error_code, is_transient_database_error
from energymobile.storage.warehouse import FACT_TABLE, CohortLoad


def single_partition(context: dg.InputContext | dg.OutputContext) -> str:
    """The one cohort an archive is stored or read for (a range has no single archive)."""
    keys = context.asset_partition_keys
    if len(keys) != 1:
        raise ValueError(f"one cohort at a time, not {len(keys)} ({keys[0]} … {keys[-1]})")
    return keys[0]


class ArchiveIOManager(dg.ConfigurableIOManager):
    """Stores raw_archive: a validated delivery's compressed files under
    `raw/cohort=<key>/delivery=<id>/`, then the manifest that makes them current (archive.py);
    loads the cohort's current `Archive` (its manifest: receipts and objects, no file bytes)."""

    object_store: ObjectStoreResource

    def handle_output(self, context: dg.OutputContext, obj: CompressedDelivery) -> None:
        store = self.object_store.open()
        stored = archive_delivery(
            store,
            obj.key,
            obj.compressed,
            obj.receipts,
            landing_fingerprint=obj.landing_fingerprint,
        )
        source_bytes = sum(r.bytes for r in delivered_files(obj.receipts).values())
        archived_bytes = sum(len(data) for data in obj.compressed.values())
        context.add_output_metadata(
            {
                "delivery": obj.delivery,
                "manifest_uri": dg.MetadataValue.path(store.uri(manifest_key(obj.key))),
                "files": len(obj.compressed),
                "objects_written": len(stored),
                "archived_bytes": archived_bytes,
                "source_bytes": source_bytes,
                "ratio": round(archived_bytes / source_bytes, 3) if source_bytes else 0.0,
            }
        )

    def load_input(self, context: dg.InputContext) -> Archive:
        return read_archive(self.object_store.open(), single_partition(context))


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
    """Writes each cohort's `oil-well-data-all-historical/cohort=<key>/data.csv`, its Parquet
    twin under `oil-well-data-all-historical-parquet/` and the data dictionary;
    loads a cohort's CSV back as input. The combined file over all cohorts is its own asset
    (combined_csv), rebuilt once after any number of these."""

    object_store: ObjectStoreResource

    def handle_output(self, context: dg.OutputContext, obj: pd.DataFrame) -> None:
        store = self.object_store.open()
        metadata: dict[str, object] = {}
        for (site, key), rows in obj.groupby(["site", "cohort"], sort=True, observed=True):
            for kind, stored in write_cohort_export(store, str(key), rows, str(site)).items():
                metadata |= object_metadata(kind, stored)
        context.add_output_metadata(metadata)

    def load_input(self, context: dg.InputContext) -> pd.DataFrame:
        store = self.object_store.open()
        frames = [
            read_csv_export(store.get_bytes(cohort_csv_key(key)))
            for key in context.asset_partition_keys
        ]
        return pd.concat(frames, ignore_index=True)
