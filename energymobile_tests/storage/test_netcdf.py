"""The netCDF file of a cohort: what the pure parts build (dimensions, coordinates, attributes,
CF flags, values) and what the writer stores, checked against generated sensor files read
independently with numpy.loadtxt."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from energymobile.channels import CHANNEL_BY_CODE, CHANNELS, CONDITIONS, Channel
from energymobile.cohorts import cycle_times
from energymobile.ingest import arrays
from energymobile.ingest.delivery import Delivery, read_delivery
from energymobile.ingest.reduce import FileReceipt
from energymobile.sample.generate import generate_cohort, profile_path
from energymobile.storage.archive import ArchiveMissing, archive_delivery, compress, read_archive
from energymobile.storage.netcdf import (
    ZLIB_LEVEL,
    CohortFileWriter,
    chunk_rows,
    export_cohort,
    netcdf_key,
    write_cohort_file,
)
from energymobile.storage.object_store import LocalObjectStore

KEY = "2008-06-26"
CYCLES = 12


def loadtxt(path: Path) -> np.ndarray:
    """A delivered file parsed without our parser."""
    return np.loadtxt(path, delimiter="\t", dtype=np.float64, ndmin=2)


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    generate_cohort(tmp_path / "landing", KEY, cycles=CYCLES, seed=3)
    return tmp_path / "landing"


def _read(landing: Path, **callbacks) -> Delivery:
    folder = landing / "logs" / KEY
    return read_delivery(
        KEY,
        available=[p.name for p in folder.iterdir()],
        read=lambda name: (folder / name).read_bytes(),
        read_profile_bytes=profile_path(landing).read_bytes,
        **callbacks,
    )


@pytest.fixture
def tables(landing: Path) -> list[tuple[Channel, np.ndarray]]:
    collected: list[tuple[Channel, np.ndarray]] = []
    _read(landing, on_table=lambda channel, table: collected.append((channel, table)))
    return collected


@pytest.fixture
def store(tmp_path: Path, landing: Path) -> LocalObjectStore:
    """The cohort archived as raw_logs archives a valid delivery."""
    store = LocalObjectStore(tmp_path / "s3")
    compressed: dict[str, bytes] = {}
    delivery = _read(landing, on_valid=lambda name, data: compressed.update({name: compress(data)}))
    archive_delivery(store, KEY, compressed, list(delivery.receipts))
    return store


@pytest.mark.unit
def test_the_frame_has_a_sample_dimension_per_rate_in_seconds():
    frame = arrays.frame(KEY, CYCLES)
    assert dict(frame.sizes) == {
        "cycle": CYCLES,
        "sample_100hz": 6000,
        "sample_10hz": 600,
        "sample_1hz": 60,
    }
    assert frame["cycle"].values.tolist() == list(range(CYCLES))
    np.testing.assert_array_equal(frame["sample_1hz"].values, np.arange(60.0))
    assert frame["sample_10hz"].values[:3].tolist() == [0.0, 0.1, 0.2]
    assert frame["sample_100hz"].values[-1] == 59.99
    assert frame["sample_100hz"].attrs["units"] == "s"
    assert frame.attrs["Conventions"] == "CF-1.8"
    assert frame.attrs["window_start"] == "2008-06-26T00:00:00Z"
    assert frame.attrs["window_end"] == "2008-09-26T00:00:00Z"
    assert "doi:10.1109/I2MTC.2015.7151267" in frame.attrs["references"]


@pytest.mark.unit
@pytest.mark.parametrize(
    ("code", "dim", "units"),
    [
        ("PS1", "sample_100hz", "bar"),
        ("FS2", "sample_10hz", "l/min"),
        ("TS3", "sample_1hz", "degC"),
    ],
)
def test_a_sensor_is_one_variable_at_its_own_rate(code: str, dim: str, units: str):
    channel = CHANNEL_BY_CODE[code]
    table = np.arange(CYCLES * channel.samples, dtype=np.float64).reshape(CYCLES, -1)
    variable = arrays.sensor_variable(channel, table)[code.lower()]
    assert variable.dims == ("cycle", dim)
    assert variable.dtype == np.float64
    np.testing.assert_array_equal(variable.values, table)
    assert variable.attrs["units"] == units
    assert variable.attrs["sampling_rate_hz"] == channel.rate_hz
    assert variable.attrs["sensor"] == code
    assert channel.quantity in variable.attrs["long_name"]
    assert f"{channel.file_name}" in variable.attrs["description"]


@pytest.mark.unit
def test_a_table_of_the_wrong_width_is_refused():
    with pytest.raises(ValueError, match=r"PS1: expected \(cycles × 6000\)"):
        arrays.sensor_variable(CHANNEL_BY_CODE["PS1"], np.zeros((CYCLES, 600)))


@pytest.mark.integration
def test_cycle_labels_are_the_hours_and_the_profile_rows(landing: Path):
    profile = loadtxt(profile_path(landing)).astype(np.int64)
    labels = arrays.cycle_labels(KEY, profile, CYCLES)
    assert labels["date_time"].values.tolist() == [
        np.datetime64(t, "ns").astype(int) for t in cycle_times(KEY, CYCLES)
    ]
    assert str(labels["date_time"].values[-1]) == "2008-06-26T11:00:00.000000000"
    for col, condition in enumerate(CONDITIONS):
        label = labels[condition.column]
        assert label.dims == ("cycle",)
        np.testing.assert_array_equal(label.values, profile[:CYCLES, col])
        assert label.attrs["long_name"] == condition.title
        assert label.attrs["flag_values"].tolist() == list(condition.codes)
        meanings = label.attrs["flag_meanings"].split(" ")
        assert [m.replace("_", " ") for m in meanings] == list(condition.codes.values())
    cooler = labels["cooler_condition"].attrs
    assert cooler["flag_meanings"] == "close_to_total_failure reduced_efficiency full_efficiency"
    assert cooler["flag_values"].tolist() == [3, 20, 100]


@pytest.mark.unit
def test_a_profile_shorter_than_the_cohort_cannot_label_it():
    with pytest.raises(ValueError, match=r"profile\.txt has 3 rows but the cohort has 4 cycles"):
        arrays.cycle_labels(KEY, np.zeros((3, 5), dtype=np.int64), 4)


@pytest.mark.integration
def test_provenance_lists_each_source_file_as_sha256sum_does(landing: Path):
    delivery = _read(landing)
    lines = arrays.provenance(delivery.receipts)["source_sha256sums"].splitlines()
    files = [*(landing / "logs" / KEY / c.file_name for c in CHANNELS), profile_path(landing)]
    assert lines == [f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.name}" for p in files]


@pytest.mark.integration
def test_the_cohort_dataset_holds_every_value_of_every_file(landing: Path, tables):
    delivery = _read(landing)
    dataset = arrays.cohort_dataset(KEY, tables, delivery.profile, delivery.receipts)
    assert list(dataset.data_vars) == [c.column for c in CHANNELS]
    for channel in CHANNELS:
        expected = loadtxt(landing / "logs" / KEY / channel.file_name)
        np.testing.assert_array_equal(dataset[channel.column].values, expected)
    assert set(dataset.coords) == {
        "cycle",
        "sample_100hz",
        "sample_10hz",
        "sample_1hz",
        *arrays.CYCLE_LABELS,
    }


@pytest.mark.unit
def test_whole_cycle_chunks_of_about_a_mebibyte():
    assert chunk_rows(6000, 2205) == 21  # 1,008,000 bytes
    assert chunk_rows(600, 2205) == 218
    assert chunk_rows(60, 2205) == 2184
    assert chunk_rows(60, CYCLES) == CYCLES
    assert chunk_rows(10**7, CYCLES) == 1


@pytest.mark.integration
def test_the_file_opens_to_exactly_the_cohort_dataset(tmp_path: Path, store, landing, tables):
    path = tmp_path / "cohort.nc"
    delivery = write_cohort_file(store, read_archive(store, KEY), path)
    expected = arrays.cohort_dataset(KEY, tables, delivery.profile, delivery.receipts)
    with xr.open_dataset(path, engine="h5netcdf") as opened:
        xr.testing.assert_identical(opened.load(), expected)
        for channel in CHANNELS:  # and, value for value, the files as numpy reads them
            expected_values = loadtxt(landing / "logs" / KEY / channel.file_name)
            np.testing.assert_array_equal(opened[channel.column].values, expected_values)
        ps1 = opened["ps1"].encoding
        assert (ps1["zlib"], ps1["complevel"], ps1["shuffle"]) == (True, ZLIB_LEVEL, False)
        assert ps1["chunksizes"] == (CYCLES, 6000)
        assert ps1["coordinates"].split() == list(arrays.CYCLE_LABELS)
        assert "_FillValue" not in ps1
    with xr.open_dataset(path, engine="h5netcdf", decode_times=False) as raw:
        assert raw["date_time"].dtype == np.int64
        assert raw["date_time"].values.tolist() == list(range(CYCLES))
        assert raw["date_time"].attrs["units"] == f"hours since {KEY}"  # midnight, UTC


@pytest.mark.integration
def test_writing_again_gives_the_same_bytes(tmp_path: Path, store):
    first, second = tmp_path / "first.nc", tmp_path / "second.nc"
    write_cohort_file(store, read_archive(store, KEY), first)
    write_cohort_file(store, read_archive(store, KEY), second)
    assert first.read_bytes() == second.read_bytes()


@pytest.mark.integration
def test_export_uploads_the_file_whole(tmp_path: Path, store):
    work = tmp_path / "work"
    work.mkdir()
    export = export_cohort(store, read_archive(store, KEY), work)
    stored = store.get_bytes(netcdf_key(KEY))
    assert export.stored.key == f"netcdf/cohort={KEY}.nc"
    assert export.stored.bytes == len(stored)
    assert export.stored.sha256 == hashlib.sha256(stored).hexdigest()
    assert export.dims["cycle"] == CYCLES
    assert export.variables == [c.column for c in CHANNELS]
    assert "Conventions:" in export.text and "se " in export.text  # every variable listed


@pytest.mark.unit
def test_without_an_archive_there_is_nothing_to_read(tmp_path: Path):
    store = LocalObjectStore(tmp_path / "empty")
    with pytest.raises(ArchiveMissing, match=rf"raw/cohort={KEY}/manifest.json is missing"):
        read_archive(store, KEY)
    assert store.list_keys("") == []


@pytest.mark.integration
def test_an_archived_file_that_is_not_the_one_in_the_manifest_is_refused(
    tmp_path: Path, store: LocalObjectStore
):
    other = generate_cohort(tmp_path / "other", KEY, cycles=CYCLES, seed=4)  # valid, other bytes
    held_in = read_archive(store, KEY).objects["FS2.txt"]
    store.put_bytes(held_in, compress((other / "FS2.txt").read_bytes()))
    with pytest.raises(ValueError, match=rf"{held_in} does not match"):
        write_cohort_file(store, read_archive(store, KEY), tmp_path / "cohort.nc")


@pytest.mark.integration
def test_objects_the_manifest_does_not_list_are_not_read(tmp_path: Path, store, tables):
    """An earlier delivery may have left other files under the prefix (the store never
    deletes): only those of the archived delivery are part of it."""
    folder = read_archive(store, KEY).objects["PS1.txt"].rsplit("/", 1)[0]
    for where in (folder, f"raw/cohort={KEY}"):  # beside the files, and where archives were
        store.put_bytes(f"{where}/PS1.csv.zst", compress(b"not, this, one\n"))
        store.put_bytes(f"{where}/notes.txt.zst", compress(b"left over\n"))
    delivery = write_cohort_file(store, read_archive(store, KEY), tmp_path / "cohort.nc")
    expected = arrays.cohort_dataset(KEY, tables, delivery.profile, delivery.receipts)
    with xr.open_dataset(tmp_path / "cohort.nc", engine="h5netcdf") as opened:
        xr.testing.assert_identical(opened.load(), expected)


@pytest.mark.unit
def test_provenance_names_a_file_of_several_channels_once():
    receipts = [
        FileReceipt(f"cycles.jsonl#{code}", 1000, 2, 60, "ab" * 32) for code in ("TS1", "TS2")
    ] + [FileReceipt("profile.txt", 50, 2, 5, "cd" * 32)]
    assert arrays.provenance(receipts) == {
        "source_sha256sums": f"{'ab' * 32}  cycles.jsonl\n{'cd' * 32}  profile.txt",
        "source_bytes": 1050,
    }


@pytest.mark.unit
def test_sensors_with_different_cycle_counts_are_refused(tmp_path: Path):
    writer = CohortFileWriter(tmp_path / "x.nc", KEY)
    writer.add(CHANNEL_BY_CODE["TS1"], np.zeros((CYCLES, 60)))
    with pytest.raises(ValueError, match=rf"TS2\.txt has {CYCLES - 1} cycles"):
        writer.add(CHANNEL_BY_CODE["TS2"], np.zeros((CYCLES - 1, 60)))
