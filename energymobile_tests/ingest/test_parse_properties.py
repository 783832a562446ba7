"""Property: any corruption of a valid file either parses exactly or raises our InputError.

Never another exception, never silently different numbers: when the parser accepts a corrupted
file, its values must equal an independent strict reading of the same bytes. Files are
separated by tabs or by (runs of) spaces.
"""

import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from energymobile.ingest.errors import InputError
from energymobile.ingest.parse import parse_table

pytestmark = pytest.mark.unit

COLUMNS = 6
FILE = "logs/2008-03-26/PS1.txt"
CORRUPTION_EXAMPLES = 400

_value = st.floats(min_value=-1e4, max_value=1e4, allow_nan=False).map(lambda v: f"{v:.3f}")
_rows = st.lists(st.lists(_value, min_size=COLUMNS, max_size=COLUMNS), min_size=1, max_size=8)
_junk = st.sampled_from(
    [
        b"",
        b"\t",
        b"\n",
        b"\r\n",
        b" ",
        b",",
        b".",
        b"-",
        b"e",
        b"nan",
        b"inf",
        b"x",
        b"\xef\xbb\xbf",
        b"\xa0",
        b"\x00",
        b'"',
        b"1,5",
        b"\t\t",
        b"99999e9999",
        b"+",
        b"E5",
    ]
)
_NUMBER = re.compile(rb" *[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)? *")


def _reference(data: bytes) -> np.ndarray | None:
    """An independent, slow reading of the documented rules; None if the file is invalid."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    lines = data.split(b"\n")
    while lines and not lines[-1].strip(b" \t\r"):
        lines.pop()
    first = lines[0].strip(b" \t\r") if lines else b""
    by_spaces = b"\t" not in first and b" " in first
    rows = []
    for line in lines:
        line = line.rstrip(b" \t\r")
        fields = [f for f in line.split(b" ") if f] if by_spaces else line.split(b"\t")
        if len(fields) != COLUMNS or not all(_NUMBER.fullmatch(f) for f in fields):
            return None
        values = [float(f) for f in fields]
        if not all(np.isfinite(values)):
            return None
        rows.append(values)
    return np.array(rows) if rows else None


@st.composite
def corrupted_files(draw):
    rows = draw(_rows)
    separator = draw(st.sampled_from(["\t", " ", "   "]))
    data = bytearray(b"".join((separator.join(r) + "\n").encode() for r in rows))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        action = draw(st.sampled_from(["insert", "delete", "replace", "truncate"]))
        at = draw(st.integers(min_value=0, max_value=len(data)))
        if action == "insert":
            data[at:at] = draw(_junk)
        elif action == "delete":
            del data[at : at + draw(st.integers(min_value=1, max_value=4))]
        elif action == "replace" and at < len(data):
            data[at] = draw(st.integers(min_value=0, max_value=255))
        else:
            del data[at:]
    return bytes(data)


@settings(
    max_examples=CORRUPTION_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(corrupted_files())
def test_corruption_parses_exactly_or_raises_input_error(data):
    expected = _reference(data)
    try:
        table = parse_table(data, file=FILE, columns=COLUMNS)
    except InputError as error:
        assert expected is None, f"rejected a valid file: {error}"
        assert error.file == FILE
        return
    assert expected is not None, "accepted a file the rules reject"
    np.testing.assert_array_equal(table.to_numpy(), expected)
