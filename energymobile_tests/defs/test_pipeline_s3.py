"""The whole chain through Dagster with the landing and the object store in S3 (moto server,
credential checking on, the pipeline holding only the least-privilege policy of docs/s3.md)."""

from __future__ import annotations

import dataclasses
import hashlib
import json

import dagster as dg
import pandas as pd
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pytest

from energymobile.backfill import materialize_combined
from energymobile.defs.partitions import cohort_site_partitions, partition_key
from energymobile.dictionary import CSV_HEADER, PARQUET_COLUMNS
from energymobile.storage.archive import decompress, read_archive
from energymobile.storage.exports import (
    COMBINED_KEY,
    DICTIONARY_KEY,
    HISTORICAL_PREFIX,
    PARQUET_PREFIX,
    cohort_csv_key,
    cohort_parquet_key,
    csv_header,
    read_csv_export,
)
from energymobile.storage.io_managers import HistoricalCsvIOManager
from energymobile.storage.resources import ObjectStoreResource
from energymobile.storage.s3 import S3ObjectStore
from energymobile.storage.warehouse import FLAT_COLUMNS
from energymobile_tests.support.readback import stored_text
from energymobile_tests.support.s3 import S3_ABSENT_BUCKET, S3_BUCKET, S3_LANDING_BUCKET
from energymobile_tests.support.short_cohorts import SHORT_CYCLES

INTERMEDIATE_ASSETS = ("raw_logs", "hourly_readings", "profile_merged")

pytestmark = pytest.mark.integration

KEYS = ("2008-03-26", "2008-06-26")
EXPORT = dg.AssetKey("s3_historical_csv")
COMBINED = dg.AssetKey("combined_csv")


def _materialization(
    instance: dg.DagsterInstance, key: str | None, asset: dg.AssetKey = EXPORT
) -> dg.AssetMaterialization:
    partitions = [str(partition_key(key))] if key else None
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=asset, asset_partitions=partitions), limit=1
    ).records
    assert records, f"no materialization of {asset.to_user_string()} for {key}"
    materialization = records[0].asset_materialization
    assert materialization is not None
    return materialization


def _read_s3_csv(uri: str) -> pd.DataFrame:
    """pandas.read_csv on an s3:// URI needs s3fs; pyarrow's S3 client (what read_parquet
    uses) opens the same URI from the same environment."""
    filesystem, path = pafs.FileSystem.from_uri(uri)
    with filesystem.open_input_stream(path) as stream:
        return pd.read_csv(stream)


def test_two_cohorts_run_end_to_end_on_s3(
    s3_settings, s3_drop, s3_prefix, materialize, instance, moto_s3
):
    delivered = {key: s3_drop(key, seed=index) for index, key in enumerate(KEYS)}
    outcomes = materialize(*KEYS, on=s3_settings)
    assert [o.success for o in outcomes] == [True, True], [o.failure for o in outcomes]
    outcomes.append(materialize_combined(settings=s3_settings, instance=instance))
    assert outcomes[-1].success, outcomes[-1].failure

    received = {
        key: {p.name: p.read_bytes() for p in [*folder.iterdir(), *folder.parents[1].glob("p*/*")]}
        for key, folder in delivered.items()
    }
    assert all(len(files) == 18 for files in received.values())
    expected_keys = [COMBINED_KEY, DICTIONARY_KEY]
    for key, files in received.items():
        expected_keys += [cohort_csv_key(key), cohort_parquet_key(key)]
        delivery = read_archive(S3ObjectStore(S3_BUCKET, s3_prefix), key).delivery
        expected_keys += [f"raw/cohort={key}/delivery={delivery}/{name}.zst" for name in files]
        expected_keys.append(f"raw/cohort={key}/manifest.json")
        # The values between steps, beside the exports so any host's run can read them.
        expected_keys += [f"intermediate/{a}/{key}/default" for a in INTERMEDIATE_ASSETS]
    assert moto_s3.keys(S3_BUCKET, f"{s3_prefix}/") == sorted(
        f"{s3_prefix}/{k}" for k in expected_keys
    )

    base = f"s3://{S3_BUCKET}/{s3_prefix}"
    frames = []
    for key in KEYS:
        metadata = _materialization(instance, key).metadata
        csv_uri, parquet_uri = metadata["csv_uri"].value, metadata["parquet_uri"].value
        assert csv_uri == f"{base}/{HISTORICAL_PREFIX}/cohort={key}/data.csv"
        assert parquet_uri == f"{base}/{PARQUET_PREFIX}/site=default/cohort={key}/data.parquet"
        assert metadata["dictionary_uri"].value == f"{base}/{DICTIONARY_KEY}"
        csv_bytes = moto_s3.object_bytes(S3_BUCKET, f"{s3_prefix}/{cohort_csv_key(key)}")
        assert csv_bytes.startswith(CSV_HEADER)
        assert metadata["csv_bytes"].value == len(csv_bytes)
        assert metadata["csv_sha256"].value == hashlib.sha256(csv_bytes).hexdigest()

        csv = _read_s3_csv(csv_uri)  # the URI from the metadata, as a scientist would paste it
        assert len(csv) == SHORT_CYCLES and (csv["cohort"] == key).all()
        parquet = pd.read_parquet(parquet_uri)
        assert list(parquet.columns) == [c.name for c in PARQUET_COLUMNS]
        assert str(pd.Timestamp(parquet["date_time"].iloc[0])) == f"{key} 00:00:00"
        typed = read_csv_export(csv_bytes)
        data_columns = list(parquet.columns)  # site and cohort: in the path
        pd.testing.assert_frame_equal(typed[data_columns], parquet, check_dtype=False)
        frames.append(typed)

    combined = moto_s3.object_bytes(S3_BUCKET, f"{s3_prefix}/{COMBINED_KEY}")
    bodies = [
        moto_s3.object_bytes(S3_BUCKET, f"{s3_prefix}/{cohort_csv_key(k)}").split(b"\n", 1)[1]
        for k in KEYS
    ]
    assert combined == csv_header() + b"".join(bodies)
    pd.testing.assert_frame_equal(read_csv_export(combined), pd.concat(frames, ignore_index=True))
    latest = _materialization(instance, None, COMBINED).metadata
    assert latest["uri"].value == f"{base}/{COMBINED_KEY}"
    assert latest["sha256"].value == hashlib.sha256(combined).hexdigest()
    assert (latest["cohorts"].value, latest["dagster/row_count"].value) == (2, 2 * SHORT_CYCLES)

    # The docs' recipes for the whole history, on the bucket itself.
    history = ds.dataset(f"{base}/{PARQUET_PREFIX}/", format="parquet", partitioning="hive")
    assert history.to_table().num_rows == SHORT_CYCLES * len(KEYS)
    frame = pd.read_parquet(f"{base}/{PARQUET_PREFIX}/")
    assert sorted(frame["cohort"].astype(str).unique()) == list(KEYS)

    for key, files in received.items():
        for name, data in files.items():
            delivery = read_archive(S3ObjectStore(S3_BUCKET, s3_prefix), key).delivery
            archived = f"{s3_prefix}/raw/cohort={key}/delivery={delivery}/{name}.zst"
            assert decompress(moto_s3.object_bytes(S3_BUCKET, archived)) == data
            head = moto_s3.admin.head_object(Bucket=S3_BUCKET, Key=archived)
            assert head["Metadata"]["source-sha256"] == hashlib.sha256(data).hexdigest()
            assert head["Metadata"]["source-bytes"] == str(len(data))
        manifest = json.loads(
            moto_s3.object_bytes(S3_BUCKET, f"{s3_prefix}/raw/cohort={key}/manifest.json")
        )
        assert {f["name"]: f["sha256"] for f in manifest["files"]} == {
            name: hashlib.sha256(data).hexdigest() for name, data in files.items()
        }

    for outcome in outcomes:
        assert moto_s3.secret_access_key not in stored_text(instance, outcome.run_id)


def test_the_io_manager_loads_a_partition_back_from_s3(s3_settings, s3_drop, materialize, instance):
    s3_drop(KEYS[0])
    assert materialize(KEYS[0], on=s3_settings)[0].success
    manager = HistoricalCsvIOManager(object_store=ObjectStoreResource(url=s3_settings.object_store))
    context = dg.build_input_context(
        asset_key=EXPORT,
        partition_key=partition_key(KEYS[0]),
        asset_partitions_def=cohort_site_partitions,
        instance=instance,
    )
    frame = manager.load_input(context)
    assert list(frame.columns) == list(FLAT_COLUMNS) and len(frame) == SHORT_CYCLES
    assert frame["cycle"].tolist() == list(range(SHORT_CYCLES))


def test_a_corrected_redelivery_replaces_the_cohort_in_the_bucket(
    s3_settings, s3_drop, s3_prefix, materialize, moto_s3, instance
):
    key = KEYS[0]
    s3_drop(key, seed=1)
    assert materialize(key, on=s3_settings)[0].success
    assert materialize_combined(settings=s3_settings, instance=instance).success
    before = moto_s3.keys(S3_BUCKET, f"{s3_prefix}/")
    folder = s3_drop(key, cycles=SHORT_CYCLES + 2, seed=2)
    outcome = materialize(key, on=s3_settings)[0]
    assert outcome.success, outcome.failure
    assert materialize_combined(settings=s3_settings, instance=instance).success

    # Replaced, not duplicated; the archive keeps the earlier delivery in its own folder.
    after = moto_s3.keys(S3_BUCKET, f"{s3_prefix}/")
    archive_folder = f"{s3_prefix}/raw/cohort={key}/"
    assert [k for k in after if not k.startswith(archive_folder)] == [
        k for k in before if not k.startswith(archive_folder)
    ]
    assert set(before) < set(after)
    combined = read_csv_export(moto_s3.object_bytes(S3_BUCKET, f"{s3_prefix}/{COMBINED_KEY}"))
    assert combined["cycle"].tolist() == list(range(SHORT_CYCLES + 2))
    cohort = read_csv_export(moto_s3.object_bytes(S3_BUCKET, f"{s3_prefix}/{cohort_csv_key(key)}"))
    pd.testing.assert_frame_equal(cohort, combined)
    store = S3ObjectStore(S3_BUCKET, s3_prefix)
    assert read_archive(store, key).read(store, "TS1.txt") == (folder / "TS1.txt").read_bytes()


def test_wrong_credentials_fail_clearly_without_the_secret(
    s3_settings, s3_drop, materialize, instance, moto_s3, monkeypatch
):
    s3_drop(KEYS[0])
    wrong = "wrong-secret-0123456789abcdefghijklmnopqrstuv"
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", wrong)
    outcome = materialize(KEYS[0], on=s3_settings)[0]

    assert not outcome.success
    assert f"bucket '{S3_LANDING_BUCKET}'" in outcome.failure
    assert "AWS_SECRET_ACCESS_KEY does not match AWS_ACCESS_KEY_ID" in outcome.failure
    stored = stored_text(instance, outcome.run_id)
    for secret in (wrong, moto_s3.secret_access_key):
        assert secret not in outcome.failure
        assert secret not in stored


def test_a_missing_bucket_fails_clearly(s3_settings, s3_drop, s3_prefix, materialize, moto_s3):
    s3_drop(KEYS[0])
    absent = dataclasses.replace(s3_settings, object_store=f"s3://{S3_ABSENT_BUCKET}/{s3_prefix}")
    outcome = materialize(KEYS[0], on=absent)[0]

    assert not outcome.success
    assert outcome.failure.startswith("raw_logs: ")  # archiving the valid delivery failed
    assert f"S3 bucket '{S3_ABSENT_BUCKET}' does not exist" in outcome.failure
    assert moto_s3.endpoint in outcome.failure
    assert moto_s3.secret_access_key not in outcome.failure
