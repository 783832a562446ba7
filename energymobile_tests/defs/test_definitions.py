"""The code location loads and shows the five assets, their partitions and checks."""

import itertools

import dagster as dg
import pytest

from energymobile.definitions import COHORT_JOB, defs

pytestmark = pytest.mark.unit

CHAIN = ["raw_logs", "hourly_readings", "profile_merged", "mysql_tables", "s3_historical_csv"]


def test_definitions_load_with_the_five_partitioned_assets():
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert set(CHAIN) <= keys
    for name in CHAIN:
        node = graph.get(dg.AssetKey(name))
        assert node.partitions_def is not None, name
        assert node.description, name
        assert node.owners, name


def test_the_chain_is_linked_in_order():
    graph = defs.resolve_asset_graph()
    for upstream, downstream in itertools.pairwise(CHAIN):
        parents = {k.to_user_string() for k in graph.get(dg.AssetKey(downstream)).parent_keys}
        assert upstream in parents, (upstream, downstream)


def test_gap_checks_are_blocking():
    graph = defs.resolve_asset_graph()
    names = {key.name: graph.get_check_spec(key).blocking for key in graph.asset_check_keys}
    for check in (
        "equal_row_counts",
        "contiguous_hours",
        "within_cohort_window",
        "maintenance_shortfall",
        "profile_covers_cycles",
    ):
        assert names.get(check) is True, check


def test_the_cohort_job_selects_the_whole_chain():
    job = defs.resolve_job_def(COHORT_JOB)
    assert set(CHAIN) <= {k.to_user_string() for k in job.asset_layer.executable_asset_keys}
