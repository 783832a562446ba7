"""Short cohorts for integration tests: SHORT_CYCLES rows with the shortfall bound raised to
match, so the whole chain runs in about a second per cohort. Full-size cohorts belong to the
benchmarks and to the one real-data test."""

from __future__ import annotations

from pathlib import Path

from energymobile.cohorts import window_hours
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
