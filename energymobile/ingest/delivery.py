"""Read a whole cohort delivery: every file present, each parsed, validated and reduced.

Pure with respect to storage: the caller passes functions that return a file's bytes, so the
same code reads a local folder or an S3 prefix. Each file's bytes are handed to `on_valid`
(the archive spool) only after that file has parsed cleanly.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass

import numpy as np

from energymobile.channels import CHANNELS, PROFILE_FILE_NAME, Channel
from energymobile.cohorts import parse_cohort_key
from energymobile.ingest.errors import InputError
from energymobile.ingest.reduce import (
    ChannelCycles,
    FileReceipt,
    read_channel_table,
    read_profile,
    reduce_cycles,
)

PROFILE_PATH = f"profile/{PROFILE_FILE_NAME}"


@dataclass(frozen=True)
class Delivery:
    """What `raw_logs` passes on: receipts and per-cycle reductions, not the raw arrays."""

    key: str
    receipts: tuple[FileReceipt, ...]
    cycles: dict[str, ChannelCycles]
    profile: np.ndarray

    @property
    def channel_receipts(self) -> tuple[FileReceipt, ...]:
        return tuple(r for r in self.receipts if r.name != PROFILE_FILE_NAME)

    @property
    def total_bytes(self) -> int:
        return sum(r.bytes for r in self.receipts)


def cohort_file(key: str, name: str) -> str:
    """How errors name a delivered file: its path under the landing root."""
    return f"logs/{key}/{name}"


def missing_files(key: str, available: Collection[str]) -> list[str]:
    return [c.file_name for c in CHANNELS if c.file_name not in available]


def read_delivery(
    key: str,
    available: Collection[str],
    read: Callable[[str], bytes],
    read_profile_bytes: Callable[[], bytes],
    on_valid: Callable[[str, bytes], None] | None = None,
    on_table: Callable[[Channel, np.ndarray], None] | None = None,
) -> Delivery:
    """Validate and reduce the cohort's 17 files and the profile; raises InputError if bad.

    `on_valid` receives each valid file's bytes (the archive spool); `on_table` each channel's
    full-resolution samples as a float64 (cycles × samples) array, one channel at a time, so
    a full-resolution export never holds the whole cohort in memory.
    """
    parse_cohort_key(key)
    missing = missing_files(key, available)
    if missing:
        raise InputError(
            cohort_file(key, missing[0]),
            f"missing: the delivery lacks {len(missing)} of 17 sensor files ({', '.join(missing)})",
        )
    receipts: list[FileReceipt] = []
    cycles: dict[str, ChannelCycles] = {}
    for channel in CHANNELS:
        data = read(channel.file_name)
        receipt, table = read_channel_table(data, channel, file=cohort_file(key, channel.file_name))
        receipts.append(receipt)
        cycles[channel.code] = reduce_cycles(channel.code, table)
        if on_valid:
            on_valid(channel.file_name, data)
        if on_table:
            on_table(channel, table.to_numpy())
    profile_bytes = read_profile_bytes()
    profile_receipt, profile = read_profile(profile_bytes, file=PROFILE_PATH)
    receipts.append(profile_receipt)
    if on_valid:
        on_valid(PROFILE_FILE_NAME, profile_bytes)
    return Delivery(key, tuple(receipts), cycles, profile)
