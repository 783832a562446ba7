"""Settings are validated where they are read: each bad value gives one sentence naming the
variable and what to write; paths of any name become URLs naming exactly that folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine

from energymobile.settings import (
    DATABASE_URL_VAR,
    FRESHNESS_DAYS_VAR,
    HOME_VAR,
    LANDING_VAR,
    MAX_SHORTFALL_VAR,
    OBJECT_STORE_VAR,
    POOL_WAIT_VAR,
    Settings,
    SettingsError,
    local_folder,
    sqlite_file,
    sqlite_url,
)
from energymobile.storage.object_store import open_object_store

pytestmark = pytest.mark.unit

FOLDER_NAMES = [
    "hh#A",
    "hh?A",
    "100%",
    "100%41",
    "a b",
    "ünïcødé",
    "q?x#y%20z ü",
    "a:b\\c;d&e=f+g@h",
    "quotes'\"`$x",
    "tab\tand\nnewline",
    "-lead~*[x]",
]
"""Characters URLs reserve (#, ?, %, :, ;, &, =, +, @), an escape lookalike, spaces, non-ASCII,
and what else a Linux folder name may hold: backslash, quotes, `$`, tab, newline, a leading
`-`, glob characters."""


def problems(env: dict[str, str]) -> list[str]:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(env)
    return caught.value.problems


@pytest.mark.parametrize(
    ("var", "value", "expected"),
    [
        (MAX_SHORTFALL_VAR, "24h", "is not a whole number of hours: write e.g."),
        (MAX_SHORTFALL_VAR, "-1", "is negative: write 0 or more hours"),
        (MAX_SHORTFALL_VAR, "2.5", "is not a whole number of hours"),
        (MAX_SHORTFALL_VAR, "1_000", "is not a whole number of hours"),
        (FRESHNESS_DAYS_VAR, "a week", "is not a whole number of days"),
        (FRESHNESS_DAYS_VAR, "-7", "is negative: write 0 or more days"),
        (POOL_WAIT_VAR, "30s", "is not a whole number of seconds"),
        (POOL_WAIT_VAR, "-5", "is negative"),
    ],
)
def test_a_bad_number_is_refused_naming_the_variable_and_the_value(var, value, expected):
    [problem] = problems({var: value})
    assert problem.startswith(f"{var}={value!r} ")
    assert expected in problem


@pytest.mark.parametrize(
    ("var", "value", "parsed"),
    [
        (MAX_SHORTFALL_VAR, "0", 0),
        (MAX_SHORTFALL_VAR, " 48 ", 48),
        (FRESHNESS_DAYS_VAR, "0", 0),
        (POOL_WAIT_VAR, "600", 600),
    ],
)
def test_whole_numbers_of_zero_or_more_are_taken(var, value, parsed):
    settings = Settings.from_env({var: value})
    field = {
        MAX_SHORTFALL_VAR: "max_shortfall_hours",
        FRESHNESS_DAYS_VAR: "export_due_days",
        POOL_WAIT_VAR: "pool_wait_seconds",
    }[var]
    assert getattr(settings, field) == parsed


def test_every_bad_setting_is_reported_at_once_one_line_each():
    found = problems({MAX_SHORTFALL_VAR: "24h", FRESHNESS_DAYS_VAR: "-1", POOL_WAIT_VAR: "x"})
    assert [p.split("=")[0] for p in found] == [
        MAX_SHORTFALL_VAR,
        FRESHNESS_DAYS_VAR,
        POOL_WAIT_VAR,
    ]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("not a url", "is not a database URL"),
        ("mysql+nosuchdriver://u:S3cret-pw@h/db", "unknown kind of database"),
        ("oracle2://u:S3cret-pw@h/db", "unknown kind of database"),
        ("mysql://u:S3cret@pw@h/db", "the password holds an '@'"),
    ],
)
def test_a_bad_database_url_is_refused_without_its_password(url, expected):
    [problem] = problems({DATABASE_URL_VAR: url})
    assert problem.startswith(DATABASE_URL_VAR)
    assert expected in problem
    assert "S3cret" not in problem and "pw@" not in problem


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///relative.sqlite",
        "sqlite:////abs/warehouse.sqlite",
        "mysql+mysqldb://u:p%23%2F%3F%40%25w@h:3306/db",
        "mysql+mysqldb://u:p#/?%40%w@h:3306/db",
        "mysql+mysqldb://u@h/db?password=p%23w",
        "postgresql+psycopg://u:pw@h:5432/db?sslmode=disable",
    ],
)
def test_database_urls_sqlalchemy_accepts_are_taken_as_written(url):
    assert Settings.from_env({DATABASE_URL_VAR: url}).database_url == url


@pytest.mark.parametrize(
    ("var", "value", "expected"),
    [
        (OBJECT_STORE_VAR, "s3://", "names no bucket"),
        (OBJECT_STORE_VAR, "file:///data/a#b", "a '?' or '#' must be written %3F or %23"),
        (OBJECT_STORE_VAR, "file:///data/a?b", "a '?' or '#' must be written %3F or %23"),
        (OBJECT_STORE_VAR, "file://server/share", "must be a local folder"),
        (OBJECT_STORE_VAR, "gs://bucket/x", "unknown kind 'gs'"),
        (LANDING_VAR, "ftp://host/landing", "unknown kind 'ftp'"),
        (LANDING_VAR, "s3://", "names no bucket"),
    ],
)
def test_a_bad_location_is_refused_saying_what_to_write(var, value, expected):
    [problem] = problems({var: value})
    assert problem.startswith(f"{var}={value!r}")
    assert expected in problem


def test_a_home_that_is_a_file_is_refused(tmp_path: Path):
    (tmp_path / "home").write_text("")
    [problem] = problems({HOME_VAR: str(tmp_path / "home")})
    assert "is a file, not a folder" in problem


@pytest.mark.parametrize("name", FOLDER_NAMES)
def test_a_home_of_any_name_gives_urls_naming_exactly_its_folders(tmp_path: Path, name: str):
    home = tmp_path / name
    settings = Settings.from_env({HOME_VAR: str(home)})
    assert settings.home == home
    store = open_object_store(settings.object_store)
    assert store.root == home / "s3"  # type: ignore[attr-defined]
    assert sqlite_file(settings.database_url) == home / "warehouse.sqlite"
    assert Path(settings.landing) == home / "landing"


def test_a_sqlite_url_names_exactly_its_file_and_sqlite_opens_that_file(tmp_path: Path):
    """SQLAlchemy 2.0 (Python 3.10's lock) read `sqlite:////…/hh?A/warehouse.sqlite` as the
    file `…/hh`; with either SQLAlchemy the URL opens the file it names, and nothing else."""
    folder = tmp_path / "q?x#y%41 ü"
    folder.mkdir()
    url = Settings.from_env({HOME_VAR: str(folder)}).database_url
    assert sqlite_file(url) == folder / "warehouse.sqlite"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    engine.dispose()
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == ["warehouse.sqlite"]


def test_two_homes_differing_after_a_hash_keep_apart(tmp_path: Path):
    """`file://…/hh#A/s3` cut at the '#' named one folder for both homes."""
    a = Settings.from_env({HOME_VAR: str(tmp_path / "hh#A")})
    b = Settings.from_env({HOME_VAR: str(tmp_path / "hh#B")})
    assert open_object_store(a.object_store).root != open_object_store(b.object_store).root  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", FOLDER_NAMES)
def test_file_urls_and_sqlite_urls_round_trip_any_folder_name(name: str):
    path = Path("/data") / name / "x"
    assert local_folder(path.as_uri()) == path
    assert sqlite_file(sqlite_url(path)) == path


def test_a_file_url_given_percent_encoded_names_the_decoded_folder():
    settings = Settings.from_env(
        {OBJECT_STORE_VAR: "file:///data/hh%23A%20x", LANDING_VAR: "file:///data/l%3Fx"}
    )
    assert open_object_store(settings.object_store).root == Path("/data/hh#A x")  # type: ignore[attr-defined]
    assert settings.landing == "/data/l?x"


def test_the_settings_repr_masks_the_password():
    url = "mysql+mysqldb://u:Very-S3cret@h/db?password=Other-S3cret"
    text = repr(Settings.from_env({DATABASE_URL_VAR: url}))
    assert "Very-S3cret" not in text and "Other-S3cret" not in text
    assert "u:***@h" in text
