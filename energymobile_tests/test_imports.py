"""What a process imports before it needs it (issue 16: every `energymobile` command and every
run worker pays its imports at start). Each check runs in a fresh interpreter and reads its
sys.modules; no timing (the machine is shared: the seconds are `make bench`'s)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from energymobile_tests.support import REPO_ROOT

pytestmark = pytest.mark.unit

HEAVY = ("dagster", "dagster_aws", "boto3", "polars", "pandas", "sqlalchemy", "xarray", "h5py")


def imported_after(code: str, env: dict[str, str] | None = None) -> set[str]:
    """The HEAVY top-level packages in sys.modules after running `code` in a new process."""
    probe = (
        f"{code}\nimport json, sys\n"
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r})))"
    )
    run = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        cwd=REPO_ROOT,
        env=env,
    )
    return set(json.loads(run.stdout.strip().splitlines()[-1]))


def test_help_imports_no_dagster_and_no_data_library():
    """`energymobile --help` (and a mistyped command) answers at once."""
    code = (
        "from energymobile.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "try:\n    main(['backfill', '--help'])\nexcept SystemExit:\n    pass"
    )
    assert imported_after(code) == set()


def test_definitions_on_the_local_object_store_import_no_s3_or_netcdf_library(tmp_path):
    """dagster-aws (~1.5 s: its package imports its components), boto3 and xarray/h5py (netCDF)
    are imported where a run first needs them, not by the code location every run worker
    loads."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENERGYMOBILE_")}
    env["ENERGYMOBILE_HOME"] = str(tmp_path / "home")
    loaded = imported_after("import energymobile.definitions", env)
    assert {"dagster", "polars", "pandas", "sqlalchemy"} <= loaded  # the probe sees real imports
    assert not loaded & {"dagster_aws", "boto3", "xarray", "h5py"}


def test_an_s3_client_is_still_built_by_dagster_aws():
    """The lazy S3 resource hands out dagster-aws's client (boto3's standard AWS chain)."""
    from energymobile.storage.resources import S3ClientResource

    client = S3ClientResource(region_name="eu-west-1").get_client()
    assert client.meta.region_name == "eu-west-1"
    assert client.meta.service_model.service_name == "s3"


def test_the_cli_backfills_as_many_cohorts_at_once_as_the_backfill_module_says():
    from energymobile.backfill import DEFAULT_WORKERS
    from energymobile.cli import BACKFILL_WORKERS

    assert BACKFILL_WORKERS == DEFAULT_WORKERS
