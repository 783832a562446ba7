"""The code location: what Dagster (`dg dev`, the code server), `dg check defs`, the CLI and the
tests load. pyproject.toml's [tool.dg] names this module; nothing else declares it.

Two halves, as in Dagster's project layout:
- the wiring, the same in every deployment (assets, checks, jobs, the automation sensor), is
  discovered from the defs folder `energymobile/defs/` by Dagster's loader;
- the deployment, built here from `Settings` and nowhere else: the resources (which warehouse,
  object store and landing; where the values between steps live), the sensors and checks that
  take a setting, and the executor.

`defs` is the location for the environment's settings; `build_definitions(settings)` builds it
for any other (the CLI's backfill, the tests).
"""

from __future__ import annotations

import functools
import os
import warnings
from pathlib import Path
from urllib.parse import urlsplit

import dagster as dg

import energymobile
import energymobile.defs
from energymobile.defs.freshness import build_export_freshness_checks, build_freshness_sensor
from energymobile.defs.jobs import (
    COHORT_JOB,
    COMBINED_JOB,
    NETCDF_JOB,
    cohort_pipeline,
    combined_export,
    netcdf_export,
)
from energymobile.defs.landing_sensor import build_landing_sensor
from energymobile.settings import CELERY, CELERY_BROKER_VAR, DATABASE_URL_VAR, Settings
from energymobile.storage.intermediates import IntermediatesIOManager
from energymobile.storage.io_managers import (
    ArchiveIOManager,
    HistoricalCsvIOManager,
    WarehouseIOManager,
)
from energymobile.storage.resources import (
    CohortRulesResource,
    LandingResource,
    ObjectStoreResource,
    S3ClientResource,
    WarehouseResource,
)

__all__ = [
    "COHORT_JOB",
    "COMBINED_JOB",
    "NETCDF_JOB",
    "build_definitions",
    "build_executor",
    "build_resources",
    "cohort_pipeline",
    "combined_export",
    "defs",
    "discovered_definitions",
    "intermediates_store",
    "netcdf_export",
]

INTERMEDIATE_PREFIX = "intermediate"
"""Where the values between steps live, under the object store's prefix (S3) or the home."""


@functools.cache
def discovered_definitions() -> dg.Definitions:
    """Every definition in the defs folder, found by Dagster's defs-folder loader.

    The loader is given the package's own folder: `dg.load_from_defs_folder` finds the folder
    through pyproject.toml, which an installed wheel does not have (it fails there with "Could
    not find config file"), and the wheel is the product.

    The tree builds the defs folder, not its root: the root adds the catalogue of every
    installed dg plugin's component types, and dagster-aws's plugin imports all of dagster_aws
    (~1.5 s, issue 16) in every process that loads the location, each run worker included.
    This project declares no component types and uses none from a plugin."""
    package_parent = Path(energymobile.__file__).parent.parent  # the checkout or site-packages
    with warnings.catch_warnings():
        # The loader calls load_definitions_from_module, marked preview (Dagster 1.13).
        warnings.simplefilter("ignore", dg.PreviewWarning)
        tree = dg.ComponentTree.from_module(
            defs_module=energymobile.defs, project_root=package_parent
        )
        folder = tree.build_defs(tree.defs_module_path)
    return dg.Definitions.merge(folder, dg.Definitions(component_tree=tree))


def intermediates_store(settings: Settings, s3: S3ClientResource) -> ObjectStoreResource:
    """Where raw_logs, hourly_readings and profile_merged keep the values the next step reads.

    With an S3 object store: in S3, under `<prefix>/intermediate/`, so a run on any host (a
    process, container or pod per run, as Dagster runs in production) reads what an earlier run
    wrote: re-materializing profile_merged alone finds hourly_readings there. Otherwise (the
    embedded default, one host): `$ENERGYMOBILE_HOME/intermediate` on the local disk. Either way
    each value is written whole (storage/intermediates.py)."""
    if urlsplit(settings.object_store).scheme == "s3":
        url = f"{settings.object_store.rstrip('/')}/{INTERMEDIATE_PREFIX}"
    else:
        url = str(settings.home / INTERMEDIATE_PREFIX)  # a plain path: no URL quoting
    return ObjectStoreResource(url=url, s3=s3)


def build_resources(settings: Settings) -> dict[str, object]:
    """Resources for a deployment, chosen from its settings here and nowhere else: no asset
    knows where it runs. The database URL (which may carry a password) is passed as an EnvVar
    when it comes from the environment, so Dagster never displays or stores it."""
    database_url: str | dg.EnvVar = (
        dg.EnvVar(DATABASE_URL_VAR) if os.environ.get(DATABASE_URL_VAR) else settings.database_url
    )
    warehouse = WarehouseResource(url=database_url)
    s3 = S3ClientResource(region_name=settings.aws_region)  # used by s3:// URLs; keys from the env
    object_store = ObjectStoreResource(url=settings.object_store, s3=s3)
    return {
        "landing": LandingResource(location=settings.landing, s3=s3),
        "object_store": object_store,
        "warehouse": warehouse,
        "rules": CohortRulesResource(max_shortfall_hours=settings.max_shortfall_hours),
        "archive_io_manager": ArchiveIOManager(object_store=object_store),
        "warehouse_io_manager": WarehouseIOManager(warehouse=warehouse),
        "historical_csv_io_manager": HistoricalCsvIOManager(object_store=object_store),
        "io_manager": IntermediatesIOManager(store=intermediates_store(settings, s3)),
    }


CELERY_VISIBILITY_TIMEOUT_S = 6 * 3600
"""How long Redis keeps a task a worker has taken but not acknowledged before handing it to
another worker. A worker reserves its next task while running one; Redis's default (1 hour)
would hand that waiting task to a second worker behind a long step, and the step would run
twice. Six hours: run monitoring's max_runtime_seconds in dagster.production.yaml."""


def celery_config_source() -> dict[str, object]:
    """Celery settings the executor (which sends steps) and the workers (celery_app.py) share:
    dagster-celery's broker transport options with the visibility timeout above."""
    from dagster_celery.defaults import broker_transport_options

    return {
        "broker_transport_options": {
            **broker_transport_options,
            "visibility_timeout": CELERY_VISIBILITY_TIMEOUT_S,
        }
    }


def build_executor(settings: Settings) -> dg.ExecutorDefinition:
    """Where a run's steps execute, chosen per deployment here and nowhere else.

    The embedded default runs them in the run's own process: the chain is sequential, and the
    multiprocess executor's start-up (~8 s a run here) would dominate a small cohort. With
    ENERGYMOBILE_EXECUTOR=celery each step is a Celery task on whichever worker
    (`celery -A energymobile.celery_app worker`) takes it first, so many runs (cohorts, sites)
    spread over many machines (docs/fleet.md, "Engine"). The broker URL may hold a password:
    it reaches Dagster as an EnvVar when it comes from the environment, never as a value."""
    if settings.executor != CELERY:
        return dg.in_process_executor
    from dagster_celery import celery_executor  # imported only by deployments that use it

    broker: str | dict[str, str] = (
        {"env": CELERY_BROKER_VAR}
        if os.environ.get(CELERY_BROKER_VAR)
        else str(settings.celery_broker_url)
    )
    return celery_executor.configured(
        {"broker": broker, "backend": broker, "config_source": celery_config_source()},
        name="celery",
    )


def build_definitions(settings: Settings) -> dg.Definitions:
    """The defs folder's wiring with this deployment's resources, the landing and freshness
    sensors and the freshness checks (which take settings), all sensors on by default, and the
    deployment's executor (`build_executor`)."""
    freshness_checks = build_export_freshness_checks(settings.export_due_days)
    deployment = dg.Definitions(
        asset_checks=[freshness_checks],
        sensors=[
            build_landing_sensor(cohort_pipeline, settle_seconds=settings.landing_settle_seconds),
            build_freshness_sensor(freshness_checks),
        ],
        resources=build_resources(settings),
        executor=build_executor(settings),
    )
    return dg.Definitions.merge(discovered_definitions(), deployment)


defs = build_definitions(Settings.from_env())
