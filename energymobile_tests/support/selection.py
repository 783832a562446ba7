"""Running exactly a selection of the project's assets and checks in process (an operator
re-verifying a cohort or a site from the UI does the same): shared by the check tests."""

from __future__ import annotations

import dagster as dg

from energymobile.definitions import build_definitions
from energymobile.defs.partitions import partition_key
from energymobile.settings import Settings


def run_selection(
    settings: Settings,
    instance: dg.DagsterInstance,
    selection: dg.AssetSelection,
    key=None,
    site: str | None = None,
) -> dg.ExecuteInProcessResult:
    """Run exactly `selection` (checks alone, or with what is downstream) on the project's
    assets and resources, for a cohort of the default site (`key`) or a site (`site`, for
    checks of the site-partitioned combined file: given as the run's partition tag, since
    `partition_key=` looks for a selected asset's partitions and checks alone name none)."""
    defs = build_definitions(settings)
    job = dg.define_asset_job("verify", selection=selection)
    resolved = dg.Definitions(
        assets=defs.assets,
        asset_checks=defs.asset_checks,
        resources=defs.resources,
        jobs=[job],
        executor=dg.in_process_executor,
    ).resolve_job_def("verify")
    return resolved.execute_in_process(
        partition_key=partition_key(key) if key else None,
        instance=instance,
        raise_on_error=False,
        tags={"dagster/partition": site} if site else None,
    )
