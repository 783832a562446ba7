"""The one entry point: `dagster dev` (via workspace.yaml), the CLI and the tests load `defs`."""

from __future__ import annotations

import os

import dagster as dg

from energymobile.defs.assets import (
    hourly_readings,
    mysql_tables,
    profile_merged,
    raw_logs,
    s3_historical_csv,
)
from energymobile.settings import DATABASE_URL_VAR, Settings
from energymobile.storage.io_managers import HistoricalCsvIOManager, WarehouseIOManager
from energymobile.storage.resources import (
    CohortRulesResource,
    LandingResource,
    ObjectStoreResource,
    WarehouseResource,
)

COHORT_JOB = "cohort_pipeline"

cohort_pipeline = dg.define_asset_job(
    COHORT_JOB,
    selection=dg.AssetSelection.all(),
    description="Every asset of one cohort, raw files to CSV, with their checks.",
)


def build_resources(settings: Settings) -> dict[str, object]:
    """Resources for a deployment. The database URL (which may carry a password) is passed as
    an EnvVar when it comes from the environment, so Dagster never displays or stores it."""
    database_url: str | dg.EnvVar = (
        dg.EnvVar(DATABASE_URL_VAR) if os.environ.get(DATABASE_URL_VAR) else settings.database_url
    )
    warehouse = WarehouseResource(url=database_url)
    object_store = ObjectStoreResource(url=settings.object_store)
    return {
        "landing": LandingResource(location=settings.landing),
        "object_store": object_store,
        "rules": CohortRulesResource(max_shortfall_hours=settings.max_shortfall_hours),
        "warehouse_io_manager": WarehouseIOManager(warehouse=warehouse),
        "historical_csv_io_manager": HistoricalCsvIOManager(object_store=object_store),
        "io_manager": dg.FilesystemIOManager(base_dir=str(settings.home / "intermediate")),
    }


def build_definitions(settings: Settings) -> dg.Definitions:
    return dg.Definitions(
        assets=[raw_logs, hourly_readings, profile_merged, mysql_tables, s3_historical_csv],
        jobs=[cohort_pipeline],
        resources=build_resources(settings),
    )


defs = build_definitions(Settings.from_env())
