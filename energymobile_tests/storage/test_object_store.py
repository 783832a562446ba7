"""The ObjectStore contract, held by the local folder and by S3 (moto server) alike, and the
export layouts built on it: streamed writes that replace whole, the combined file equal to
the concatenation of the cohorts, and Parquet copies that read as one Hive dataset."""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest

from energymobile.dictionary import PARQUET_COLUMNS, dictionary_csv
from energymobile.rigs import Rig
from energymobile.storage.exports import (
    COMBINED_KEY,
    DICTIONARY_KEY,
    REBUILD_PASSES,
    ExportsChanged,
    IncompleteCohort,
    cohort_csv_key,
    cohort_parquet_key,
    combined_cohort_rows,
    combined_csv_key,
    csv_header,
    exported_cohorts,
    read_csv_export,
    rebuild_combined,
    write_cohort_export,
)
from energymobile.storage.object_store import (
    LocalObjectStore,
    ObjectStore,
    ObjectStoreError,
    open_object_store,
)
from energymobile.storage.s3 import S3ObjectStore
from energymobile_tests.support.s3 import S3_BUCKET
from energymobile_tests.support.synthetic import synthetic_cohort_frame

KEYS = ("2008-03-26", "2008-06-26", "2008-09-26")
ROWS = 7


@pytest.fixture(
    params=[
        pytest.param("local", marks=pytest.mark.unit),
        pytest.param("s3", marks=pytest.mark.integration),  # the moto server
    ]
)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "local":
        return open_object_store(f"file://{tmp_path / 'store'}")
    request.getfixturevalue("moto_s3")
    prefix = request.getfixturevalue("s3_prefix")
    return open_object_store(f"s3://{S3_BUCKET}/{prefix}")


def _export(store: ObjectStore, keys: tuple[str, ...] = KEYS) -> dict[str, pd.DataFrame]:
    frames = {k: synthetic_cohort_frame(k, ROWS, seed=i) for i, k in enumerate(keys)}
    for key, frame in frames.items():
        stored = write_cohort_export(store, key, frame)
        assert (stored["csv"].rows, stored["parquet"].rows) == (ROWS, ROWS)
    return frames


@pytest.mark.integration
def test_open_object_store_dispatches_on_the_url(tmp_path, moto_s3):
    assert isinstance(open_object_store(f"file://{tmp_path}"), LocalObjectStore)
    assert isinstance(open_object_store(str(tmp_path)), LocalObjectStore)
    s3 = open_object_store(f"s3://{S3_BUCKET}/some/prefix/")
    assert isinstance(s3, S3ObjectStore)
    assert (s3.bucket, s3.prefix) == (S3_BUCKET, "some/prefix")
    assert s3.uri("a/b.csv") == f"s3://{S3_BUCKET}/some/prefix/a/b.csv"
    with pytest.raises(ValueError, match="needs a bucket"):
        open_object_store("s3:///prefix")
    with pytest.raises(ValueError, match="unsupported object store"):
        open_object_store("gs://bucket/prefix")


def test_put_stream_writes_the_concatenation_and_replaces_whole(store):
    store.put_bytes("x/file.csv", b"old\n")
    stored = store.put_stream("x/file.csv", iter([b"a,b\n", b"", b"1,2\n", b"3,4\n"]))
    assert store.get_bytes("x/file.csv") == b"a,b\n1,2\n3,4\n"
    assert stored.bytes == 12
    assert store.list_keys("x/") == ["x/file.csv"]


def test_a_failed_stream_keeps_the_old_object(store):
    store.put_bytes("x/file.csv", b"old\n")

    def failing() -> Iterator[bytes]:
        yield b"new,partial\n"
        raise OSError("source went away")

    with pytest.raises(OSError, match="source went away"):
        store.put_stream("x/file.csv", failing())
    assert store.get_bytes("x/file.csv") == b"old\n"
    assert store.list_keys("") == ["x/file.csv"]
    if isinstance(store, LocalObjectStore):
        assert [p.name for p in (store.root / "x").iterdir()] == ["file.csv"]  # no temp left


def test_iter_chunks_streams_in_bounded_chunks(store):
    data = bytes(range(256)) * 40
    store.put_bytes("blob.bin", data)
    chunks = list(store.iter_chunks("blob.bin", chunk_bytes=1000))
    assert b"".join(chunks) == data
    assert max(len(c) for c in chunks) <= 1000 and len(chunks) >= 11


def test_a_missing_object_is_file_not_found(store):
    with pytest.raises(FileNotFoundError):
        store.get_bytes("nothing/here.csv")
    with pytest.raises(FileNotFoundError):
        list(store.iter_chunks("nothing/here.csv"))


def test_the_combined_file_is_the_concatenation_of_the_cohorts(store):
    frames = _export(store, (KEYS[1], KEYS[0], KEYS[2]))  # written out of order
    combined = rebuild_combined(store)

    data = store.get_bytes(COMBINED_KEY)
    bodies = [store.get_bytes(cohort_csv_key(k)).split(b"\n", 1)[1] for k in KEYS]
    assert data == csv_header() + b"".join(bodies)
    assert (combined.bytes, combined.rows) == (len(data), ROWS * len(KEYS))
    assert combined.uri == store.uri(COMBINED_KEY)
    expected = pd.concat([frames[k] for k in KEYS], ignore_index=True)
    pd.testing.assert_frame_equal(read_csv_export(data), expected)
    assert exported_cohorts(store) == list(KEYS)


def test_each_sites_combined_file_holds_that_sites_cohorts_only(store):
    """Two sites' cohort CSVs side by side: each site's rebuild lists and reads its own, writes
    its own file (the default site's at the single-rig key), and leaves the other's alone."""
    north = Rig("north", "rig-1")
    defaults = _export(store, KEYS[:2])
    norths = {k: synthetic_cohort_frame(k, ROWS + 2, seed=9, rig=north) for k in KEYS[1:]}
    for key, frame in norths.items():
        write_cohort_export(store, key, frame, north.site)
    assert exported_cohorts(store) == list(KEYS[:2])
    assert exported_cohorts(store, "north") == list(KEYS[1:])

    combined = rebuild_combined(store, "north")
    assert combined.key == combined_csv_key("north")
    assert combined.key == "oil-well-data-all-historical/site=north.csv"
    assert (combined.rows, combined.cohorts) == (2 * (ROWS + 2), KEYS[1:])
    assert not store.exists(COMBINED_KEY)  # the default site's is not written by north's
    data = store.get_bytes(combined.key)
    expected = pd.concat([norths[k] for k in KEYS[1:]], ignore_index=True)
    pd.testing.assert_frame_equal(read_csv_export(data, "north"), expected)
    assert combined_cohort_rows(store, "north") == dict.fromkeys(KEYS[1:], ROWS + 2)

    rebuild_combined(store)
    assert store.get_bytes(combined.key) == data
    pd.testing.assert_frame_equal(
        read_csv_export(store.get_bytes(COMBINED_KEY)),
        pd.concat([defaults[k] for k in KEYS[:2]], ignore_index=True),
    )
    assert exported_cohorts(store, "north") == list(KEYS[1:])  # its combined file is not one


def test_rebuilding_again_replaces_rather_than_duplicates(store):
    _export(store)
    assert not store.exists(COMBINED_KEY)
    first = rebuild_combined(store)
    _export(store, KEYS[:1])  # the same cohort re-exported
    second = rebuild_combined(store)
    assert second.sha256 == first.sha256 and second.rows == ROWS * len(KEYS)
    assert store.list_keys("") == sorted(
        [COMBINED_KEY, DICTIONARY_KEY]
        + [cohort_csv_key(k) for k in KEYS]
        + [cohort_parquet_key(k) for k in KEYS]
    )


def test_a_cohort_with_another_header_stops_the_rebuild(store):
    """A cohort exported before the template layout (its header began `cohort,cycle,…`) is
    never streamed under today's header."""
    _export(store)
    rebuild_combined(store)
    before = store.get_bytes(COMBINED_KEY)
    body = store.get_bytes(cohort_csv_key(KEYS[1])).split(b"\n", 1)[1]
    stale = b"cohort,cycle,date_time,cumulative_minutes,ps1,ps2\n" + body
    store.put_bytes(cohort_csv_key(KEYS[1]), stale)
    with pytest.raises(ValueError, match=f"cohort={KEYS[1]}/data.csv has another header"):
        rebuild_combined(store)
    assert store.get_bytes(COMBINED_KEY) == before


def test_a_listing_gives_each_objects_size_and_a_version_that_changes_with_each_write(store):
    store.put_bytes("x/a.csv", b"1,2\n")
    store.put_bytes("x/b.csv", b"333\n")
    first = store.list_versions("x/")
    assert list(first) == ["x/a.csv", "x/b.csv"] == store.list_keys("x/")
    assert [v.bytes for v in first.values()] == [4, 4]
    store.put_bytes("x/a.csv", b"3,4\n")  # the same size, other bytes
    second = store.list_versions("x/")
    assert second["x/a.csv"].version != first["x/a.csv"].version
    assert second["x/b.csv"] == first["x/b.csv"]


def _same_store(store: ObjectStore) -> ObjectStore:
    """Another handle on the same place, as another process would open it."""
    if isinstance(store, LocalObjectStore):
        return LocalObjectStore(store.root)
    assert isinstance(store, S3ObjectStore)
    return S3ObjectStore(store.bucket, store.prefix)


def _current_concatenation(store: ObjectStore) -> bytes:
    keys = exported_cohorts(store)
    return csv_header() + b"".join(
        store.get_bytes(cohort_csv_key(k)).split(b"\n", 1)[1] for k in keys
    )


def _exporting_while_read(store: ObjectStore, monkeypatch, export, times: int = 1) -> None:
    """Make the store run `export` (another run's cohort export) the first `times` times the
    second cohort's CSV is opened for reading, i.e. in the middle of a rebuild."""
    read = store.iter_chunks
    left = [times]

    def iter_chunks(key: str, chunk_bytes: int = 1 << 20) -> Iterator[bytes]:
        if key == cohort_csv_key(KEYS[1]) and left[0] > 0:
            left[0] -= 1
            export()
        yield from read(key, chunk_bytes)

    monkeypatch.setattr(store, "iter_chunks", iter_chunks)


def test_an_export_landing_during_a_rebuild_makes_it_start_over(store, monkeypatch):
    _export(store)
    redelivered = synthetic_cohort_frame(KEYS[2], ROWS + 3, seed=9)
    _exporting_while_read(
        store, monkeypatch, lambda: write_cohort_export(store, KEYS[2], redelivered)
    )
    combined = rebuild_combined(store)
    assert combined.passes == 2
    assert store.get_bytes(COMBINED_KEY) == _current_concatenation(store)
    assert combined.rows == 3 * ROWS + 3 and combined.cohorts == KEYS


def test_of_two_overlapping_rebuilds_the_one_that_read_older_exports_never_lands_last(
    store, monkeypatch
):
    """Rebuild A has read cohort 1 when cohort 1 is re-exported and rebuild B runs whole (from
    the new export); A then finishes. The file must hold the new export, not A's old read."""
    _export(store)
    other = _same_store(store)

    def export_then_rebuild() -> None:
        write_cohort_export(other, KEYS[0], synthetic_cohort_frame(KEYS[0], ROWS + 1, seed=8))
        assert rebuild_combined(other).passes == 1

    _exporting_while_read(store, monkeypatch, export_then_rebuild)
    rebuild_combined(store)
    assert store.get_bytes(COMBINED_KEY) == _current_concatenation(store)
    assert combined_cohort_rows(store) == {KEYS[0]: ROWS + 1, KEYS[1]: ROWS, KEYS[2]: ROWS}


def test_exports_that_never_settle_leave_the_previous_file(store, monkeypatch):
    _export(store)
    rebuild_combined(store)
    before = store.get_bytes(COMBINED_KEY)
    seeds = iter(range(100, 200))
    _exporting_while_read(
        store,
        monkeypatch,
        lambda: write_cohort_export(
            store, KEYS[0], synthetic_cohort_frame(KEYS[0], ROWS, seed=next(seeds))
        ),
        times=REBUILD_PASSES,
    )
    with pytest.raises(ExportsChanged, match=f"kept changing during {REBUILD_PASSES} rebuilds"):
        rebuild_combined(store)
    assert store.get_bytes(COMBINED_KEY) == before
    assert store.list_keys(COMBINED_KEY) == [COMBINED_KEY]


def test_the_combined_files_rows_per_cohort_are_read_back_from_the_store(store):
    assert combined_cohort_rows(store) == {}
    _export(store, KEYS[:2])
    rebuild_combined(store)
    assert combined_cohort_rows(store) == {KEYS[0]: ROWS, KEYS[1]: ROWS}


def test_parquet_copies_read_back_like_the_csv(store):
    frames = _export(store, KEYS[:1])
    frame = pd.read_parquet(io.BytesIO(store.get_bytes(cohort_parquet_key(KEYS[0]))))
    names = [c.name for c in PARQUET_COLUMNS]
    assert list(frame.columns) == names  # site and cohort: in the path
    csv = read_csv_export(store.get_bytes(cohort_csv_key(KEYS[0])))
    pd.testing.assert_frame_equal(csv, frames[KEYS[0]])
    expected = frames[KEYS[0]][names]
    pd.testing.assert_frame_equal(frame, expected, check_dtype=False)
    assert frame["date_time"].dtype == "datetime64[ms]"  # milliseconds: what Athena reads


def test_the_dictionary_is_written_with_the_exports(store):
    _export(store, KEYS[:1])
    assert store.get_bytes(DICTIONARY_KEY) == dictionary_csv()


def test_a_cohort_missing_a_statistic_is_refused_before_anything_is_written(store):
    """A cohort loaded before warehouse revision 005 holds one statistic: exporting it would
    leave cells empty, so nothing is written and the error says what to do."""
    frame = synthetic_cohort_frame(KEYS[0], ROWS)
    frame.loc[:, ["ps1_first", "se_first"]] = float("nan")
    with pytest.raises(IncompleteCohort, match=r"cohort 2008-03-26 has no values in ps1_first"):
        write_cohort_export(store, KEYS[0], frame)
    assert store.list_keys("") == []


@contextmanager
def umask(mask: int) -> Iterator[None]:
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.mark.unit
@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_every_written_file_is_readable_as_the_umask_says(tmp_path, mask, mode):
    """Each way of writing (bytes, a copied file, a stream, and the exports and combined file
    built on them) gives the mode a new file gets under the umask, as `open` would."""
    store = LocalObjectStore(tmp_path / "store")
    source = tmp_path / "source.bin"
    source.write_bytes(b"abc")
    with umask(mask):
        store.put_bytes("a/bytes.bin", b"abc")
        store.put_file("a/file.bin", source)
        store.put_stream("a/stream.bin", iter([b"a", b"bc"]))
        _export(store)
        rebuild_combined(store)
    written = [p for p in (tmp_path / "store").rglob("*") if p.is_file()]
    assert len(written) == 3 + 2 * len(KEYS) + 2  # CSV + Parquet a cohort; combined, dictionary
    assert {
        p.relative_to(tmp_path).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in written
    } == {p.relative_to(tmp_path).as_posix(): mode for p in written}


@pytest.mark.unit
def test_a_write_that_fails_names_the_object_and_leaves_no_temporary_file(tmp_path):
    """A folder in the way of the object's folder: the error names the object's path."""
    store = LocalObjectStore(tmp_path / "store")
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "a").write_text("a file where a folder should be")
    with pytest.raises(ObjectStoreError, match=r"cannot write .*/store/a/b\.csv: "):
        store.put_bytes("a/b.csv", b"x")
    assert [p.name for p in (tmp_path / "store").iterdir()] == ["a"]
