"""One declaration of the code location (pyproject.toml's [tool.dg]); what deploys it is derived
from it and checked here: the Dockerfile's code server, the Helm values, docs/deploy.md. The Helm
values' instance settings agree with dagster.production.yaml, the file the production-topology
test runs; the Dockerfile builds with deploy/install.sh, the script the wheel test runs."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from energymobile.definitions import (
    COHORT_JOB,
    COMBINED_JOB,
    NETCDF_JOB,
    build_resources,
    discovered_definitions,
    intermediates_store,
)
from energymobile.instance import PRODUCTION, instance_yaml
from energymobile.settings import HOME_VAR as HOME
from energymobile.settings import Settings
from energymobile.storage.resources import S3ClientResource
from energymobile_tests.support import REPO_ROOT
from energymobile_tests.support.production import declared_code_location

pytestmark = pytest.mark.unit

DOCKERFILE = REPO_ROOT / "Dockerfile"
HELM_VALUES = REPO_ROOT / "deploy" / "helm" / "values.yaml"
DEPLOY_DOC = REPO_ROOT / "docs" / "deploy.md"


def _dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    lines = (line.strip() for line in text.splitlines())
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def _user_deployment() -> dict:
    [deployment] = yaml.safe_load(HELM_VALUES.read_text())["dagster-user-deployments"][
        "deployments"
    ]
    return deployment


def test_the_location_is_declared_once_and_dg_names_it_not_after_the_checkout():
    location = declared_code_location()
    assert (location.module, location.name) == ("energymobile.definitions", "energymobile")
    pyproject = (REPO_ROOT / "pyproject.toml").read_text()
    assert "[tool.dagster]" not in pyproject
    assert not (REPO_ROOT / "workspace.yaml").exists()


def test_the_image_serves_the_declared_location_and_builds_as_the_wheel_test_does():
    location = declared_code_location()
    instructions = _dockerfile_instructions()
    [cmd] = [json.loads(args) for name, args in instructions if name == "CMD"]
    assert cmd[:3] == ["dagster", "code-server", "start"]
    assert cmd[-len(location.code_server_args) :] == location.code_server_args
    runs = [args for name, args in instructions if name == "RUN"]
    assert any("deploy/install.sh /dist /opt/energymobile" in run for run in runs)
    assert [args for name, args in instructions if name == "USER"] == ["energymobile"]
    stages = [args for name, args in instructions if name == "FROM"]
    assert len(stages) == 2  # build, then runtime without the compilers


def test_the_helm_user_deployment_serves_the_declared_location():
    location = declared_code_location()
    deployment = _user_deployment()
    assert deployment["name"] == location.name  # the chart names the location after it
    assert deployment["codeServerArgs"] == ["-m", location.module]


def test_the_helm_instance_settings_agree_with_dagster_production_yaml():
    production = yaml.safe_load(instance_yaml(PRODUCTION))
    helm = yaml.safe_load(HELM_VALUES.read_text())
    runs = production["concurrency"]["runs"]
    assert helm["concurrency"]["runs"] == {
        "maxConcurrentRuns": runs["max_concurrent_runs"],
        "tagConcurrencyLimits": runs["tag_concurrency_limits"],
    }
    assert (
        helm["concurrency"]["pools"]["defaultLimit"]
        == (production["concurrency"]["pools"]["default_limit"])
    )
    monitoring, production_monitoring = (
        helm["dagsterDaemon"]["runMonitoring"],
        production["run_monitoring"],
    )
    assert monitoring["enabled"] is production_monitoring["enabled"] is True
    assert monitoring["startTimeoutSeconds"] == production_monitoring["start_timeout_seconds"]
    assert monitoring["maxRuntimeSeconds"] == production_monitoring["max_runtime_seconds"]
    assert (
        helm["dagsterDaemon"]["runCoordinator"]["type"] == (production["run_coordinator"]["class"])
    )
    assert helm["computeLogManager"]["type"] == production["compute_logs"]["class"]
    assert helm["postgresql"]["enabled"] is False  # an external PostgreSQL, as in production
    storage = production["storage"]["postgres"]["postgres_db"]
    assert helm["postgresql"]["postgresqlScheme"] == storage["scheme"] == "postgresql+psycopg2"


def test_the_deployment_guide_shows_the_declared_code_server_command():
    location = declared_code_location()
    doc = DEPLOY_DOC.read_text()
    assert f"-m {location.module} --location-name {location.name}" in doc
    assert "deploy/install.sh" in doc and "deploy/helm/values.yaml" in doc


def test_the_defs_folder_yields_each_definition_once():
    """A defs module importing another's asset would make the loader collect it twice (and
    Definitions built from `defs.assets` refuse the duplicate key)."""
    discovered = discovered_definitions()
    keys = [spec.key for assets_def in discovered.assets for spec in assets_def.specs]
    assert len(keys) == len(set(keys))
    assert {job.name for job in discovered.jobs} == {COHORT_JOB, COMBINED_JOB, NETCDF_JOB}


def test_values_between_steps_follow_the_object_store(tmp_path):
    """Chosen once, from the settings: S3 beside the exports, else the local home."""
    s3 = S3ClientResource()
    on_s3 = Settings.from_env({"ENERGYMOBILE_OBJECT_STORE": "s3://bucket/rig-7/", HOME: "h"})
    assert intermediates_store(on_s3, s3).url == "s3://bucket/rig-7/intermediate"
    embedded = Settings.from_env({HOME: str(tmp_path / "hh#A")})
    assert intermediates_store(embedded, s3).url == str(tmp_path / "hh#A" / "intermediate")
    resources = build_resources(on_s3)
    assert resources["io_manager"].store.url == "s3://bucket/rig-7/intermediate"
