"""Declarative automation on real materializations: evaluate the conditions the way the
automation sensor does, run what they request, and look at the warehouse and the CSVs."""

from __future__ import annotations

import sqlite3
from collections import defaultdict

import dagster as dg
import pytest

from energymobile.backfill import materialize_cohorts, materialize_combined
from energymobile.definitions import COHORT_JOB, build_definitions
from energymobile.defs.automation import (
    SENSOR_NAME,
    eager_any_cohort,
    follows_archive,
    once_exports_settle,
)
from energymobile.defs.partitions import partition_key, split_key
from energymobile.rigs import DEFAULT_RIG, DEFAULT_SITE, Rig
from energymobile.storage.exports import COMBINED_KEY, combined_csv_key, read_csv_export
from energymobile.storage.object_store import open_object_store
from energymobile_tests.support.fleet import deliver
from energymobile_tests.support.short_cohorts import SHORT_CYCLES

pytestmark = pytest.mark.integration

OLD, NEWER, NEWEST = "2008-03-26", "2008-06-26", "2008-09-26"
RAW = ("raw_logs", "raw_archive")
"""One step reads the delivery and archives it: they are materialized together."""
DOWNSTREAM = ("hourly_readings", "profile_merged", "mysql_tables", "s3_historical_csv")
COMBINED = dg.AssetKey("combined_csv")


class Automation:
    """The project's definitions on one instance, ticked like the automation sensor."""

    def __init__(self, settings, instance: dg.DagsterInstance) -> None:
        self.settings = settings
        self.defs = build_definitions(settings)
        self.instance = instance
        self.cursor = None
        self.job = self.defs.resolve_implicit_global_asset_job_def()

    def evaluate(self, defs: dg.Definitions | None = None) -> dg.EvaluateAutomationConditionsResult:
        result = dg.evaluate_automation_conditions(
            defs=defs or self.defs, instance=self.instance, cursor=self.cursor
        )
        self.cursor = result.cursor
        return result

    def run(self, key: str, *assets: str) -> dg.ExecuteInProcessResult:
        """Run assets for a cohort (of the default site)."""
        return self.job.execute_in_process(
            partition_key=partition_key(key),
            asset_selection=[dg.AssetKey(a) for a in assets],
            instance=self.instance,
            raise_on_error=False,
        )

    def follow(self, max_ticks: int = 6) -> list[tuple[str, str]]:
        """Tick, run every requested cohort (then each requested site's combined file), until
        a tick requests nothing."""
        launched: list[tuple[str, str]] = []
        for _ in range(max_ticks):
            result = self.evaluate()
            if result.total_requested == 0:
                return launched
            by_cohort: dict[str, list[str]] = defaultdict(list)
            for asset in DOWNSTREAM:
                for key in result.get_requested_partitions(dg.AssetKey(asset)):
                    by_cohort[split_key(key)[0]].append(asset)
            for key, assets in sorted(by_cohort.items()):
                assert self.run(key, *assets).success
                launched += [(asset, key) for asset in assets]
            for site in sorted(result.get_requested_partitions(COMBINED)):
                assert materialize_combined(
                    settings=self.settings, instance=self.instance, site=site
                ).success
                launched.append((COMBINED.to_user_string(), site))
        raise AssertionError(f"automation still requesting after {max_ticks} ticks: {launched}")

    def requested(self, result: dg.EvaluateAutomationConditionsResult) -> dict[str, set[str]]:
        return {
            asset: {split_key(k)[0] for k in result.get_requested_partitions(dg.AssetKey(asset))}
            for asset in DOWNSTREAM
            if result.get_requested_partitions(dg.AssetKey(asset))
        }


@pytest.fixture
def automation(settings, instance) -> Automation:
    auto = Automation(settings, instance)
    assert auto.evaluate().total_requested == 0  # the sensor is running before data arrives
    return auto


def _with_condition(defs: dg.Definitions, condition: dg.AutomationCondition) -> dg.Definitions:
    """The same assets, with `condition` wherever the project sets eager_any_cohort()."""
    return dg.Definitions(
        assets=dg.map_asset_specs(
            lambda spec: (
                spec.replace_attributes(automation_condition=condition)
                if spec.automation_condition == eager_any_cohort()
                else spec
            ),
            defs.assets,
        ),
        asset_checks=defs.asset_checks,
        resources=defs.resources,
    )


def _combined_materializations(instance: dg.DagsterInstance) -> int:
    return len(
        instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=COMBINED), limit=100
        ).records
    )


def _warehouse_cohorts(settings) -> dict[str, int]:
    path = settings.database_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT cohort, COUNT(*) FROM sensor_hourly GROUP BY cohort")
        return dict(rows.fetchall())


def test_stock_eager_ignores_an_old_cohort_but_ours_follows_it(generate, automation):
    generate(OLD)
    assert automation.run(OLD, *RAW).success

    stock = _with_condition(automation.defs, dg.AutomationCondition.eager())
    cursor = automation.cursor
    assert automation.requested(automation.evaluate(stock)) == {}, "eager() covers old cohorts?"

    automation.cursor = cursor
    assert automation.requested(automation.evaluate()) == {a: {OLD} for a in DOWNSTREAM}


def test_a_late_cohort_flows_to_the_warehouse_and_the_combined_csv(
    settings, generate, automation, materialize
):
    generate(NEWER)
    generate(OLD)
    assert materialize(NEWER)[0].success  # the landing sensor's run: the whole chain
    # Nothing of the cohort to follow (the run covered it); the combined file follows once.
    assert automation.follow() == [(COMBINED.to_user_string(), DEFAULT_SITE)]

    assert automation.run(OLD, *RAW).success  # the late cohort, raw files only
    launched = automation.follow()
    assert launched == [
        *((a, OLD) for a in DOWNSTREAM),
        (COMBINED.to_user_string(), DEFAULT_SITE),
    ]

    assert _warehouse_cohorts(settings) == {OLD: SHORT_CYCLES, NEWER: SHORT_CYCLES}
    combined = read_csv_export(open_object_store(settings.object_store).get_bytes(COMBINED_KEY))
    assert combined.groupby("cohort").size().to_dict() == {OLD: SHORT_CYCLES, NEWER: SHORT_CYCLES}


def test_a_changed_cohort_updates_everything_downstream(
    settings, generate, automation, materialize
):
    generate(OLD, seed=1)
    assert materialize(OLD)[0].success
    assert automation.follow() == [(COMBINED.to_user_string(), DEFAULT_SITE)]

    # A corrected delivery lands, and someone re-materializes raw_logs and hourly_readings
    # from the UI.
    folder = generate(OLD, seed=2)
    assert automation.run(OLD, *RAW, "hourly_readings").success
    launched = automation.follow()
    assert launched == [
        *((a, OLD) for a in DOWNSTREAM[1:]),
        (COMBINED.to_user_string(), DEFAULT_SITE),
    ]

    combined = read_csv_export(open_object_store(settings.object_store).get_bytes(COMBINED_KEY))
    rows = (folder / "TS1.txt").read_bytes().splitlines()
    first_ts1 = [float(row.split(b"\t")[0]) for row in rows]
    assert combined["ts1_first"].tolist() == first_ts1


def test_a_failed_blocking_check_stops_automation(settings, generate, automation):
    folder = generate(OLD)
    lines = (folder / "TS1.txt").read_bytes().splitlines(keepends=True)
    (folder / "TS1.txt").write_bytes(b"".join(lines[:-1]))
    run = automation.run(OLD, *RAW)
    failed = [e.check_name for e in run.get_asset_check_evaluations() if not e.passed]
    assert failed == ["equal_row_counts"]

    # eager() alone would pick the bad cohort up: raw_logs was materialized, then failed.
    unguarded = _with_condition(
        automation.defs,
        dg.AutomationCondition.eager().without(dg.AutomationCondition.in_latest_time_window()),
    )
    cursor = automation.cursor
    assert automation.requested(automation.evaluate(unguarded)) == {a: {OLD} for a in DOWNSTREAM}
    automation.cursor = cursor
    assert automation.follow() == []
    assert open_object_store(settings.object_store).list_keys("oil-well-data-all-historical") == []


def test_the_automation_sensor_is_on_by_default_for_every_asset(settings):
    defs = build_definitions(settings)
    sensor = defs.resolve_sensor_def(SENSOR_NAME)
    assert isinstance(sensor, dg.AutomationConditionSensorDefinition)
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    conditions = {
        spec.key.to_user_string(): spec.automation_condition
        for assets_def in defs.assets
        for spec in assets_def.specs
    }
    assert conditions.pop("raw_logs") is None  # the landing sensor requests it
    assert conditions.pop("raw_archive") is None  # written with raw_logs
    assert conditions.pop(COMBINED.to_user_string()) == once_exports_settle()
    assert conditions.pop("netcdf_arrays") == follows_archive()
    assert all(c == eager_any_cohort() for c in conditions.values()), conditions


def test_the_netcdf_export_follows_raw_logs_by_automation(settings, generate, automation):
    """netcdf_arrays is not in the load job (it would double a cohort's time there); the
    automation sensor requests it as soon as raw_logs has archived a new delivery, and not
    when the same delivery is archived again (a reload, a re-run from the UI)."""
    from energymobile.storage.netcdf import netcdf_key

    generate(OLD)
    assert automation.run(OLD, *RAW).success
    result = automation.evaluate()
    assert set(result.get_requested_partitions(dg.AssetKey("netcdf_arrays"))) == {
        partition_key(OLD)
    }
    assert automation.run(OLD, "netcdf_arrays").success
    assert open_object_store(settings.object_store).exists(netcdf_key(OLD))
    assert not automation.evaluate().get_requested_partitions(dg.AssetKey("netcdf_arrays"))

    assert automation.run(OLD, *RAW).success  # the same delivery again
    assert not automation.evaluate().get_requested_partitions(dg.AssetKey("netcdf_arrays"))
    generate(OLD, seed=5)  # another delivery
    assert automation.run(OLD, *RAW).success
    requested = automation.evaluate().get_requested_partitions(dg.AssetKey("netcdf_arrays"))
    assert requested == {partition_key(OLD)}


def test_cohorts_loaded_before_automation_started_are_not_exported_again(
    settings, generate, materialize, instance
):
    """What `make demo` then `make dev` do: the CLI loads cohorts (and rebuilds the combined
    file) on the instance; the automation sensor then starts on it and requests nothing, not
    even the netCDF files the CLI was not asked for."""
    for key in (OLD, NEWER):
        generate(key)
    assert all(o.success for o in materialize(OLD, NEWER))
    assert materialize_combined(settings=settings, instance=instance).success
    automation = Automation(settings, instance)
    for _ in range(3):
        assert automation.evaluate().total_requested == 0


def test_a_backfill_of_several_cohorts_rebuilds_the_combined_file_once(
    settings, generate, automation, materialize, instance
):
    for key in (OLD, NEWER, NEWEST):
        generate(key)
    assert all(o.success for o in materialize(OLD, NEWER, NEWEST))  # three cohort runs
    store = open_object_store(settings.object_store)
    assert not store.exists(COMBINED_KEY)  # no cohort's export rebuilt it

    result = automation.evaluate()
    assert result.get_requested_partitions(COMBINED) == {DEFAULT_SITE}  # once, for all cohorts
    assert materialize_combined(settings=settings, instance=instance).success
    assert automation.evaluate().total_requested == 0
    assert _combined_materializations(instance) == 1
    combined = read_csv_export(store.get_bytes(COMBINED_KEY))
    assert combined.groupby("cohort").size().to_dict() == dict.fromkeys(
        (OLD, NEWER, NEWEST), SHORT_CYCLES
    )


def test_the_combined_file_waits_while_a_cohort_export_is_in_progress(
    settings, generate, automation, materialize, instance
):
    generate(OLD)
    assert materialize(OLD)[0].success
    # Another cohort's run is waiting to start: it plans to export, so the rebuild waits.
    queued = instance.create_run_for_job(
        automation.defs.resolve_job_def(COHORT_JOB),
        tags={"dagster/partition": str(partition_key(NEWER))},
        status=dg.DagsterRunStatus.NOT_STARTED,
    )
    assert not automation.evaluate().get_requested_partitions(COMBINED)
    assert not automation.evaluate().get_requested_partitions(COMBINED)

    instance.report_run_canceled(queued)
    assert automation.evaluate().get_requested_partitions(COMBINED) == {DEFAULT_SITE}


def test_a_backfill_that_rebuilt_the_combined_file_itself_is_not_rebuilt_again(
    settings, generate, automation, materialize, instance
):
    """What `energymobile backfill` does: the cohorts, then the combined file once."""
    for key in (OLD, NEWER):
        generate(key)
    assert all(o.success for o in materialize(OLD, NEWER))
    assert materialize_combined(settings=settings, instance=instance).success
    assert not automation.evaluate().get_requested_partitions(COMBINED)
    assert _combined_materializations(instance) == 1


def test_a_bad_redelivery_leaves_the_archive_and_asks_nothing_of_the_netcdf_file(
    settings, generate, automation, materialize, instance
):
    folder = generate(OLD)
    assert materialize(OLD)[0].success
    assert automation.follow()  # the netCDF file and the combined file follow
    archived = instance.get_latest_materialization_event(dg.AssetKey("raw_archive"))
    lines = (folder / "TS1.txt").read_bytes().splitlines(keepends=True)
    (folder / "TS1.txt").write_bytes(b"".join(lines[:-1]))  # a bad re-delivery

    assert not automation.run(OLD, *RAW).success
    assert instance.get_latest_materialization_event(dg.AssetKey("raw_archive")) == archived
    assert automation.evaluate().total_requested == 0


def test_what_a_whole_chain_run_updates_asks_nothing_more_of_automation(
    settings, generate, automation
):
    """A run of the cohort job records no asset selection, so `eager()`'s "the run also
    targets this asset" does not see it: evaluated after the run updated raw_logs ...
    profile_merged but not mysql_tables (a tick in the middle of a run, or a run that stopped
    there), stock eager asks for the rest of the chain again. Ours does not: the run covers
    the whole chain; a run that stopped is the landing sensor's to reload (archive and
    warehouse disagree) or a person's to re-execute."""
    from dataclasses import replace

    generate(OLD)
    broken = replace(settings, database_url=f"sqlite:///{settings.home}")  # a folder: no load
    run = (
        build_definitions(broken)
        .resolve_job_def(COHORT_JOB)
        .execute_in_process(
            partition_key=partition_key(OLD), instance=automation.instance, raise_on_error=False
        )
    )
    assert not run.success
    updated = {e.asset_key.to_user_string() for e in run.get_asset_materialization_events()}
    assert {"raw_logs", "profile_merged"} <= updated and "mysql_tables" not in updated
    assert run.dagster_run.tags["energymobile/whole_chain"] == "true"
    assert not run.dagster_run.asset_selection  # what eager() would look for

    stock = _with_condition(
        automation.defs,
        dg.AutomationCondition.eager().without(dg.AutomationCondition.in_latest_time_window()),
    )
    cursor = automation.cursor
    assert automation.requested(automation.evaluate(stock)) == {
        "mysql_tables": {OLD},
        "s3_historical_csv": {OLD},
    }
    automation.cursor = cursor
    assert automation.requested(automation.evaluate()) == {}


def test_only_the_sites_whose_exports_changed_have_their_combined_file_rebuilt(
    settings, landing, automation, instance
):
    """Each site's combined file is a partition of its own: automation requests the sites
    whose cohort exports changed, and a site's exports in progress hold back that site only."""
    north = Rig("north", "rig-1")
    deliver(landing, DEFAULT_RIG, OLD, seed=1)
    deliver(landing, north, OLD, seed=2)
    for site in (DEFAULT_SITE, north.site):
        [loaded] = materialize_cohorts([OLD], settings=settings, instance=instance, site=site)
        assert loaded.success, loaded.failure
    assert automation.follow() == [
        (COMBINED.to_user_string(), DEFAULT_SITE),
        (COMBINED.to_user_string(), "north"),
    ]

    # north exports another cohort while a run of the default site's cohort waits to start.
    deliver(landing, north, NEWER, seed=3)
    [loaded] = materialize_cohorts([NEWER], settings=settings, instance=instance, site="north")
    assert loaded.success, loaded.failure
    queued = instance.create_run_for_job(
        automation.defs.resolve_job_def(COHORT_JOB),
        tags={"dagster/partition": str(partition_key(NEWER))},
        status=dg.DagsterRunStatus.NOT_STARTED,
    )
    assert automation.evaluate().get_requested_partitions(COMBINED) == {"north"}
    assert materialize_combined(settings=settings, instance=instance, site="north").success
    instance.report_run_canceled(queued)
    assert automation.follow() == []  # the default site's exports did not change
    store = open_object_store(settings.object_store)
    rebuilt = read_csv_export(store.get_bytes(combined_csv_key("north")), "north")
    assert rebuilt.groupby("cohort").size().to_dict() == dict.fromkeys((OLD, NEWER), SHORT_CYCLES)
