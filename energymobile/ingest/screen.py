"""Cheap checks on a delivered file's bytes before any parser sees them.

A delivery is untrusted: a parser handed compressed bytes or a line of hundreds of megabytes
may decompress silently or allocate many times the input. These checks cost a few
comparisons and a pass of `bytes.rfind` over the file, and refuse such bytes with an
`InputError` naming the file (and line) first:

- compressed data (gzip, zlib, zstd, bzip2, xz, zip, lz4), told by content, not by name:
  deliveries are plain text (docs/formats.md says why), and polars would otherwise
  decompress gzip, zlib and zstd inside a `.txt` without a word;
- a line longer than any line of the documented number of values can be.
"""

from __future__ import annotations

import zlib

from energymobile.ingest.errors import InputError

_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x1f\x8b", "gzip"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"PK\x03\x04", "zip"),
    (b"\x04\x22\x4d\x18", "lz4"),
)
_ZLIB_HEADER_BYTES = 64


def compression_of(data: bytes) -> str | None:
    """The compression format whose stream the bytes start, if any."""
    for signature, name in _SIGNATURES:
        if data.startswith(signature):
            return name
    if data.startswith(b"BZh") and data[3:4].isdigit():
        return "bzip2"
    if len(data) >= 2 and data[0] == 0x78 and (data[0] << 8 | data[1]) % 31 == 0:
        # A zlib header is two bytes that text can also start with ("x^"): it is zlib only if
        # what follows inflates.
        try:
            zlib.decompressobj().decompress(data[:_ZLIB_HEADER_BYTES])
        except zlib.error:
            return None
        return "zlib"
    return None


def refuse_compressed(data: bytes, *, file: str) -> None:
    """InputError naming the file if it holds compressed bytes instead of text."""
    found = compression_of(data)
    if found is not None:
        raise InputError(
            file,
            f"holds {found}-compressed data, not text: deliveries are plain text; decompress "
            "it and deliver the text under the same name",
        )


def first_long_line(data: bytes, start: int, limit: int) -> int | None:
    """Where the first line longer than `limit` bytes (its end-of-line excluded) starts, or
    None. Linear, and fast: each step looks back from `limit` bytes ahead for the last line
    end, so a normal file costs a few hundred `rfind`s that each scan a line at most."""
    pos, size = start, len(data)
    while size - pos > limit:
        cut = data.rfind(b"\n", pos, pos + limit + 1)
        if cut < 0:
            return pos
        pos = cut + 1
    return None


def line_number(data: bytes, offset: int) -> int:
    """The 1-based line the byte at `offset` is on."""
    return data.count(b"\n", 0, offset) + 1
