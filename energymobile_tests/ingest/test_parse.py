"""The parser's contract: what it tolerates, and the exact file:line:column of what it rejects."""

import numpy as np
import pytest

from energymobile.ingest.errors import InputError
from energymobile.ingest.parse import parse_table

pytestmark = pytest.mark.unit

CLEAN = b"1.5\t2\t3\n4\t5.25\t-6\n"
EXPECTED = np.array([[1.5, 2, 3], [4, 5.25, -6]])


@pytest.mark.parametrize(
    ("case", "data"),
    [
        ("clean", CLEAN),
        ("CRLF line endings", CLEAN.replace(b"\n", b"\r\n")),
        ("UTF-8 byte-order mark", b"\xef\xbb\xbf" + CLEAN),
        ("missing final newline", CLEAN.rstrip(b"\n")),
        ("trailing spaces", b"1.5\t2\t3  \n4\t5.25\t-6 \n"),
        ("trailing tab", b"1.5\t2\t3\t\n4\t5.25\t-6\n"),
        ("empty lines at the end", CLEAN + b"\n\r\n\n"),
        ("spaces around values", b"1.5\t 2\t3\n4 \t5.25\t-6\n"),
        ("exponent and plus sign", b"15e-1\t+2\t3.\n4\t5.25\t-6\n"),
        ("cp1252 file (ASCII numbers)", CLEAN.decode().encode("cp1252")),
    ],
)
def test_tolerated_variations_parse_to_the_same_values(case, data):
    table = parse_table(data, file="PS1.txt", columns=3)
    np.testing.assert_array_equal(table.to_numpy(), EXPECTED)
    np.testing.assert_allclose(table.row_means(), EXPECTED.mean(axis=1))
    np.testing.assert_array_equal(table.first_column(), EXPECTED[:, 0])


@pytest.mark.parametrize(
    ("case", "data", "line", "column", "reason"),
    [
        ("empty file", b"", None, None, "file is empty"),
        ("only whitespace", b"\n\r\n", None, None, "file is empty"),
        ("text value", b"1\t2\t3\n4\tabc\t6\n", 2, 2, "'abc' is not a number"),
        ("decimal comma", b"1\t2\t3\n4\t1,5\t6\n", 2, 2, "decimal comma"),
        ("nan", b"1\tnan\t3\n4\t5\t6\n", 1, 2, "'nan' is not a finite number"),
        ("inf", b"1\t2\t3\n4\t5\t-inf\n", 2, 3, "'-inf' is not a finite number"),
        ("empty field between tabs", b"1\t\t3\n4\t5\t6\n", 1, 2, "empty value"),
        ("too few values", b"1\t2\t3\n4\t5\n7\t8\t9\n", 2, 3, "expected 3 values, found 2"),
        ("too many values", b"1\t2\t3\t4\n5\t6\t7\n", 1, 4, "expected 3 values, found 4"),
        ("truncated last line", b"1\t2\t3\n4\t5", 2, 3, "truncated last line"),
        ("truncated number", b"1\t2\t3\n4\t5\t6.\x00", 2, 3, "not a number"),
        ("empty line between cycles", b"1\t2\t3\n\n4\t5\t6\n", 2, None, "a cycle is missing"),
        ("quoted value", b'1\t"2"\t3\n4\t5\t6\n', 1, 2, "is not a number"),
        ("unreadable byte", b"1\t2\t3\n4\t5\xa06\t6\n", 2, 2, "unreadable byte 0xA0"),
        ("UTF-16 file", "1\t2\t3\n".encode("utf-16"), 1, 1, "unreadable byte"),
        ("out of float64 range", b"1\t2\t3\n4\t1e999\t6\n", 2, 2, "out of range"),
    ],
)
def test_bad_input_names_file_line_and_column(case, data, line, column, reason):
    with pytest.raises(InputError) as caught:
        parse_table(data, file="logs/2008-03-26/PS1.txt", columns=3)
    error = caught.value
    assert (error.file, error.line, error.column) == ("logs/2008-03-26/PS1.txt", line, column)
    assert reason in str(error)
    where = ":".join(str(p) for p in ("logs/2008-03-26/PS1.txt", line, column) if p is not None)
    assert str(error).startswith(where + ": ")


def test_a_wide_file_reports_the_first_bad_column():
    row = ["1.0"] * 6000
    row[4321] = "x"
    data = ("\t".join(["2.0"] * 6000) + "\n" + "\t".join(row) + "\n").encode()
    with pytest.raises(InputError, match=r"PS2.txt:2:4322: 'x' is not a number"):
        parse_table(data, file="PS2.txt", columns=6000)


def test_row_means_are_accumulated_in_float64():
    data = b"\t".join([b"0.1"] * 6000) + b"\n"
    table = parse_table(data, file="PS1.txt", columns=6000)
    assert table.row_means()[0] == pytest.approx(0.1, rel=1e-12)
