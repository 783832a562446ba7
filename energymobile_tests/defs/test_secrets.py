"""Known secrets through the whole chain (MariaDB + S3): nowhere in what Dagster keeps.

The database password and the AWS secret key reach the pipeline only through the environment.
After a successful run and a failed one, every stored event, the run, its job snapshot and
the failure text are searched for them. Then every form of database URL SQLAlchemy accepts
(the password percent-encoded or not, holding '#', '/', '?', '@' and '%', or given in the
query), each on a real MariaDB and PostgreSQL connection where the driver takes it, through
the command line: its output, the logs and every file of Dagster's storage.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, quote_plus, urlsplit

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from energymobile.cli import main
from energymobile.sample.generate import generate_cohort
from energymobile.settings import DATABASE_URL_VAR
from energymobile_tests.support.readback import stored_text
from energymobile_tests.support.short_cohorts import SHORT_CYCLES

pytestmark = pytest.mark.integration

KEY = "2008-03-26"


def test_secrets_never_reach_logs_metadata_or_errors(
    s3_settings, s3_drop, mysql_url, moto_s3, monkeypatch, instance, materialize
):
    password = urlsplit(mysql_url).password
    secret_key = moto_s3.secret_access_key
    assert password and secret_key
    monkeypatch.setenv(DATABASE_URL_VAR, mysql_url)
    settings = dataclasses.replace(s3_settings, database_url=mysql_url)

    folder = s3_drop(KEY)
    ok = materialize(KEY, on=settings)[0]
    assert ok.success, ok.failure

    corrupted = (folder / "CE.txt").read_bytes().replace(b"\t", b"\tx", 1)
    moto_s3.admin.put_object(
        Bucket=settings.landing.removeprefix("s3://").split("/", 1)[0],
        Key=f"{settings.landing.split('/', 3)[3]}/logs/{KEY}/CE.txt",
        Body=corrupted,
    )
    failed = materialize(KEY, on=settings)[0]
    assert not failed.success
    assert f"logs/{KEY}/CE.txt:1:2" in failed.failure

    for outcome in (ok, failed):
        text = stored_text(instance, outcome.run_id) + (outcome.failure or "")
        assert "raw/cohort=" in text or "CE.txt" in text  # the search sees real content
        assert password not in text
        assert secret_key not in text


# -- every form of database URL SQLAlchemy accepts ---------------------------------------------

HARD_PASSWORD = "Pw#1/2?3@4%5x-"
"""Every character that breaks a naive reading of a URL: '#', '/', '?', '@', '%'."""
FORMS = {
    "mariadb": ("encoded", "raw", "query password", "query passwd"),
    "postgres": ("encoded", "raw", "query password"),  # libpq has no 'passwd'
}


@dataclass(frozen=True)
class Account:
    """A database user whose password holds every hard character, on a test's database."""

    driver: str
    host: str
    port: int
    user: str
    database: str
    password: str

    def url(self, form: str, password: str | None = None) -> str:
        secret = self.password if password is None else password
        where = f"{self.host}:{self.port}/{self.database}"
        if form == "encoded":
            return f"{self.driver}://{self.user}:{quote(secret, safe='')}@{where}"
        if form == "raw":  # only '@' must be escaped, or it ends the password early
            return f"{self.driver}://{self.user}:{secret.replace('@', '%40')}@{where}"
        key = {"query password": "password", "query passwd": "passwd"}[form]
        return f"{self.driver}://{self.user}@{where}?{key}={quote_plus(secret)}"


def written_forms(secret: str) -> list[str]:
    """How a password may appear in text: as is, percent-encoded, as a query value."""
    return [secret, quote(secret, safe=""), quote_plus(secret), secret.replace("@", "%40")]


@pytest.fixture
def account(request: pytest.FixtureRequest) -> Iterator[Account]:
    server_name = request.param
    running = request.getfixturevalue(server_name)
    url = request.getfixturevalue("mysql_url" if server_name == "mariadb" else "postgres_url")
    database = urlsplit(url).path.lstrip("/")
    user = f"secretive_{uuid.uuid4().hex[:8]}"
    password = HARD_PASSWORD + uuid.uuid4().hex[:8]
    if server_name == "mariadb":
        from energymobile_tests.support.mariadb import APP_PRIVILEGES

        conn = running.admin_connection()
        try:
            cursor = conn.cursor()
            cursor.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (user, password))
            cursor.execute(
                f"GRANT {', '.join(APP_PRIVILEGES)} ON `{database}`.* TO %s@'%%'", (user,)
            )
        finally:
            conn.close()
    else:
        from psycopg import sql

        from energymobile_tests.support.postgres import APP_GRANTS

        names = {"database": sql.Identifier(database), "user": sql.Identifier(user)}
        with running.admin_connection() as conn:
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(user), sql.Literal(password)
                )
            )
        with running.admin_connection(database) as conn:
            for grant in APP_GRANTS:
                conn.execute(sql.SQL(grant).format(**names))
    yield Account(running.DRIVER, running.host, running.port, user, database, password)
    if server_name == "mariadb":
        conn = running.admin_connection()
        try:
            conn.cursor().execute("DROP USER %s@'%%'", (user,))
        finally:
            conn.close()
    else:
        with running.admin_connection(database) as conn:
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(user)))
        with running.admin_connection() as conn:
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(user)))


def everything_kept(dagster_home: Path) -> str:
    """Every byte under the Dagster home (run storage, event logs, compute logs), as text."""
    files = sorted(p for p in dagster_home.rglob("*") if p.is_file())
    return "\n".join(p.read_bytes().decode("latin-1") for p in files)


@pytest.mark.parametrize(
    ("account", "form"),
    [pytest.param(s, f, id=f"{s}-{f}") for s, forms in FORMS.items() for f in forms],
    indirect=["account"],
)
def test_every_url_form_connects_and_its_password_shows_nowhere(
    account: Account, form: str, tmp_path, monkeypatch, capsys, caplog
):
    """A real connection with each form; then the CLI, successful and with a wrong password
    in the same form: its output, the logs and every file of Dagster's storage hold neither
    password, in any written form, while the masked URL is shown."""
    url = account.url(form)
    parsed = make_url(url)
    assert account.password in (parsed.password, *parsed.query.values())
    engine = create_engine(url)
    try:
        with engine.connect() as conn:  # the driver accepts it
            assert conn.execute(text("SELECT 1")).scalar() == 1
    finally:
        engine.dispose()

    home = tmp_path / "home"
    dagster_home = tmp_path / "dagster_home"
    monkeypatch.setenv("ENERGYMOBILE_HOME", str(home))
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
    monkeypatch.setenv("ENERGYMOBILE_MAX_SHORTFALL_HOURS", "3000")
    generate_cohort(home / "landing", KEY, cycles=SHORT_CYCLES)
    monkeypatch.setenv(DATABASE_URL_VAR, url)
    assert main(["backfill", "--cohorts", "1"]) == 0, capsys.readouterr()
    wrong = "Wr0ng#/?@%" + uuid.uuid4().hex[:8]
    monkeypatch.setenv(DATABASE_URL_VAR, account.url(form, password=wrong))
    assert main(["backfill", "--cohorts", "1"]) == 1

    shown = capsys.readouterr()
    said = shown.out + shown.err + caplog.text
    assert f"{KEY} FAILED: mysql_tables: " in said and "***" in said, said
    assert "1045" in said or "password authentication failed" in said, said
    kept = everything_kept(dagster_home)
    assert account.user in kept  # the search does see what Dagster stored
    for secret in (account.password, wrong):
        for written in written_forms(secret):
            assert written not in said, (form, written)
            assert written not in kept, (form, written)
