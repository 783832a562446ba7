"""The whole chain with the warehouse on MariaDB or PostgreSQL, switched by
ENERGYMOBILE_DATABASE_URL alone: every scenario on both servers.

Same assets, IO managers and sql/ as on SQLite; each test has its own empty database on the
session's server, so the schema is created from sql/ by the first run of every test.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import pytest

from energymobile.backfill import materialize_combined
from energymobile.settings import DATABASE_URL_VAR, Settings, redact_url
from energymobile.storage.dialects import COPY, LOAD_DATA
from energymobile.storage.exports import COMBINED_KEY, csv_bytes
from energymobile.storage.object_store import open_object_store
from energymobile.storage.warehouse import FACT_TABLE, Warehouse
from energymobile_tests.support.readback import (
    csv_file,
    csv_rows,
    database_of,
    fact_rows,
    load_metadata,
    stored_text,
)
from energymobile_tests.support.servers import ThrowawayServer
from energymobile_tests.support.short_cohorts import SHORT_CYCLES, short_cohort_settings

pytestmark = pytest.mark.integration

FIRST, SECOND = "2008-03-26", "2008-06-26"
WRONG_PASSWORD = "Wr0ng-pa55word-that-must-not-leak"


@dataclass(frozen=True)
class ServerCase:
    """What differs between the servers: their fixtures and what they answer."""

    server_fixture: str
    url_fixture: str
    load_method: str
    wrong_password: str
    """The server's own words for a wrong password, as the failure shows them."""


CASES = {
    "mariadb": ServerCase(
        "mariadb", "mysql_url", LOAD_DATA, "Access denied for user 'energymobile'"
    ),
    "postgres": ServerCase(
        "postgres", "postgres_url", COPY, 'password authentication failed for user "energymobile"'
    ),
}


@pytest.fixture(params=list(CASES))
def case(request: pytest.FixtureRequest) -> ServerCase:
    return CASES[request.param]


@pytest.fixture
def server(case: ServerCase, request: pytest.FixtureRequest) -> ThrowawayServer:
    return request.getfixturevalue(case.server_fixture)


@pytest.fixture
def server_url(case: ServerCase, request: pytest.FixtureRequest) -> str:
    """An empty database of this test on the session's server."""
    return str(request.getfixturevalue(case.url_fixture))


@pytest.fixture
def settings(tmp_path, server_url, monkeypatch) -> Settings:
    """The deployment's way: only the environment variable names the warehouse."""
    monkeypatch.setenv(DATABASE_URL_VAR, server_url)
    return short_cohort_settings(tmp_path / "home", database_url=Settings.from_env().database_url)


def test_two_cohorts_reach_the_server_and_the_csvs_are_sqlites_byte_for_byte(
    case, settings, generate, materialize, server_url, server, instance, tmp_path, monkeypatch
):
    generate(FIRST)
    generate(SECOND, seed=1)
    outcomes = materialize(FIRST, SECOND)
    assert [o.success for o in outcomes] == [True, True], [o.failure for o in outcomes]

    warehouse = Warehouse(server_url)
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
    assert metadata["load_seconds"] > 0
    assert metadata["load_method"] == case.load_method
    assert metadata["warehouse"] == redact_url(server_url)
    for outcome in outcomes:
        stored = stored_text(instance, outcome.run_id)
        assert redact_url(server_url) in stored  # the search below does cover the metadata
        assert server.password not in stored

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


def test_rematerializing_a_cohort_leaves_the_same_rows(
    settings, generate, materialize, server_url, instance
):
    generate(FIRST)
    assert materialize(FIRST)[0].success
    before = fact_rows(server_url, FIRST)
    csv_before = csv_rows(settings, FIRST)
    assert materialize(FIRST)[0].success
    assert fact_rows(server_url, FIRST) == before
    pd.testing.assert_frame_equal(csv_rows(settings, FIRST), csv_before)
    metadata = load_metadata(instance, FIRST)
    assert (metadata["rows_written"], metadata["rows_replaced"]) == (SHORT_CYCLES, SHORT_CYCLES)


def test_a_corrected_redelivery_replaces_the_cohort(settings, generate, materialize, server_url):
    generate(FIRST, seed=1)
    assert materialize(FIRST)[0].success
    old = fact_rows(server_url, FIRST)
    generate(FIRST, cycles=SHORT_CYCLES + 2, seed=2)
    assert materialize(FIRST)[0].success
    new = fact_rows(server_url, FIRST)
    assert len(new) == SHORT_CYCLES + 2
    assert new[: len(old)] != old
    assert len(csv_rows(settings, FIRST)) == SHORT_CYCLES + 2


def test_a_wrong_password_fails_the_run_clearly_and_is_never_shown(
    case, tmp_path, generate, server, server_url, monkeypatch, instance, materialize
):
    bad_url = server.url(database_of(server_url), password=WRONG_PASSWORD)
    monkeypatch.setenv(DATABASE_URL_VAR, bad_url)
    bad_settings = short_cohort_settings(tmp_path / "home", database_url=bad_url)
    generate(FIRST)
    outcome = materialize(FIRST, on=bad_settings)[0]
    assert not outcome.success
    assert case.wrong_password in outcome.failure
    assert WRONG_PASSWORD not in outcome.failure
    stored = stored_text(instance, outcome.run_id)
    assert f"cannot use the warehouse {redact_url(bad_url)}" in stored
    assert WRONG_PASSWORD not in stored
    assert not open_object_store(bad_settings.object_store).list_keys("oil-well-data")
