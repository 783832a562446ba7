"""The one entry point: `dagster dev` (via workspace.yaml), the CLI and the tests load `defs`."""

from __future__ import annotations

import os

import dagster as dg
from dagster_aws.s3 import S3Resource

from energymobile.defs.assets import (
    hourly_readings,
    mysql_tables,
    profile_merged,
    raw_logs,
    s3_historical_csv,
)
from energymobile.defs.automation import CHAIN_RUN_TAGS, build_automation_sensor
from energymobile.defs.checks import STORED_CHECKS
from energymobile.defs.combined_export import combined_csv
from energymobile.defs.freshness import (
    build_export_freshness_checks,
    build_freshness_sensor,
    freshness_check_keys,
)
from energymobile.defs.landing_sensor import build_landing_sensor
from energymobile.defs.netcdf_export import netcdf_arrays
from energymobile.settings import DATABASE_URL_VAR, Settings
from energymobile.storage.io_managers import (
    ArchiveIOManager,
    HistoricalCsvIOManager,
    WarehouseIOManager,
)
from energymobile.storage.resources import (
    CohortRulesResource,
    LandingResource,
    ObjectStoreResource,
    WarehouseResource,
)

COHORT_JOB = "cohort_pipeline"
NETCDF_JOB = "netcdf_export"
COMBINED_JOB = "combined_export"

cohort_pipeline = dg.define_asset_job(
    COHORT_JOB,
    # The freshness checks judge every cohort at once; their own sensor runs them. The
    # netCDF export re-reads the whole archive (~13 s a full cohort, twice the load itself),
    # so it has its own job and automation, and never delays the hourly tables. The combined
    # CSV covers every cohort: rebuilt once after many cohorts (its own job), not in each.
    selection=dg.AssetSelection.all()
    - dg.AssetSelection.checks(*freshness_check_keys())
    - dg.AssetSelection.assets(netcdf_arrays, combined_csv),
    description="The load of one cohort, raw files to the archive, the warehouse and the "
    "cohort's CSV, with checks.",
    run_tags=CHAIN_RUN_TAGS,  # automation does not follow what these runs update (automation.py)
)

netcdf_export = dg.define_asset_job(
    NETCDF_JOB,
    selection=dg.AssetSelection.assets(netcdf_arrays),
    description="One cohort's full-resolution netCDF file, from its archive (raw_archive).",
)

combined_export = dg.define_asset_job(
    COMBINED_JOB,
    selection=dg.AssetSelection.assets(combined_csv),
    description="oil-well-data-all-historical.csv rebuilt from every cohort's CSV, checked "
    "against the warehouse.",
)


def build_resources(settings: Settings) -> dict[str, object]:
    """Resources for a deployment. The database URL (which may carry a password) is passed as
    an EnvVar when it comes from the environment, so Dagster never displays or stores it."""
    database_url: str | dg.EnvVar = (
        dg.EnvVar(DATABASE_URL_VAR) if os.environ.get(DATABASE_URL_VAR) else settings.database_url
    )
    warehouse = WarehouseResource(url=database_url)
    s3 = S3Resource(region_name=settings.aws_region)  # used by s3:// URLs; keys from the env
    object_store = ObjectStoreResource(url=settings.object_store, s3=s3)
    return {
        "landing": LandingResource(location=settings.landing, s3=s3),
        "object_store": object_store,
        "warehouse": warehouse,
        "rules": CohortRulesResource(max_shortfall_hours=settings.max_shortfall_hours),
        "archive_io_manager": ArchiveIOManager(object_store=object_store),
        "warehouse_io_manager": WarehouseIOManager(warehouse=warehouse),
        "historical_csv_io_manager": HistoricalCsvIOManager(object_store=object_store),
        "io_manager": dg.FilesystemIOManager(base_dir=str(settings.home / "intermediate")),
    }


def build_definitions(settings: Settings) -> dg.Definitions:
    """Assets, checks, the three jobs (cohort, netCDF, combined CSV) and the three sensors
    (landing, automation, freshness), all on by default. Runs execute in process: the chain
    is sequential, and the multiprocess executor's start-up (~8 s a run here) would dominate
    a small cohort."""
    freshness_checks = build_export_freshness_checks(settings.export_due_days)
    return dg.Definitions(
        assets=[
            raw_logs,
            hourly_readings,
            profile_merged,
            mysql_tables,
            s3_historical_csv,
            combined_csv,
            netcdf_arrays,
        ],
        asset_checks=[*STORED_CHECKS, freshness_checks],
        jobs=[cohort_pipeline, netcdf_export, combined_export],
        sensors=[
            build_landing_sensor(cohort_pipeline, settle_seconds=settings.landing_settle_seconds),
            build_automation_sensor(),
            build_freshness_sensor(freshness_checks),
        ],
        resources=build_resources(settings),
        executor=dg.in_process_executor,
    )


defs = build_definitions(Settings.from_env())
