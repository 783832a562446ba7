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

The same rules read a comma-separated body (`separator=","`, the CSV delivery format after its
header line): only the character between values differs.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
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
TAB = "\t"
_SEPARATOR_NAMES = {"\t": "tabs", ",": "commas"}


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


def parse_table(data: bytes, *, file: str, columns: int, separator: str = TAB) -> Table:
    """Every value of the file as float64, (rows × columns); raises InputError if bad."""
    if is_blank(data, len(BOM) if data.startswith(BOM) else 0):
        raise InputError(file, "file is empty: expected one line per cycle")
    table = _fast_read(data, columns, separator)
    if table is not None and np.isfinite(table.row_sums).all():
        return table
    normalised = diagnose(data, file=file, columns=columns, separator=separator)
    table = _fast_read(normalised, columns, separator)
    if table is None:  # diagnose accepted what polars refused: a bug here, not in the file
        raise InputError(file, "values accepted by the validator could not be parsed")
    if not np.isfinite(table.row_sums).all():
        _raise_out_of_range(table, file)
    return table


def is_blank(data: bytes, start: int = 0) -> bool:
    """Whether the bytes from `start` on are only blanks and line ends."""
    return not _NOT_BLANK.search(data, start)


def _fast_read(data: bytes, columns: int, separator: str) -> Table | None:
    """polars' typed read and the row sums; None when polars refuses the bytes.

    A non-finite row sum flags a null (missing or empty field), `nan`, `inf` or an overflow:
    checking the sums is one cheap pass instead of a second scan of every value.
    """
    try:
        frame = pl.read_csv(
            io.BytesIO(data),
            separator=separator,
            has_header=False,
            quote_char=None,
            schema={f"v{i}": pl.Float64 for i in range(columns)},
        )
    except pl.exceptions.PolarsError:  # unparsable value, too many fields, bad bytes
        return None
    if frame.height == 0:
        return None
    return Table(frame, sum_columns((c.to_numpy() for c in frame.iter_columns()), frame.height))


def sum_columns(columns: Iterable[np.ndarray], rows: int) -> np.ndarray:
    """Each row's sum, adding the columns left to right in float64 (nulls arrive as nan).

    The one summation order for every delivery format, so that a cycle's mean is the same
    float whether it was delivered as TSV, CSV or JSON Lines.
    """
    sums = np.zeros(rows)
    with np.errstate(over="ignore", invalid="ignore"):  # callers check that sums are finite
        for column in columns:
            sums += column
    return sums


def _raise_out_of_range(table: Table, file: str) -> None:
    """Name the first value that is finite text but not a finite float64 (e.g. 1e999)."""
    bad = np.argwhere(~np.isfinite(table.to_numpy()))
    if bad.size:
        row, col = (int(i) for i in bad[0])
        raise InputError(file, "value out of range for a float64", line=row + 1, column=col + 1)
    row = int(np.argmax(~np.isfinite(table.row_sums)))
    raise InputError(file, "the values of this line overflow when added up", line=row + 1)


def diagnose(data: bytes, *, file: str, columns: int, separator: str = TAB) -> bytes:
    """Check every line strictly; return tolerated input normalised, or raise InputError."""
    if data.startswith(BOM):
        data = data[len(BOM) :]
    lines = data.split(b"\n")
    while lines and not lines[-1].strip(_TRAILING):
        lines.pop()  # empty lines at the end: tolerated
    if not lines:
        raise InputError(file, "file is empty: expected one line per cycle")
    sep = separator.encode()
    line_re = re.compile(_NUMBER + (re.escape(sep) + _NUMBER) * (columns - 1))
    clean: list[bytes] = []
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip(_TRAILING)
        if not line_re.fullmatch(line):
            _raise_line_error(
                line,
                file=file,
                line_number=number,
                columns=columns,
                is_last=number == len(lines),
                separator=separator,
            )
        if b" " in line:  # spaces around values: tolerated, removed for the typed reader
            line = sep.join(field.strip(b" ") for field in line.split(sep))
        clean.append(line)
    return b"\n".join(clean) + b"\n"


def _raise_line_error(
    line: bytes, *, file: str, line_number: int, columns: int, is_last: bool, separator: str
) -> None:
    if not line:
        raise InputError(file, "empty line: a cycle is missing", line=line_number)
    fields = line.split(separator.encode())
    for position, field in enumerate(fields[:columns], start=1):
        if _NUMBER_RE.fullmatch(field):
            continue
        reason = _describe_bad_value(field, separator)
        raise InputError(file, reason, line=line_number, column=position)
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


def _describe_bad_value(field: bytes, separator: str = TAB) -> str:
    if not field.strip():
        return f"empty value (two {_SEPARATOR_NAMES.get(separator, separator)} in a row?)"
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
