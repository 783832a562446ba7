"""raw_logs' archive: every delivered byte kept, and the current delivery switched by the
manifest alone, so a run dying at any point of archiving leaves the previous delivery whole."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pytest

from energymobile.ingest.delivery import read_delivery
from energymobile.ingest.reduce import FileReceipt
from energymobile.rigs import DEFAULT_RIG, Rig
from energymobile.sample.generate import generate_cohort, profile_path
from energymobile.storage.archive import (
    ArchiveMissing,
    ArchiveSpool,
    archive_delivery,
    archive_prefix,
    archived_rigs,
    compress,
    decompress,
    delivery_id,
    manifest_key,
    read_archive,
    restore_delivery,
)
from energymobile.storage.landing import logs_dir
from energymobile.storage.object_store import LocalObjectStore, StoredObject

KEY = "2008-03-26"
CYCLES = 6


class ProcessDied(Exception):
    """What the store raises instead of its next write: the process is gone from here on."""


class DyingStore(LocalObjectStore):
    """A real local store whose process 'dies' before its (n+1)-th write."""

    def __init__(self, root: Path, writes_before_death: int) -> None:
        super().__init__(root)
        self.writes_left = writes_before_death

    def put_bytes(self, key: str, data: bytes, **options: object) -> StoredObject:
        if self.writes_left == 0:
            raise ProcessDied(key)
        self.writes_left -= 1
        return super().put_bytes(key, data, **options)  # type: ignore[arg-type]


def delivered(tmp_path: Path, seed: int, fmt: str = "tsv") -> tuple[dict[str, bytes], list]:
    """A short cohort as raw_logs archives it: delivered name -> bytes, and the receipts."""
    landing = tmp_path / f"landing-{seed}-{fmt}"
    folder = generate_cohort(landing, KEY, cycles=CYCLES, seed=seed, delivery_format=fmt)
    files: dict[str, bytes] = {}
    delivery = read_delivery(
        KEY,
        available=[p.name for p in folder.iterdir()],
        read=lambda name: (folder / name).read_bytes(),
        read_profile_bytes=lambda: profile_path(landing).read_bytes(),
        on_valid=files.__setitem__,
    )
    return files, list(delivery.receipts)


def archive(store: LocalObjectStore, files: Mapping[str, bytes], receipts: list) -> None:
    archive_delivery(store, KEY, {n: compress(d) for n, d in files.items()}, receipts)


def current_files(store: LocalObjectStore) -> dict[str, bytes]:
    current = read_archive(store, KEY)
    return {name: current.read(store, name) for name in current.objects}


@pytest.mark.integration
def test_every_delivered_file_reads_back_byte_for_byte(tmp_path: Path):
    store = LocalObjectStore(tmp_path / "s3")
    files, receipts = delivered(tmp_path, seed=1)
    archive(store, files, receipts)
    current = read_archive(store, KEY)
    assert current_files(store) == files
    assert list(current.receipts) == receipts
    assert current.delivery == delivery_id(receipts)
    assert all(f"/delivery={current.delivery}/" in key for key in current.objects.values())
    assert current.landing_fingerprint is None  # not given: not recorded


@pytest.mark.integration
def test_the_manifest_names_the_landing_listing_the_delivery_was_read_from(tmp_path: Path):
    store = LocalObjectStore(tmp_path / "s3")
    files, receipts = delivered(tmp_path, seed=1)
    compressed = {n: compress(d) for n, d in files.items()}
    archive_delivery(store, KEY, compressed, receipts, landing_fingerprint="0123456789abcdef")
    assert read_archive(store, KEY).landing_fingerprint == "0123456789abcdef"


@pytest.mark.integration
def test_the_spool_compresses_each_file_and_the_manifest_records_the_bytes_written(
    tmp_path: Path,
):
    store = LocalObjectStore(tmp_path / "s3")
    files, receipts = delivered(tmp_path, seed=1)
    with ArchiveSpool() as spool:
        for name, data in files.items():
            spool.add(name, data)
        compressed = spool.collect()
    assert {name: decompress(data) for name, data in compressed.items()} == files
    archive_delivery(store, KEY, compressed, receipts)
    current = read_archive(store, KEY)
    assert current.stored_bytes == {name: len(data) for name, data in compressed.items()}
    listed = store.list_versions(archive_prefix(KEY))
    assert {current.objects[n]: size for n, size in current.stored_bytes.items()} == {
        key: version.bytes for key, version in listed.items() if key != manifest_key(KEY)
    }


@pytest.mark.integration
def test_archiving_the_same_delivery_again_writes_the_same_objects(tmp_path: Path):
    store = LocalObjectStore(tmp_path / "s3")
    files, receipts = delivered(tmp_path, seed=1)
    archive(store, files, receipts)
    keys = store.list_keys("")
    archive(store, files, receipts)
    assert store.list_keys("") == keys


@pytest.mark.integration
@pytest.mark.parametrize("fmt", ["tsv", "jsonl"])
def test_a_run_dying_at_any_write_leaves_the_previous_delivery_current(tmp_path: Path, fmt):
    old_files, old_receipts = delivered(tmp_path, seed=1)
    new_files, new_receipts = delivered(tmp_path, seed=2, fmt=fmt)
    writes = len(new_files) + 1  # every file, then the manifest
    for survived in range(writes + 1):
        store = DyingStore(tmp_path / f"s3-{fmt}-{survived}", writes_before_death=10**6)
        archive(store, old_files, old_receipts)
        store.writes_left = survived
        if survived < writes:
            with pytest.raises(ProcessDied):
                archive(store, new_files, new_receipts)
            assert current_files(store) == old_files, f"died after {survived} writes"
            assert list(read_archive(store, KEY).receipts) == old_receipts
        else:
            archive(store, new_files, new_receipts)
            assert current_files(store) == new_files
        # The re-run completes it, whatever was left behind.
        store.writes_left = 10**6
        archive(store, new_files, new_receipts)
        assert current_files(store) == new_files


@pytest.mark.unit
def test_without_a_manifest_there_is_no_archive(tmp_path: Path):
    store = LocalObjectStore(tmp_path / "s3")
    with pytest.raises(ArchiveMissing, match="materialize raw_logs for this cohort first"):
        read_archive(store, KEY)


@pytest.mark.integration
def test_an_archive_written_before_delivery_folders_is_still_read(tmp_path: Path):
    """Files directly under the cohort's prefix, a manifest without `objects`."""
    store = LocalObjectStore(tmp_path / "s3")
    files, receipts = delivered(tmp_path, seed=1)
    for name, data in files.items():
        store.put_bytes(f"raw/cohort={KEY}/{name}.zst", compress(data))
    manifest = {"cohort": KEY, "files": [r.__dict__ for r in receipts]}
    store.put_bytes(manifest_key(KEY), json.dumps(manifest).encode())
    assert current_files(store) == files
    assert list(read_archive(store, KEY).receipts) == [FileReceipt(**r.__dict__) for r in receipts]
    assert read_archive(store, KEY).stored_bytes == {}  # not recorded then


@pytest.mark.integration
def test_each_rig_has_its_own_archive_and_a_sites_rigs_are_one_listing(tmp_path: Path):
    """The default rig keeps raw/cohort=<key>/; another rig's deliveries go under
    raw/site=<site>/cohort=<key>/rig=<rig>/, so archiving one rig never switches another's
    manifest, and the rigs of a site with an archive of a cohort are found by one listing."""
    store = LocalObjectStore(tmp_path / "s3")
    north, other_north, south = Rig("north", "rig-1"), Rig("north", "rig-2"), Rig("south", "a")
    by_rig = {rig: delivered(tmp_path, seed=i) for i, rig in enumerate([DEFAULT_RIG, north, south])}
    for rig, (files, receipts) in by_rig.items():
        compressed = {n: compress(d) for n, d in files.items()}
        archive_delivery(store, KEY, compressed, receipts, rig=rig)

    assert archive_prefix(KEY) == f"raw/cohort={KEY}/"
    assert archive_prefix(KEY, north) == f"raw/site=north/cohort={KEY}/rig=rig-1/"
    for rig, (files, receipts) in by_rig.items():
        current = read_archive(store, KEY, rig)
        assert current.rig == rig and current.delivery == delivery_id(receipts)
        assert {name: current.read(store, name) for name in current.objects} == files
        assert all(key.startswith(archive_prefix(KEY, rig)) for key in current.objects.values())
    assert archived_rigs(store, KEY, "north") == [north]
    assert archived_rigs(store, KEY, DEFAULT_RIG.site) == [DEFAULT_RIG]
    assert archived_rigs(store, "2008-06-26", "north") == []
    with pytest.raises(ArchiveMissing, match="rig north/rig-2"):
        read_archive(store, KEY, other_north)

    restored = restore_delivery(store, KEY, tmp_path / "restored", north)
    assert (tmp_path / "restored" / logs_dir(north) / KEY / "TS1.txt") in restored
