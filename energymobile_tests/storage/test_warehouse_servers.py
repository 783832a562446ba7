"""What MariaDB and PostgreSQL both promise as servers, each test once per server: the DBA's
`sql/<dialect>/` files applied by hand with the server's own client are the schema energymobile
uses, and a server SIGKILLed in the middle of a reload leaves the previous rows of the cohort.

How each server is driven (its client, how a reload is held inside LOAD DATA or COPY) is in
server_dialects.py; what only one server does stays in test_warehouse_mysql.py and
test_warehouse_postgres.py.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy.exc import OperationalError

from energymobile.storage.migrate import revisions
from energymobile.storage.warehouse import Warehouse
from energymobile_tests.storage.server_dialects import (
    RELOAD_ROWS,
    SERVER_DIALECTS,
    ServerDialect,
)
from energymobile_tests.storage.support import (
    KEY,
    ROWS,
    cohort_load,
    database_url,
    expected_rows,
    rows_of,
    scalar,
)
from energymobile_tests.support import REPO_ROOT
from energymobile_tests.support.servers import ThrowawayServer

pytestmark = pytest.mark.integration


@pytest.fixture(params=SERVER_DIALECTS, ids=[d.name for d in SERVER_DIALECTS])
def dialect(request: pytest.FixtureRequest) -> ServerDialect:
    return request.param


def test_the_sql_files_applied_by_hand_with_the_client_are_the_schema_energymobile_uses(
    dialect: ServerDialect, request: pytest.FixtureRequest, tmp_path: Path
):
    """The DBA's way: every file of sql/<dialect> in order, with the server's client.
    energymobile then finds the database at the newest revision (alembic_version), applies
    nothing, and loads."""
    server = request.getfixturevalue(dialect.server_fixture)
    url = database_url(request, dialect.name, tmp_path)
    files = sorted((REPO_ROOT / "sql" / dialect.sql_folder).glob("*.sql"))
    assert [f.name[:3] for f in files] == [r.id for r in revisions()]
    dialect.apply_files(server, url, files)
    assert scalar(url, "SELECT COUNT(*) FROM sensors") == 17
    assert rows_of(url, "SELECT version_num FROM alembic_version") == [(revisions()[-1].id,)]

    warehouse = Warehouse(url)
    try:
        assert warehouse.ensure_schema() == []
        load = cohort_load(KEY)
        warehouse.replace_cohort(load)
        pd.testing.assert_frame_equal(warehouse.read_cohorts([KEY]), expected_rows(load))
    finally:
        warehouse.dispose()


@pytest.fixture
def own_server(dialect: ServerDialect) -> Iterator[ThrowawayServer]:
    """A server of this test's own, since the test kills it."""
    server = dialect.start()
    yield server
    server.stop()


def test_a_server_killed_mid_load_leaves_the_previous_rows_of_the_cohort(
    dialect: ServerDialect, own_server: ThrowawayServer
):
    """A reload is held inside its bulk statement (the old rows deleted, the new ones written,
    in the load's one transaction); then the server and all its processes get SIGKILL, and
    the server is restarted (crash recovery): the cohort is as before, and loads go on."""
    url = own_server.url()
    previous = cohort_load(KEY, seed=1)
    warehouse = Warehouse(url)
    warehouse.replace_cohort(previous)
    files_before = rows_of(url, "SELECT * FROM cohort_files ORDER BY file_name")
    failures: list[BaseException] = []

    def reload() -> None:
        try:
            warehouse.replace_cohort(cohort_load(KEY, rows=RELOAD_ROWS, seed=2))
        except BaseException as exc:
            failures.append(exc)

    with dialect.reload_held(own_server, url) as caught:
        loader = threading.Thread(target=reload)
        loader.start()
        caught()
        own_server.kill()
        loader.join(timeout=30)
        assert not loader.is_alive()
    assert len(failures) == 1 and isinstance(failures[0], OperationalError), failures
    assert failures[0].connection_invalidated

    own_server.start()
    restarted = Warehouse(own_server.url())
    try:
        pd.testing.assert_frame_equal(restarted.read_cohorts([KEY]), expected_rows(previous))
        assert restarted.loaded_cohorts() == {KEY: ROWS}
        files = rows_of(own_server.url(), "SELECT * FROM cohort_files ORDER BY file_name")
        assert files == files_before
        restarted.replace_cohort(cohort_load(KEY, rows=RELOAD_ROWS, seed=2))  # and loads go on
        assert restarted.loaded_cohorts() == {KEY: RELOAD_ROWS}
    finally:
        restarted.dispose()
        warehouse.dispose()
