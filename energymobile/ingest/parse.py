"""Parse one tab-delimited sensor file into a (cycles × samples) float64 matrix.

The fast path is polars' typed CSV reader on the raw bytes. Whenever it fails or yields a
non-finite value, `diagnose` re-reads the bytes strictly, line by line, and either raises an
`InputError` naming file, line and column, or (for the tolerated variations below) hands back
normalised bytes that the fast path then parses. So clean files pay for one typed read, and
every file is judged by the same rules.

Tolerated: CRLF line endings, a UTF-8 byte-order mark, a missing final newline, spaces or tabs
at the end of a line, spaces around a value, empty lines at the end of the file, and cp1252 or
Latin-1 encoding (they agree with ASCII on every character a number can contain).
Rejected: anything else, in particular empty fields, `nan`/`inf`, decimal commas, quoted values,
empty lines between cycles, wrong value counts and non-ASCII bytes.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

import numpy as np
import polars as pl

from energymobile.ingest.errors import InputError

BOM = b"\xef\xbb\xbf"
_NUMBER = rb" *[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)? *"
_NUMBER_RE = re.compile(_NUMBER)
_DECIMAL_COMMA_RE = re.compile(rb" *[+-]?\d+,\d+ *")
_NON_FINITE_RE = re.compile(rb" *[+-]?(?:nan|inf|infinity) *", re.IGNORECASE)
_TRAILING = b" \t\r"
_NOT_BLANK = re.compile(rb"[^ \t\r\n]")
"""Finds the first character that is not blank, without copying a 90 MB file as strip does."""


@dataclass(frozen=True)
class Table:
    """A parsed file: the values column by column, and each row's sum (taken while validating)."""

    frame: pl.DataFrame
    row_sums: np.ndarray

    @property
    def rows(self) -> int:
        return self.frame.height

    def row_means(self) -> np.ndarray:
        return self.row_sums / self.frame.width

    def first_column(self) -> np.ndarray:
        return self.frame.to_series(0).to_numpy().copy()

    def to_numpy(self) -> np.ndarray:
        return self.frame.to_numpy(order="c")


def parse_table(data: bytes, *, file: str, columns: int) -> Table:
    """Every value of the file as float64, (rows × columns); raises InputError if bad."""
    if not _NOT_BLANK.search(data, len(BOM) if data.startswith(BOM) else 0):
        raise InputError(file, "file is empty: expected one line per cycle")
    table = _fast_read(data, columns)
    if table is not None and np.isfinite(table.row_sums).all():
        return table
    normalised = diagnose(data, file=file, columns=columns)
    table = _fast_read(normalised, columns)
    if table is None:  # diagnose accepted what polars refused: a bug here, not in the file
        raise InputError(file, "values accepted by the validator could not be parsed")
    if not np.isfinite(table.row_sums).all():
        _raise_out_of_range(table, file)
    return table


def _fast_read(data: bytes, columns: int) -> Table | None:
    """polars' typed read and the row sums; None when polars refuses the bytes.

    A non-finite row sum flags a null (missing or empty field), `nan`, `inf` or an overflow:
    checking the sums is one cheap pass instead of a second scan of every value.
    """
    try:
        frame = pl.read_csv(
            io.BytesIO(data),
            separator="\t",
            has_header=False,
            quote_char=None,
            schema={f"v{i}": pl.Float64 for i in range(columns)},
        )
    except pl.exceptions.PolarsError:  # unparsable value, too many fields, bad bytes
        return None
    if frame.height == 0:
        return None
    sums = np.zeros(frame.height)
    for column in frame.iter_columns():
        sums += column.to_numpy()  # nulls arrive as nan
    return Table(frame, sums)


def _raise_out_of_range(table: Table, file: str) -> None:
    """Name the first value that is finite text but not a finite float64 (e.g. 1e999)."""
    bad = np.argwhere(~np.isfinite(table.to_numpy()))
    if bad.size:
        row, col = (int(i) for i in bad[0])
        raise InputError(file, "value out of range for a float64", line=row + 1, column=col + 1)
    row = int(np.argmax(~np.isfinite(table.row_sums)))
    raise InputError(file, "the values of this line overflow when added up", line=row + 1)


def diagnose(data: bytes, *, file: str, columns: int) -> bytes:
    """Check every line strictly; return tolerated input normalised, or raise InputError."""
    if data.startswith(BOM):
        data = data[len(BOM) :]
    lines = data.split(b"\n")
    while lines and not lines[-1].strip(_TRAILING):
        lines.pop()  # empty lines at the end: tolerated
    if not lines:
        raise InputError(file, "file is empty: expected one line per cycle")
    line_re = re.compile(_NUMBER + (rb"\t" + _NUMBER) * (columns - 1))
    clean: list[bytes] = []
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip(_TRAILING)
        if not line_re.fullmatch(line):
            _raise_line_error(
                line, file=file, line_number=number, columns=columns, is_last=number == len(lines)
            )
        if b" " in line:  # spaces around values: tolerated, removed for the typed reader
            line = b"\t".join(field.strip(b" ") for field in line.split(b"\t"))
        clean.append(line)
    return b"\n".join(clean) + b"\n"


def _raise_line_error(
    line: bytes, *, file: str, line_number: int, columns: int, is_last: bool
) -> None:
    if not line:
        raise InputError(file, "empty line: a cycle is missing", line=line_number)
    fields = line.split(b"\t")
    for position, field in enumerate(fields[:columns], start=1):
        if _NUMBER_RE.fullmatch(field):
            continue
        raise InputError(file, _describe_bad_value(field), line=line_number, column=position)
    if len(fields) < columns:
        reason = f"expected {columns} values, found {len(fields)}"
        if is_last:
            reason += " (truncated last line?)"
        raise InputError(file, reason, line=line_number, column=len(fields) + 1)
    raise InputError(
        file,
        f"expected {columns} values, found {len(fields)}",
        line=line_number,
        column=columns + 1,
    )


def _describe_bad_value(field: bytes) -> str:
    if not field.strip():
        return "empty value (two tabs in a row?)"
    if any(b > 0x7F for b in field):
        offending = next(b for b in field if b > 0x7F)
        return f"unreadable byte 0x{offending:02X}: expected a number"
    shown = field.decode("ascii", errors="backslashreplace")
    if len(shown) > 40:
        shown = shown[:40] + "…"
    if _DECIMAL_COMMA_RE.fullmatch(field):
        return f"{shown!r} uses a decimal comma: expected a point, e.g. 1.5"
    if _NON_FINITE_RE.fullmatch(field):
        return f"{shown!r} is not a finite number"
    return f"{shown!r} is not a number"
