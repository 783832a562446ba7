"""Known secrets through the whole chain (MariaDB + S3): nowhere in what Dagster keeps.

The database password and the AWS secret key reach the pipeline only through the environment.
After a successful run and a failed one, every stored event, the run, its job snapshot and
the failure text are searched for them.
"""

from __future__ import annotations

import dataclasses
from urllib.parse import urlsplit

import pytest

from energymobile.settings import DATABASE_URL_VAR
from energymobile_tests.support.readback import stored_text

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
