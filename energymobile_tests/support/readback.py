"""Reading back what a run left, for assertions: the rows in the warehouse, the cohort's CSV in
the object store, the load's metadata, and everything Dagster stored about the run."""

from __future__ import annotations

from urllib.parse import urlsplit

import dagster as dg
import pandas as pd
from sqlalchemy import create_engine, text

from energymobile.defs.partitions import partition_key
from energymobile.settings import Settings
from energymobile.storage.exports import cohort_csv_key, read_csv_export
from energymobile.storage.object_store import open_object_store
from energymobile.storage.warehouse import FACT_TABLE


def database_of(url: str) -> str:
    """The database name in a SQLAlchemy URL."""
    return urlsplit(url).path.lstrip("/")


def fact_rows(url: str, key: str) -> list[tuple]:
    """The cohort's rows of the fact table, in cycle order."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            query = text(f"SELECT * FROM {FACT_TABLE} WHERE cohort = :k ORDER BY cycle")
            return [tuple(row) for row in conn.execute(query, {"k": key})]
    finally:
        engine.dispose()


def fleet_fact_rows(url: str, key: str) -> list[tuple]:
    """The cohort's fact rows of every rig, each led by its rig's (site, name) instead of its
    rig_id (two warehouses may number the same rigs differently), in (site, rig, cycle) order."""
    engine = create_engine(url)
    try:
        query = text(
            f"SELECT r.site AS rig_site, r.name AS rig_name, h.* FROM {FACT_TABLE} h "
            "JOIN rigs r ON r.rig_id = h.rig_id WHERE h.cohort = :k"
        )
        with engine.connect() as conn:
            frame = pd.read_sql(query, conn, params={"k": key}).drop(columns="rig_id")
    finally:
        engine.dispose()
    frame = frame.sort_values(["rig_site", "rig_name", "cycle"])
    return [tuple(row) for row in frame.itertuples(index=False)]


def csv_file(settings: Settings, key: str) -> bytes:
    """The cohort's exported CSV, as stored."""
    return open_object_store(settings.object_store).get_bytes(cohort_csv_key(key))


def csv_rows(settings: Settings, key: str) -> pd.DataFrame:
    return read_csv_export(csv_file(settings, key))


def load_metadata(
    instance: dg.DagsterInstance, key: str, asset: str = "mysql_tables"
) -> dict[str, object]:
    """The latest materialization metadata of a cohort of `asset`, as plain values."""
    records = instance.fetch_materializations(dg.AssetKey(asset), limit=100).records
    partition = str(partition_key(key))
    latest = next(r for r in records if r.asset_materialization.partition == partition)
    return {k: v.value for k, v in latest.asset_materialization.metadata.items()}


def stored_text(instance: dg.DagsterInstance, run_id: str) -> str:
    """Everything Dagster keeps about a run: the run, its event log and its job snapshot."""
    run = instance.get_run_by_id(run_id)
    parts = [dg.serialize_value(run)]
    parts += [dg.serialize_value(entry) for entry in instance.all_logs(run_id)]
    if run.job_snapshot_id:
        parts.append(dg.serialize_value(instance.get_job_snapshot(run.job_snapshot_id)))
    return "\n".join(parts)
