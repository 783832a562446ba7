"""The partition-aware IO managers: the delivery archive, the warehouse tables and the cohort
CSV exports. Each stores one asset's value where it belongs and loads it back as input."""

from __future__ import annotations

import dagster as dg
import pandas as pd

from energymobile.defs.partitions import split_key
from energymobile.ingest.formats import delivered_files
from energymobile.rigs import DEFAULT_RIG, Rig
from energymobile.storage.archive import (
    Archive,
    ArchiveMissing,
    CompressedDelivery,
    archive_delivery,
    archived_rigs,
    manifest_key,
    read_archive,
)
from energymobile.storage.exports import cohort_csv_key, read_csv_export, write_cohort_export
from energymobile.storage.object_store import StoredObject
from energymobile.storage.resources import ObjectStoreResource, WarehouseResource
from energymobile.storage.retry import (
    error_causes,
    error_code,
    is_transient_database_error,
    permanent_advice,
)
from energymobile.storage.warehouse import FACT_TABLE, CohortLoad, WarehouseError


def single_partition(context: dg.InputContext | dg.OutputContext) -> tuple[str, str]:
    """The one (cohort, site) an archive is stored or read for (a range has no single
    archive)."""
    keys = context.asset_partition_keys
    if len(keys) != 1:
        raise ValueError(f"one cohort at a time, not {len(keys)} ({keys[0]} … {keys[-1]})")
    return split_key(keys[0])


class SiteArchives(dict[Rig, Archive]):
    """raw_archive as loaded: the current archive of each rig of the site, by rig."""


class ArchiveIOManager(dg.ConfigurableIOManager):
    """Stores raw_archive: each rig's validated delivery, its compressed files under its
    `delivery=<id>/` folder, then the manifest that makes them current (archive.py); loads the
    current `Archive` of each rig of the site (manifests: receipts and objects, no file bytes)."""

    object_store: ObjectStoreResource

    def handle_output(self, context: dg.OutputContext, obj: list[CompressedDelivery]) -> None:
        store = self.object_store.open()
        written = 0
        for delivery in obj:
            written += len(
                archive_delivery(
                    store,
                    delivery.key,
                    delivery.compressed,
                    delivery.receipts,
                    landing_fingerprint=delivery.landing_fingerprint,
                    rig=delivery.rig,
                )
            )
        source_bytes = sum(r.bytes for d in obj for r in delivered_files(d.receipts).values())
        archived_bytes = sum(len(data) for d in obj for data in d.compressed.values())
        context.add_output_metadata(
            {
                "delivery": "; ".join(d.delivery for d in obj),
                "manifest_uri": dg.MetadataValue.path(
                    "; ".join(store.uri(manifest_key(d.key, d.rig)) for d in obj)
                ),
                "rigs": len(obj),
                "files": sum(len(d.compressed) for d in obj),
                "objects_written": written,
                "archived_bytes": archived_bytes,
                "source_bytes": source_bytes,
                "ratio": round(archived_bytes / source_bytes, 3) if source_bytes else 0.0,
            }
        )

    def load_input(self, context: dg.InputContext) -> SiteArchives:
        store = self.object_store.open()
        key, site = single_partition(context)
        rigs = archived_rigs(store, key, site)
        if not rigs and site == DEFAULT_RIG.site:
            rigs = [DEFAULT_RIG]  # its ArchiveMissing says what to do, as before the fleet
        if not rigs:
            raise ArchiveMissing(f"cohort {key} has no archive of any rig of site {site}")
        return SiteArchives({rig: read_archive(store, key, rig) for rig in rigs})


class WarehouseIOManager(dg.ConfigurableIOManager):
    """Stores each rig's `CohortLoad` by atomically replacing that rig's cohort in the star
    schema (one transaction per rig); loads the site's rows of the cohort back from the flat
    view `oil_well_hourly` with explicit dtypes.

    A transient database failure (lost connection, deadlock, lock wait timeout, a locked
    SQLite file) is raised as is, for the asset's RetryPolicy (storage/retry.py) to try the
    step again: the failed transaction was rolled back, so each attempt starts from the
    cohort as it was. Any other failure fails the step at once, bypassing the policy."""

    warehouse: WarehouseResource

    def handle_output(self, context: dg.OutputContext, obj: list[CohortLoad]) -> None:
        warehouse = self.warehouse.get()
        reports = [self._replace(context, warehouse, load) for load in obj]
        context.add_output_metadata(
            {
                "table": FACT_TABLE,
                "rigs": len(reports),
                "rows_written": sum(r.rows_written for r in reports),
                "rows_replaced": sum(r.rows_replaced for r in reports),
                "load_seconds": dg.FloatMetadataValue(round(sum(r.seconds for r in reports), 3)),
                "load_method": ", ".join(sorted({r.method for r in reports})),
                "warehouse": warehouse.safe_url,
            }
        )

    @staticmethod
    def _replace(context: dg.OutputContext, warehouse, obj: CohortLoad):  # type: ignore[no-untyped-def]
        of = "" if obj.rig == DEFAULT_RIG else f" of rig {obj.rig}"
        what = f"loading cohort {obj.key}{of} into {warehouse.safe_url}"
        try:
            return warehouse.replace_cohort(obj)
        except Exception as error:
            # Name the error's type and driver code, never its text, which may quote values.
            if not is_transient_database_error(error):
                raise dg.Failure(permanent_failure(what, error), allow_retries=False) from error
            context.log.warning(
                f"{what} failed (transient {error_code(error)}); the step is retried while "
                "its retry policy allows"
            )
            raise

    def load_input(self, context: dg.InputContext) -> pd.DataFrame:
        keys = [split_key(k) for k in context.asset_partition_keys]
        sites = {site for _, site in keys}
        if len(sites) != 1:
            raise ValueError(f"one site at a time, not {sorted(sites)}")
        return self.warehouse.get().read_cohorts([k for k, _ in keys], site=sites.pop())


def permanent_failure(what: str, error: BaseException) -> str:
    """The message of a load that will not be retried: the warehouse's own account of an
    access problem (worded for people, password masked), or what to do about a full disk,
    or else the error's type and driver code, never its text (which may quote values)."""
    access = next((c for c in error_causes(error) if isinstance(c, WarehouseError)), None)
    if access is not None:
        return f"{what} failed: {access} ({error_code(error)}); not retried"
    advice = permanent_advice(error)
    if advice:
        return f"{what} failed ({error_code(error)}): {advice}; not retried"
    return f"{what} failed ({error_code(error)}, not transient: not retried)"


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
    loads a cohort's CSV back as input. Each site's combined file over its cohorts is its own
    asset partition (combined_csv), rebuilt once after any number of these."""

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
            read_csv_export(store.get_bytes(cohort_csv_key(key, site)), site)
            for key, site in map(split_key, context.asset_partition_keys)
        ]
        return pd.concat(frames, ignore_index=True)
