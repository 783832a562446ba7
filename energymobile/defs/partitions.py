"""The quarterly cohort partitions, built from the arithmetic in `energymobile.cohorts`."""

from __future__ import annotations

import dagster as dg

from energymobile.cohorts import CRON_SCHEDULE, FIRST_COHORT, KEY_FORMAT

cohort_partitions = dg.TimeWindowPartitionsDefinition(
    cron_schedule=CRON_SCHEDULE,
    start=FIRST_COHORT.strftime(KEY_FORMAT),
    fmt=KEY_FORMAT,
    timezone="UTC",
)
"""One partition per cohort, keyed by its start date; it exists once its window has ended."""
