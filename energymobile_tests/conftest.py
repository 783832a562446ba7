"""Shared fixtures. Servers (MariaDB, moto S3, dagster dev) are started here and stopped after.

Integration tests use short cohorts (SHORT_CYCLES rows) with the shortfall bound raised to
match, so the whole chain runs in about a second per cohort; full-size cohorts belong to the
benchmark and to the one real-data test.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import dagster as dg
import pytest

from energymobile.backfill import CohortOutcome, materialize_cohorts
from energymobile.cohorts import window_hours
from energymobile.sample.generate import generate_cohort
from energymobile.settings import Settings

SHORT_CYCLES = 24
"""Rows per cohort in integration tests: one day of cycles."""
FIRST_KEYS = ("2008-03-26", "2008-06-26")


def short_cohort_settings(home: Path, **overrides: object) -> Settings:
    """Embedded default under `home`, with a shortfall bound that admits SHORT_CYCLES rows."""
    values: dict[str, object] = {
        "home": home,
        "landing": str(home / "landing"),
        "database_url": f"sqlite:///{home / 'warehouse.sqlite'}",
        "object_store": f"file://{home / 's3'}",
        "max_shortfall_hours": max(window_hours(k) for k in FIRST_KEYS) - SHORT_CYCLES,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return short_cohort_settings(tmp_path / "home")


@pytest.fixture
def landing(settings: Settings) -> Path:
    return Path(settings.landing)


@pytest.fixture
def generate(landing: Path) -> Callable[..., Path]:
    """Write a short cohort into the landing folder; returns its folder."""

    def _generate(key: str, cycles: int = SHORT_CYCLES, seed: int = 0) -> Path:
        return generate_cohort(landing, key, cycles=cycles, seed=seed)

    return _generate


@pytest.fixture
def instance() -> dg.DagsterInstance:
    with dg.DagsterInstance.ephemeral() as ephemeral:
        yield ephemeral


@pytest.fixture
def materialize(
    settings: Settings, instance: dg.DagsterInstance
) -> Callable[..., list[CohortOutcome]]:
    """Run the cohort job for keys on the test's settings and ephemeral instance."""

    def _materialize(*keys: str, statistic: str = "mean", on: Settings | None = None):
        return materialize_cohorts(
            list(keys), settings=on or settings, instance=instance, statistic=statistic
        )

    return _materialize
