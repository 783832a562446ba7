"""Per-cohort freshness: each cohort's export is due N days after its window ends.

The checks run for real on an instance where cohorts were (or were not) materialized; only the
clock they read is set by the test, so deadlines in 2008 can be crossed.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import dagster as dg
import pytest

from energymobile.backfill import materialize_cohorts
from energymobile.definitions import COHORT_JOB, build_definitions
from energymobile.defs.freshness import (
    CHECK_NAME,
    FRESH_UNTIL_KEY,
    SENSOR_NAME,
    build_export_freshness_checks,
    due_at,
    freshness_check_keys,
    overdue_by_site,
)
from energymobile.rigs import DEFAULT_RIG, Rig
from energymobile.settings import DEFAULT_EXPORT_DUE_DAYS, Settings
from energymobile_tests.support.fleet import deliver
from energymobile_tests.support.short_cohorts import short_cohort_settings

UTC = timezone.utc  # datetime.UTC is Python >= 3.11

OLD, NEXT = "2008-03-26", "2008-06-26"
OLD_DUE = datetime(2008, 7, 3, tzinfo=UTC)  # window ends 2008-06-26, + 7 days
NEXT_DUE = datetime(2008, 10, 3, tzinfo=UTC)  # window ends 2008-09-26, + 7 days


def evaluate(
    settings: Settings, instance: dg.DagsterInstance, at: datetime
) -> dict[str, dg.AssetCheckEvaluation]:
    """Run both `export_due` checks as of `at`, as the freshness sensor's run would."""
    defs = build_definitions(settings)
    checks = build_export_freshness_checks(settings.export_due_days, clock=at.timestamp)
    result = dg.materialize(
        [*defs.assets, checks],
        selection=dg.AssetSelection.checks(checks),
        instance=instance,
        resources=defs.resources,
    )
    assert result.success
    evaluations = result.get_asset_check_evaluations()
    assert {e.check_name for e in evaluations} == {CHECK_NAME}
    return {e.asset_key.to_user_string(): e for e in evaluations}


@pytest.mark.unit
def test_the_due_date_is_n_days_after_each_cohorts_own_end():
    # March and December cohorts end on the 26th of a 31-day month, June and September on the
    # 26th of a 30-day month: no single cron day fits all four.
    assert due_at("2008-03-26", 7) == OLD_DUE
    assert due_at("2008-06-26", 7) == NEXT_DUE
    assert due_at("2008-09-26", 7) == datetime(2009, 1, 2, tzinfo=UTC)
    assert due_at("2008-12-26", 7) == datetime(2009, 4, 2, tzinfo=UTC)
    assert due_at("2008-03-26", 30) == datetime(2008, 7, 26, tzinfo=UTC)


@pytest.mark.integration
def test_nothing_due_yet_passes(settings, instance):
    for check in evaluate(settings, instance, OLD_DUE - timedelta(seconds=1)).values():
        assert check.passed
        assert check.metadata[FRESH_UNTIL_KEY].value == OLD_DUE.timestamp()


@pytest.mark.integration
def test_an_overdue_cohort_fails_naming_it(settings, instance):
    checks = evaluate(settings, instance, OLD_DUE + timedelta(days=2))
    assert set(checks) == {"mysql_tables", "s3_historical_csv"}
    for check in checks.values():
        assert not check.passed
        assert check.severity == dg.AssetCheckSeverity.ERROR
        assert check.description.startswith(f"Overdue: cohort {OLD}.")
        assert check.metadata["overdue_cohorts"].value == 1
        assert "| 2008-03-26 | 2008-06-26 | 2008-07-03 | 2 |" in check.metadata["overdue"].value


@pytest.mark.integration
def test_a_loaded_cohort_is_fresh_until_the_next_one_is_due(
    settings, instance, generate, materialize
):
    generate(OLD)
    assert materialize(OLD)[0].success

    checks = evaluate(settings, instance, OLD_DUE + timedelta(days=2))
    assert all(c.passed for c in checks.values()), [c.description for c in checks.values()]
    assert checks["s3_historical_csv"].metadata[FRESH_UNTIL_KEY].value == NEXT_DUE.timestamp()

    later = evaluate(settings, instance, NEXT_DUE + timedelta(hours=1))
    for check in later.values():
        assert not check.passed
        assert check.description.startswith(f"Overdue: cohort {NEXT}.")
        assert check.metadata["overdue_cohorts"].value == 1  # 2008-03-26 is there


@pytest.mark.integration
def test_the_deadline_follows_the_setting(tmp_path: Path, instance):
    lenient = short_cohort_settings(tmp_path / "home", export_due_days=30)
    eight_days_after_end = OLD_DUE + timedelta(days=1)
    assert all(c.passed for c in evaluate(lenient, instance, eight_days_after_end).values())
    late = evaluate(lenient, instance, datetime(2008, 7, 26, 1, tzinfo=UTC))
    assert not any(c.passed for c in late.values())
    assert Settings.from_env({}).export_due_days == DEFAULT_EXPORT_DUE_DAYS == 7
    assert Settings.from_env({"ENERGYMOBILE_EXPORT_DUE_DAYS": "30"}).export_due_days == 30


@pytest.mark.unit
def test_each_site_is_judged_on_its_own_from_its_first_cohort():
    due = ["2008-03-26", "2008-06-26", "2008-09-26"]
    # north joined at its second cohort: the first is not its to deliver; the default site
    # is due every cohort, and north's export of one does not stand in for the default's.
    done = {"default": {"2008-03-26"}, "north": {"2008-06-26"}}
    assert overdue_by_site(due, done, ["default", "north"]) == [
        ("2008-06-26", "default"),
        ("2008-09-26", "default"),
        ("2008-09-26", "north"),
    ]
    # A fleet whose default site never delivered: only the sites that did are judged.
    assert overdue_by_site(due, {"north": {"2008-06-26"}}, ["north"]) == [("2008-09-26", "north")]
    # A fresh installation (no site yet, nothing loaded): every due cohort, as before sites.
    assert overdue_by_site(due, {}, []) == [(key, "default") for key in due]


@pytest.mark.integration
def test_a_cohort_exported_by_one_site_is_still_overdue_for_another(settings, instance):
    landing = Path(settings.landing)
    deliver(landing, DEFAULT_RIG, OLD, seed=1)
    deliver(landing, Rig("north", "rig-1"), NEXT, seed=2)
    for key, site in ((OLD, "default"), (NEXT, "north")):
        [loaded] = materialize_cohorts([key], settings=settings, instance=instance, site=site)
        assert loaded.success, loaded.failure

    checks = evaluate(settings, instance, NEXT_DUE + timedelta(hours=1))
    for check in checks.values():  # NEXT is exported for north only
        assert not check.passed
        assert check.description.startswith(f"Overdue: cohort {NEXT}.")
        assert check.metadata["overdue_sites"].value == "default"
        assert "| 2008-06-26 | 2008-09-26 | 2008-10-03 | 0 | default |" in (
            check.metadata["overdue"].value
        )

    later = evaluate(settings, instance, datetime(2009, 1, 3, tzinfo=UTC))  # 2008-09-26 due
    for check in later.values():
        assert check.description.startswith(
            "Overdue: cohort 2008-09-26 of site north and 2 more (cohort, site) pairs."
        )
        assert check.metadata["overdue_cohorts"].value == 3


@pytest.mark.unit
def test_the_cohort_job_leaves_freshness_to_its_sensor(settings):
    job = build_definitions(settings).resolve_job_def(COHORT_JOB)
    selected = job.asset_layer.asset_graph.asset_check_keys
    assert not set(freshness_check_keys()) & set(selected)


@pytest.fixture
def persistent_instance(tmp_path: Path) -> dg.DagsterInstance:
    home = tmp_path / "dagster_home"
    home.mkdir()
    with dg.DagsterInstance.local_temp(str(home)) as local:
        yield local


@pytest.mark.integration
def test_the_freshness_sensor_evaluates_the_checks(settings, persistent_instance, generate):
    defs = build_definitions(settings)
    sensor = defs.resolve_sensor_def(SENSOR_NAME)
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING

    def tick() -> dg.RunRequest | dg.SkipReason:
        with dg.build_sensor_context(instance=persistent_instance) as context:
            return sensor(context)

    request = tick()  # never evaluated: evaluate both
    assert isinstance(request, dg.RunRequest)
    assert set(request.asset_check_keys) == set(freshness_check_keys())

    # Run them (with today's clock: most cohorts since 2008 are overdue, so they fail).
    run = dg.materialize(
        [*defs.assets, *defs.asset_checks],
        selection=dg.AssetSelection.checks(*request.asset_check_keys),
        instance=persistent_instance,
        resources=defs.resources,
    )
    assert [e.passed for e in run.get_asset_check_evaluations()] == [False, False]
    assert isinstance(tick(), dg.SkipReason)  # failed, nothing new: nothing to re-evaluate

    generate(OLD)
    assert materialize_cohorts([OLD], settings=settings, instance=persistent_instance)[0].success
    again = tick()  # the asset changed since the failure: evaluate again
    assert isinstance(again, dg.RunRequest)
    assert set(again.asset_check_keys) == set(freshness_check_keys())
