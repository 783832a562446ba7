"""Read a whole cohort delivery: every file present, each parsed, validated and reduced.

Pure with respect to storage: the caller passes functions that return a file's bytes, so the
same code reads a local folder, an S3 prefix or the archive. The format (17 tab-separated
files, 17 CSV files with a header, or one JSON Lines file: ingest/formats) is told from the
file names; all are judged by the same rules and give the same reductions. Each delivered
file's bytes are handed to `on_valid` (the archive spool) only after that file has parsed
cleanly.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass

import numpy as np

from energymobile.channels import PROFILE_FILE_NAME, Channel
from energymobile.cohorts import parse_cohort_key
from energymobile.ingest.errors import InputError
from energymobile.ingest.formats import (
    DEFAULT_FORMAT,
    cohort_file,
    delivered_files,
    delivery_format,
    detect,
)
from energymobile.ingest.reduce import ChannelCycles, FileReceipt, read_profile

__all__ = ["PROFILE_PATH", "Delivery", "cohort_file", "missing_files", "read_delivery"]

PROFILE_PATH = f"profile/{PROFILE_FILE_NAME}"


@dataclass(frozen=True)
class Delivery:
    """What `raw_logs` passes on: receipts and per-cycle reductions, not the raw arrays.

    `receipts` holds one per channel (its rows and columns; the name, bytes and SHA-256 of
    the file it came from), then the profile's. A JSON Lines delivery is one file for all
    channels: its receipts are named `cycles.jsonl#PS1` … and each carries that file's size
    and SHA-256, so count files with `delivered_files`, not receipts.
    """

    key: str
    receipts: tuple[FileReceipt, ...]
    cycles: dict[str, ChannelCycles]
    profile: np.ndarray
    format: str = DEFAULT_FORMAT.name

    @property
    def channel_receipts(self) -> tuple[FileReceipt, ...]:
        return tuple(r for r in self.receipts if r.name != PROFILE_FILE_NAME)

    @property
    def delivered_files(self) -> dict[str, FileReceipt]:
        """Each delivered file once, by name (with one of its receipts: bytes, SHA-256)."""
        return delivered_files(self.receipts)

    @property
    def total_bytes(self) -> int:
        return sum(r.bytes for r in self.delivered_files.values())


def missing_files(key: str, available: Collection[str]) -> list[str]:
    """The files a complete delivery in the folder's format would add (none if unclear)."""
    return detect(available).missing()


def read_delivery(
    key: str,
    available: Collection[str],
    read: Callable[[str], bytes],
    read_profile_bytes: Callable[[], bytes],
    on_valid: Callable[[str, bytes], None] | None = None,
    on_table: Callable[[Channel, np.ndarray], None] | None = None,
) -> Delivery:
    """Validate and reduce the cohort's files and the profile; raises InputError if bad.

    `available` are the names in the cohort's folder (or archive), which tell the format.
    `on_valid` receives each valid delivered file's bytes under its delivered name (the
    archive spool); `on_table` each channel's full-resolution samples as a float64
    (cycles × samples) array, one channel at a time, so a full-resolution export never holds
    the whole cohort in memory.
    """
    parse_cohort_key(key)
    fmt = delivery_format(key, available)
    missing = [n for n in fmt.file_names if n not in available]
    if missing:
        raise InputError(
            cohort_file(key, missing[0]),
            f"missing: the delivery lacks {len(missing)} of {len(fmt.file_names)} sensor files "
            f"({', '.join(missing)})",
        )
    receipts: list[FileReceipt] = []
    cycles: dict[str, ChannelCycles] = {}
    for part in fmt.read_channels(key, _listed(key, read), on_valid):
        receipts.append(part.receipt)
        cycles[part.channel.code] = part.cycles
        if on_table:
            on_table(part.channel, part.samples())
        del part  # its samples go before the next file's arrive
    try:
        profile_bytes = read_profile_bytes()
    except FileNotFoundError:
        raise InputError(
            PROFILE_PATH,
            "missing: every cohort is read with the shared condition profile; deliver it as "
            f"{PROFILE_PATH} in the landing",
        ) from None
    profile_receipt, profile = read_profile(profile_bytes, file=PROFILE_PATH)
    receipts.append(profile_receipt)
    if on_valid:
        on_valid(PROFILE_FILE_NAME, profile_bytes)
    return Delivery(key, tuple(receipts), cycles, profile, fmt.name)


def _listed(key: str, read: Callable[[str], bytes]) -> Callable[[str], bytes]:
    """`read`, with a file that was listed but has gone named as the landing names it (not as
    a bare FileNotFoundError with a path or URL of the reader's own)."""

    def read_listed(name: str) -> bytes:
        try:
            return read(name)
        except FileNotFoundError:
            raise InputError(
                cohort_file(key, name),
                "missing: it was listed but is gone (removed or renamed while the cohort was "
                "read?)",
            ) from None

    return read_listed
