"""The three jobs: one cohort's load, its netCDF file, and a site's combined CSV over all its
cohorts.

Selections name assets by key, not by importing their definitions: Dagster's defs-folder loader
collects every definition a module holds, so a module importing another's asset would hold it
twice.
"""

from __future__ import annotations

import dagster as dg

from energymobile.defs.automation import CHAIN_RUN_TAGS
from energymobile.defs.freshness import freshness_check_keys

COHORT_JOB = "cohort_pipeline"
NETCDF_JOB = "netcdf_export"
COMBINED_JOB = "combined_export"
NETCDF_ASSET = "netcdf_arrays"
COMBINED_ASSET = "combined_csv"

cohort_pipeline = dg.define_asset_job(
    COHORT_JOB,
    # The freshness checks judge every cohort at once; their own sensor runs them. The
    # netCDF export re-reads the whole archive (~13 s a full cohort, twice the load itself),
    # so it has its own job and automation, and never delays the hourly tables. A site's
    # combined CSV covers every cohort of the site: rebuilt once after many cohorts (its own
    # job, partitioned by site), not in each.
    selection=dg.AssetSelection.all()
    - dg.AssetSelection.checks(*freshness_check_keys())
    - dg.AssetSelection.assets(NETCDF_ASSET, COMBINED_ASSET),
    description="The load of one cohort, raw files to the archive, the warehouse and the "
    "cohort's CSV, with checks.",
    run_tags=CHAIN_RUN_TAGS,  # automation does not follow what these runs update (automation.py)
)

netcdf_export = dg.define_asset_job(
    NETCDF_JOB,
    selection=dg.AssetSelection.assets(NETCDF_ASSET),
    description="One cohort's full-resolution netCDF file, from its archive (raw_archive).",
)

combined_export = dg.define_asset_job(
    COMBINED_JOB,
    selection=dg.AssetSelection.assets(COMBINED_ASSET),
    description="A site's combined CSV (oil-well-data-all-historical.csv for the default site) "
    "rebuilt from every cohort CSV of the site, checked against the site's rows in the warehouse.",
)
