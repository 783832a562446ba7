"""Freshness the scientists can see: each cohort is due a set number of days after it ends.

A cohort's warehouse rows and CSV are due `export_due_days` (ENERGYMOBILE_EXPORT_DUE_DAYS,
default 7) after its window ends. The `export_due` check on `mysql_tables` and
`s3_historical_csv` fails, naming them, while any cohort past its due date has not been
materialized; it passes when every due cohort is there, and says when the next one is due.

Per site: each site's (cohort, site) partitions are judged on their own, so one site's export
never stands in for another's late one. The default site is due every cohort (as a single-rig
installation always was), any other site every cohort from its first materialized one on
(`overdue_by_site`); the descriptions name a cohort of another site as `<key> of site <site>`.

Why a check of our own rather than `build_time_partition_freshness_checks`: that factory takes
one deadline cron, and "7 days after the 26th of March, June, September, December" falls on
the 2nd of January and April but the 3rd of July and October (31- and 30-day months), which no
single cron expresses; it also only looks at the newest partition. `FreshnessPolicy`, its
successor, judges an asset's latest materialization of any partition, not each cohort. The
check here computes each cohort's own deadline from the partition windows, and records
`dagster/fresh_until_timestamp` (the next cohort's due date) so Dagster's freshness sensor,
`build_sensor_for_freshness_checks`, knows when to evaluate it again.
"""

import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta, timezone

import dagster as dg

from energymobile.cohorts import FIRST_COHORT, KEY_FORMAT, cohort_keys, cohort_window
from energymobile.defs.partitions import SITES, cohort_partitions, split_key
from energymobile.rigs import DEFAULT_SITE

CHECK_NAME = "export_due"
CHECKS_NAME = "export_freshness"
SENSOR_NAME = "export_freshness_sensor"
FRESHNESS_ASSETS: tuple[str, ...] = ("mysql_tables", "s3_historical_csv")
FRESH_UNTIL_KEY = "dagster/fresh_until_timestamp"
"""Read by Dagster's freshness sensor: no need to evaluate again before this time."""
MINIMUM_INTERVAL_SECONDS = 60
SHOWN_OVERDUE = 20


def freshness_check_keys() -> list[dg.AssetCheckKey]:
    return [dg.AssetCheckKey(dg.AssetKey(a), CHECK_NAME) for a in FRESHNESS_ASSETS]


def due_at(key: str, due_days: int) -> datetime:
    """When the cohort's export is due: the end of its window plus `due_days`, in UTC."""
    return cohort_window(key)[1].replace(tzinfo=timezone.utc) + timedelta(days=due_days)


def due_cohorts(now: datetime, due_days: int) -> list[str]:
    """Every cohort whose export is due at `now`, oldest first."""
    return cohort_partitions.get_partition_keys(current_time=now - timedelta(days=due_days))


def next_due(now: datetime, due_days: int) -> str:
    """The first cohort not yet due at `now`."""
    due = due_cohorts(now, due_days)
    if not due:
        return FIRST_COHORT.strftime(KEY_FORMAT)
    return cohort_keys(due[-1], 2)[1]


def materialized_by_site(partition_keys: Iterable[str]) -> dict[str, set[str]]:
    """Site -> the cohorts materialized for it, from (cohort, site) partition keys."""
    by_site: dict[str, set[str]] = {}
    for key in partition_keys:
        cohort, site = split_key(key)
        by_site.setdefault(site, set()).add(cohort)
    return by_site


def overdue_by_site(
    due: Sequence[str], done: Mapping[str, set[str]], known_sites: Iterable[str]
) -> list[tuple[str, str]]:
    """(cohort, site) pairs due and not materialized, in cohort then site order.

    Each site is judged on its own: the default site from the first cohort, as a single-rig
    installation always was (when it is one of the instance's sites, or no site is known yet),
    any other site from its first materialized cohort on (a site joins the fleet at some
    quarter; the quarters before are not its to deliver). A site known to the instance with
    nothing materialized is not judged until its first cohort is (docs/fleet.md)."""
    known = set(known_sites)
    expected: dict[str, str] = {
        site: min(cohorts) for site, cohorts in done.items() if site != DEFAULT_SITE and cohorts
    }
    if DEFAULT_SITE in known or DEFAULT_SITE in done or not known:
        expected[DEFAULT_SITE] = ""  # every cohort
    return sorted(
        (key, site)
        for site, first in expected.items()
        for key in due
        if key >= first and key not in done.get(site, set())
    )


def _named(key: str, site: str) -> str:
    """A cohort as the descriptions name it: the default site's by its key alone."""
    return key if site == DEFAULT_SITE else f"{key} of site {site}"


def evaluate_export_due(
    instance: dg.DagsterInstance, asset_key: dg.AssetKey, now: datetime, due_days: int
) -> dg.AssetCheckResult:
    """Pass when every cohort due at `now` has been materialized for every site that is due
    it (`overdue_by_site`); otherwise list the late (cohort, site) pairs."""
    due = due_cohorts(now, due_days)
    done = materialized_by_site(instance.get_materialized_partitions(asset_key))
    overdue = overdue_by_site(due, done, instance.get_dynamic_partitions(SITES))
    upcoming = next_due(now, due_days)
    upcoming_at = due_at(upcoming, due_days)
    metadata: dict[str, object] = {
        "due_days": due_days,
        "due_cohorts": len(due),
        "overdue_cohorts": len(overdue),
        "overdue_sites": ", ".join(sorted({site for _, site in overdue})) or "-",
        "next_due_cohort": upcoming,
        "next_due": dg.MetadataValue.timestamp(upcoming_at),
    }
    if not overdue:
        metadata[FRESH_UNTIL_KEY] = dg.MetadataValue.timestamp(upcoming_at)
        description = (
            f"All {len(due)} cohorts due by now are materialized. Next due: cohort {upcoming} "
            f"on {upcoming_at:%Y-%m-%d %H:%M} UTC."
            if due
            else f"No cohort is due yet; the first, {upcoming}, is due {upcoming_at:%Y-%m-%d}."
        )
        return dg.AssetCheckResult(
            asset_key=asset_key,
            check_name=CHECK_NAME,
            passed=True,
            severity=dg.AssetCheckSeverity.ERROR,
            description=description,
            metadata=metadata,
        )
    latest, latest_site = overdue[-1]
    latest_due = due_at(latest, due_days)
    metadata["dagster/overdue_seconds"] = round((now - latest_due).total_seconds())
    metadata["overdue"] = dg.MetadataValue.md(_overdue_table(overdue, now, due_days))
    earlier = ""
    if len(overdue) > 1 and {site for _, site in overdue} == {latest_site}:
        earlier = f" and {len(overdue) - 1} earlier cohorts"
    elif len(overdue) > 1:
        earlier = f" and {len(overdue) - 1} more (cohort, site) pairs"
    return dg.AssetCheckResult(
        asset_key=asset_key,
        check_name=CHECK_NAME,
        passed=False,
        severity=dg.AssetCheckSeverity.ERROR,
        description=(
            f"Overdue: cohort {_named(latest, latest_site)}{earlier}. {latest} was due "
            f"{latest_due:%Y-%m-%d} "
            f"({due_days} days after its window ended) and is not materialized."
        ),
        metadata=metadata,
    )


def _overdue_table(overdue: Sequence[tuple[str, str]], now: datetime, due_days: int) -> str:
    rows = ["| cohort | window end | due | days overdue | site |", "|---|---|---|---|---|"]
    for key, site in list(reversed(overdue))[:SHOWN_OVERDUE]:
        due = due_at(key, due_days)
        window_end = cohort_window(key)[1]
        rows.append(
            f"| {key} | {window_end:%Y-%m-%d} | {due:%Y-%m-%d} | {(now - due).days} | {site} |"
        )
    if len(overdue) > SHOWN_OVERDUE:
        rows.append(f"| … {len(overdue) - SHOWN_OVERDUE} older | | | | |")
    return "\n".join(rows)


def build_export_freshness_checks(
    due_days: int, *, clock: Callable[[], float] = time.time
) -> dg.AssetChecksDefinition:
    """`export_due` on each asset of FRESHNESS_ASSETS. Not partitioned and reading no asset
    value: it asks the instance which cohorts exist, so it never loads a partition."""
    description = (
        f"Every cohort is materialized within {due_days} days after its window ends "
        "(ENERGYMOBILE_EXPORT_DUE_DAYS); fails listing the overdue cohorts."
    )

    @dg.multi_asset_check(
        name=CHECKS_NAME,
        specs=[
            dg.AssetCheckSpec(CHECK_NAME, asset=asset, description=description)
            for asset in FRESHNESS_ASSETS
        ],
        can_subset=True,
        description=description,
    )
    def export_freshness(context: dg.AssetCheckExecutionContext) -> Iterator[dg.AssetCheckResult]:
        now = datetime.fromtimestamp(clock(), tz=timezone.utc)
        for check_key in sorted(context.selected_asset_check_keys, key=str):
            yield evaluate_export_due(context.instance, check_key.asset_key, now, due_days)

    return export_freshness


def build_freshness_sensor(
    checks: dg.AssetChecksDefinition,
    default_status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.RUNNING,
) -> dg.SensorDefinition:
    """Dagster's freshness sensor over our checks: it evaluates a check that never ran, one that
    passed once its `fresh_until` time is reached, and one that failed once the asset has been
    materialized since. (Superseded by FreshnessPolicy, which cannot express per-cohort
    deadlines; the warning saying so is silenced here.)"""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.SupersessionWarning)
        return dg.build_sensor_for_freshness_checks(
            freshness_checks=[checks],
            minimum_interval_seconds=MINIMUM_INTERVAL_SECONDS,
            name=SENSOR_NAME,
            default_status=default_status,
        )
