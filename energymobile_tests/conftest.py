"""The test suite's root: fixtures come from energymobile_tests.fixtures (one plugin per server),
plain helpers from energymobile_tests.support; tests import nothing from here.

Every test carries exactly one kind (pyproject.toml declares them):
- `unit`: functions run in this process on small inputs the test makes (in memory or a few
  files in tmp_path): no server, no subprocess, no Dagster run, no generated cohort (the
  sample generator writes ~6 MB a short cohort). `pytest -m unit` runs them alone.
- `integration`: real servers (MariaDB, PostgreSQL, moto S3), Dagster runs, subprocesses,
  generated deliveries read through the product's readers, the wheel.
- `ui`: the real `dagster dev` (webserver, daemon) and a browser.
"""

from __future__ import annotations

import pytest

pytest_plugins = [
    "energymobile_tests.fixtures.embedded",
    "energymobile_tests.fixtures.mariadb",
    "energymobile_tests.fixtures.postgres",
    "energymobile_tests.fixtures.s3",
    "energymobile_tests.fixtures.dagster_dev",
    "energymobile_tests.fixtures.wheel",
    "energymobile_tests.fixtures.celery",
]

KINDS = ("unit", "integration", "ui")
NOT_FOR_UNIT_TESTS = frozenset(
    {
        "mariadb",
        "postgres",
        "moto_s3",
        "dagster_dev",
        "materialize",
        "generate",
        "s3_drop",
        "installed_wheel",
        "install_wheel",
        "redis",
    }
)
"""Fixtures that start a server, run Dagster or generate cohorts: not for a unit test."""


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Refuse a test of no kind or of two, and a unit test using a NOT_FOR_UNIT_TESTS fixture."""
    wrong = []
    for item in items:
        kinds = sorted({m.name for m in item.iter_markers() if m.name in KINDS})
        heavy = NOT_FOR_UNIT_TESTS.intersection(getattr(item, "fixturenames", ()))
        if len(kinds) != 1:
            wrong.append(f"{item.nodeid}: kinds {kinds}, wants one of {', '.join(KINDS)}")
        elif kinds == ["unit"] and heavy:
            wrong.append(f"{item.nodeid}: marked unit but uses {', '.join(sorted(heavy))}")
    if wrong:
        raise pytest.UsageError(
            "every test is marked with exactly one of unit, integration, ui "
            "(e.g. `pytestmark = pytest.mark.unit` in the module):\n  " + "\n  ".join(wrong)
        )
