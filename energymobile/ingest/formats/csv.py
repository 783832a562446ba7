"""CSV with a header: `PS1.csv` … `SE.csv`, a header line naming every column, then one line
of comma-separated values per cycle.

The header is `<CODE>_1,<CODE>_2,…,<CODE>_<samples>` (e.g. `PS1_1,…,PS1_6000`): checking it
proves the file has the documented number of columns and is the sensor its name says (a
PS2 file saved as PS1.csv is caught). Tolerated in the header: a UTF-8 byte-order mark, CRLF,
spaces around a name and names in double quotes (spreadsheet exports quote them). The lines
after it follow exactly the rules of the tab-separated files (parse.py), with commas; an error
names the line as the file numbers it, so cycle N is on line N + 2.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from energymobile.channels import Channel
from energymobile.ingest.errors import InputError, excerpt
from energymobile.ingest.formats.per_channel import FilePerChannel
from energymobile.ingest.parse import BOM, MAX_VALUE_BYTES, Table, is_blank, parse_table
from energymobile.ingest.reduce import TableParser
from energymobile.ingest.screen import refuse_compressed

SEPARATOR = ","
HEADER_LINES = 1


def header_names(code: str, columns: int) -> list[str]:
    return [f"{code}_{i}" for i in range(1, columns + 1)]


def header_line(code: str, columns: int) -> bytes:
    """The header a CSV delivery of this channel starts with (what a sender must write)."""
    return SEPARATOR.join(header_names(code, columns)).encode() + b"\n"


def parse_csv_table(data: bytes, *, file: str, columns: int, code: str) -> Table:
    """The header checked, then every value as float64 (rows × columns); InputError if bad."""
    start = len(BOM) if data.startswith(BOM) else 0
    refuse_compressed(data, file=file)
    end = data.find(b"\n", start)
    end = len(data) if end < 0 else end
    if end - start > columns * MAX_VALUE_BYTES:
        raise InputError(
            file,
            f"header line of {end - start} bytes: a header of {columns} names holds at most "
            f"{columns * MAX_VALUE_BYTES} bytes",
            line=1,
        )
    check_header(data[start:end], code=code, columns=columns, file=file)
    if is_blank(data, end):
        raise InputError(file, "no cycles: the file holds only its header line", line=2)
    try:
        return parse_table(data[end + 1 :], file=file, columns=columns, separator=SEPARATOR)
    except InputError as err:  # count lines as the file does: the header is line 1
        line = err.line + HEADER_LINES if err.line is not None else None
        raise InputError(err.file, err.reason, line=line, column=err.column) from None


def check_header(line: bytes, *, code: str, columns: int, file: str) -> None:
    """Raise InputError naming the first header column that is not the documented name."""
    line = line.rstrip(b" \t\r")
    if not line.strip():
        raise InputError(file, "file is empty: expected a header line, then one line per cycle")
    expected = header_names(code, columns)
    shown = f"{expected[0]},{expected[1]},…,{expected[-1]}"
    names = [
        field.strip(b" ").removeprefix(b'"').removesuffix(b'"').decode("latin-1")
        for field in line.split(SEPARATOR.encode())
    ]
    if _looks_numeric(names[0]):
        raise InputError(
            file, f"no header line: the first line holds values; expected {shown}", line=1
        )
    if len(names) == 1 and (b";" in line or b"\t" in line):
        other = "semicolons" if b";" in line else "tabs"
        raise InputError(
            file, f"header separated by {other}: expected commas ({shown})", line=1, column=1
        )
    for column, (got, want) in enumerate(zip(names, expected, strict=False), start=1):
        if got != want:
            raise InputError(
                file,
                f"header names column {column} {excerpt(got)}, expected {want!r} (header: {shown})",
                line=1,
                column=column,
            )
    if len(names) != columns:
        raise InputError(
            file,
            f"header has {len(names)} columns, expected {columns} ({shown})",
            line=1,
            column=min(len(names), columns) + 1,
        )


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class CsvWithHeader(FilePerChannel):
    def parser(self, channel: Channel) -> TableParser:
        return partial(parse_csv_table, code=channel.code)


CSV = CsvWithHeader(
    name="csv",
    extension=".csv",
    summary="17 <CODE>.csv files (comma-separated, header <CODE>_1,…,<CODE>_<n>)",
)
