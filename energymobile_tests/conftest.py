"""Shared fixtures. Servers (MariaDB, moto S3, dagster dev) are started here and stopped after.

Integration tests use short cohorts (SHORT_CYCLES rows) with the shortfall bound raised to
match, so the whole chain runs in about a second per cohort; full-size cohorts belong to the
benchmark and to the one real-data test.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import dagster as dg
import pytest

from energymobile.backfill import CohortOutcome, materialize_cohorts
from energymobile.cohorts import window_hours
from energymobile.definitions import COHORT_JOB
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


T = TypeVar("T")


def wait_for(
    what: str,
    probe: Callable[[], T | None],
    timeout_s: float,
    log: Callable[[], str] = lambda: "",
    *,
    interval_s: float = 1.0,
) -> T:
    """Poll `probe` until it returns something truthy, or fail saying what did not happen
    (with `log()`, e.g. the end of a server's output, read at that moment)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(interval_s)
    raise AssertionError(f"{what}: not within {timeout_s:.0f} s\n{log()}")


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
    """Run the cohort job (or another, `job=`) for keys on the test's settings and ephemeral
    instance."""

    def _materialize(
        *keys: str, statistic: str = "mean", on: Settings | None = None, job: str = COHORT_JOB
    ):
        return materialize_cohorts(
            list(keys),
            settings=on or settings,
            instance=instance,
            statistic=statistic,
            job_name=job,
        )

    return _materialize


# ==============================================================================================
# S3 (moto server)
#
# A real S3 HTTP endpoint on a free loopback port, started once per session with IAM credential
# checking switched on. Two identities: the pipeline's, holding exactly the least-privilege
# policy of docs/s3.md and exported through the standard AWS variables (so boto3, dagster-aws
# and the pipeline find it as in production), and an admin, used by tests only to drop landing
# files and inspect buckets. Each test works under its own prefix of the shared buckets.
# ==============================================================================================

import subprocess  # noqa: E402  (this section's imports are kept with it)
import sys  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from typing import Any  # noqa: E402

from energymobile.devtools.moto import moto_server  # noqa: E402
from energymobile.devtools.servers import free_port  # noqa: E402

S3_BUCKET = "energymobile-test"
S3_LANDING_BUCKET = "energymobile-landing-test"
S3_ABSENT_BUCKET = "energymobile-absent"
"""Granted by the pipeline's policy but never created: the missing-bucket case."""
S3_REGION = "eu-west-1"
S3_TESTS_PREFIX = "tests"


class MotoS3:
    """The running server: its endpoint, the pipeline's credentials and an admin client."""

    def __init__(
        self, endpoint: str, access_key_id: str, secret_access_key: str, admin: Any
    ) -> None:
        self.endpoint = endpoint
        self.access_key_id = access_key_id
        self.secret_access_key = secret_access_key
        self.admin = admin
        """A boto3 S3 client allowed everything (s3:*), for test set-up and inspection."""

    def object_bytes(self, bucket: str, key: str) -> bytes:
        return self.admin.get_object(Bucket=bucket, Key=key)["Body"].read()

    def keys(self, bucket: str, prefix: str) -> list[str]:
        pages = self.admin.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


def _moto_identities(endpoint: str) -> tuple[dict[str, str], dict[str, str]]:
    """Create the buckets and the two IAM users (before auth is on), then switch auth on.
    Returns (pipeline, admin) credentials."""
    import json
    import urllib.request

    import boto3

    from energymobile.storage.s3 import least_privilege_policy

    bootstrap = {
        "endpoint_url": endpoint,
        "region_name": S3_REGION,
        "aws_access_key_id": "bootstrap",
        "aws_secret_access_key": "bootstrap",
    }
    s3 = boto3.client("s3", **bootstrap)
    for bucket in (S3_BUCKET, S3_LANDING_BUCKET):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": S3_REGION})
    iam = boto3.client("iam", **bootstrap)
    policies = {
        "pipeline": least_privilege_policy(
            object_stores=[
                f"s3://{S3_BUCKET}/{S3_TESTS_PREFIX}",
                f"s3://{S3_ABSENT_BUCKET}/{S3_TESTS_PREFIX}",
            ],
            landings=[f"s3://{S3_LANDING_BUCKET}/{S3_TESTS_PREFIX}"],
        ),
        "admin": {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
        },
    }
    credentials = {}
    for user, policy in policies.items():
        iam.create_user(UserName=user)
        iam.put_user_policy(UserName=user, PolicyName=user, PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName=user)["AccessKey"]
        credentials[user] = {
            "aws_access_key_id": key["AccessKeyId"],
            "aws_secret_access_key": key["SecretAccessKey"],
        }
    request = urllib.request.Request(
        f"{endpoint}/moto-api/reset-auth",
        data=b"0",  # no more unauthenticated requests from now on
        method="POST",
        headers={"Content-Type": "text/plain"},
    )
    with urllib.request.urlopen(request, timeout=10):
        pass
    return credentials["pipeline"], credentials["admin"]


@pytest.fixture(scope="session")
def moto_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoS3]:
    """Start `moto[server]` on a free loopback port, create buckets and identities, switch
    credential checking on and point boto3 at it through the environment; stop it after."""
    import boto3

    log = tmp_path_factory.mktemp("moto") / "server.log"
    with moto_server(log) as endpoint:
        pipeline, admin = _moto_identities(endpoint)
        empty = log.with_name("empty-aws-config")
        empty.write_text("")
        with pytest.MonkeyPatch.context() as env:
            for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
                env.delenv(name, raising=False)
            for name in ("AWS_ENDPOINT_URL_S3", "AWS_CA_BUNDLE", "AWS_ROLE_ARN"):
                env.delenv(name, raising=False)
            env.setenv("AWS_CONFIG_FILE", str(empty))  # no developer profile leaks in
            env.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
            env.setenv("AWS_EC2_METADATA_DISABLED", "true")
            env.setenv("AWS_ENDPOINT_URL", endpoint)
            env.setenv("AWS_REGION", S3_REGION)
            env.setenv("AWS_DEFAULT_REGION", S3_REGION)
            env.setenv("AWS_ACCESS_KEY_ID", pipeline["aws_access_key_id"])
            env.setenv("AWS_SECRET_ACCESS_KEY", pipeline["aws_secret_access_key"])
            yield MotoS3(
                endpoint,
                pipeline["aws_access_key_id"],
                pipeline["aws_secret_access_key"],
                boto3.client("s3", endpoint_url=endpoint, region_name=S3_REGION, **admin),
            )


@pytest.fixture
def s3_prefix(moto_s3: MotoS3) -> str:
    """A fresh prefix under the pipeline's granted one, so tests never see each other."""
    import uuid

    return f"{S3_TESTS_PREFIX}/{uuid.uuid4().hex[:12]}"


@pytest.fixture
def s3_settings(tmp_path: Path, s3_prefix: str) -> Settings:
    """Short cohorts with the landing and the object store in the moto buckets."""
    return short_cohort_settings(
        tmp_path / "s3-home",
        landing=f"s3://{S3_LANDING_BUCKET}/{s3_prefix}",
        object_store=f"s3://{S3_BUCKET}/{s3_prefix}",
        aws_region=S3_REGION,
    )


@pytest.fixture
def s3_drop(moto_s3: MotoS3, s3_prefix: str, tmp_path: Path) -> Callable[..., Path]:
    """Deliver a short cohort to the S3 landing as a technician would (with the admin's key:
    the pipeline may only read there); returns the local folder holding the same bytes."""
    local = tmp_path / "delivered"

    def _drop(key: str, cycles: int = SHORT_CYCLES, seed: int = 0) -> Path:
        folder = generate_cohort(local, key, cycles=cycles, seed=seed)
        files = [*sorted(folder.iterdir()), *sorted((local / "profile").iterdir())]
        for path in files:
            moto_s3.admin.put_object(
                Bucket=S3_LANDING_BUCKET,
                Key=f"{s3_prefix}/{path.relative_to(local).as_posix()}",
                Body=path.read_bytes(),
            )
        return folder

    return _drop


# ==============================================================================================
# MariaDB
#
# One throwaway server per test session (energymobile.devtools.mariadb): a temporary data
# directory, a free loopback port, and a real application user with a random password and
# exactly the privileges docs/mysql.md asks for (not root). `mysql_url` gives each test its own
# empty database on that server. Fails (does not skip) when MariaDB is not installed:
# `scripts/bootstrap.sh test` installs it.
# ==============================================================================================

# Imported here, not at the top, so this section stays one self-contained block of the file.
from collections.abc import Generator  # noqa: E402

from energymobile.devtools.mariadb import MariaDBServer, start_mariadb  # noqa: E402

_mysql_databases_created = [0]


@pytest.fixture(scope="session")
def mariadb() -> Generator[MariaDBServer, None, None]:
    """The session's server: user, password, port and url() of the application user."""
    server = start_mariadb()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def mysql_url(mariadb: MariaDBServer) -> Generator[str, None, None]:
    """A fresh, empty database for this test; the URL holds the password (never print it)."""
    _mysql_databases_created[0] += 1
    name = f"test_{_mysql_databases_created[0]}"
    yield mariadb.create_database(name)
    mariadb.drop_database(name)


# ==============================================================================================
# PostgreSQL
#
# The same arrangement for PostgreSQL (energymobile.devtools.postgres): one throwaway server per
# test session, started from Debian's `postgresql` binaries in a temporary folder on a free
# loopback port (as the `postgres` account when the tests run as root), and an application
# role with a random password and only the grants docs/postgres.md asks for (not a
# superuser). `postgres_url` gives each test its own empty database on that server. Fails (does
# not skip) when PostgreSQL is not installed: `scripts/bootstrap.sh test` installs it.
# ==============================================================================================

from energymobile.devtools.postgres import PostgresServer, start_postgres  # noqa: E402

_postgres_databases_created = [0]


@pytest.fixture(scope="session")
def postgres() -> Generator[PostgresServer, None, None]:
    """The session's server: user, password, port and url() of the application role."""
    server = start_postgres()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres: PostgresServer) -> Generator[str, None, None]:
    """A fresh, empty database for this test; the URL holds the password (never print it)."""
    _postgres_databases_created[0] += 1
    name = f"test_{_postgres_databases_created[0]}"
    yield postgres.create_database(name)
    postgres.drop_database(name)


# ==============================================================================================
# dagster dev
#
# The real `dagster dev` (webserver and daemon, code loaded through workspace.yaml) on a free
# loopback port, with a temporary DAGSTER_HOME holding the repository's dagster.yaml and the
# embedded default (SQLite warehouse, local object store, landing folder) under a temporary
# ENERGYMOBILE_HOME, with short cohorts admitted. One server per test module that asks for it.
#
# Started through `env --default-signal=INT` (coreutils), which execs it with SIGINT at its
# default disposition: a process started from a background job inherits SIGINT ignored, and
# `dagster dev` then neither stops on SIGINT nor on SIGTERM.
# Stopped with SIGINT (it shuts its webserver, daemon, code server and runs down), then any
# process left of its tree is ended by pid.
# ==============================================================================================

# (subprocess, sys, Iterator and Any are imported by the S3 section above.)
import json  # noqa: E402  (this section's other imports are kept with it)
import os  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import urllib.error  # noqa: E402
import urllib.request  # noqa: E402
from dataclasses import dataclass  # noqa: E402

import psutil  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent
DAGSTER_DEV_START_TIMEOUT_S = 90.0
DAGSTER_DEV_STOP_TIMEOUT_S = 30.0


@dataclass
class DagsterDev:
    """A running `dagster dev`: where it answers, its settings and its log."""

    url: str
    settings: Settings
    dagster_home: Path
    log: Path
    process: subprocess.Popen[bytes]

    @property
    def landing(self) -> Path:
        return Path(self.settings.landing)

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """POST a query to the webserver's GraphQL API; raises on GraphQL errors."""
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(
            f"{self.url}/graphql", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            payload = json.load(response)
        if payload.get("errors"):
            raise AssertionError(f"GraphQL errors: {payload['errors']}")
        return payload["data"]

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:]


_LOCATION_STATUS = """
{ workspaceOrError { __typename ... on Workspace { locationEntries {
    name loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }
"""


def _wait_for_dagster_dev(dev: DagsterDev, timeout_s: float) -> None:
    """Until the webserver answers and the code location is loaded (or fail with the log)."""
    deadline = time.monotonic() + timeout_s
    last = "no answer yet"
    while time.monotonic() < deadline:
        if dev.process.poll() is not None:
            raise RuntimeError(f"dagster dev exited early:\n{dev.log_tail()}")
        try:
            entries = dev.graphql(_LOCATION_STATUS)["workspaceOrError"]["locationEntries"]
        except (urllib.error.URLError, ConnectionError, TimeoutError, KeyError) as err:
            last = repr(err)
        else:
            states = {e["name"]: e for e in entries}
            entry = states.get("energymobile")
            if entry and entry["loadStatus"] == "LOADED":
                if entry["locationOrLoadError"]["__typename"] == "PythonError":
                    raise RuntimeError(f"code location failed: {entry['locationOrLoadError']}")
                return
            last = f"location: {entry}"
        time.sleep(0.5)
    raise TimeoutError(f"dagster dev not ready in {timeout_s:.0f} s ({last}):\n{dev.log_tail()}")


def _stop_dagster_dev(process: subprocess.Popen[bytes]) -> None:
    """SIGINT, as Ctrl-C would; then end whatever of its process tree is left, by pid."""
    try:
        tree = psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        tree = []
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=DAGSTER_DEV_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    alive = [p for p in tree if p.is_running()]
    for child in alive:
        child.terminate()
    _, still = psutil.wait_procs(alive, timeout=10)
    for child in still:
        child.kill()


@pytest.fixture(scope="module")
def dagster_dev(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[DagsterDev]:
    """`dagster dev` on this project, ready to answer; stopped (with its children) after.

    A test module may set `DAGSTER_DEV_SQLITE_TIMEOUT_S` to give the SQLite warehouse a
    longer busy timeout (a `?timeout=` in its URL) than SQLite's 5 s."""
    root = tmp_path_factory.mktemp("dagster_dev")
    settings = short_cohort_settings(root / "home")
    timeout_s = getattr(request.module, "DAGSTER_DEV_SQLITE_TIMEOUT_S", None)
    if timeout_s:
        settings = short_cohort_settings(
            root / "home", database_url=f"{settings.database_url}?timeout={timeout_s}"
        )
    dagster_home = root / "dagster_home"
    dagster_home.mkdir()
    shutil.copy(REPO_ROOT / "dagster.yaml", dagster_home / "dagster.yaml")
    Path(settings.landing).mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ENERGYMOBILE_", "DAGSTER_"))}
    env |= {
        "DAGSTER_HOME": str(dagster_home),
        "ENERGYMOBILE_HOME": str(settings.home),
        "ENERGYMOBILE_LANDING": settings.landing,
        "ENERGYMOBILE_DATABASE_URL": settings.database_url,
        "ENERGYMOBILE_OBJECT_STORE": settings.object_store,
        "ENERGYMOBILE_MAX_SHORTFALL_HOURS": str(settings.max_shortfall_hours),
        "PYTHONUNBUFFERED": "1",
    }
    port = free_port()
    log = root / "dagster_dev.log"
    command = [
        *("env", "--default-signal=INT"),  # execs dagster: same pid, SIGINT not ignored
        str(Path(sys.executable).with_name("dagster")),
        *("dev", "-w", str(REPO_ROOT / "workspace.yaml")),
        *("-h", "127.0.0.1", "-p", str(port)),
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    dev = DagsterDev(f"http://127.0.0.1:{port}", settings, dagster_home, log, process)
    try:
        _wait_for_dagster_dev(dev, DAGSTER_DEV_START_TIMEOUT_S)
        yield dev
    finally:
        _stop_dagster_dev(process)
