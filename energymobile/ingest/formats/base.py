"""What every delivery format provides: the files a complete delivery holds, and its channels
read one at a time, each validated, reduced and with its receipt.

Pure: a format reads bytes through the caller's `read(name)`, so the same code reads a landing
folder, an S3 prefix or the archive.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from energymobile.channels import Channel
from energymobile.ingest.reduce import ChannelCycles, FileReceipt

ReadFile = Callable[[str], bytes]
OnValid = Callable[[str, bytes], None]
PART_SEPARATOR = "#"
"""Receipts of a file holding every channel are named `<file>#<CODE>` (`cycles.jsonl#PS1`)."""


def part_name(file_name: str, channel: Channel) -> str:
    """The receipt name of one channel's part of a file that holds them all."""
    return f"{file_name}{PART_SEPARATOR}{channel.code}"


def delivered_name(receipt_name: str) -> str:
    """The delivered file a receipt refers to: itself, or the file it is a part of."""
    return receipt_name.partition(PART_SEPARATOR)[0]


def delivered_files(receipts: Iterable[FileReceipt]) -> dict[str, FileReceipt]:
    """Each delivered file once, by name, with one of its receipts (its bytes and SHA-256)."""
    files: dict[str, FileReceipt] = {}
    for receipt in receipts:
        files.setdefault(delivered_name(receipt.name), receipt)
    return files


def cohort_file(key: str, name: str) -> str:
    """How errors name a delivered file: its path under the landing root."""
    return f"logs/{key}/{name}"


def cohort_folder(key: str) -> str:
    """How errors name the cohort's folder (detection problems concern no single file)."""
    return f"logs/{key}/"


@dataclass(frozen=True)
class ChannelRead:
    """One channel of a delivery, validated: its receipt, its per-cycle reductions, and its
    full (cycles × samples) float64 samples on request (only a full-resolution export asks,
    so a format may re-read them rather than keep every channel in memory)."""

    channel: Channel
    receipt: FileReceipt
    cycles: ChannelCycles
    samples: Callable[[], np.ndarray]


class DeliveryFormat(ABC):
    """A way a cohort can arrive. `name` is what the CLI, the docs and messages call it."""

    name: str
    summary: str
    """What a complete delivery looks like, for messages: `17 <CODE>.txt files (…)`."""

    @property
    @abstractmethod
    def file_names(self) -> tuple[str, ...]:
        """The files of a complete delivery, in reading order."""

    def owns(self, name: str) -> bool:
        """Whether a file name in the cohort folder belongs to this format."""
        return name in self.file_names

    @abstractmethod
    def read_channels(
        self, key: str, read: ReadFile, on_valid: OnValid | None
    ) -> Iterator[ChannelRead]:
        """The 17 channels in `CHANNELS` order; raises InputError (file, line, column) at the
        first bad value. `on_valid(name, bytes)` gets each delivered file once it is valid."""
