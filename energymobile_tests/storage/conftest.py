"""The storage tests' one dialect switch: a fresh, empty warehouse database per test on each of
SQLite (a file under tmp_path), MariaDB and PostgreSQL (the session's servers of
energymobile_tests/fixtures/, as the application user with only the documented grants)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from energymobile.storage.warehouse import Warehouse
from energymobile_tests.storage.support import database_url

DIALECTS = ("sqlite", "mariadb", "postgres")


@pytest.fixture(params=DIALECTS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each dialect in turn."""
    return database_url(request, request.param, tmp_path)


@pytest.fixture
def warehouse(url: str) -> Iterator[Warehouse]:
    wh = Warehouse(url)
    yield wh
    wh.dispose()
