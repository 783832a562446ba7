"""Every ENERGYMOBILE_* environment variable, read and validated in one place, with its default.

Nothing else in the package reads the environment for our own settings: resources are built
from a `Settings`, so tests and the CLI can construct one explicitly. A value that cannot be
used is refused here, when it is read, with one sentence per setting naming the variable,
what it holds and what to write instead (`SettingsError`); nothing downstream meets it.

Secrets (database password, AWS keys) only ever live inside these URLs or the standard AWS
variables; they are never logged or attached as metadata (`redaction.redact_url`), and a
message about a bad URL shows it masked.

Paths become URLs through the standard library (`Path.as_uri`, SQLAlchemy's `URL.create`),
never by pasting strings, so a home folder may hold any character a file system allows (`#`,
`?`, `%`, spaces, non-ASCII) and still name exactly that folder. SQLAlchemy 2.0, which Python
3.10 gets from the lock, cannot write a `?` in a SQLite path; there `sqlite_url` names the file
through SQLite's own URI filenames instead (`sqlite_file` reads either form back).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import quote, unquote, urlsplit

from energymobile.redaction import redact_url

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

__all__ = ["Settings", "SettingsError", "redact_url", "sqlite_file", "sqlite_url"]

HOME_VAR = "ENERGYMOBILE_HOME"
LANDING_VAR = "ENERGYMOBILE_LANDING"
DATABASE_URL_VAR = "ENERGYMOBILE_DATABASE_URL"
OBJECT_STORE_VAR = "ENERGYMOBILE_OBJECT_STORE"
MAX_SHORTFALL_VAR = "ENERGYMOBILE_MAX_SHORTFALL_HOURS"
FRESHNESS_DAYS_VAR = "ENERGYMOBILE_EXPORT_DUE_DAYS"
POOL_WAIT_VAR = "ENERGYMOBILE_POOL_WAIT_SECONDS"
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
DEFAULT_POOL_WAIT_SECONDS = 1800
"""How long the CLI waits for a pool slot (the combined CSV's rebuild) held by a live run."""

DEFAULT_LANDING_SETTLE_SECONDS = 30
"""How long a drop without a `_SUCCESS` marker must stay unchanged before it is loaded; how
this default was chosen: docs/automation.md, "How long to wait"."""
MAX_LANDING_SETTLE_SECONDS = 24 * 3600

_WHOLE_NUMBER = re.compile(r"\s*[+-]?\d+\s*")
T = TypeVar("T")


class SettingsError(ValueError):
    """Settings that cannot be used; one line per setting, each naming the variable, what it
    holds (passwords masked) and what to write instead."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True, repr=False)
class Settings:
    home: Path
    landing: str
    database_url: str
    object_store: str
    max_shortfall_hours: int = DEFAULT_MAX_SHORTFALL_HOURS
    export_due_days: int = DEFAULT_EXPORT_DUE_DAYS
    aws_region: str | None = None
    """Region of the S3 client; None lets boto3 resolve it (profile, instance metadata)."""
    pool_wait_seconds: int = DEFAULT_POOL_WAIT_SECONDS
    landing_settle_seconds: int = DEFAULT_LANDING_SETTLE_SECONDS
    executor: str = IN_PROCESS
    celery_broker_url: str | None = field(default=None, repr=False)
    """Set when `executor` is celery (checked in __post_init__); holds a password: never log."""

    def __post_init__(self) -> None:
        if self.executor not in EXECUTORS:
            raise SettingsError(
                [f"{EXECUTOR_VAR}={self.executor!r}: expected one of {', '.join(EXECUTORS)}"]
            )
        if self.executor == CELERY and not self.celery_broker_url:
            raise SettingsError(
                [
                    f"{EXECUTOR_VAR}=celery needs {CELERY_BROKER_VAR}, the broker the workers "
                    "listen to (e.g. redis://host:6379/0)"
                ]
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings the environment asks for; SettingsError lists every one that cannot
        be used."""
        env = os.environ if environ is None else environ
        problems: list[str] = []

        def read(var: str, parse: Callable[[str, str], T], default: T) -> T:
            value = env.get(var)
            if not value:
                return default
            try:
                return parse(var, value)
            except SettingsError as err:
                problems.extend(err.problems)
                return default

        home = read(HOME_VAR, _home, Path(".energymobile").absolute())
        database_url = read(DATABASE_URL_VAR, _database_url, "")
        if not env.get(DATABASE_URL_VAR):
            database_url = sqlite_url(home / "warehouse.sqlite")
        settings = cls(
            home=home,
            landing=read(LANDING_VAR, _landing, str(home / "landing")),
            database_url=database_url,
            object_store=read(OBJECT_STORE_VAR, _object_store, (home / "s3").as_uri()),
            max_shortfall_hours=read(
                MAX_SHORTFALL_VAR, _whole_number("hours", 24), DEFAULT_MAX_SHORTFALL_HOURS
            ),
            export_due_days=read(
                FRESHNESS_DAYS_VAR, _whole_number("days", 7), DEFAULT_EXPORT_DUE_DAYS
            ),
            aws_region=next((env[v] for v in AWS_REGION_VARS if env.get(v)), None),
            pool_wait_seconds=read(
                POOL_WAIT_VAR, _whole_number("seconds", 600), DEFAULT_POOL_WAIT_SECONDS
            ),
            landing_settle_seconds=read(
                LANDING_SETTLE_VAR,
                lambda _var, value: landing_settle_seconds(value),
                DEFAULT_LANDING_SETTLE_SECONDS,
            ),
            executor=(env.get(EXECUTOR_VAR) or IN_PROCESS).strip().lower(),
            celery_broker_url=env.get(CELERY_BROKER_VAR) or None,
        )
        if problems:
            raise SettingsError(problems)
        return settings

    @property
    def dagster_home(self) -> Path:
        """Dagster's own storage when DAGSTER_HOME is not set: beside our data."""
        return Path(os.environ.get("DAGSTER_HOME") or self.home / "dagster")

    def __repr__(self) -> str:
        return (
            f"Settings(home={str(self.home)!r}, landing={self.landing!r}, "
            f"database_url={redact_url(self.database_url)!r}, "
            f"object_store={self.object_store!r}, max_shortfall_hours={self.max_shortfall_hours},"
            f" export_due_days={self.export_due_days}, aws_region={self.aws_region!r}, "
            f"pool_wait_seconds={self.pool_wait_seconds}, "
            f"landing_settle_seconds={self.landing_settle_seconds}, executor={self.executor!r})"
        )


def landing_settle_seconds(raw: str | None) -> int:
    """ENERGYMOBILE_LANDING_SETTLE_SECONDS: whole seconds from 0 to a day; unset or empty is
    the default. Anything else is refused with a message saying what is expected."""
    if raw is None or not raw.strip():
        return DEFAULT_LANDING_SETTLE_SECONDS
    text = raw.strip()
    if not (text.isascii() and text.isdigit()) or int(text) > MAX_LANDING_SETTLE_SECONDS:
        raise SettingsError(
            [
                f"{LANDING_SETTLE_VAR}={raw!r}: expected whole seconds from 0 to "
                f"{MAX_LANDING_SETTLE_SECONDS} (how long a drop without a _SUCCESS marker must "
                f"stay unchanged before it is loaded; default {DEFAULT_LANDING_SETTLE_SECONDS})"
            ]
        )
    return int(text)


def sqlite_url(path: Path) -> str:
    """The SQLAlchemy URL of a SQLite file, naming exactly `path` whatever its characters.

    SQLAlchemy 2.1 percent-encodes the characters URLs reserve (`?`, `#`, `%`) and decodes them
    back. SQLAlchemy 2.0 (Python 3.10's lock) does neither, so a `?` would start the query and
    the URL would name another file; for such a path the URL is one of SQLite's URI filenames
    (`sqlite:///file:<percent-encoded path>?uri=true`), which SQLite decodes itself."""
    from sqlalchemy.engine import URL  # here, not at the top: `--help` needs no SQLAlchemy

    url = URL.create("sqlite", database=str(path)).render_as_string(hide_password=False)
    if sqlite_file(url) == path:
        return url
    uri = URL.create("sqlite", database="file:" + quote(str(path)), query={"uri": "true"})
    return uri.render_as_string(hide_password=False)


def sqlite_file(url: str | URL) -> Path | None:
    """The file a SQLite URL opens (a plain path or a `?uri=true` URI filename, the two forms
    `sqlite_url` writes); None for another database or an in-memory one."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or database in (None, "", ":memory:"):
        return None
    if parsed.query.get("uri") == "true" and database.startswith("file:"):
        return Path(unquote(urlsplit(database).path))
    return Path(database)


def local_folder(url: str) -> Path | None:
    """The folder a plain path or a `file://` URL names (percent-escapes decoded), or None for
    any other URL."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        return Path(unquote(parts.path))
    if parts.scheme == "" or (len(parts.scheme) == 1 and os.name == "nt"):  # C:\ on Windows
        return Path(url)
    return None


# -- one parser per kind of setting; each raises SettingsError naming the variable -------------


def _whole_number(unit: str, example: int) -> Callable[[str, str], int]:
    def parse(var: str, value: str) -> int:
        if not _WHOLE_NUMBER.fullmatch(value):
            raise SettingsError(
                [f"{var}={value!r} is not a whole number of {unit}: write e.g. {var}={example}"]
            )
        number = int(value)
        if number < 0:
            raise SettingsError(
                [f"{var}={value!r} is negative: write 0 or more {unit}, e.g. {var}={example}"]
            )
        return number

    return parse


def _home(var: str, value: str) -> Path:
    home = Path(value).expanduser().absolute()
    if home.exists() and not home.is_dir():
        raise SettingsError([f"{var}={value!r} is a file, not a folder: name a folder"])
    return home


def _database_url(var: str, value: str) -> str:
    from sqlalchemy.engine import make_url  # here, not at the top: `--help` needs no SQLAlchemy
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    shown = redact_url(value)
    kinds = "sqlite:///path, mysql+mysqldb://user:password@host/db or postgresql+psycopg://…"
    try:
        url = make_url(value)
    except (ArgumentError, ValueError):
        raise SettingsError(
            [f"{var} ({shown}) is not a database URL: write e.g. {kinds}"]
        ) from None
    if url.host and "@" in url.host:
        raise SettingsError(
            [
                f"{var} ({shown}): the password holds an '@', which ends it early: write it "
                "as %40 (percent-encode the password, e.g. urllib.parse.quote(password, "
                "safe=''))"
            ]
        )
    try:
        url.get_dialect()
    except NoSuchModuleError:
        raise SettingsError(
            [f"{var} ({shown}): unknown kind of database {url.drivername!r}: write e.g. {kinds}"]
        ) from None
    return value


def _landing(var: str, value: str) -> str:
    """A folder (a file:// URL becomes its plain path) or s3://bucket[/prefix]."""
    return _location(var, value, "the landing folder")


def _object_store(var: str, value: str) -> str:
    return _location(var, value, "the object store", keep_file_url=True)


def _location(var: str, value: str, what: str, keep_file_url: bool = False) -> str:
    parts = urlsplit(value)
    example = f"a folder, file:///path or s3://bucket/prefix, e.g. {var}=s3://energymobile/exports"
    if parts.scheme == "s3":
        if not parts.netloc:
            raise SettingsError([f"{var}={value!r} names no bucket: write {example}"])
        if parts.query or parts.fragment:
            raise SettingsError([f"{var}={value!r}: an s3:// URL takes no '?' or '#' part"])
        return value
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise SettingsError(
                [f"{var}={value!r} names host {parts.netloc!r}: {what} must be a local folder"]
            )
        if parts.query or parts.fragment:
            raise SettingsError(
                [
                    f"{var}={value!r}: in a file:// URL a '?' or '#' must be written %3F or "
                    f"%23; or give {what} as a plain path"
                ]
            )
        folder = local_folder(value)
        assert folder is not None
        return folder.as_uri() if keep_file_url else str(folder)
    if local_folder(value) is None:
        raise SettingsError([f"{var}={value!r}: unknown kind {parts.scheme!r}: write {example}"])
    return value
