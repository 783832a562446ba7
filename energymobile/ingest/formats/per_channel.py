"""Formats with one file per channel, `<CODE><extension>`: the technicians' tab-separated
files (TSV, the original format) and, by the same code, CSV with a header (csv.py).

Each file is read, validated, reduced and handed to `on_valid` before the next is read, so at
most about one file's text and samples are in memory at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from energymobile.channels import CHANNELS, Channel
from energymobile.ingest.formats.base import (
    ChannelRead,
    DeliveryFormat,
    OnValid,
    ReadFile,
    cohort_file,
)
from energymobile.ingest.parse import parse_table
from energymobile.ingest.reduce import TableParser, read_channel_table, reduce_cycles


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

    def read_channels(
        self, key: str, read: ReadFile, on_valid: OnValid | None
    ) -> Iterator[ChannelRead]:
        for channel in CHANNELS:
            name = self.file_name(channel)
            data = read(name)
            receipt, table = read_channel_table(
                data, channel, file=cohort_file(key, name), name=name, parse=self.parser(channel)
            )
            cycles = reduce_cycles(channel.code, table)
            if on_valid:
                on_valid(name, data)
            yield ChannelRead(channel, receipt, cycles, table.to_numpy)


TSV = FilePerChannel(
    name="tsv", extension=".txt", summary="17 <CODE>.txt files (tab-separated, no header)"
)
"""The rig's own export: `PS1.txt` … `SE.txt`, one line of tab-separated values per cycle."""
