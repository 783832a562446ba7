"""The whole chain on the embedded default: tables, files, re-runs and blocking checks."""

from __future__ import annotations

import sqlite3

import pandas as pd
import pytest

from energymobile.backfill import materialize_combined
from energymobile.channels import (
    CHANNELS,
    CONDITION_COLUMNS,
    DESCRIPTION_COLUMNS,
    FIRST_COLUMNS,
    MEAN_COLUMNS,
)
from energymobile.storage.exports import COMBINED_KEY, cohort_csv_key, read_csv_export
from energymobile.storage.object_store import open_object_store
from energymobile.storage.warehouse import Warehouse
from energymobile_tests.support.short_cohorts import SHORT_CYCLES

pytestmark = pytest.mark.integration


def _warehouse_rows(settings, key):
    path = settings.database_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        return conn.execute(
            "SELECT * FROM sensor_hourly WHERE cohort = ? ORDER BY cycle", (key,)
        ).fetchall()


def test_two_cohorts_reach_the_warehouse_and_the_csv(settings, generate, materialize, instance):
    generate("2008-03-26")
    generate("2008-06-26")
    outcomes = materialize("2008-03-26", "2008-06-26")
    assert [o.success for o in outcomes] == [True, True], [o.failure for o in outcomes]
    store = open_object_store(settings.object_store)
    assert not store.exists(COMBINED_KEY)  # the cohorts' exports leave the combined file alone
    combined_run = materialize_combined(settings=settings, instance=instance)
    assert combined_run.success, combined_run.failure

    first = read_csv_export(store.get_bytes(cohort_csv_key("2008-03-26")))
    assert len(first) == SHORT_CYCLES
    assert list(first.columns[:6]) == [
        "site",
        "rig",
        "cohort",
        "cycle",
        "date_time",
        "cumulative_minutes",
    ]
    assert set(first["rig"]) == {"default"}  # the single-rig layout: the default rig
    expected = FIRST_COLUMNS + MEAN_COLUMNS + CONDITION_COLUMNS + DESCRIPTION_COLUMNS
    assert set(expected) <= set(first.columns)
    assert first["date_time"].iloc[0] == pd.Timestamp("2008-03-26 00:00")
    assert first["date_time"].iloc[-1] == pd.Timestamp("2008-03-26 23:00")
    assert first["cumulative_minutes"].tolist() == [60 * i for i in range(SHORT_CYCLES)]
    assert first["cooler_condition_description"].iloc[0] == "close to total failure"

    combined = read_csv_export(store.get_bytes(COMBINED_KEY))
    second = read_csv_export(store.get_bytes(cohort_csv_key("2008-06-26")))
    pd.testing.assert_frame_equal(combined, pd.concat([first, second], ignore_index=True))
    assert len(_warehouse_rows(settings, "2008-03-26")) == SHORT_CYCLES
    assert len(_warehouse_rows(settings, "2008-06-26")) == SHORT_CYCLES


def test_rerun_of_a_partition_leaves_the_same_rows(settings, generate, materialize, instance):
    generate("2008-03-26")
    assert materialize("2008-03-26")[0].success
    assert materialize_combined(settings=settings, instance=instance).success
    before = _warehouse_rows(settings, "2008-03-26")
    csv_before = open_object_store(settings.object_store).get_bytes(COMBINED_KEY)
    assert materialize("2008-03-26")[0].success
    assert materialize_combined(settings=settings, instance=instance).success
    assert _warehouse_rows(settings, "2008-03-26") == before
    assert open_object_store(settings.object_store).get_bytes(COMBINED_KEY) == csv_before


def test_a_corrected_redelivery_replaces_the_cohort(settings, generate, materialize):
    generate("2008-03-26", seed=1)
    assert materialize("2008-03-26")[0].success
    old = _warehouse_rows(settings, "2008-03-26")
    generate("2008-03-26", cycles=SHORT_CYCLES + 2, seed=2)
    assert materialize("2008-03-26")[0].success
    new = _warehouse_rows(settings, "2008-03-26")
    assert len(new) == SHORT_CYCLES + 2
    assert new != old[: len(new)]


def test_unequal_row_counts_block_everything_downstream(settings, generate, materialize):
    folder = generate("2008-03-26")
    lines = (folder / "TS1.txt").read_bytes().splitlines(keepends=True)
    (folder / "TS1.txt").write_bytes(b"".join(lines[:-1]))
    outcome = materialize("2008-03-26")[0]
    assert not outcome.success
    assert "equal_row_counts" in outcome.failure
    assert "TS1.txt has 23" in outcome.failure
    store = open_object_store(settings.object_store)
    assert store.list_keys("") == []  # nothing archived, nothing exported


def test_bad_value_fails_with_file_line_and_column(settings, generate, materialize):
    folder = generate("2008-03-26")
    lines = (folder / "CE.txt").read_bytes().splitlines(keepends=True)
    fields = lines[4].split(b"\t")
    fields[6] = b"12,5"
    lines[4] = b"\t".join(fields)
    (folder / "CE.txt").write_bytes(b"".join(lines))
    outcome = materialize("2008-03-26")[0]
    assert not outcome.success
    assert "logs/2008-03-26/CE.txt:5:7: '12,5' uses a decimal comma" in outcome.failure


def test_every_cohort_holds_each_cycles_first_sample_and_mean(settings, generate, materialize):
    """No setting chooses a statistic: the warehouse and the files hold both, by name."""
    folder = generate("2008-03-26")
    assert materialize("2008-03-26")[0].success
    rows = read_csv_export(
        open_object_store(settings.object_store).get_bytes(cohort_csv_key("2008-03-26"))
    )
    samples = [
        [float(v) for v in line.split(b"\t")]
        for line in (folder / "TS1.txt").read_bytes().splitlines()
    ]
    assert rows["ts1_first"].tolist() == [cycle[0] for cycle in samples]
    assert rows["ts1_mean"].tolist() == pytest.approx([sum(c) / len(c) for c in samples], rel=1e-12)
    path = settings.database_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT statistic FROM cohorts").fetchall() == [("both",)]


def _snapshot(settings):
    store = open_object_store(settings.object_store)
    return {key: store.get_bytes(key) for key in store.list_keys("")}


def test_a_bad_redelivery_leaves_the_loaded_cohort_as_it_was(settings, generate, materialize):
    folder = generate("2008-03-26")
    assert materialize("2008-03-26")[0].success
    rows, objects = _warehouse_rows(settings, "2008-03-26"), _snapshot(settings)
    lines = (folder / "PS4.txt").read_bytes().splitlines(keepends=True)
    lines[-1] = lines[-1][: len(lines[-1]) // 2]  # truncated last line
    (folder / "PS4.txt").write_bytes(b"".join(lines))
    outcome = materialize("2008-03-26")[0]
    assert not outcome.success
    assert f"logs/2008-03-26/PS4.txt:{SHORT_CYCLES}:" in outcome.failure
    assert _warehouse_rows(settings, "2008-03-26") == rows
    assert _snapshot(settings) == objects


def test_archive_holds_the_received_bytes(settings, generate, materialize):
    from energymobile.channels import CHANNELS
    from energymobile.storage.archive import read_archive

    folder = generate("2008-06-26")
    assert materialize("2008-06-26")[0].success
    store = open_object_store(settings.object_store)
    archive = read_archive(store, "2008-06-26")
    for channel in CHANNELS:
        archived = archive.read(store, channel.file_name)
        assert archived == (folder / channel.file_name).read_bytes(), channel.code


def test_a_frame_missing_a_column_fails_the_run_with_its_name(
    settings, generate, materialize, monkeypatch
):
    """profile_merged's declared schema (dagster-pandas) stops a frame that lost a column
    before it reaches the warehouse, and the failure names the column."""
    from energymobile.defs import assets

    merge = assets.merge_profile
    monkeypatch.setattr(
        assets, "merge_profile", lambda *a: merge(*a).drop(columns="valve_condition")
    )
    generate("2008-03-26")
    outcome = materialize("2008-03-26")[0]
    assert not outcome.success
    assert "profile_merged" in outcome.failure and "valve_condition" in outcome.failure
    warehouse = Warehouse(settings.database_url)
    try:
        assert warehouse.loaded_cohorts() == {}  # nothing reached the warehouse
    finally:
        warehouse.dispose()


def test_a_cohort_loaded_before_005_is_re_derived_from_its_archive(
    settings, generate, materialize, tmp_path, monkeypatch
):
    """What revision 005 leaves of a cohort loaded with the mean (its first samples empty,
    cohorts.statistic 'mean') is refused by the export; restored from the archive into a
    landing folder (the technicians' drop long gone) and loaded again, it holds both."""
    import dataclasses
    import shutil

    from energymobile.storage.archive import main as archive_main
    from energymobile.storage.exports import IncompleteCohort, write_cohort_export

    key = "2008-03-26"
    folder = generate(key)
    assert materialize(key)[0].success
    warehouse = Warehouse(settings.database_url)
    try:
        loaded = warehouse.read_cohorts([key])
        with warehouse.engine.begin() as conn:  # as 005 leaves a cohort loaded with the mean
            nulls = ", ".join(f"{c} = NULL" for c in FIRST_COLUMNS)
            conn.exec_driver_sql(f"UPDATE sensor_hourly SET {nulls}")
            conn.exec_driver_sql("UPDATE cohorts SET statistic = 'mean'")
        assert warehouse.cohorts_to_rederive() == {key: "mean"}
        store = open_object_store(settings.object_store)
        with pytest.raises(IncompleteCohort, match="Re-derive it from its archive"):
            write_cohort_export(store, key, warehouse.read_cohorts([key]))
        shutil.rmtree(folder)

        restored = tmp_path / "restored"
        monkeypatch.setenv("ENERGYMOBILE_OBJECT_STORE", settings.object_store)
        archive_main(["restore", key, str(restored)])
        assert sorted(p.name for p in (restored / "logs" / key).iterdir()) == sorted(
            c.file_name for c in CHANNELS
        )
        outcome = materialize(key, on=dataclasses.replace(settings, landing=str(restored)))[0]
        assert outcome.success, outcome.failure
        assert warehouse.cohorts_to_rederive() == {}
        pd.testing.assert_frame_equal(warehouse.read_cohorts([key]), loaded, check_exact=True)
    finally:
        warehouse.dispose()
