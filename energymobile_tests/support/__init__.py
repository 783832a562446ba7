"""Plain helpers for the tests and the benchmarks, never shipped in the wheel: throwaway servers
(MariaDB, PostgreSQL, moto S3, `dagster dev`), the fault-injection proxy, short-cohort settings,
synthetic cohorts and polling. Tests import them from here; the pytest fixtures built on them
are in energymobile_tests.fixtures.
"""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
"""The checkout: dagster.yaml, workspace.yaml, pyproject.toml (the tests run from a clone)."""
