"""Reduce a cycle's samples to one value per cycle, and read a whole sensor file at once."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from energymobile.channels import PROFILE_FILE_NAME, Channel
from energymobile.ingest.errors import InputError, excerpt
from energymobile.ingest.parse import Table, parse_table, sum_columns, token_at


@dataclass(frozen=True)
class FileReceipt:
    """What was received: enough to prove later which bytes were loaded."""

    name: str
    bytes: int
    rows: int
    columns: int
    sha256: str


@dataclass(frozen=True)
class ChannelCycles:
    """One channel's per-cycle reductions: each cycle's mean and its first sample (both are
    kept and exported; the template holds the first)."""

    code: str
    mean: np.ndarray
    first: np.ndarray


def reduce_cycles(code: str, table: Table) -> ChannelCycles:
    """Each cycle's mean and first sample."""
    return ChannelCycles(code, table.row_means(), table.first_column())


def reduce_samples(code: str, samples: np.ndarray) -> ChannelCycles:
    """`reduce_cycles` for a (cycles × samples) array, summed in the same order as a Table's
    rows, so a cohort's means are the same floats whatever format delivered it."""
    sums = sum_columns(samples.T, samples.shape[0])
    return ChannelCycles(code, sums / samples.shape[1], samples[:, 0].copy())


def concat_cycles(code: str, parts: Sequence[ChannelCycles]) -> ChannelCycles:
    """One channel's reductions from consecutive runs of cycles (a file read in chunks)."""
    return ChannelCycles(
        code,
        np.concatenate([p.mean for p in parts]),
        np.concatenate([p.first for p in parts]),
    )


_HASHER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sha256")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_beside(data: bytes) -> Future[str]:
    """Start hashing on a second thread: hashlib releases the GIL, so the parse goes on."""
    return _HASHER.submit(sha256_hex, data)


def receipt_for(name: str, data: bytes, rows: int, columns: int) -> FileReceipt:
    return FileReceipt(name, len(data), rows, columns, sha256_hex(data))


def read_channel(
    data: bytes, channel: Channel, *, file: str | None = None
) -> tuple[FileReceipt, ChannelCycles]:
    """Validate and reduce one sensor file; raises InputError naming file, line and column.

    `file` is the name errors show (e.g. `logs/2008-03-26/PS1.txt`); the channel's file name
    by default.
    """
    receipt, table = read_channel_table(data, channel, file=file)
    return receipt, reduce_cycles(channel.code, table)


class TableParser(Protocol):
    """How a one-file-per-channel format turns a file into its (cycles × samples) Table."""

    def __call__(self, data: bytes, *, file: str, columns: int) -> Table: ...


def read_channel_table(
    data: bytes,
    channel: Channel,
    *,
    file: str | None = None,
    name: str | None = None,
    parse: TableParser = parse_table,
) -> tuple[FileReceipt, Table]:
    """Validate one sensor file and keep every sample (cycles × samples), with its receipt.

    `name` is the delivered file's name (`<CODE>.txt` by default) and `parse` its format's
    reader (tab-separated by default).
    """
    name = name or channel.file_name
    digest = sha256_beside(data)
    table = parse(data, file=file or name, columns=channel.samples)
    receipt = FileReceipt(name, len(data), table.rows, channel.samples, digest.result())
    return receipt, table


PROFILE_COLUMNS = 5
MAX_CODE = 2**53
"""Condition codes are whole numbers; up to 2^53 every one is exact in the float64 the
parser reads and in the int64 the profile is kept as (beyond int64, a cast would wrap)."""


def read_profile(data: bytes, *, file: str = PROFILE_FILE_NAME) -> tuple[FileReceipt, np.ndarray]:
    """profile.txt as an int64 (cycles × 5) matrix; every value must be a whole number, shown
    as written in the file when it is not one (or too large to be a code)."""
    matrix = parse_table(data, file=file, columns=PROFILE_COLUMNS).to_numpy()
    bad = np.argwhere((matrix != np.round(matrix)) | (np.abs(matrix) > MAX_CODE))
    if bad.size:
        row, col = (int(i) for i in bad[0])
        shown = excerpt(token_at(data, row + 1, col + 1))
        if matrix[row, col] == np.round(matrix[row, col]):
            reason = f"{shown} is beyond the range of a condition code (at most ±2^53)"
        else:
            reason = f"{shown} is not a whole number: condition codes are integers"
        raise InputError(file, reason, line=row + 1, column=col + 1)
    receipt = receipt_for(PROFILE_FILE_NAME, data, matrix.shape[0], PROFILE_COLUMNS)
    return receipt, matrix.astype(np.int64)
