"""The whole chain with the warehouse on PostgreSQL, switched by ENERGYMOBILE_DATABASE_URL alone.

Same assets, IO managers and sql/ as on SQLite and MariaDB; each test has its own empty database
on the session's server, so the schema is created from sql/ by the first run of every test. The
re-run and re-delivery scenarios run on both servers in test_pipeline_mysql.
"""

from __future__ import annotations

import pandas as pd
import pytest

from energymobile.backfill import materialize_combined
from energymobile.settings import DATABASE_URL_VAR, Settings, redact_url
from energymobile.storage.dialects import COPY
from energymobile.storage.exports import COMBINED_KEY, csv_bytes
from energymobile.storage.object_store import open_object_store
from energymobile.storage.warehouse import FACT_TABLE, Warehouse
from energymobile_tests.conftest import SHORT_CYCLES, short_cohort_settings
from energymobile_tests.defs.test_pipeline_mysql import (
    FIRST,
    SECOND,
    csv_file,
    csv_rows,
    load_metadata,
    stored_text,
)
from energymobile_tests.storage.test_warehouse_postgres import database_of


@pytest.fixture
def settings(tmp_path, postgres_url, monkeypatch) -> Settings:
    """The deployment's way: only the environment variable names the warehouse."""
    monkeypatch.setenv(DATABASE_URL_VAR, postgres_url)
    return short_cohort_settings(tmp_path / "home", database_url=Settings.from_env().database_url)


def test_two_cohorts_reach_postgres_and_the_csvs_are_sqlites_byte_for_byte(
    settings, generate, materialize, postgres_url, postgres, instance, tmp_path, monkeypatch
):
    generate(FIRST)
    generate(SECOND, seed=1)
    outcomes = materialize(FIRST, SECOND)
    assert [o.success for o in outcomes] == [True, True], [o.failure for o in outcomes]

    warehouse = Warehouse(postgres_url)
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
    assert (metadata["rows_written"], metadata["rows_replaced"]) == (SHORT_CYCLES, 0)
    assert metadata["load_method"] == COPY
    assert metadata["warehouse"] == redact_url(postgres_url)
    for outcome in outcomes:
        stored = stored_text(instance, outcome.run_id)
        assert redact_url(postgres_url) in stored  # the search below does cover the metadata
        assert postgres.password not in stored

    # The same deliveries through the embedded default give the same files.
    monkeypatch.delenv(DATABASE_URL_VAR)
    embedded = short_cohort_settings(tmp_path / "sqlite-home", landing=settings.landing)
    assert embedded.database_url.startswith("sqlite:")
    assert all(o.success for o in materialize(FIRST, SECOND, on=embedded))
    for key in (FIRST, SECOND):
        assert csv_file(embedded, key) == csv_file(settings, key)
    for each in (settings, embedded):
        assert materialize_combined(settings=each, instance=instance).success
    combined = [
        open_object_store(s.object_store).get_bytes(COMBINED_KEY) for s in (settings, embedded)
    ]
    assert combined[0] == combined[1]


def test_a_wrong_password_fails_the_run_clearly_and_is_never_shown(
    tmp_path, generate, postgres, postgres_url, monkeypatch, instance, materialize
):
    wrong = "Wr0ng-pa55word-that-must-not-leak"
    bad_url = postgres.url(database_of(postgres_url), password=wrong)
    monkeypatch.setenv(DATABASE_URL_VAR, bad_url)
    bad_settings = short_cohort_settings(tmp_path / "home", database_url=bad_url)
    generate(FIRST)
    outcome = materialize(FIRST, on=bad_settings)[0]
    assert not outcome.success
    assert 'password authentication failed for user "energymobile"' in outcome.failure
    assert wrong not in outcome.failure
    stored = stored_text(instance, outcome.run_id)
    assert f"cannot use the warehouse {redact_url(bad_url)}" in stored
    assert wrong not in stored
    assert not open_object_store(bad_settings.object_store).list_keys("oil-well-data")
