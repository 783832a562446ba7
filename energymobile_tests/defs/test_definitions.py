"""The code location loads and shows the assets, their partitions, checks and jobs."""

import itertools

import dagster as dg
import pytest

from energymobile.definitions import COHORT_JOB, COMBINED_JOB, NETCDF_JOB, defs
from energymobile.defs.partitions import SITE_DIMENSION, cohort_site_partitions, site_partitions

pytestmark = pytest.mark.unit

CHAIN = ["raw_logs", "hourly_readings", "profile_merged", "mysql_tables", "s3_historical_csv"]
PER_COHORT = [*CHAIN, "raw_archive", "netcdf_arrays"]
COMBINED = "combined_csv"


def _keys(keys) -> set[str]:
    return {k.to_user_string() for k in keys}


def test_definitions_load_with_the_partitioned_assets_and_the_combined_file():
    graph = defs.resolve_asset_graph()
    assert _keys(graph.get_all_asset_keys()) == {*PER_COHORT, COMBINED}
    for name in [*PER_COHORT, COMBINED]:
        node = graph.get(dg.AssetKey(name))
        assert node.description, name
        assert node.owners, name
        expected = site_partitions if name == COMBINED else cohort_site_partitions
        assert node.partitions_def == expected, name


def test_the_chain_is_linked_in_order_and_the_archive_feeds_the_netcdf_file():
    graph = defs.resolve_asset_graph()
    for upstream, downstream in itertools.pairwise(CHAIN):
        assert upstream in _keys(graph.get(dg.AssetKey(downstream)).parent_keys)
    assert _keys(graph.get(dg.AssetKey("netcdf_arrays")).parent_keys) == {"raw_archive"}


def test_a_sites_combined_file_depends_on_every_cohort_export_of_that_site_only():
    graph = defs.resolve_asset_graph()
    combined = dg.AssetKey(COMBINED)
    export = dg.AssetKey("s3_historical_csv")
    assert graph.get(combined).parent_keys == {export}
    mapping = graph.get_partition_mapping(combined, export)
    assert isinstance(mapping, dg.MultiToSingleDimensionPartitionMapping)
    assert mapping.partition_dimension_name == SITE_DIMENSION


def test_every_check_is_on_the_asset_it_is_about_and_blocks_where_something_is_downstream():
    graph = defs.resolve_asset_graph()
    checks = {
        key.name: (key.asset_key.to_user_string(), graph.get_check_spec(key).blocking)
        for key in graph.asset_check_keys
        if key.name != "export_due"
    }
    delivery_rules = (
        "equal_row_counts",
        "within_cohort_window",
        "maintenance_shortfall",
        "profile_covers_cycles",
        "profile_codes_documented",
    )
    assert checks == {
        **dict.fromkeys(delivery_rules, ("raw_logs", True)),
        "archive_complete": ("raw_archive", True),
        "warehouse_hours_contiguous": ("mysql_tables", True),
        "combined_matches_warehouse": (COMBINED, False),
    }


def test_the_jobs_select_one_cohorts_load_its_netcdf_file_and_the_combined_file():
    cohort = defs.resolve_job_def(COHORT_JOB).asset_layer
    assert _keys(cohort.executable_asset_keys) == {*CHAIN, "raw_archive"}
    assert {key.name for key in cohort.asset_graph.asset_check_keys} == {
        "equal_row_counts",
        "within_cohort_window",
        "maintenance_shortfall",
        "profile_covers_cycles",
        "profile_codes_documented",
        "archive_complete",
        "warehouse_hours_contiguous",
    }
    netcdf = defs.resolve_job_def(NETCDF_JOB).asset_layer
    assert _keys(netcdf.executable_asset_keys) == {"netcdf_arrays"}
    combined = defs.resolve_job_def(COMBINED_JOB).asset_layer
    assert _keys(combined.executable_asset_keys) == {COMBINED}
    assert {key.name for key in combined.asset_graph.asset_check_keys} == {
        "combined_matches_warehouse"
    }


def test_only_the_combined_rebuild_is_in_a_pool():
    pools = {
        key.to_user_string(): assets_def.op.pool
        for assets_def in defs.resolve_asset_graph().assets_defs
        for key in assets_def.keys
    }
    assert {name: pool for name, pool in pools.items() if pool} == {COMBINED: "historical_csv"}
