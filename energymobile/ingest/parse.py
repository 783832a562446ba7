"""Parse one sensor file into a (cycles × samples) float64 matrix.

Values are separated by tabs or by spaces (the rig's `.txt` files and profile.txt; the first
brief calls them "whitespace delimited"), or by commas (a CSV delivery's body, after its
header). A file uses one kind: told by its first line (a tab between values there: tabs;
else spaces). In a tab-separated file spaces around a value are tolerated; in a
space-separated one, runs of spaces and spaces at the start of a line are. A space between
two values of a tab-separated file, or a tab in a space-separated one, is an error naming its
line and column.

First the bytes are screened (screen.py): compressed data, and any line longer than
`columns × MAX_VALUE_BYTES`, are refused before a parser sees them. The fast path is polars'
typed CSV reader on the raw bytes. Whenever it fails or yields a non-finite value, `diagnose`
re-reads the bytes strictly, line by line, and either raises an `InputError` naming file, line
and column, or (for the tolerated variations below) hands back normalised bytes that the fast
path then parses. So clean files pay for one typed read, and every file is judged by the same
rules. The strict reader is linear in its input: it walks the lines lazily, stops at the first
fault, and its regular expressions are made of atomic groups and possessive quantifiers, which
never backtrack (on Python 3.10, which lacks them, an equivalent unambiguous form: linear_re).

Tolerated: CRLF line endings, a UTF-8 byte-order mark, a missing final newline, spaces or tabs
at the end of a line, spaces around a value, empty lines at the end of the file, and cp1252 or
Latin-1 encoding (they agree with ASCII on every character a number can contain).
Rejected: anything else, in particular empty fields, `nan`/`inf`, decimal commas, quoted values,
empty lines between cycles, wrong value counts and non-ASCII bytes. Messages quote a bad value
only as a short escaped excerpt (errors.excerpt).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import polars as pl

from energymobile.ingest.errors import EXCERPT_CHARS, InputError, excerpt
from energymobile.ingest.linear_re import compile_linear
from energymobile.ingest.screen import first_long_line, line_number, refuse_compressed

BOM = b"\xef\xbb\xbf"
TAB = "\t"
SPACE = " "
COMMA = ","
MAX_VALUE_BYTES = 100
"""Room for one value in a line, its separator and any padding included. A float64 needs at
most ~25 characters and the rig writes ~7, so a line longer than `columns × 100` bytes cannot
be a line of values: it is refused before polars, which can need tens of times a huge line's
size to read it."""

_VALUE = rb"(?>[+-]?+(?:\d++(?:\.\d*+)?+|\.\d++)(?:[eE][+-]?+\d++)?+)"
"""A decimal number: `1`, `-1.5`, `.5`, `5.`, `1e-3`. Atomic and possessive: linear."""
_FIELD = rb"(?> *+" + _VALUE + rb" *+)"
"""A value with spaces around it, between two tabs or commas."""
_VALUE_RE = compile_linear(_VALUE)
_FIELD_RE = compile_linear(_FIELD)
_DECIMAL_COMMA_RE = compile_linear(rb" *+[+-]?+\d++,\d++ *+")
_NON_FINITE_RE = compile_linear(rb" *+[+-]?+(?:nan|inf|infinity) *+", re.IGNORECASE)
_NON_ASCII = re.compile(rb"[\x80-\xff]")
_NON_SPACE_RUN = compile_linear(rb"[^ ]++")
_TRAILING = b" \t\r"
_BLANKS = b" \t\r\n"
_NOT_BLANK = re.compile(rb"[^ \t\r\n]")
"""Finds the first character that is not blank, without copying a 90 MB file as strip does."""
_SEPARATOR_NAMES = {TAB: "tabs", SPACE: "spaces", COMMA: "commas"}


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


def parse_table(data: bytes, *, file: str, columns: int, separator: str | None = None) -> Table:
    """Every value of the file as float64, (rows × columns); raises InputError if bad.

    `separator` is `","` for a CSV body; None (the rig's files) means tabs or spaces, told
    from the first line (`file_separator`).
    """
    start = len(BOM) if data.startswith(BOM) else 0
    if is_blank(data, start):
        raise InputError(file, "file is empty: expected one line per cycle")
    refuse_compressed(data, file=file)
    separator = separator or file_separator(data, start)
    limit = columns * MAX_VALUE_BYTES
    long_line = first_long_line(data, start, limit)
    if long_line is not None:
        _raise_long_line(data, long_line, file=file, columns=columns, separator=separator)
    table = None if _needs_strict_reading(data, separator) else _fast_read(data, columns, separator)
    if table is not None and np.isfinite(table.row_sums).all():
        return table
    normalised, normalised_separator = diagnose(
        data, file=file, columns=columns, separator=separator
    )
    table = _fast_read(normalised, columns, normalised_separator)
    if table is None:  # diagnose accepted what polars refused: a bug here, not in the file
        raise InputError(file, "values accepted by the validator could not be parsed")
    if not np.isfinite(table.row_sums).all():
        _raise_out_of_range(table, normalised, file, normalised_separator)
    return table


def is_blank(data: bytes, start: int = 0) -> bool:
    """Whether the bytes from `start` on are only blanks and line ends."""
    return not _NOT_BLANK.search(data, start)


def content_end(data: bytes, start: int = 0) -> int:
    """Where the content ends, before trailing blank lines (looked for from the end, by
    blocks, without copying the file as rstrip would)."""
    end = len(data)
    while end > start:
        block = data[max(start, end - 4096) : end]
        kept = block.rstrip(_BLANKS)
        if kept:
            return end - (len(block) - len(kept))
        end -= len(block)
    return start


def file_separator(data: bytes, start: int = 0) -> str:
    """TAB if the first line has a tab before a value, else SPACE if it has a space between
    two values, else TAB (one value per line). Looks at the first line only, without copying."""
    stop = data.find(b"\n", start)
    stop = len(data) if stop < 0 else stop
    tab = data.find(b"\t", start, stop)
    if tab >= 0 and _NOT_BLANK.search(data, tab, stop):
        return TAB
    first = _NOT_BLANK.search(data, start, stop)
    if first is not None:
        space = data.find(b" ", first.start(), stop)
        if space >= 0 and _NOT_BLANK.search(data, space, stop):
            return SPACE
    return TAB


def _has_lone_carriage_return(data: bytes) -> bool:
    """Whether a CR stands anywhere but before a line feed. polars takes one at the end of a
    value as its end (`1\r\t2` reads as 1, 2); the rules allow it only in a CRLF line end, so
    such a file goes to the strict reader. One `in` (memchr) for a file without CR."""
    return b"\r" in data and data.count(b"\r") != data.count(b"\r\n")


def _needs_strict_reading(data: bytes, separator: str) -> bool:
    """Bytes polars would read more leniently than the rules: a lone carriage return (taken as
    a value's end), or a tab in a file not separated by tabs (polars trims tabs around a value,
    so `4 \t5` in a space-separated file, or `1,\t5` in a CSV body, would load). One memchr
    pass each; such files go through `diagnose`, which refuses or normalises them."""
    return _has_lone_carriage_return(data) or (separator != TAB and b"\t" in data)


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
    except (pl.exceptions.PolarsError, pl.exceptions.PanicException, OSError):
        # unparsable value, too many fields, bad bytes; OSError: what polars took for a
        # compressed stream (a line starting "x^") did not inflate
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


def _raise_out_of_range(table: Table, text: bytes, file: str, separator: str) -> None:
    """Name the first value that is finite text but not a finite float64 (e.g. 1e999)."""
    bad = np.argwhere(~np.isfinite(table.to_numpy()))
    if bad.size:
        row, col = (int(i) for i in bad[0])
        token = token_at(text, row + 1, col + 1, separator)
        raise InputError(
            file,
            f"{excerpt(token)}: value out of range for a float64",
            line=row + 1,
            column=col + 1,
        )
    row = int(np.argmax(~np.isfinite(table.row_sums)))
    raise InputError(file, "the values of this line overflow when added up", line=row + 1)


def token_at(data: bytes, line: int, column: int, separator: str | None = None) -> bytes:
    """The value at a 1-based line and column as written in the file (spaces around it
    removed), for messages; b"" if there is none."""
    pos = len(BOM) if data.startswith(BOM) else 0
    separator = separator or file_separator(data, pos)
    for _ in range(line - 1):
        pos = data.find(b"\n", pos) + 1
        if pos == 0:
            return b""
    stop = data.find(b"\n", pos)
    stop = len(data) if stop < 0 else stop
    for number, (begin, end) in enumerate(_field_spans(data, pos, stop, separator), start=1):
        if number == column:
            return data[begin:end].strip(_TRAILING)
    return b""


def _field_spans(data: bytes, start: int, stop: int, separator: str) -> Iterator[tuple[int, int]]:
    """(begin, end) of each field of the line data[start:stop], lazily: a huge line costs
    only as many steps as the fields looked at."""
    if separator == SPACE:
        for match in _NON_SPACE_RUN.finditer(data, start, stop):
            yield match.span()
        return
    sep = separator.encode()
    pos = start
    while True:
        cut = data.find(sep, pos, stop)
        yield pos, stop if cut < 0 else cut
        if cut < 0:
            return
        pos = cut + 1


def _raise_long_line(data: bytes, start: int, *, file: str, columns: int, separator: str) -> None:
    """Say why the line at `start` is longer than any line of `columns` values can be: a value
    too long for a number, or too many values. Looks at no more than columns + 1 fields."""
    number = line_number(data, start)
    stop = data.find(b"\n", start)
    stop = len(data) if stop < 0 else stop
    limit = columns * MAX_VALUE_BYTES
    for column, (begin, end) in enumerate(_field_spans(data, start, stop, separator), start=1):
        if column > columns:
            found = (
                f"more than {columns}"
                if separator == SPACE
                else str(data.count(separator.encode(), start, stop) + 1)
            )
            reason = f"expected {columns} values, found {found}"
            raise InputError(file, reason, line=number, column=columns + 1)
        if end - begin > MAX_VALUE_BYTES:
            shown = excerpt(data[begin : begin + EXCERPT_CHARS], end - begin)
            raise InputError(
                file,
                f"{shown} is longer than any number: a line of {columns} values holds at most "
                f"{limit} bytes",
                line=number,
                column=column,
            )
    raise InputError(
        file,
        f"line of {stop - start} bytes: a line of {columns} values holds at most {limit} bytes",
        line=number,
    )


@lru_cache(maxsize=32)
def _line_re(columns: int, separator: str) -> re.Pattern[bytes]:
    """A whole valid line of `columns` values (its end-of-line blanks removed)."""
    if separator == SPACE:
        return compile_linear(rb" *+" + _VALUE + rb"(?: ++" + _VALUE + rb"){%d}+" % (columns - 1))
    sep = re.escape(separator.encode())
    return compile_linear(_FIELD + rb"(?:" + sep + _FIELD + rb"){%d}+" % (columns - 1))


def _lines(data: bytes, start: int, end: int) -> Iterator[tuple[int, bytes, bool]]:
    """(number, line without its end-of-line blanks, whether it is the last) for each line
    of data[start:end], one at a time."""
    number, pos = 0, start
    while pos < end:
        cut = data.find(b"\n", pos, end)
        stop = end if cut < 0 else cut
        number += 1
        yield number, data[pos:stop].rstrip(_TRAILING), cut < 0
        pos = stop + 1


def diagnose(data: bytes, *, file: str, columns: int, separator: str = TAB) -> tuple[bytes, str]:
    """Check every line strictly; raise InputError at the first fault, or return the
    tolerated input normalised (no BOM, no end-of-line blanks, no spaces around values) and
    the separator it now uses (tabs for a space-separated file)."""
    start = len(BOM) if data.startswith(BOM) else 0
    end = content_end(data, start)
    if end == start:
        raise InputError(file, "file is empty: expected one line per cycle")
    line_re = _line_re(columns, separator)
    sep = separator.encode()
    clean: list[bytes] = []
    for number, line, is_last in _lines(data, start, end):
        if not line_re.fullmatch(line):
            _raise_line_error(
                line,
                file=file,
                line_number=number,
                columns=columns,
                is_last=is_last,
                separator=separator,
            )
        if separator == SPACE:
            line = b"\t".join(line.split())
        elif b" " in line:  # spaces around values: tolerated, removed for the typed reader
            line = sep.join(field.strip(b" ") for field in line.split(sep))
        clean.append(line)
    return b"\n".join(clean) + b"\n", TAB if separator == SPACE else separator


def _raise_line_error(
    line: bytes, *, file: str, line_number: int, columns: int, is_last: bool, separator: str
) -> None:
    if not line:
        raise InputError(file, "empty line: a cycle is missing", line=line_number)
    if separator == SPACE:
        fields = line.split(b" ")
        fields = [f for f in fields if f]
        value_re = _VALUE_RE
    else:
        fields = line.split(separator.encode())
        value_re = _FIELD_RE
    for position, field in enumerate(fields[:columns], start=1):
        if value_re.fullmatch(field):
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


def _describe_bad_value(field: bytes, separator: str) -> str:
    if not field.strip(b" "):
        return f"empty value (two {_SEPARATOR_NAMES.get(separator, separator)} in a row?)"
    non_ascii = _NON_ASCII.search(field)
    if non_ascii:
        return f"unreadable byte 0x{field[non_ascii.start()]:02X}: expected a number"
    shown = excerpt(field.strip(b" "))
    if separator == SPACE and b"\t" in field:
        return (
            f"{shown} holds a tab, but this file separates its values by spaces (as its "
            "first line does): use one kind of separator"
        )
    if separator == TAB and _is_values_separated_by_spaces(field):
        return (
            f"{shown} holds values separated by spaces, but this file separates its values "
            "by tabs (as its first line does): use one kind of separator"
        )
    if _DECIMAL_COMMA_RE.fullmatch(field):
        return f"{shown} uses a decimal comma: expected a point, e.g. 1.5"
    if _NON_FINITE_RE.fullmatch(field):
        return f"{shown} is not a finite number"
    return f"{shown} is not a number"


def _is_values_separated_by_spaces(field: bytes) -> bool:
    parts = field.split(b" ")
    values = [p for p in parts if p]
    return len(values) > 1 and all(_VALUE_RE.fullmatch(v) for v in values)
