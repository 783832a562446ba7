"""Every form of database URL SQLAlchemy accepts is masked: password percent-encoded or not,
holding `#`, `/`, `?`, `@`, `%`, or given in the query; what SQLAlchemy cannot parse is masked
whole. The secrets a URL carries are found in each written form, and scrubbed from text."""

from __future__ import annotations

from urllib.parse import quote, quote_plus

import pytest
from sqlalchemy.engine import make_url

from energymobile.redaction import redact_url, scrub, url_secrets

pytestmark = pytest.mark.unit

PASSWORD = "Pw#1/2?3@4%5x"
"""Every character that breaks a naive reading of the URL."""


def forms(password: str = PASSWORD) -> dict[str, str]:
    """The URL forms SQLAlchemy accepts for this password, each parsed back to it."""
    raw = password.replace("@", "%40")  # a raw '@' would end the password early
    encoded, plus = quote(password, safe=""), quote_plus(password)
    mysql, postgres = "mysql+mysqldb://app", "postgresql+psycopg://app"
    return {
        "encoded": f"{mysql}:{encoded}@db.example:3306/wh",
        "raw": f"{mysql}:{raw}@db.example:3306/wh",
        "query password": f"{mysql}@db.example:3306/wh?password={plus}",
        "query passwd": f"{mysql}@db.example:3306/wh?charset=utf8mb4&passwd={encoded}",
        "postgres query": f"{postgres}@db.example/wh?password={plus}&sslmode=require",
        "ipv6": f"{postgres}:{encoded}@[::1]:5432/wh",
    }


def fragments(password: str = PASSWORD) -> list[str]:
    """Parts of the password any leak would show (each run of it between reserved chars)."""
    return ["Pw", "1/2", "3@4", "4%5x", quote(password, safe=""), quote_plus(password)]


@pytest.mark.parametrize("form", list(forms()))
def test_sqlalchemy_reads_each_form_as_the_password(form):
    url = make_url(forms()[form])
    assert PASSWORD in (url.password, url.query.get("password"), url.query.get("passwd"))


@pytest.mark.parametrize("form", list(forms()))
def test_every_accepted_form_is_masked(form):
    shown = redact_url(forms()[form])
    assert "***" in shown
    assert all(fragment not in shown for fragment in fragments()), shown
    assert "db.example" in shown or "::1" in shown  # still says where


def test_the_user_host_port_database_and_harmless_query_stay_readable():
    shown = redact_url(forms()["query passwd"])
    assert shown == "mysql+mysqldb://app@db.example:3306/wh?charset=utf8mb4&passwd=***"
    assert redact_url(forms()["encoded"]) == "mysql+mysqldb://app:***@db.example:3306/wh"
    assert redact_url("http://127.0.0.1:5000") == "http://127.0.0.1:5000"
    assert redact_url("sqlite:////data/warehouse.sqlite") == "sqlite:////data/warehouse.sqlite"
    assert redact_url("/plain/path#not-a-secret") == "/plain/path#not-a-secret"


def test_a_raw_at_sign_that_sqlalchemy_misreads_is_masked_too():
    """`p@ss@host`: SQLAlchemy ends the password at the first '@', the rest becomes the host."""
    shown = redact_url("mysql://app:Sec@ret-part@db.example/wh")
    assert shown == "mysql://app:***@db.example/wh"
    assert "ret-part" not in shown


def test_what_does_not_parse_is_masked_whole():
    assert redact_url("mysql://app:S3cret@db.example:no-port/wh") == "mysql://***"
    assert redact_url("my sql://app:S3cret@db.example/wh") == "***://***"


@pytest.mark.parametrize("form", list(forms()))
def test_the_secrets_of_a_url_are_found_in_every_written_form(form):
    found = url_secrets(forms()[form])
    assert PASSWORD in found
    assert quote(PASSWORD, safe="") in found and quote_plus(PASSWORD) in found


def test_scrub_masks_each_written_form_in_text():
    text = f"error for {PASSWORD} or {quote(PASSWORD, safe='')} or {quote_plus(PASSWORD)}"
    clean = scrub(text, url_secrets(forms()["encoded"]))
    assert all(fragment not in clean for fragment in fragments())
    assert clean == "error for *** or *** or ***"
