"""The partitions: quarterly cohorts (built from the arithmetic in `energymobile.cohorts`), and
the fleet's cohort × site.

Dagster recommends at most 100,000 partitions per asset; a partition per (rig, cohort) would be
1,860 rigs × 74 cohorts = 137,640 today, growing by 7,440 a year. Per (site, cohort) it is
31 × 74 = 2,294, growing by 124 a year: one partition loads every rig of its site for its cohort
inside the step, each rig its own (rig, cohort) replacement in the warehouse (docs/fleet.md,
"Partitioning"). Sites are a dynamic dimension: the landing sensor adds a site when its first
drop lands; the default site (the single-rig layout's) is added the same way.
"""

from __future__ import annotations

import dagster as dg

from energymobile.cohorts import CRON_SCHEDULE, FIRST_COHORT, KEY_FORMAT
from energymobile.rigs import DEFAULT_SITE, check_name

cohort_partitions = dg.TimeWindowPartitionsDefinition(
    cron_schedule=CRON_SCHEDULE,
    start=FIRST_COHORT.strftime(KEY_FORMAT),
    fmt=KEY_FORMAT,
    timezone="UTC",
)
"""One partition per cohort, keyed by its start date; it exists once its window has ended."""

COHORT_DIMENSION = "cohort"
SITE_DIMENSION = "site"
SITES = "sites"
"""The dynamic partitions' name in the Dagster instance."""

site_partitions = dg.DynamicPartitionsDefinition(name=SITES)
"""One partition per site, added when the site's first delivery lands."""

cohort_site_partitions = dg.MultiPartitionsDefinition(
    {COHORT_DIMENSION: cohort_partitions, SITE_DIMENSION: site_partitions}
)
"""One partition per (cohort, site): the fleet's unit of work (every rig of the site)."""

DAGSTER_PARTITION_LIMIT = 100_000
"""Dagster's recommended maximum of partitions per asset (its partitions documentation)."""


def partition_key(cohort: str, site: str = DEFAULT_SITE) -> dg.MultiPartitionKey:
    """The (cohort, site) partition key: the one place tests and the CLI build keys. Its string
    is `<cohort>|<site>` (Dagster orders a multi-partition key's dimensions by name)."""
    return dg.MultiPartitionKey(
        {COHORT_DIMENSION: cohort, SITE_DIMENSION: check_name(site, "site")}
    )


def split_key(key: str | dg.MultiPartitionKey) -> tuple[str, str]:
    """(cohort, site) of a partition key, given as a MultiPartitionKey or its string."""
    if isinstance(key, dg.MultiPartitionKey):
        dims = key.keys_by_dimension
    else:
        dims = cohort_site_partitions.get_partition_key_from_str(key).keys_by_dimension
    return dims[COHORT_DIMENSION], dims[SITE_DIMENSION]


def add_sites(instance: dg.DagsterInstance, sites: list[str]) -> list[str]:
    """Add these sites to the instance's site partitions; returns those that were new."""
    known = set(instance.get_dynamic_partitions(SITES))
    new = sorted({check_name(site, "site") for site in sites} - known)
    if new:
        instance.add_dynamic_partitions(SITES, new)
    return new


def partition_count(cohorts: int, sites: int) -> int:
    """Partitions of an asset partitioned by cohort × site."""
    return cohorts * sites
