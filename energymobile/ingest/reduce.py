"""Reduce a cycle's samples to one value per cycle, and read a whole sensor file at once."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

import numpy as np

from energymobile.channels import PROFILE_FILE_NAME, Channel
from energymobile.ingest.errors import InputError
from energymobile.ingest.parse import Table, parse_table

Statistic = Literal["mean", "first"]
STATISTICS: tuple[Statistic, ...] = ("mean", "first")


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
    """One channel's per-cycle reductions: a value per cycle for each statistic."""

    code: str
    mean: np.ndarray
    first: np.ndarray

    def values(self, statistic: Statistic) -> np.ndarray:
        return self.mean if statistic == "mean" else self.first


def reduce_cycles(code: str, table: Table) -> ChannelCycles:
    """Each cycle's mean and first sample."""
    return ChannelCycles(code, table.row_means(), table.first_column())


_HASHER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sha256")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


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


def read_channel_table(
    data: bytes, channel: Channel, *, file: str | None = None
) -> tuple[FileReceipt, Table]:
    """Validate one sensor file and keep every sample (cycles × samples), with its receipt."""
    digest = _HASHER.submit(sha256_hex, data)  # hashlib releases the GIL: hash beside the parse
    table = parse_table(data, file=file or channel.file_name, columns=channel.samples)
    receipt = FileReceipt(
        channel.file_name, len(data), table.rows, channel.samples, digest.result()
    )
    return receipt, table


PROFILE_COLUMNS = 5


def read_profile(data: bytes, *, file: str = PROFILE_FILE_NAME) -> tuple[FileReceipt, np.ndarray]:
    """profile.txt as an int64 (cycles × 5) matrix; every value must be a whole number."""
    matrix = parse_table(data, file=file, columns=PROFILE_COLUMNS).to_numpy()
    fractional = np.argwhere(matrix != np.round(matrix))
    if fractional.size:
        row, col = (int(i) for i in fractional[0])
        raise InputError(
            file,
            f"{matrix[row, col]!r} is not a whole number: condition codes are integers",
            line=row + 1,
            column=col + 1,
        )
    receipt = receipt_for(PROFILE_FILE_NAME, data, matrix.shape[0], PROFILE_COLUMNS)
    return receipt, matrix.astype(np.int64)
