"""The strict reader's patterns accept exactly the same bytes with and without their atomic
groups and possessive quantifiers, so Python 3.10 (which compiles them without: linear_re)
judges a file exactly as 3.11+ does. The comparison needs a Python that has both forms."""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from energymobile.ingest import parse
from energymobile.ingest.linear_re import HAS_ATOMIC, backtracking_form, compile_linear

pytestmark = pytest.mark.unit

EXAMPLES = 300
"""Generated inputs per pattern."""

_PIECES = st.sampled_from(
    [b"0", b"7", b"35", b"1.5", b"-2", b"+", b"-", b".", b".5", b"5.", b"e", b"E-3", b"e+",
     b" ", b"  ", b"\t", b",", b"x", b"nan", b"inf", b"INFINITY", b"\xa0", b"1,5", b"9" * 30,
     b"1 2 3", b"1\t2\t", b"1,2,"]
)  # fmt: skip
_BYTES = st.lists(_PIECES, max_size=24).map(b"".join)

_PATTERNS = {
    "value": parse._VALUE_RE,
    "field": parse._FIELD_RE,
    "decimal comma": parse._DECIMAL_COMMA_RE,
    "non-finite": parse._NON_FINITE_RE,
    "non-space run": parse._NON_SPACE_RUN,
    "line of 3, spaces": parse._line_re(3, parse.SPACE),
    "line of 3, tabs": parse._line_re(3, parse.TAB),
    "line of 3, commas": parse._line_re(3, parse.COMMA),
}
needs_atomic = pytest.mark.skipif(
    not HAS_ATOMIC, reason="this Python's re has no atomic groups to compare with (3.10)"
)


def test_the_backtracking_form_drops_exactly_the_atomic_and_possessive_marks():
    assert backtracking_form(rb"(?>[+-]?+\d++(?:\.\d*+)?+) *+(?:,\d){3}+") == (
        rb"(?:[+-]?\d+(?:\.\d*)?) *(?:,\d){3}"
    )
    assert backtracking_form(rb"[+-]\+a+") == rb"[+-]\+a+"  # a class, an escape: kept


def test_patterns_are_compiled_as_written_where_re_has_atomic_groups():
    form = compile_linear(rb"\d++").pattern
    assert form == (rb"\d++" if HAS_ATOMIC else rb"\d+")


@needs_atomic
@pytest.mark.parametrize("name", list(_PATTERNS))
@settings(max_examples=EXAMPLES, deadline=None)
@given(data=_BYTES)
def test_both_forms_accept_exactly_the_same_bytes(name: str, data: bytes):
    compiled = _PATTERNS[name]
    written = re.compile(compiled.pattern, compiled.flags)
    plain = re.compile(backtracking_form(compiled.pattern), compiled.flags)
    assert written.pattern != plain.pattern
    assert (written.fullmatch(data) is None) == (plain.fullmatch(data) is None)
    assert [m.span() for m in written.finditer(data)] == [m.span() for m in plain.finditer(data)]
