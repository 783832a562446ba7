"""A fleet landing through the cohort chain, in process on the embedded defaults: the default rig
(logs/) and two rigs of another site (sites/north/<rig>/logs/) deliver the same cohort; one
(cohort, site) partition loads every rig of its site, each rig its own archive and warehouse
rows, the site's CSV and Parquet holding both rigs; the default site is left alone."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from energymobile.backfill import materialize_cohorts
from energymobile.rigs import DEFAULT_RIG, Rig
from energymobile.storage.archive import read_archive
from energymobile.storage.exports import cohort_csv_key, cohort_parquet_key, read_csv_export
from energymobile.storage.object_store import open_object_store
from energymobile.storage.warehouse import Warehouse
from energymobile_tests.support.fleet import deliver
from energymobile_tests.support.short_cohorts import SHORT_CYCLES

pytestmark = pytest.mark.integration

KEY = "2008-03-26"
NORTH = [Rig("north", "rig-1"), Rig("north", "rig-2")]


def test_one_partition_loads_every_rig_of_its_site(settings, instance):
    landing = Path(settings.landing)
    deliver(landing, DEFAULT_RIG, KEY, seed=1)
    for seed, rig in enumerate(NORTH, start=2):
        deliver(landing, rig, KEY, seed)

    [north] = materialize_cohorts([KEY], settings=settings, instance=instance, site="north")
    assert north.success, north.failure
    warehouse = Warehouse(settings.database_url)
    try:
        assert warehouse.loaded_rigs() == {(rig, KEY): SHORT_CYCLES for rig in NORTH}
        rows = warehouse.read_cohorts([KEY], site="north")
        assert sorted(set(rows["rig"])) == [r.name for r in NORTH]
        one, two = (warehouse.read_cohorts([KEY], rig=rig) for rig in NORTH)
        assert not one["ps1_mean"].equals(two["ps1_mean"])  # each rig its own delivery

        [default] = materialize_cohorts([KEY], settings=settings, instance=instance)
        assert default.success, default.failure
        assert warehouse.loaded_cohorts() == {KEY: 3 * SHORT_CYCLES}
        pd.testing.assert_frame_equal(warehouse.read_cohorts([KEY], site="north"), rows)
    finally:
        warehouse.dispose()

    store = open_object_store(settings.object_store)
    for rig in [DEFAULT_RIG, *NORTH]:
        assert read_archive(store, KEY, rig).rig == rig
    exported = read_csv_export(store.get_bytes(cohort_csv_key(KEY, "north")), "north")
    pd.testing.assert_frame_equal(exported, rows)
    parquet = pd.read_parquet(io.BytesIO(store.get_bytes(cohort_parquet_key(KEY, "north"))))
    assert parquet["rig"].tolist() == rows["rig"].tolist()
    only_default = read_csv_export(store.get_bytes(cohort_csv_key(KEY)))
    assert set(only_default["rig"]) == {DEFAULT_RIG.name} and len(only_default) == SHORT_CYCLES

    path = settings.database_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:  # the rigs as the loader registered them
        assert conn.execute("SELECT site, well, name FROM rigs ORDER BY rig_id").fetchall() == [
            ("default", "default", "default"),
            ("north", "rig-1", "rig-1"),
            ("north", "rig-2", "rig-2"),
        ]


def test_a_site_with_no_delivery_of_the_cohort_fails_saying_so(settings, instance):
    deliver(Path(settings.landing), NORTH[0], KEY, seed=1)
    [outcome] = materialize_cohorts(
        ["2008-06-26"], settings=settings, instance=instance, site="north"
    )
    assert not outcome.success
    assert "no rig of site north delivered cohort 2008-06-26" in (outcome.failure or "")
