"""The strict reader's regular expressions, linear in their input on every supported Python.

parse.py writes its patterns with atomic groups and possessive quantifiers (`(?>…)`, `\\d++`):
a failing match gives up at once instead of trying other splits of the same bytes, so no
edit can bring back the exponential line check of issue 15 unnoticed. Python's `re` has them
since 3.11 only. On 3.10 `compile_linear` compiles the same pattern without them
(`backtracking_form`). The patterns are unambiguous (each byte of a line can be matched in
one way only), so that form accepts exactly the same bytes (test_linear_re compares both on
generated input) and a failing match tries each byte's one alternative once and fails: still
linear, about twice as slow as the atomic form on valid lines (docs/deploy.md, "Python
versions"). The third-party `regex` module has atomic groups on 3.10 too, but it took 15 to
30 times as long as `re` on a 6000-value line, so it is not used.
"""

from __future__ import annotations

import re
import sys

HAS_ATOMIC = sys.version_info >= (3, 11)
"""Whether this Python's `re` knows `(?>…)` and possessive quantifiers."""

_ATOMIC_GROUP = re.compile(rb"\(\?>")
_POSSESSIVE_MARK = re.compile(rb"(?<=[*+?}])\+")
"""The `+` that makes a quantifier (`*`, `+`, `?`, `{n}`) possessive. Never a `+` in a
character class or an escaped one: the patterns here have no quantifier character before
either (test_linear_re checks the result on every pattern parse.py compiles)."""


def backtracking_form(pattern: bytes) -> bytes:
    """`pattern` with its atomic groups made plain groups and its possessive quantifiers
    greedy: `(?>[+-]?+\\d++)` -> `(?:[+-]?\\d+)`."""
    return _POSSESSIVE_MARK.sub(b"", _ATOMIC_GROUP.sub(b"(?:", pattern))


def compile_linear(pattern: bytes, flags: int = 0) -> re.Pattern[bytes]:
    """`pattern` as written on Python >= 3.11, its backtracking form on 3.10."""
    return re.compile(pattern if HAS_ATOMIC else backtracking_form(pattern), flags)
