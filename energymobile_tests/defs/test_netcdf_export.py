"""netcdf_arrays through Dagster: the load and then the netCDF job materialized for short
generated cohorts, the stored file opened with xarray as a scientist would, and compared value
for value with the landed text files parsed independently (numpy.loadtxt), the hourly CSV and
profile.txt."""

from __future__ import annotations

import hashlib
from pathlib import Path

import dagster as dg
import numpy as np
import pyarrow.fs as pafs
import pytest
import xarray as xr

from energymobile.backfill import failure_reason
from energymobile.channels import CHANNELS, CONDITIONS
from energymobile.definitions import NETCDF_JOB, build_definitions
from energymobile.defs.partitions import partition_key
from energymobile.sample.generate import profile_path
from energymobile.storage.exports import cohort_csv_key, read_csv_export
from energymobile.storage.netcdf import netcdf_key
from energymobile.storage.object_store import open_object_store
from energymobile_tests.support.s3 import S3_BUCKET
from energymobile_tests.support.short_cohorts import SHORT_CYCLES

pytestmark = pytest.mark.integration

KEY = "2008-03-26"
ASSET = dg.AssetKey("netcdf_arrays")


@pytest.fixture
def materialize(materialize):
    """The cohort job, then the netCDF job; returns the netCDF job's outcomes."""

    def _load_then_export(*keys: str, **options):
        materialize(*keys, **options)
        return materialize(*keys, job=NETCDF_JOB, **options)

    return _load_then_export


def loadtxt(path: Path) -> np.ndarray:
    return np.loadtxt(path, delimiter="\t", dtype=np.float64, ndmin=2)


def open_stored(settings, key: str = KEY) -> xr.Dataset:
    """The stored object, downloaded and opened (loaded, so the file can go)."""
    data = open_object_store(settings.object_store).get_bytes(netcdf_key(key))
    path = Path(settings.home) / "opened.nc"
    path.write_bytes(data)
    with xr.open_dataset(path, engine="h5netcdf") as dataset:
        return dataset.load()


def assert_holds_the_delivery(dataset: xr.Dataset, folder: Path, landing: Path) -> None:
    """Every sample of every landed file, the profile rows, and the hours."""
    cycles = dataset.sizes["cycle"]
    for channel in CHANNELS:
        expected = loadtxt(folder / channel.file_name)
        assert dataset[channel.column].dtype == np.float64
        np.testing.assert_array_equal(dataset[channel.column].values, expected, channel.code)
    profile = loadtxt(profile_path(landing)).astype(np.int64)[:cycles]
    for col, condition in enumerate(CONDITIONS):
        np.testing.assert_array_equal(dataset[condition.column].values, profile[:, col])


def latest_metadata(instance: dg.DagsterInstance, key: str = KEY) -> dict:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=ASSET, asset_partitions=[str(partition_key(key))]),
        limit=1,
    ).records
    assert records, "netcdf_arrays was not materialized"
    return {k: v.value for k, v in records[0].asset_materialization.metadata.items()}


def test_the_file_holds_every_sample_labelled(settings, landing, generate, materialize, instance):
    folder = generate(KEY, seed=7)
    [outcome] = materialize(KEY)
    assert outcome.success, outcome.failure

    dataset = open_stored(settings)
    assert dict(dataset.sizes) == {
        "cycle": SHORT_CYCLES,
        "sample_100hz": 6000,
        "sample_10hz": 600,
        "sample_1hz": 60,
    }
    assert_holds_the_delivery(dataset, folder, landing)
    hourly = read_csv_export(
        open_object_store(settings.object_store).get_bytes(cohort_csv_key(KEY))
    )
    np.testing.assert_array_equal(
        dataset["date_time"].values, hourly["date_time"].to_numpy(dtype="datetime64[ns]")
    )
    assert dataset["cycle"].values.tolist() == hourly["cycle"].tolist()
    assert dataset["ts1"].attrs["units"] == "degC"
    assert dataset["eps1"].attrs["sampling_rate_hz"] == 100
    assert dataset.attrs["cohort"] == KEY
    receipts = {
        line.split()[1]: line.split()[0] for line in dataset.attrs["source_sha256sums"].splitlines()
    }
    assert receipts["PS1.txt"] == hashlib.sha256((folder / "PS1.txt").read_bytes()).hexdigest()

    metadata = latest_metadata(instance)
    stored = open_object_store(settings.object_store).get_bytes(netcdf_key(KEY))
    assert metadata["object_key"] == f"netcdf/cohort={KEY}.nc"
    assert metadata["uri"] == open_object_store(settings.object_store).uri(netcdf_key(KEY))
    assert metadata["bytes"] == len(stored)
    assert metadata["sha256"] == hashlib.sha256(stored).hexdigest()
    assert metadata["variables"] == [c.column for c in CHANNELS]
    assert metadata["dims"]["cycle"] == SHORT_CYCLES
    assert "sample_100hz" in metadata["preview"] and "Conventions" in metadata["preview"]


def test_a_rerun_replaces_the_file_with_the_same_values(settings, generate, materialize, instance):
    generate(KEY)
    assert materialize(KEY)[0].success
    store = open_object_store(settings.object_store)
    keys, first = store.list_keys(""), open_stored(settings)
    sha256 = latest_metadata(instance)["sha256"]
    assert materialize(KEY)[0].success
    assert store.list_keys("") == keys  # replaced, not added
    xr.testing.assert_identical(open_stored(settings), first)
    assert latest_metadata(instance)["sha256"] == sha256  # the same bytes, too


def test_a_corrected_redelivery_replaces_the_file(settings, landing, generate, materialize):
    generate(KEY, seed=1)
    assert materialize(KEY)[0].success
    folder = generate(KEY, cycles=SHORT_CYCLES + 2, seed=2)
    assert materialize(KEY)[0].success
    dataset = open_stored(settings)
    assert dataset.sizes["cycle"] == SHORT_CYCLES + 2
    assert_holds_the_delivery(dataset, folder, landing)


def _short_profile(landing: Path, rows: int) -> None:
    lines = profile_path(landing).read_bytes().splitlines(keepends=True)
    profile_path(landing).write_bytes(b"".join(lines[:rows]))


def test_a_delivery_kept_out_of_the_archive_is_not_exported(
    settings, landing, generate, materialize
):
    generate(KEY)
    _short_profile(landing, 10)
    outcome = materialize(KEY)[0]  # the load fails its rules, then the netCDF job runs
    assert not outcome.success
    failure = outcome.failure or ""
    assert failure.startswith("netcdf_arrays: ")
    assert f"cohort {KEY} has no archive" in failure
    assert open_object_store(settings.object_store).list_keys("") == []


def test_a_bad_redelivery_leaves_the_archive_and_the_file_as_they_were(
    settings, landing, generate, materialize, instance
):
    generate(KEY)
    assert materialize(KEY)[0].success
    store = open_object_store(settings.object_store)
    before, delivery = store.get_bytes(netcdf_key(KEY)), latest_metadata(instance)["delivery"]
    generate(KEY, seed=5)
    _short_profile(landing, 10)  # fails profile_covers_cycles: raw_archive is not written
    outcome = materialize(KEY)[0]  # the netCDF job exports the archive, which is unchanged
    assert outcome.success, outcome.failure
    assert latest_metadata(instance)["delivery"] == delivery
    assert store.get_bytes(netcdf_key(KEY)) == before


def test_without_an_archive_it_fails_saying_what_to_do(settings, generate, instance):
    generate(KEY)
    job = build_definitions(settings).resolve_job_def(NETCDF_JOB)
    result = job.execute_in_process(
        partition_key=partition_key(KEY),
        instance=instance,
        asset_selection=[ASSET],
        raise_on_error=False,
    )
    assert not result.success
    reason = failure_reason(result) or ""
    assert f"raw/cohort={KEY}/manifest.json is missing" in reason
    assert "materialize raw_logs for this cohort first" in reason


def test_on_s3_the_scientist_opens_the_uri_from_the_metadata(
    s3_settings, s3_drop, s3_prefix, materialize, instance, moto_s3
):
    folder = s3_drop(KEY)
    [outcome] = materialize(KEY, on=s3_settings)
    assert outcome.success, outcome.failure
    uri = latest_metadata(instance)["uri"]
    assert uri == f"s3://{S3_BUCKET}/{s3_prefix}/netcdf/cohort={KEY}.nc"
    stored = moto_s3.object_bytes(S3_BUCKET, f"{s3_prefix}/netcdf/cohort={KEY}.nc")
    assert latest_metadata(instance)["sha256"] == hashlib.sha256(stored).hexdigest()

    filesystem, path = pafs.FileSystem.from_uri(uri)  # the docs' recipe, read in place
    with (
        filesystem.open_input_file(path) as handle,
        xr.open_dataset(handle, engine="h5netcdf") as dataset,
    ):
        assert_holds_the_delivery(dataset.load(), folder, folder.parents[1])
