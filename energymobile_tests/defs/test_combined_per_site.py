"""One combined CSV per site, in process on the embedded defaults: the default rig (logs/) and
two rigs of site north (sites/north/<rig>/logs/) deliver the same cohorts; each site's rebuild
(a partition of combined_csv) reads that site's cohort CSVs only and writes that site's file,
which holds exactly the site's rows of the warehouse; the default site's file is the one a
single-rig installation writes, name and bytes; its check compares each site's file with that
site's rows."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from energymobile.backfill import materialize_cohorts, materialize_combined
from energymobile.defs import checks
from energymobile.rigs import DEFAULT_RIG, DEFAULT_SITE, Rig
from energymobile.settings import Settings
from energymobile.storage.exports import (
    COMBINED_KEY,
    cohort_csv_key,
    combined_csv_key,
    csv_header,
    exported_cohorts,
    read_csv_export,
)
from energymobile.storage.object_store import ObjectStore, open_object_store
from energymobile.storage.warehouse import Warehouse
from energymobile_tests.support.fleet import deliver
from energymobile_tests.support.selection import run_selection
from energymobile_tests.support.short_cohorts import SHORT_CYCLES, short_cohort_settings

pytestmark = pytest.mark.integration

KEYS = ("2008-03-26", "2008-06-26")
LATER = "2008-09-26"
NORTH = "north"
NORTH_RIGS = [Rig(NORTH, "rig-1"), Rig(NORTH, "rig-2")]
NORTH_FILE = "oil-well-data-all-historical/site=north.csv"


def _load(settings: Settings, instance: dg.DagsterInstance, site: str, *keys: str) -> None:
    outcomes = materialize_cohorts(list(keys), settings=settings, instance=instance, site=site)
    assert all(o.success for o in outcomes), [o.failure for o in outcomes]


def _rebuild(settings: Settings, instance: dg.DagsterInstance, site: str) -> None:
    outcome = materialize_combined(settings=settings, instance=instance, site=site)
    assert outcome.success, outcome.failure


def _site_rows(settings: Settings, site: str, keys: tuple[str, ...]) -> pd.DataFrame:
    """The site's rows in the warehouse, in the combined file's order (cohort by cohort)."""
    warehouse = Warehouse(settings.database_url)
    try:
        frames = [warehouse.read_cohorts([key], site=site) for key in keys]
    finally:
        warehouse.dispose()
    return pd.concat(frames, ignore_index=True)


def _concatenation(store: ObjectStore, site: str) -> bytes:
    """What the combined file was before sites: one header, then each cohort CSV's rows."""
    bodies = [
        store.get_bytes(cohort_csv_key(key, site)).split(b"\n", 1)[1]
        for key in exported_cohorts(store, site)
    ]
    return csv_header() + b"".join(bodies)


def _check(settings: Settings, instance: dg.DagsterInstance, site: str) -> dg.AssetCheckEvaluation:
    """combined_matches_warehouse alone, on one site's partition."""
    selection = dg.AssetSelection.checks(checks.combined_matches_warehouse)
    result = run_selection(settings, instance, selection, site=site)
    [evaluation] = result.get_asset_check_evaluations()
    return evaluation


@pytest.fixture
def fleet(settings: Settings, instance: dg.DagsterInstance) -> ObjectStore:
    """Two cohorts of the default rig and of north's two rigs, loaded and exported per site,
    and each site's combined file rebuilt."""
    landing = Path(settings.landing)
    for index, key in enumerate(KEYS):
        deliver(landing, DEFAULT_RIG, key, seed=10 + index)
        for seed, rig in enumerate(NORTH_RIGS, start=20 + 2 * index):
            deliver(landing, rig, key, seed)
    _load(settings, instance, DEFAULT_SITE, *KEYS)
    _load(settings, instance, NORTH, *KEYS)
    _rebuild(settings, instance, DEFAULT_SITE)
    _rebuild(settings, instance, NORTH)
    return open_object_store(settings.object_store)


def test_each_site_has_one_combined_file_holding_exactly_its_rows(settings, fleet):
    assert combined_csv_key(DEFAULT_SITE) == COMBINED_KEY == "oil-well-data-all-historical.csv"
    assert combined_csv_key(NORTH) == NORTH_FILE
    assert fleet.list_keys("oil-well-data-all-historical.csv") == [COMBINED_KEY]
    assert NORTH_FILE in fleet.list_keys("oil-well-data-all-historical/")
    for site, rigs in ((DEFAULT_SITE, [DEFAULT_RIG]), (NORTH, NORTH_RIGS)):
        combined = read_csv_export(fleet.get_bytes(combined_csv_key(site)), site)
        pd.testing.assert_frame_equal(combined, _site_rows(settings, site, KEYS))
        assert sorted(set(combined["rig"])) == [rig.name for rig in rigs]
        assert combined.groupby("cohort").size().to_dict() == dict.fromkeys(
            KEYS, len(rigs) * SHORT_CYCLES
        )
        assert fleet.get_bytes(combined_csv_key(site)) == _concatenation(fleet, site)
    # The site's combined file is not one of its cohort CSVs, for the listing the rebuild uses.
    assert exported_cohorts(fleet, NORTH) == list(KEYS)


def test_the_default_sites_file_is_the_single_rig_installations_byte_for_byte(
    tmp_path, settings, fleet
):
    single = short_cohort_settings(tmp_path / "single-rig")
    for index, key in enumerate(KEYS):  # the same deliveries, and no other rig
        deliver(Path(single.landing), DEFAULT_RIG, key, seed=10 + index)
    with dg.DagsterInstance.ephemeral() as instance:
        _load(single, instance, DEFAULT_SITE, *KEYS)
        _rebuild(single, instance, DEFAULT_SITE)
    alone = open_object_store(single.object_store)
    assert alone.list_keys("oil-well-data-all-historical.csv") == [COMBINED_KEY]
    assert fleet.get_bytes(COMBINED_KEY) == alone.get_bytes(COMBINED_KEY)


def test_a_sites_rebuild_leaves_every_other_sites_file_alone(settings, instance, fleet):
    default_before = fleet.list_versions(COMBINED_KEY)
    default_bytes = fleet.get_bytes(COMBINED_KEY)
    deliver(Path(settings.landing), NORTH_RIGS[0], LATER, seed=30)
    _load(settings, instance, NORTH, LATER)
    _rebuild(settings, instance, NORTH)

    assert fleet.list_versions(COMBINED_KEY) == default_before  # not rewritten (same inode)
    assert fleet.get_bytes(COMBINED_KEY) == default_bytes
    north = read_csv_export(fleet.get_bytes(NORTH_FILE), NORTH)
    pd.testing.assert_frame_equal(north, _site_rows(settings, NORTH, (*KEYS, LATER)))
    latest = instance.get_latest_materialization_event(dg.AssetKey("combined_csv"))
    assert latest is not None and latest.asset_materialization is not None
    assert latest.asset_materialization.partition == NORTH
    assert latest.asset_materialization.metadata["object_key"].value == NORTH_FILE


def test_the_check_compares_each_sites_file_with_that_sites_rows(settings, instance, fleet):
    assert _check(settings, instance, DEFAULT_SITE).passed
    assert _check(settings, instance, NORTH).passed

    # north loads a cohort after its file was built: the next rebuild's, named on north's check
    # only (not failed: the file could not hold it).
    deliver(Path(settings.landing), NORTH_RIGS[1], LATER, seed=31)
    _load(settings, instance, NORTH, LATER)
    pending = _check(settings, instance, NORTH)
    assert pending.passed
    assert (pending.description or "").endswith(f"in its next rebuild: {LATER}")
    default = _check(settings, instance, DEFAULT_SITE)
    assert default.passed and "next rebuild" not in (default.description or "")

    # north's file holding the default site's rows: same cohorts, other row counts.
    _rebuild(settings, instance, NORTH)
    fleet.put_bytes(NORTH_FILE, fleet.get_bytes(COMBINED_KEY))
    swapped = _check(settings, instance, NORTH)
    assert not swapped.passed
    assert f"cohorts in the warehouse but not in the file: {LATER}" in (swapped.description or "")
    assert f"{KEYS[0]} ({SHORT_CYCLES} rows in the file, {2 * SHORT_CYCLES} in the warehouse)" in (
        swapped.description or ""
    )
