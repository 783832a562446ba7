"""The Celery app a worker runs: `celery -A energymobile.celery_app worker` (docs/fleet.md,
"Engine"). Each task executes one step of a run launched with ENERGYMOBILE_EXECUTOR=celery.

Built here rather than by `dagster-celery worker start`, which writes the broker URL (and its
password) into a config module under the Dagster instance's folder: here it is read from the
environment (ENERGYMOBILE_CELERY_BROKER_URL, through Settings) and lives only in memory. The
app is dagster-celery's own (`make_app`, `create_task`), configured as its CLI configures it,
so the executor and the workers agree on queue, routing and priorities.

A worker needs what a run needs: the package, the same ENERGYMOBILE_* settings (warehouse,
object store, landing) as the process that launches the runs, and the Dagster instance's
environment (DAGSTER_PG_*, the compute-log bucket): a step reloads the code location from
`energymobile.definitions` and opens the instance the run names.
"""

from __future__ import annotations

from dagster_celery.executor import CeleryExecutor
from dagster_celery.make_app import make_app
from dagster_celery.tasks import create_task

# Loaded once per worker, not once per step; and the settings the executor shares.
from energymobile.definitions import celery_config_source
from energymobile.settings import CELERY, CELERY_BROKER_VAR, Settings

settings = Settings.from_env()
if settings.executor != CELERY or not settings.celery_broker_url:
    raise RuntimeError(
        f"a Celery worker needs ENERGYMOBILE_EXECUTOR=celery and {CELERY_BROKER_VAR} (the "
        "broker the runs' executor sends steps to)"
    )
app = make_app(
    CeleryExecutor.for_cli(
        broker=settings.celery_broker_url,
        backend=settings.celery_broker_url,
        config_source=celery_config_source(),
    ).app_args()
)
execute_plan = create_task(app)
