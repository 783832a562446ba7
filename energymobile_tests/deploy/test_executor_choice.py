"""The executor is chosen per deployment, in one place (definitions.build_executor), from the
settings: in process by default, Celery when ENERGYMOBILE_EXECUTOR=celery names a broker. The
broker URL may hold a password: it reaches Dagster as an environment reference, never as a
value, and a misconfiguration is refused with a message that says what to set."""

from __future__ import annotations

import dagster as dg
import pytest

from energymobile.definitions import (
    CELERY_VISIBILITY_TIMEOUT_S,
    COHORT_JOB,
    build_definitions,
    build_executor,
)
from energymobile.settings import CELERY_BROKER_VAR, EXECUTOR_VAR, HOME_VAR, Settings

pytestmark = pytest.mark.unit

BROKER = "redis://:s3cret-pw@broker.example:6379/0"


def test_the_embedded_default_runs_steps_in_process(tmp_path):
    settings = Settings.from_env({HOME_VAR: str(tmp_path)})
    assert settings.executor == "in_process"
    assert build_executor(settings) is dg.in_process_executor
    job = build_definitions(settings).resolve_job_def(COHORT_JOB)
    assert job.executor_def is dg.in_process_executor


def test_celery_is_chosen_by_a_setting_and_its_broker_stays_in_the_environment(
    tmp_path, monkeypatch
):
    monkeypatch.setenv(CELERY_BROKER_VAR, BROKER)
    settings = Settings.from_env(
        {HOME_VAR: str(tmp_path), EXECUTOR_VAR: "Celery", CELERY_BROKER_VAR: BROKER}
    )
    assert settings.executor == "celery"
    assert "s3cret" not in repr(settings)
    executor = build_executor(settings)
    assert executor.name == "celery"
    job = build_definitions(settings).resolve_job_def(COHORT_JOB)
    assert job.executor_def.name == "celery"
    resolved = executor.config_schema.resolve_config({}).value["config"]
    assert (resolved["broker"], resolved["backend"]) == (BROKER, BROKER)
    transport = resolved["config_source"]["broker_transport_options"]
    assert transport["visibility_timeout"] == CELERY_VISIBILITY_TIMEOUT_S  # > Redis's 1 h
    # An {"env": ...} reference, resolved where the run executes (never stored in run config):
    # the workers' environment decides, not the value this process read.
    monkeypatch.setenv(CELERY_BROKER_VAR, "redis://elsewhere:6379/1")
    resolved = executor.config_schema.resolve_config({}).value["config"]
    assert resolved["broker"] == "redis://elsewhere:6379/1"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({EXECUTOR_VAR: "celery"}, CELERY_BROKER_VAR),
        ({EXECUTOR_VAR: "k8s"}, "expected one of in_process, celery"),
    ],
)
def test_a_wrong_executor_setting_is_refused_saying_what_to_set(tmp_path, environ, message):
    with pytest.raises(ValueError, match=message):
        Settings.from_env({HOME_VAR: str(tmp_path), **environ})
