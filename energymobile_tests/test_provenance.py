"""What a drop on the landing is next to the archive and the warehouse (energymobile.provenance),
on listings and receipts built in memory."""

from __future__ import annotations

import hashlib

import pytest

from energymobile.channels import CHANNELS, PROFILE_FILE_NAME
from energymobile.ingest.reduce import FileReceipt
from energymobile.provenance import (
    Archived,
    Verdict,
    compare_drop,
    drop_fingerprint,
    listing_fingerprint,
)
from energymobile.storage.archive import delivery_id
from energymobile.storage.landing import LandedFile

pytestmark = pytest.mark.unit

CONTENT = {f"{c.code}.txt": f"{c.code} values\n".encode() for c in CHANNELS}


def listing(content: dict[str, bytes], modified: float = 1000.0) -> dict[str, LandedFile]:
    return {name: LandedFile(name, len(data), modified) for name, data in content.items()}


def archived(content: dict[str, bytes], landing_fingerprint: str | None) -> Archived:
    receipts = (
        *(
            FileReceipt(name, len(data), 1, 1, hashlib.sha256(data).hexdigest())
            for name, data in content.items()
        ),
        FileReceipt(PROFILE_FILE_NAME, 10, 1, 5, "0" * 64),
    )
    return Archived(delivery_id(receipts), receipts, landing_fingerprint)


def sha256s(content: dict[str, bytes]) -> dict[str, str]:
    return {name: hashlib.sha256(data).hexdigest() for name, data in content.items()}


def test_the_fingerprint_covers_the_delivery_files_only():
    files = listing(CONTENT)
    extra = {
        **files,
        "_SUCCESS": LandedFile("_SUCCESS", 0, 2000.0),
        "notes.md": LandedFile("notes.md", 5, 2000.0),
    }
    assert drop_fingerprint(extra) == drop_fingerprint(files) == listing_fingerprint(files.values())
    touched = listing(CONTENT, modified=1001.0)
    assert drop_fingerprint(touched) != drop_fingerprint(files)


def test_nothing_archived_is_new():
    assert compare_drop(listing(CONTENT), None, lambda: None) is Verdict.NEW


def test_the_listing_raw_logs_read_is_the_archived_delivery():
    files = listing(CONTENT)
    stored = archived(CONTENT, drop_fingerprint(files))
    assert compare_drop(files, stored, lambda: stored.delivery) is Verdict.LOADED
    assert compare_drop(files, stored, lambda: "another") is Verdict.HALF_LOADED
    assert compare_drop(files, stored, lambda: None) is Verdict.HALF_LOADED


def test_another_size_or_another_file_set_is_a_change_without_reading_a_byte():
    stored = archived(CONTENT, None)
    longer = {**CONTENT, "TS1.txt": CONTENT["TS1.txt"] + b"1"}
    assert compare_drop(listing(longer), stored, lambda: stored.delivery) is Verdict.CHANGED
    fewer = {k: v for k, v in CONTENT.items() if k != "SE.txt"}
    assert compare_drop(listing(fewer), stored, lambda: stored.delivery) is Verdict.CHANGED
    as_csv = {k.replace(".txt", ".csv"): v for k, v in CONTENT.items()}
    assert compare_drop(listing(as_csv), stored, lambda: stored.delivery) is Verdict.CHANGED


def test_same_names_and_sizes_are_decided_by_content():
    stored = archived(CONTENT, "a listing of long ago")
    touched = listing(CONTENT, modified=5000.0)
    assert compare_drop(touched, stored, lambda: stored.delivery) is Verdict.UNSURE
    assert (
        compare_drop(touched, stored, lambda: stored.delivery, sha256s(CONTENT)) is Verdict.LOADED
    )
    edited = {**CONTENT, "TS1.txt": CONTENT["TS1.txt"].replace(b"v", b"V")}
    changed = compare_drop(listing(edited), stored, lambda: stored.delivery, sha256s(edited))
    assert changed is Verdict.CHANGED
