"""Formats with one file per channel, `<CODE><extension>`: the technicians' tab- or
space-separated files (TSV, the original format) and, by the same code, CSV with a header
(csv.py).

Two files are read and parsed at a time, on two threads (polars' parser and hashlib release
the GIL, and polars parses one such file on one core), while the caller handles the file before
them: a cohort's parse uses both cores. Files are still handed over in CHANNELS order, each
only once it is valid, and the first bad one (in that order) is the error raised. At most
about three files' text and samples are in memory at a time.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from energymobile.channels import CHANNELS, Channel
from energymobile.ingest.formats.base import (
    ChannelRead,
    DeliveryFormat,
    OnValid,
    ReadFile,
    cohort_file,
)
from energymobile.ingest.parse import Table, parse_table
from energymobile.ingest.reduce import (
    ChannelCycles,
    FileReceipt,
    TableParser,
    read_channel_table,
    reduce_cycles,
)

FILES_AT_ONCE = 2
"""Files parsed at the same time: one per core of the 2-core machines this runs on."""

_Parsed = tuple[bytes, FileReceipt, Table, ChannelCycles]


@dataclass(frozen=True)
class FilePerChannel(DeliveryFormat):
    """`<CODE><extension>` for each of the 17 channels; TSV as it is, subclassed for CSV."""

    name: str
    extension: str
    summary: str

    def file_name(self, channel: Channel) -> str:
        return f"{channel.code}{self.extension}"

    @property
    def file_names(self) -> tuple[str, ...]:
        return tuple(self.file_name(c) for c in CHANNELS)

    def parser(self, channel: Channel) -> TableParser:
        """How this format reads one channel's file into a Table."""
        return parse_table

    def _read_one(self, key: str, read: ReadFile, channel: Channel) -> _Parsed:
        name = self.file_name(channel)
        data = read(name)
        receipt, table = read_channel_table(
            data, channel, file=cohort_file(key, name), name=name, parse=self.parser(channel)
        )
        return data, receipt, table, reduce_cycles(channel.code, table)

    def read_channels(
        self, key: str, read: ReadFile, on_valid: OnValid | None
    ) -> Iterator[ChannelRead]:
        upcoming = iter(CHANNELS)
        with ThreadPoolExecutor(FILES_AT_ONCE, thread_name_prefix="parse") as pool:
            started: deque[tuple[Channel, Future[_Parsed]]] = deque()

            def start_next() -> None:
                channel = next(upcoming, None)
                if channel is not None:
                    started.append((channel, pool.submit(self._read_one, key, read, channel)))

            for _ in range(FILES_AT_ONCE):
                start_next()
            while started:
                channel, parsing = started.popleft()
                try:
                    data, receipt, table, cycles = parsing.result()
                except BaseException:
                    for _, later in started:
                        later.cancel()
                    raise
                if on_valid:
                    on_valid(receipt.name, data)
                del data
                yield ChannelRead(channel, receipt, cycles, table.to_numpy)
                del table
                start_next()  # after the caller is done with this file: two parse meanwhile


TSV = FilePerChannel(
    name="tsv",
    extension=".txt",
    summary="17 <CODE>.txt files (tab- or space-separated, no header)",
)
"""The rig's own export: `PS1.txt` … `SE.txt`, one line of values per cycle, separated by tabs
(or by spaces: ingest/parse.py)."""
