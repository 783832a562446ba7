"""The `energymobile` command as a user's shell runs it: its environment and a run to the end.

Every test of the CLI runs it in a fresh process, with the machine's environment less this test
run's own ENERGYMOBILE_* and DAGSTER_* variables (so neither the developer's setup nor another
test's leaks in), plus the settings the test chose."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from energymobile.settings import (
    DATABASE_URL_VAR,
    HOME_VAR,
    LANDING_VAR,
    MAX_SHORTFALL_VAR,
    OBJECT_STORE_VAR,
    Settings,
)

ENERGYMOBILE = str(Path(sys.executable).with_name("energymobile"))
"""The installed console script (what a user types), beside this interpreter."""
CLI_MODULE = (sys.executable, "-m", "energymobile.cli")
"""The same command run as a module of this interpreter."""
SHORT_COHORT_SHORTFALL_HOURS = 3000
"""A shortfall bound that admits the short cohorts `energymobile generate --cycles` writes."""


def cli_environment(
    home: Path,
    *,
    shortfall_hours: int = SHORT_COHORT_SHORTFALL_HOURS,
    dagster_home: Path | None = None,
    **variables: str,
) -> dict[str, str]:
    """The environment of `energymobile` on `home` alone: the landing, warehouse, object store
    and (unless `dagster_home` is given) Dagster home are the CLI's defaults inside it;
    `variables` are added last."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ENERGYMOBILE_", "DAGSTER_"))}
    env |= {HOME_VAR: str(home), MAX_SHORTFALL_VAR: str(shortfall_hours)}
    if dagster_home is not None:
        env["DAGSTER_HOME"] = str(dagster_home)
    return env | variables


def settings_environment(
    settings: Settings, *, dagster_home: Path | None = None, **variables: str
) -> dict[str, str]:
    """The environment of `energymobile` reading `settings`: every location named (a warehouse
    server, an S3 landing or object store), not left to the defaults inside the home."""
    return cli_environment(
        settings.home,
        shortfall_hours=settings.max_shortfall_hours,
        dagster_home=dagster_home,
        **{
            LANDING_VAR: settings.landing,
            DATABASE_URL_VAR: settings.database_url,
            OBJECT_STORE_VAR: settings.object_store,
        },
        **variables,
    )


def run_cli(
    env: dict[str, str], *args: str, timeout_s: float = 300
) -> subprocess.CompletedProcess[str]:
    """`energymobile *args` to its end (its exit status is the caller's to judge), output
    captured as text; a run longer than `timeout_s` fails the test with TimeoutExpired."""
    return subprocess.run(
        [*CLI_MODULE, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
