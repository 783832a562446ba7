"""S3ObjectStore and S3Landing against a real S3 HTTP endpoint (moto server, auth on), with the
pipeline's least-privilege credentials from the environment."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from boto3.s3.transfer import TransferConfig

from energymobile.ingest.delivery import read_delivery
from energymobile.ingest.errors import InputError
from energymobile.rigs import DEFAULT_RIG, Rig
from energymobile.storage.landing import open_landing
from energymobile.storage.object_store import open_object_store
from energymobile.storage.s3 import S3AccessError, S3Landing, S3ObjectStore, least_privilege_policy
from energymobile_tests.support.s3 import S3_ABSENT_BUCKET, S3_BUCKET, S3_LANDING_BUCKET, MotoS3
from energymobile_tests.support.short_cohorts import SHORT_CYCLES

pytestmark = pytest.mark.integration

MIB = 1024 * 1024
SMALL_PARTS = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB)
"""S3's smallest part size, so multipart is exercised with little data."""
DOCS = Path(__file__).parents[2] / "docs" / "s3.md"


def _store(prefix: str, transfer: TransferConfig | None = None) -> S3ObjectStore:
    if transfer is not None:
        return S3ObjectStore(S3_BUCKET, prefix, transfer=transfer)
    store = open_object_store(f"s3://{S3_BUCKET}/{prefix}")
    assert isinstance(store, S3ObjectStore)
    return store


def _chunks(data: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def _secrets(moto_s3: MotoS3, *extra: str) -> list[str]:
    return [moto_s3.secret_access_key, *extra]


def test_put_bytes_stores_checksum_rows_and_content_type(moto_s3, s3_prefix):
    store = _store(s3_prefix)
    data = b"cohort,cycle\n2008-03-26,0\n2008-03-26,1\n"
    stored = store.put_bytes("a/data.csv", data, rows=2, metadata={"source-sha256": "ab12"})

    full_key = f"{s3_prefix}/a/data.csv"
    assert stored.uri == f"s3://{S3_BUCKET}/{full_key}"
    assert (stored.key, stored.bytes, stored.rows) == ("a/data.csv", len(data), 2)
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    head = moto_s3.admin.head_object(Bucket=S3_BUCKET, Key=full_key)
    assert head["ContentType"] == "text/csv"
    assert head["Metadata"] == {"sha256": stored.sha256, "rows": "2", "source-sha256": "ab12"}
    assert store.get_bytes("a/data.csv") == data
    assert b"".join(store.iter_chunks("a/data.csv", chunk_bytes=7)) == data
    assert store.list_keys("a/") == ["a/data.csv"]
    assert store.exists("a/data.csv") and not store.exists("a/data")


def test_list_keys_stays_inside_the_prefix(moto_s3, s3_prefix):
    store = _store(s3_prefix)
    sibling = _store(s3_prefix + "-sibling")
    store.put_bytes("b.csv", b"x")
    store.put_bytes("a/c.csv", b"y")
    sibling.put_bytes("b.csv", b"z")
    assert store.list_keys("") == ["a/c.csv", "b.csv"]
    assert sibling.list_keys("") == ["b.csv"]


def test_a_long_stream_goes_up_in_parts_and_replaces_the_object_whole(moto_s3, s3_prefix):
    store = _store(s3_prefix, transfer=SMALL_PARTS)
    store.put_bytes("combined.csv", b"old contents\n")
    data = bytes(range(256)) * (12 * MIB // 256 + 17)

    stored = store.put_stream("combined.csv", _chunks(data))

    full_key = f"{s3_prefix}/combined.csv"
    head = moto_s3.admin.head_object(Bucket=S3_BUCKET, Key=full_key)
    assert head["ETag"].strip('"').endswith("-3"), "expected a three-part multipart upload"
    assert moto_s3.object_bytes(S3_BUCKET, full_key) == data
    assert (stored.bytes, stored.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert store.list_keys("") == ["combined.csv"]


def test_a_failed_stream_keeps_the_old_object_and_leaves_no_upload(moto_s3, s3_prefix):
    store = _store(s3_prefix, transfer=SMALL_PARTS)
    store.put_bytes("combined.csv", b"old contents\n")

    def failing() -> Iterator[bytes]:
        yield from _chunks(b"n" * 11 * MIB)  # two parts uploaded before the failure
        raise RuntimeError("cohort vanished mid-stream")

    with pytest.raises(RuntimeError, match="cohort vanished mid-stream"):
        store.put_stream("combined.csv", failing())

    assert store.get_bytes("combined.csv") == b"old contents\n"
    uploads = moto_s3.admin.list_multipart_uploads(Bucket=S3_BUCKET, Prefix=s3_prefix)
    assert uploads.get("Uploads", []) == []


def test_a_missing_object_is_file_not_found(moto_s3, s3_prefix):
    with pytest.raises(FileNotFoundError, match=rf"s3://{S3_BUCKET}/{s3_prefix}/nothing.csv"):
        _store(s3_prefix).get_bytes("nothing.csv")


def test_keys_cannot_climb_out_of_the_prefix(moto_s3, s3_prefix):
    with pytest.raises(ValueError, match="escapes the store"):
        _store(s3_prefix).put_bytes("../elsewhere/x.csv", b"x")


def test_a_missing_bucket_is_named_without_the_secret(moto_s3, s3_prefix):
    store = open_object_store(f"s3://{S3_ABSENT_BUCKET}/{s3_prefix}")
    with pytest.raises(S3AccessError) as raised:
        store.put_bytes("x.csv", b"x")
    message = str(raised.value)
    assert f"S3 bucket '{S3_ABSENT_BUCKET}' does not exist" in message
    assert moto_s3.endpoint in message
    assert "ENERGYMOBILE_OBJECT_STORE" in message
    assert all(secret not in message for secret in _secrets(moto_s3))
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


def test_a_wrong_secret_is_named_without_the_secret(moto_s3, s3_prefix, monkeypatch):
    wrong = "wrong-secret-0123456789abcdefghijklmnopqrstuv"
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", wrong)
    with pytest.raises(S3AccessError) as raised:
        _store(s3_prefix).put_bytes("x.csv", b"x")
    message = str(raised.value)
    assert f"bucket '{S3_BUCKET}'" in message
    assert "AWS_SECRET_ACCESS_KEY does not match AWS_ACCESS_KEY_ID" in message
    assert all(secret not in message for secret in _secrets(moto_s3, wrong))


def test_an_unknown_access_key_is_named_without_the_secret(moto_s3, s3_prefix, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAUNKNOWNUNKNOWN000")
    with pytest.raises(S3AccessError) as raised:
        _store(s3_prefix).list_keys("")
    message = str(raised.value)
    assert f"bucket '{S3_BUCKET}'" in message
    assert "check AWS_ACCESS_KEY_ID" in message
    assert all(secret not in message for secret in _secrets(moto_s3))


def test_missing_credentials_say_what_to_set(moto_s3, s3_prefix, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(S3AccessError, match=f"no AWS credentials for S3 bucket '{S3_BUCKET}'"):
        _store(s3_prefix).put_bytes("x.csv", b"x")


def test_the_policy_denies_writes_outside_the_granted_prefix(moto_s3):
    """The pipeline's identity holds only the least-privilege policy: proof that it suffices
    for everything else in these tests, and that it grants no more."""
    with pytest.raises(S3AccessError) as raised:
        _store("not-granted").put_bytes("x.csv", b"x")
    message = str(raised.value)
    assert f"access denied to s3://{S3_BUCKET}/not-granted/x.csv for PutObject" in message
    assert "docs/s3.md" in message
    with pytest.raises(S3AccessError, match="access denied"):
        open_object_store(f"s3://{S3_LANDING_BUCKET}/tests/x").put_bytes("x.csv", b"x")


def test_a_landing_drop_is_listed_and_read_from_s3(moto_s3, s3_prefix, s3_drop):
    folder = s3_drop("2008-03-26")
    base = f"{s3_prefix}/logs/2008-03-26"
    for extra in (".DS_Store", "notes/readme.txt", ""):  # hidden, nested, console folder marker
        moto_s3.admin.put_object(Bucket=S3_LANDING_BUCKET, Key=f"{base}/{extra}", Body=b"")
    moto_s3.admin.put_object(Bucket=S3_LANDING_BUCKET, Key=f"{s3_prefix}/logs/.tmp/x", Body=b"")

    landing = open_landing(f"s3://{S3_LANDING_BUCKET}/{s3_prefix}")
    assert isinstance(landing, S3Landing)
    assert landing.cohort_folders() == ["2008-03-26"]
    listed = landing.list_cohort("2008-03-26")
    local = {p.name: p for p in folder.iterdir()}
    assert sorted(listed) == sorted(local) and len(listed) == 17
    assert all(listed[name].size == path.stat().st_size for name, path in local.items())
    assert all(f.modified > 1e9 for f in listed.values())
    assert landing.read_cohort_file("2008-03-26", "TS1.txt") == (folder / "TS1.txt").read_bytes()
    profile = folder.parents[1] / "profile" / "profile.txt"
    assert landing.read_profile() == profile.read_bytes()
    assert landing.describe("2008-03-26") == f"s3://{S3_LANDING_BUCKET}/{base}"
    assert landing.list_cohort("2008-06-26") == {}

    # A fleet rig beside the single-rig layout (storage/landing.py): sites/<site>/<rig>/logs/.
    north = Rig("north", "rig-1")
    fleet = f"{s3_prefix}/sites/north/rig-1/logs/2008-03-26"
    moto_s3.admin.put_object(Bucket=S3_LANDING_BUCKET, Key=f"{fleet}/TS1.txt", Body=b"fleet\n")
    assert landing.rig_folders().rigs == [DEFAULT_RIG, north]
    assert landing.cohort_folders(north) == ["2008-03-26"]
    assert list(landing.list_cohort("2008-03-26", north)) == ["TS1.txt"]
    assert landing.read_cohort_file("2008-03-26", "TS1.txt", north) == b"fleet\n"
    assert landing.describe("2008-03-26", north) == f"s3://{S3_LANDING_BUCKET}/{fleet}"


def test_a_landing_file_gone_after_the_listing_is_named_as_the_landing_names_it(
    moto_s3, s3_prefix, s3_drop
):
    """Issue 15: a file listed, then removed from the S3 landing before it is read (a
    technician re-uploading, a lifecycle rule) is an InputError naming it as the landing does,
    not a bare FileNotFoundError with the bucket's URL; the profile likewise."""
    s3_drop("2008-03-26")
    landing = open_landing(f"s3://{S3_LANDING_BUCKET}/{s3_prefix}")
    available = landing.list_cohort("2008-03-26").keys()

    def read(profile: Callable[[], bytes]) -> None:
        read_delivery(
            "2008-03-26",
            available=available,
            read=lambda name: landing.read_cohort_file("2008-03-26", name),
            read_profile_bytes=profile,
        )

    moto_s3.admin.delete_object(Bucket=S3_LANDING_BUCKET, Key=f"{s3_prefix}/profile/profile.txt")
    with pytest.raises(InputError, match=r"^profile/profile\.txt: missing: "):
        read(landing.read_profile)
    profile = b"3\t100\t0\t130\t1\n" * SHORT_CYCLES
    moto_s3.admin.delete_object(Bucket=S3_LANDING_BUCKET, Key=f"{s3_prefix}/logs/2008-03-26/SE.txt")
    with pytest.raises(InputError, match=r"^logs/2008-03-26/SE\.txt: missing: it was listed but"):
        read(lambda: profile)


def test_the_policy_in_the_docs_is_the_one_enforced_here():
    text = DOCS.read_text()
    block = re.search(r"<!-- policy -->\s*```json\n(.*?)```", text, re.DOTALL)
    assert block, "docs/s3.md lost its policy block"
    expected = least_privilege_policy(
        object_stores=["s3://energymobile-data/prod"],
        landings=["s3://energymobile-landing/drops"],
    )
    assert json.loads(block.group(1)) == expected
