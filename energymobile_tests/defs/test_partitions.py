"""The Dagster partitions and the pure cohort arithmetic must agree."""

import warnings
from datetime import datetime

import dagster as dg
import pytest
from dagster._core.errors import DagsterUnknownPartitionError

from energymobile.cohorts import cohort_keys, cohort_window
from energymobile.defs.automation import eager_any_cohort
from energymobile.defs.partitions import (
    DAGSTER_PARTITION_LIMIT,
    add_sites,
    cohort_partitions,
    cohort_site_partitions,
    partition_count,
    partition_key,
    split_key,
)
from energymobile.rigs import DEFAULT_SITE, InvalidRigName

pytestmark = pytest.mark.unit


def test_partition_keys_are_the_cohort_keys():
    keys = cohort_partitions.get_partition_keys(current_time=datetime(2009, 7, 1))
    assert keys == cohort_keys("2008-03-26", 5)  # 2009-03-26's window ended on 2009-06-26


def test_a_cohort_exists_once_its_window_has_ended():
    before_end = cohort_partitions.get_partition_keys(current_time=datetime(2008, 6, 25, 23))
    at_end = cohort_partitions.get_partition_keys(current_time=datetime(2008, 6, 26, 0, 1))
    assert before_end == []
    assert at_end == ["2008-03-26"]


def test_partition_windows_match_cohort_windows():
    for key in cohort_keys("2008-03-26", 64):  # 16 years, leap years included
        window = cohort_partitions.time_window_for_partition_key(key)
        start, end = cohort_window(key)
        assert (window.start.replace(tzinfo=None), window.end.replace(tzinfo=None)) == (start, end)
        assert window.start.utcoffset().total_seconds() == 0


# -- the fleet's cohort × site ---------------------------------------------------------------

FLEET_SITES = [f"site-{n:02d}" for n in range(31)]
AT_74_COHORTS = datetime(2026, 9, 27)
"""74 cohorts have ended by then (2008-03-26 to 2026-03-26)."""


def test_a_partition_key_is_cohort_and_site_and_splits_back():
    key = partition_key("2008-03-26", "north")
    assert str(key) == "2008-03-26|north"
    assert split_key(key) == split_key("2008-03-26|north") == ("2008-03-26", "north")
    assert split_key(partition_key("2008-03-26")) == ("2008-03-26", DEFAULT_SITE)
    with pytest.raises(InvalidRigName):
        partition_key("2008-03-26", "a|b")  # would split wrongly


def test_the_fleet_stays_within_dagsters_recommended_partitions_per_asset():
    """31 sites × 74 cohorts, as the instance lists them: 2,294, far below 100,000; a
    partition per rig (1,860 rigs) would be past it already."""
    instance = dg.DagsterInstance.ephemeral()
    assert add_sites(instance, [DEFAULT_SITE]) == [DEFAULT_SITE]
    assert add_sites(instance, [*FLEET_SITES[1:], DEFAULT_SITE]) == sorted(FLEET_SITES[1:])
    keys = cohort_site_partitions.get_partition_keys(
        current_time=AT_74_COHORTS, dynamic_partitions_store=instance
    )
    assert len(cohort_partitions.get_partition_keys(current_time=AT_74_COHORTS)) == 74
    assert len(keys) == partition_count(74, 31) == 2_294 < DAGSTER_PARTITION_LIMIT
    assert partition_count(74, 1_860) > DAGSTER_PARTITION_LIMIT
    years_within_limit = (DAGSTER_PARTITION_LIMIT // 31 - 74) // 4
    assert years_within_limit > 700  # 4 cohorts a year per site


@pytest.fixture
def two_sites() -> dg.DagsterInstance:
    instance = dg.DagsterInstance.ephemeral()
    add_sites(instance, [DEFAULT_SITE, "north"])
    return instance


def test_an_asset_and_its_check_run_on_one_cohort_of_one_site(two_sites):
    """Dagster 1.13 runs a step, and a partitioned check (preview), on one (cohort, site):
    the step sees both dimensions of its key."""
    seen: list[tuple[str, str]] = []

    @dg.asset(partitions_def=cohort_site_partitions)
    def rows(context: dg.AssetExecutionContext) -> None:
        seen.append(split_key(context.partition_key))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)

        @dg.asset_check(asset=rows, partitions_def=cohort_site_partitions)
        def rows_check(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
            cohort, site = split_key(context.partition_key)
            return dg.AssetCheckResult(passed=True, metadata={"site": site, "cohort": cohort})

    result = dg.materialize(
        [rows, rows_check], instance=two_sites, partition_key=partition_key("2008-06-26", "north")
    )
    assert result.success and seen == [("2008-06-26", "north")]
    [evaluation] = result.get_asset_check_evaluations()
    assert evaluation.passed and evaluation.metadata["site"].value == "north"
    with pytest.raises(DagsterUnknownPartitionError, match="south"):  # a site never added
        dg.materialize(
            [rows], instance=two_sites, partition_key=partition_key("2008-06-26", "south")
        )


def test_automation_follows_exactly_the_cohort_and_site_that_changed(two_sites):
    """eager_any_cohort over cohort × site: after one (cohort, site) of the parent updates,
    only that partition of the child is requested, for a late cohort too."""

    @dg.asset(partitions_def=cohort_site_partitions)
    def parent() -> None: ...

    @dg.asset(
        partitions_def=cohort_site_partitions,
        deps=[parent],
        automation_condition=eager_any_cohort(),
    )
    def child() -> None: ...

    late = partition_key("2008-06-26", "north")  # not the latest cohort
    first = dg.evaluate_automation_conditions([parent, child], two_sites)
    assert first.total_requested == 0  # parent missing everywhere
    dg.materialize([parent], instance=two_sites, partition_key=late)
    second = dg.evaluate_automation_conditions([parent, child], two_sites, cursor=first.cursor)
    assert second.get_requested_partitions(child.key) == {late}
