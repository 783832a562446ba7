"""Every ENERGYMOBILE_* environment variable, read in one place, with its default.

Nothing else in the package reads the environment for our own settings: resources are built
from a `Settings`, so tests and the CLI can construct one explicitly. Secrets (database
password, AWS keys) only ever live inside these URLs or the standard AWS variables; they are
never logged or attached as metadata (see `redact_url`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

HOME_VAR = "ENERGYMOBILE_HOME"
LANDING_VAR = "ENERGYMOBILE_LANDING"
DATABASE_URL_VAR = "ENERGYMOBILE_DATABASE_URL"
OBJECT_STORE_VAR = "ENERGYMOBILE_OBJECT_STORE"
MAX_SHORTFALL_VAR = "ENERGYMOBILE_MAX_SHORTFALL_HOURS"
FRESHNESS_DAYS_VAR = "ENERGYMOBILE_EXPORT_DUE_DAYS"
LANDING_SETTLE_VAR = "ENERGYMOBILE_LANDING_SETTLE_SECONDS"
EXECUTOR_VAR = "ENERGYMOBILE_EXECUTOR"
CELERY_BROKER_VAR = "ENERGYMOBILE_CELERY_BROKER_URL"
"""The Celery broker (and result backend), e.g. redis://:password@host:6379/0: may hold a
password, so it is passed to Dagster as an EnvVar and never logged."""
IN_PROCESS = "in_process"
CELERY = "celery"
EXECUTORS = (IN_PROCESS, CELERY)
"""Where a run's steps execute: in the run's own process (the embedded default), or as Celery
tasks on any number of workers sharing a broker (docs/fleet.md, "Engine")."""
AWS_REGION_VARS = ("AWS_REGION", "AWS_DEFAULT_REGION")
"""boto3 itself reads only AWS_DEFAULT_REGION; the issue (and most AWS tools) use AWS_REGION.
Credentials and the endpoint (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_S3) are left to boto3."""

DEFAULT_MAX_SHORTFALL_HOURS = 24
DEFAULT_EXPORT_DUE_DAYS = 7
DEFAULT_LANDING_SETTLE_SECONDS = 30
"""How long a drop without a `_SUCCESS` marker must stay unchanged before it is loaded; how
this default was chosen: docs/automation.md, "How long to wait"."""
MAX_LANDING_SETTLE_SECONDS = 24 * 3600


@dataclass(frozen=True)
class Settings:
    home: Path
    landing: str
    database_url: str
    object_store: str
    max_shortfall_hours: int = DEFAULT_MAX_SHORTFALL_HOURS
    export_due_days: int = DEFAULT_EXPORT_DUE_DAYS
    aws_region: str | None = None
    """Region of the S3 client; None lets boto3 resolve it (profile, instance metadata)."""
    landing_settle_seconds: int = DEFAULT_LANDING_SETTLE_SECONDS
    executor: str = IN_PROCESS
    celery_broker_url: str | None = field(default=None, repr=False)
    """Set when `executor` is celery (checked in __post_init__); holds a password: never log."""

    def __post_init__(self) -> None:
        if self.executor not in EXECUTORS:
            raise ValueError(
                f"{EXECUTOR_VAR}={self.executor!r}: expected one of {', '.join(EXECUTORS)}"
            )
        if self.executor == CELERY and not self.celery_broker_url:
            raise ValueError(
                f"{EXECUTOR_VAR}=celery needs {CELERY_BROKER_VAR}, the broker the workers "
                "listen to (e.g. redis://host:6379/0)"
            )

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        home = Path(env.get(HOME_VAR) or ".energymobile").absolute()
        return cls(
            home=home,
            landing=env.get(LANDING_VAR) or str(home / "landing"),
            database_url=env.get(DATABASE_URL_VAR) or f"sqlite:///{home / 'warehouse.sqlite'}",
            object_store=env.get(OBJECT_STORE_VAR) or f"file://{home / 's3'}",
            max_shortfall_hours=int(env.get(MAX_SHORTFALL_VAR) or DEFAULT_MAX_SHORTFALL_HOURS),
            export_due_days=int(env.get(FRESHNESS_DAYS_VAR) or DEFAULT_EXPORT_DUE_DAYS),
            aws_region=next((env[v] for v in AWS_REGION_VARS if env.get(v)), None),
            landing_settle_seconds=landing_settle_seconds(env.get(LANDING_SETTLE_VAR)),
            executor=(env.get(EXECUTOR_VAR) or IN_PROCESS).strip().lower(),
            celery_broker_url=env.get(CELERY_BROKER_VAR) or None,
        )

    @property
    def dagster_home(self) -> Path:
        """Dagster's own storage when DAGSTER_HOME is not set: beside our data."""
        return Path(os.environ.get("DAGSTER_HOME") or self.home / "dagster")


def landing_settle_seconds(raw: str | None) -> int:
    """ENERGYMOBILE_LANDING_SETTLE_SECONDS: whole seconds from 0 to a day; unset or empty is
    the default. Anything else is refused with a message saying what is expected."""
    if raw is None or not raw.strip():
        return DEFAULT_LANDING_SETTLE_SECONDS
    text = raw.strip()
    if not (text.isascii() and text.isdigit()) or int(text) > MAX_LANDING_SETTLE_SECONDS:
        raise ValueError(
            f"{LANDING_SETTLE_VAR}={raw!r}: expected whole seconds from 0 to "
            f"{MAX_LANDING_SETTLE_SECONDS} (how long a drop without a _SUCCESS marker must "
            f"stay unchanged before it is loaded; default {DEFAULT_LANDING_SETTLE_SECONDS})"
        )
    return int(text)


def redact_url(url: str) -> str:
    """The URL with any password replaced by ***, safe for logs and metadata."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))
