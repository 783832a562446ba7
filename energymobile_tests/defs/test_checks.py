"""Every asset check fails on some input, through Dagster, and a blocking one stops what is
downstream of it in the run.

The delivery rules fail on bad deliveries (more cases, and their messages, in test_bad_input:
"more cycles than the window" is the within_cohort_window case, too large to repeat here). The
read-back checks fail when a store no longer holds what was written to it: they are run alone,
as an operator re-verifying a cohort from the UI would, after the test removed or changed what
was stored.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

import dagster as dg
import pytest

from energymobile.backfill import materialize_combined
from energymobile.definitions import COHORT_JOB, build_definitions
from energymobile.defs import checks
from energymobile.defs.partitions import partition_key
from energymobile.rigs import DEFAULT_SITE
from energymobile.sample.generate import profile_path
from energymobile.settings import Settings
from energymobile.storage.archive import read_archive
from energymobile.storage.exports import cohort_csv_key, combined_csv_key
from energymobile.storage.netcdf import netcdf_key
from energymobile.storage.object_store import open_object_store
from energymobile_tests.support.selection import run_selection

pytestmark = pytest.mark.integration

KEY, NEXT, LATER = "2008-03-26", "2008-06-26", "2008-09-26"
DOWNSTREAM_OF_RAW = ("hourly_readings", "profile_merged", "mysql_tables", "s3_historical_csv")


def failed_checks(result: dg.ExecuteInProcessResult) -> dict[str, str]:
    return {
        e.check_name: e.description or ""
        for e in result.get_asset_check_evaluations()
        if not e.passed
    }


def materialized(result: dg.ExecuteInProcessResult) -> set[str]:
    return {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}


def _drop_last_row(folder: Path, landing: Path) -> None:
    lines = (folder / "PS2.txt").read_bytes().splitlines(keepends=True)
    (folder / "PS2.txt").write_bytes(b"".join(lines[:-1]))


def _short_profile(folder: Path, landing: Path) -> None:
    lines = profile_path(landing).read_bytes().splitlines(keepends=True)
    profile_path(landing).write_bytes(b"".join(lines[:10]))


def _undocumented_code(folder: Path, landing: Path) -> None:
    lines = profile_path(landing).read_bytes().split(b"\n")
    fields = lines[2].split(b"\t")
    fields[1] = b"95"
    lines[2] = b"\t".join(fields)
    profile_path(landing).write_bytes(b"\n".join(lines))


def _nothing(folder: Path, landing: Path) -> None:
    """A good delivery: it is the shortfall bound that rejects it."""


DELIVERY_CASES = {
    checks.EQUAL_ROW_COUNTS: (_drop_last_row, {}),
    checks.MAINTENANCE_SHORTFALL: (_nothing, {"max_shortfall_hours": 24}),  # a day's cohort
    checks.PROFILE_COVERS_CYCLES: (_short_profile, {}),
    checks.PROFILE_CODES_DOCUMENTED: (_undocumented_code, {}),
}


@pytest.mark.parametrize("rule", list(DELIVERY_CASES))
def test_each_delivery_rule_fails_as_a_check_of_raw_logs_and_blocks_the_chain(
    rule, settings, landing, generate, instance
):
    corrupt, overrides = DELIVERY_CASES[rule]
    settings = dataclasses.replace(settings, **overrides)
    corrupt(generate(KEY), landing)
    job = build_definitions(settings).resolve_job_def(COHORT_JOB)
    result = job.execute_in_process(
        partition_key=partition_key(KEY), instance=instance, raise_on_error=False
    )
    assert not result.success
    assert list(failed_checks(result)) == [rule]  # this rule alone, judged once
    evaluation = next(e for e in result.get_asset_check_evaluations() if e.check_name == rule)
    assert evaluation.asset_key == dg.AssetKey("raw_logs")
    assert materialized(result) == {"raw_logs"}  # not archived, nothing downstream
    assert open_object_store(settings.object_store).list_keys("") == []


def test_an_archived_object_gone_fails_archive_complete_and_blocks_the_netcdf_file(
    settings, generate, materialize, instance
):
    generate(KEY)
    assert materialize(KEY)[0].success
    store = open_object_store(settings.object_store)
    lost = read_archive(store, KEY).objects["PS3.txt"]
    (Path(settings.object_store.removeprefix("file://")) / lost).unlink()

    result = run_selection(
        settings,
        instance,
        dg.AssetSelection.checks(checks.archive_complete)
        | dg.AssetSelection.assets("netcdf_arrays"),
        KEY,
    )
    assert not result.success
    assert f"missing from the store: {lost}" in failed_checks(result)[checks.ARCHIVE_COMPLETE]
    assert materialized(result) == set()  # netcdf_arrays did not run
    assert not store.exists(netcdf_key(KEY))


def _warehouse(settings: Settings) -> sqlite3.Connection:
    return sqlite3.connect(settings.database_url.removeprefix("sqlite:///"))


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ("DELETE FROM sensor_hourly WHERE cohort = ? AND cycle = 5", "cycle 5 missing"),
        (
            "UPDATE sensor_hourly SET date_time = '2008-03-26 04:00:00' "
            "WHERE cohort = ? AND cycle = 3",
            "cycle 3 is stored at 2008-03-26 04:00, expected 2008-03-26 03:00",
        ),
    ],
    ids=["row deleted", "hour shifted"],
)
def test_a_warehouse_changed_after_the_load_fails_and_blocks_the_export(
    change, says, settings, generate, materialize, instance
):
    generate(KEY)
    assert materialize(KEY)[0].success
    store = open_object_store(settings.object_store)
    exported = store.get_bytes(cohort_csv_key(KEY))
    with _warehouse(settings) as conn:
        assert conn.execute(change, (KEY,)).rowcount == 1

    result = run_selection(
        settings,
        instance,
        dg.AssetSelection.checks(checks.warehouse_hours_contiguous)
        | dg.AssetSelection.assets("s3_historical_csv"),
        KEY,
    )
    assert not result.success
    assert says in failed_checks(result)[checks.WAREHOUSE_HOURS_CONTIGUOUS]
    assert materialized(result) == set()  # the export did not run
    assert store.get_bytes(cohort_csv_key(KEY)) == exported


def test_the_warehouse_check_passes_on_what_a_load_wrote(settings, generate, materialize):
    generate(KEY)
    [outcome] = materialize(KEY)
    assert outcome.success, outcome.failure  # the check ran in the load's run, and passed


def test_a_cohort_exported_before_the_file_but_not_in_it_fails_its_check(
    settings, generate, materialize, instance
):
    """A cohort exported after the file was built is the next rebuild's (two backfills at
    once: the first's rebuild cannot hold the second's cohort): named, not failed. A cohort
    exported before the latest rebuild and still missing from the stored file fails."""
    for key in (KEY, NEXT, LATER):
        generate(key)
    assert all(o.success for o in materialize(KEY, NEXT))
    assert materialize_combined(settings=settings, instance=instance).success
    store = open_object_store(settings.object_store)
    without_later = store.get_bytes(combined_csv_key(DEFAULT_SITE))
    assert materialize(LATER)[0].success  # loaded and exported; the combined file not rebuilt

    check_only = dg.AssetSelection.checks(checks.combined_matches_warehouse)
    result = run_selection(settings, instance, check_only, site=DEFAULT_SITE)
    assert failed_checks(result) == {}
    [evaluation] = result.get_asset_check_evaluations()
    assert evaluation.description.endswith(f"in its next rebuild: {LATER}")

    assert materialize_combined(settings=settings, instance=instance).success  # holds LATER
    store.put_bytes(combined_csv_key(DEFAULT_SITE), without_later)  # the file lost it since
    assert failed_checks(run_selection(settings, instance, check_only, site=DEFAULT_SITE)) == {
        checks.COMBINED_MATCHES_WAREHOUSE: (
            f"cohorts in the warehouse but not in the file: {LATER}"
        )
    }
