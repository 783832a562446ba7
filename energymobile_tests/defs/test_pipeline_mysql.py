"""The whole chain with the warehouse on MariaDB, switched by ENERGYMOBILE_DATABASE_URL alone
(the re-run and re-delivery scenarios on PostgreSQL too; its own tests: test_pipeline_postgres).

Same assets, IO managers and sql/ as on SQLite; each test has its own empty database on the
session's server, so the schema is created from sql/ by the first run of every test.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import dagster as dg
import pandas as pd
import pytest
from sqlalchemy import create_engine, text

from energymobile.settings import DATABASE_URL_VAR, Settings, redact_url
from energymobile.storage.dialects import LOAD_DATA
from energymobile.storage.exports import cohort_csv_key, csv_bytes, read_csv_export
from energymobile.storage.object_store import open_object_store
from energymobile.storage.warehouse import FACT_TABLE, Warehouse
from energymobile_tests.support.short_cohorts import SHORT_CYCLES, short_cohort_settings

pytestmark = pytest.mark.integration

FIRST, SECOND = "2008-03-26", "2008-06-26"
ASSET = dg.AssetKey("mysql_tables")


@pytest.fixture
def settings(tmp_path, mysql_url, monkeypatch) -> Settings:
    """The deployment's way: only the environment variable names the warehouse."""
    monkeypatch.setenv(DATABASE_URL_VAR, mysql_url)
    return short_cohort_settings(tmp_path / "home", database_url=Settings.from_env().database_url)


def fact_rows(url: str, key: str) -> list[tuple]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [
                tuple(row)
                for row in conn.execute(
                    text(f"SELECT * FROM {FACT_TABLE} WHERE cohort = :k ORDER BY cycle"), {"k": key}
                )
            ]
    finally:
        engine.dispose()


def csv_file(settings: Settings, key: str) -> bytes:
    return open_object_store(settings.object_store).get_bytes(cohort_csv_key(key))


def csv_rows(settings: Settings, key: str) -> pd.DataFrame:
    return read_csv_export(csv_file(settings, key))


def load_metadata(instance: dg.DagsterInstance, key: str) -> dict[str, object]:
    """The latest `mysql_tables` materialization metadata of a cohort, as plain values."""
    records = instance.fetch_materializations(ASSET, limit=100).records
    latest = next(r for r in records if r.asset_materialization.partition == key)
    return {k: v.value for k, v in latest.asset_materialization.metadata.items()}


def stored_text(instance: dg.DagsterInstance, run_id: str) -> str:
    """Everything Dagster keeps about a run: the run, its event log and its job snapshot."""
    run = instance.get_run_by_id(run_id)
    parts = [dg.serialize_value(run)]
    parts += [dg.serialize_value(entry) for entry in instance.all_logs(run_id)]
    if run.job_snapshot_id:
        parts.append(dg.serialize_value(instance.get_job_snapshot(run.job_snapshot_id)))
    return "\n".join(parts)


def test_two_cohorts_reach_mariadb_and_the_csv_holds_exactly_the_view(
    settings, generate, materialize, mysql_url, mariadb, instance
):
    generate(FIRST)
    generate(SECOND, seed=1)
    outcomes = materialize(FIRST, SECOND)
    assert [o.success for o in outcomes] == [True, True], [o.failure for o in outcomes]

    warehouse = Warehouse(mysql_url)
    try:
        for key in (FIRST, SECOND):
            view = warehouse.read_cohorts([key])
            assert len(view) == SHORT_CYCLES
            assert csv_bytes(view) == csv_file(settings, key)  # byte for byte
            pd.testing.assert_frame_equal(view, csv_rows(settings, key), check_exact=True)
        assert warehouse.loaded_cohorts() == {FIRST: SHORT_CYCLES, SECOND: SHORT_CYCLES}
    finally:
        warehouse.dispose()

    metadata = load_metadata(instance, FIRST)
    assert metadata["table"] == FACT_TABLE
    assert metadata["rows_written"] == SHORT_CYCLES
    assert metadata["rows_replaced"] == 0
    assert metadata["load_seconds"] > 0
    assert metadata["load_method"] == LOAD_DATA
    assert metadata["warehouse"] == redact_url(mysql_url)
    for outcome in outcomes:
        stored = stored_text(instance, outcome.run_id)
        assert redact_url(mysql_url) in stored  # the search below does cover the metadata
        assert mariadb.password not in stored


@pytest.fixture(params=["mysql_url", "postgres_url"], ids=["mariadb", "postgres"])
def server_url(request: pytest.FixtureRequest) -> str:
    """An empty database on the MariaDB or the PostgreSQL test server (same scenarios)."""
    return str(request.getfixturevalue(request.param))


@pytest.fixture
def server_settings(settings, tmp_path, server_url, monkeypatch) -> Settings:
    """As `settings`, on `server_url`; set after it, so the environment names this server."""
    monkeypatch.setenv(DATABASE_URL_VAR, server_url)
    return short_cohort_settings(tmp_path / "home", database_url=Settings.from_env().database_url)


def test_rematerializing_a_cohort_leaves_the_same_rows(
    server_settings, generate, materialize, server_url, instance
):
    generate(FIRST)
    assert materialize(FIRST, on=server_settings)[0].success
    before = fact_rows(server_url, FIRST)
    csv_before = csv_rows(server_settings, FIRST)
    assert materialize(FIRST, on=server_settings)[0].success
    assert fact_rows(server_url, FIRST) == before
    pd.testing.assert_frame_equal(csv_rows(server_settings, FIRST), csv_before)
    metadata = load_metadata(instance, FIRST)
    assert (metadata["rows_written"], metadata["rows_replaced"]) == (SHORT_CYCLES, SHORT_CYCLES)


def test_a_corrected_redelivery_replaces_the_cohort(
    server_settings, generate, materialize, server_url
):
    generate(FIRST, seed=1)
    assert materialize(FIRST, on=server_settings)[0].success
    old = fact_rows(server_url, FIRST)
    generate(FIRST, cycles=SHORT_CYCLES + 2, seed=2)
    assert materialize(FIRST, on=server_settings)[0].success
    new = fact_rows(server_url, FIRST)
    assert len(new) == SHORT_CYCLES + 2
    assert new[: len(old)] != old
    assert len(csv_rows(server_settings, FIRST)) == SHORT_CYCLES + 2


def test_a_wrong_password_fails_the_run_clearly_and_is_never_shown(
    tmp_path, generate, mariadb, mysql_url, monkeypatch, instance, materialize
):
    wrong = "Wr0ng-pa55word-that-must-not-leak"
    bad_url = mariadb.url(urlsplit(mysql_url).path.lstrip("/"), password=wrong)
    monkeypatch.setenv(DATABASE_URL_VAR, bad_url)
    bad_settings = short_cohort_settings(tmp_path / "home", database_url=bad_url)
    generate(FIRST)
    outcome = materialize(FIRST, on=bad_settings)[0]
    assert not outcome.success
    assert "Access denied for user 'energymobile'" in outcome.failure
    assert wrong not in outcome.failure
    stored = stored_text(instance, outcome.run_id)
    assert "Access denied" in stored
    assert wrong not in stored
    assert not open_object_store(bad_settings.object_store).list_keys("oil-well-data")
