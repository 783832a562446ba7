"""JSON Lines: one file, `cycles.jsonl`, one JSON object per cycle (per line):

    {"cycle": 0, "PS1": [151.47, 151.06, …], "PS2": […], …, "SE": [68.039, …]}

- `cycle` is the cycle number: 0 on the first line, then 1, 2, … in order. A delivery always
  holds its cohort from cycle 0, so a daily or partial file cannot be appended by mistake: it
  replaces the cohort whole, or is rejected (`cycle 24 where 0 was expected`).
- each of the 17 sensor codes holds an array of exactly `samples` JSON numbers (6000 for PS1).
- other keys are ignored; a key given twice counts once, its first occurrence (as polars reads
  it). Tolerated: a UTF-8 byte-order mark, CRLF, spaces between tokens, blank lines (the cycle
  numbers, not the line numbers, prove that no cycle is missing).

Errors name the line as a text editor counts it and, as the column, the key and 0-based index
of the value as `jq` would address it (`PS1[17]`), or the character position for invalid JSON.

The fast path is polars' typed NDJSON reader on chunks of about CHUNK_BYTES of whole lines, so
memory holds the file (the caller's bytes) and one chunk's values, not the cohort's 770 MB of
float64. A chunk that polars refuses, or whose values break a rule, is read again strictly with
Python's `json`, line by line, which raises the error naming line and column (or, for the
tolerated variations polars refuses, gives the same values). Full-resolution samples, asked
for by an export, are read again one channel at a time, for the same reason.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
import polars as pl

from energymobile.channels import CHANNELS, Channel
from energymobile.ingest.errors import EXCERPT_CHARS, InputError
from energymobile.ingest.formats.base import (
    ChannelRead,
    DeliveryFormat,
    OnValid,
    ReadFile,
    cohort_file,
    part_name,
)
from energymobile.ingest.parse import BOM, MAX_VALUE_BYTES, content_end, is_blank
from energymobile.ingest.reduce import (
    ChannelCycles,
    FileReceipt,
    concat_cycles,
    reduce_samples,
    sha256_beside,
)
from energymobile.ingest.screen import first_long_line, line_number, refuse_compressed

JSONL_NAME = "cycles.jsonl"
CYCLE_KEY = "cycle"
CHUNK_BYTES = 32 << 20
"""Text parsed at a time: 32 MB of whole lines (about 120 full cycles). Measured on a full
cohort: as fast as 64 MB (4.3 s), with a working set of ~250 MB beside the file instead of
~400 MB; 16 MB is slower."""
SAMPLES_GROUP_BYTES = 256 << 20
"""An export's samples are read again for a few channels per pass over the file, holding at
most this much float64 (two full 100 Hz channels): 4 passes over a full cohort, not 17, and
never all 770 MB."""
MAX_LINE_BYTES = (sum(c.samples for c in CHANNELS) + 1) * MAX_VALUE_BYTES
"""A cycle's line holds 43,680 values (~300 KB as the rig writes them): a longer line than
MAX_VALUE_BYTES per value is refused before polars reads it (docs/formats.md)."""
_MISSING = object()


@dataclass(frozen=True)
class _Chunk:
    """Whole lines `data[start:end]`; `last` if they end the file's content."""

    start: int
    end: int
    last: bool


@dataclass(frozen=True)
class _Constant:
    """NaN, Infinity or -Infinity: Python's json reads them, JSON has no such numbers."""

    text: str


@dataclass(frozen=True)
class _HugeInteger:
    """An integer of more digits than Python converts (4300): far beyond float64."""

    digits: int


def _integer(text: str) -> int | _HugeInteger:
    try:
        return int(text)
    except ValueError:
        return _HugeInteger(len(text))


def reduce_jsonl(data: bytes, *, file: str) -> dict[str, ChannelCycles]:
    """Validate the whole file and reduce every channel; raises InputError if bad."""
    parts: dict[str, list[ChannelCycles]] = {c.code: [] for c in CHANNELS}
    cycles = 0
    for chunk in _chunks(data, file):
        arrays = _read_chunk(data, chunk, cycles, file, CHANNELS)
        rows = len(arrays[CHANNELS[0].code])
        for channel in CHANNELS:
            part = reduce_samples(channel.code, arrays[channel.code])
            if not np.isfinite(part.mean).all():
                _raise_overflow(data, chunk, part, channel, file)
            parts[channel.code].append(part)
        cycles += rows
    return {code: concat_cycles(code, p) for code, p in parts.items()}


def channel_samples(
    data: bytes, channels: Sequence[Channel], *, file: str, cycles: int
) -> dict[str, np.ndarray]:
    """Some channels' (cycles × samples) float64 arrays, read again from the validated file."""
    out = {c.code: np.empty((cycles, c.samples)) for c in channels}
    row = 0
    for chunk in _chunks(data, file):
        arrays = _read_chunk(data, chunk, row, file, channels)
        rows = len(arrays[channels[0].code])
        for code, values in arrays.items():
            out[code][row : row + rows] = values
        row += rows
    return out


def sample_groups(cycles: int) -> list[tuple[Channel, ...]]:
    """CHANNELS in consecutive groups of at most SAMPLES_GROUP_BYTES of samples (at least one
    channel each)."""
    groups: list[tuple[Channel, ...]] = []
    current: list[Channel] = []
    size = 0
    for channel in CHANNELS:
        need = cycles * channel.samples * 8
        if current and size + need > SAMPLES_GROUP_BYTES:
            groups.append(tuple(current))
            current, size = [], 0
        current.append(channel)
        size += need
    if current:
        groups.append(tuple(current))
    return groups


class _Resampler:
    """Hands out channels' samples, reading the group a channel belongs to in one pass and
    keeping only that group: asked in CHANNELS order, each group is read once."""

    def __init__(self, data: bytes, *, file: str, cycles: int) -> None:
        self._data = data
        self._file = file
        self._cycles = cycles
        self._groups = sample_groups(cycles)
        self._held: dict[str, np.ndarray] = {}

    def samples(self, channel: Channel) -> np.ndarray:
        if channel.code not in self._held:
            group = next(g for g in self._groups if channel in g)
            self._held = {}  # let the previous group go before reading the next
            self._held = channel_samples(self._data, group, file=self._file, cycles=self._cycles)
        return self._held.pop(channel.code)


def _chunks(data: bytes, file: str) -> Iterator[_Chunk]:
    """Runs of whole lines of about CHUNK_BYTES, without a BOM and the blanks at the end;
    compressed data and impossibly long lines are refused first (screen.py)."""
    start = len(BOM) if data.startswith(BOM) else 0
    stop = content_end(data, start)
    if stop == start:
        raise InputError(file, "file is empty: expected one line per cycle")
    refuse_compressed(data, file=file)
    long_line = first_long_line(data, start, MAX_LINE_BYTES)
    if long_line is not None:
        end = data.find(b"\n", long_line)
        size = (len(data) if end < 0 else end) - long_line
        raise InputError(
            file,
            f"line of {size} bytes: a cycle's line holds at most {MAX_LINE_BYTES} bytes "
            f"({MAX_VALUE_BYTES} per value)",
            line=line_number(data, long_line),
        )
    while start < stop:
        cut = data.find(b"\n", min(start + CHUNK_BYTES, stop), stop)
        end = stop if cut < 0 else cut + 1
        yield _Chunk(start, end, last=end == stop)
        start = end


def _read_chunk(
    data: bytes, chunk: _Chunk, first_cycle: int, file: str, channels: Sequence[Channel]
) -> dict[str, np.ndarray]:
    """The chunk's (rows × samples) array per channel: fast if polars reads it cleanly,
    else strictly (which raises the error, if there is one)."""
    text = data[chunk.start : chunk.end]
    arrays = _fast_arrays(text, first_cycle, channels)
    if arrays is None:
        first_line = data.count(b"\n", 0, chunk.start) + 1
        arrays = _strict_arrays(text, first_line, first_cycle, file, channels, chunk.last)
    return arrays


def _schema(channels: Sequence[Channel]) -> dict[str, pl.DataType]:
    return {CYCLE_KEY: pl.Int64()} | {c.code: pl.List(pl.Float64()) for c in channels}


def _fast_arrays(
    text: bytes, first_cycle: int, channels: Sequence[Channel]
) -> dict[str, np.ndarray] | None:
    """polars' typed read; None if it refuses the text or a value breaks a rule (a missing
    key, an array of the wrong length, a null, a cycle out of sequence)."""
    try:
        frame = pl.read_ndjson(io.BytesIO(text), schema=_schema(channels))
    except (pl.exceptions.PolarsError, pl.exceptions.PanicException):
        return None
    rows = frame.height
    numbers = frame[CYCLE_KEY]
    if numbers.null_count() or not np.array_equal(
        numbers.to_numpy(), np.arange(first_cycle, first_cycle + rows)
    ):
        return None
    arrays = {}
    for channel in channels:
        column = frame[channel.code]
        if column.null_count() or (column.list.len() != channel.samples).any():
            return None
        values = column.explode()
        if values.null_count():
            return None
        arrays[channel.code] = values.to_numpy().reshape(rows, channel.samples)
    return arrays


def _strict_arrays(
    text: bytes,
    first_line: int,
    first_cycle: int,
    file: str,
    channels: Sequence[Channel],
    last: bool,
) -> dict[str, np.ndarray]:
    """Every line checked with Python's json: the values, or InputError at the first fault."""
    rows: dict[str, list[list[float]]] = {c.code: [] for c in channels}
    cycle = first_cycle
    for offset, raw, is_last in _text_lines(text):
        if is_blank(raw):
            continue
        where = _Where(file, first_line + offset)
        record = _json_object(raw, where, is_last=last and is_last)
        _check_cycle(record.get(CYCLE_KEY, _MISSING), cycle, where)
        for channel in channels:
            rows[channel.code].append(_channel_values(record, channel, where))
        cycle += 1
    return {
        c.code: np.array(rows[c.code], dtype=np.float64).reshape(-1, c.samples) for c in channels
    }


def _text_lines(text: bytes) -> Iterator[tuple[int, bytes, bool]]:
    """(0-based index, line, whether it is the last) of each line, one at a time: a chunk of
    millions of tiny lines is never split into millions of objects at once."""
    pos, index = 0, 0
    while True:
        cut = text.find(b"\n", pos)
        yield index, text[pos : len(text) if cut < 0 else cut], cut < 0
        if cut < 0:
            return
        pos, index = cut + 1, index + 1


@dataclass(frozen=True)
class _Where:
    """The line being checked; `error` names its column as a number (a character) or as a key
    and index (`PS1[17]`)."""

    file: str
    line: int

    def error(self, reason: str, column: int | str | None = None) -> InputError:
        return InputError(self.file, reason, line=self.line, column=column)


def _json_object(raw: bytes, where: _Where, *, is_last: bool) -> dict[str, object]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise where.error(
            f"unreadable byte 0x{raw[err.start]:02X}: JSON Lines are UTF-8", err.start + 1
        ) from None
    try:
        record = json.loads(
            text, parse_constant=_Constant, parse_int=_integer, object_pairs_hook=_first_wins
        )
    except json.JSONDecodeError as err:
        reason = f"invalid JSON: {err.msg}" + (" (truncated last line?)" if is_last else "")
        raise where.error(reason, err.colno) from None
    except ValueError as err:  # e.g. an integer of more than 4300 digits
        raise where.error(f"invalid JSON: {err}") from None
    if not isinstance(record, dict):
        raise where.error(f"expected a JSON object per cycle, found {_kind(record)}", 1)
    return record


def _first_wins(pairs: list[tuple[str, object]]) -> dict[str, object]:
    """A key given twice counts once, as its first occurrence (what polars' reader keeps)."""
    record: dict[str, object] = {}
    for key, value in pairs:
        record.setdefault(key, value)
    return record


def _check_cycle(value: object, expected: int, where: _Where) -> None:
    if value is _MISSING:
        reason = f'missing "{CYCLE_KEY}": expected the cycle number, {expected}'
        raise where.error(reason, CYCLE_KEY)
    if type(value) is not int:
        raise where.error(
            f"{_show(value)} is not a cycle number: expected the whole number {expected}",
            CYCLE_KEY,
        )
    if value == expected:
        return
    if expected == 0:
        reason = (
            f"cycle {value} where 0 was expected: a delivery holds its cohort from cycle 0 "
            "(a daily or partial delivery is sent whole and replaces the cohort; it is never "
            "appended)"
        )
    elif value == expected - 1:
        reason = f"cycle {value} again: each cycle once, one per line"
    elif value < expected:
        reason = f"cycle {value} out of order: {expected} was expected (cycles run 0, 1, 2, …)"
    else:
        reason = f"cycle {value} where {expected} was expected: {expected}–{value - 1} missing"
    raise where.error(reason, CYCLE_KEY)


def _channel_values(record: dict[str, object], channel: Channel, where: _Where) -> list[float]:
    code, samples = channel.code, channel.samples
    values = record.get(code, _MISSING)
    if values is _MISSING:
        raise where.error(f'missing "{code}": expected an array of {samples} numbers', code)
    if not isinstance(values, list):
        raise where.error(
            f'"{code}" holds {_kind(values)}: expected an array of {samples} numbers', code
        )
    floats = []
    for index, value in enumerate(values[:samples]):
        number = _as_float(value)
        if isinstance(number, str):
            raise where.error(number, f"{code}[{index}]")
        floats.append(number)
    if len(values) != samples:
        column = f"{code}[{min(len(values), samples)}]"
        raise where.error(f"expected {samples} values, found {len(values)}", column)
    return floats


def _as_float(value: object) -> float | str:
    """The value as a float64, or why it is not one."""
    if type(value) is float:
        return value if math.isfinite(value) else "value out of range for a float64"
    if type(value) is int:
        try:
            return float(value)
        except OverflowError:
            return "value out of range for a float64"
    if isinstance(value, _HugeInteger):
        return "value out of range for a float64"
    if isinstance(value, _Constant):
        return f"{value.text!r} is not a finite number (JSON has no NaN or Infinity)"
    return f"{_show(value)} is not a number"


def _kind(value: object) -> str:
    if value is None:
        return "null"
    names = {bool: "a boolean", str: "a string", list: "an array", dict: "an object"}
    return names.get(type(value), "a number")


def _show(value: object) -> str:
    """A JSON value as the file writes it (json escapes control and non-ASCII characters),
    cut to EXCERPT_CHARS characters."""
    if isinstance(value, _HugeInteger):
        return f"an integer of {value.digits} digits"
    text = json.dumps(value, default=str)
    if len(text) <= EXCERPT_CHARS:
        return text
    return f"{text[:EXCERPT_CHARS]}… ({len(text)} characters)"


def _raise_overflow(
    data: bytes, chunk: _Chunk, part: ChannelCycles, channel: Channel, file: str
) -> None:
    """Every value is a finite float64 but a cycle's values overflow when added up."""
    row = int(np.argmax(~np.isfinite(part.mean)))
    text = data[chunk.start : chunk.end]
    numbered = [i for i, raw, _ in _text_lines(text) if not is_blank(raw)]
    line = data.count(b"\n", 0, chunk.start) + 1 + numbered[row]
    raise _Where(file, line).error("the values of this line overflow when added up", channel.code)


class JsonLines(DeliveryFormat):
    """One `cycles.jsonl` holding all 17 channels, one line per cycle."""

    name = "jsonl"
    summary = 'one cycles.jsonl (a JSON object per cycle: "cycle" and an array per sensor)'

    @property
    def file_names(self) -> tuple[str, ...]:
        return (JSONL_NAME,)

    def read_channels(
        self, key: str, read: ReadFile, on_valid: OnValid | None
    ) -> Iterator[ChannelRead]:
        """Each channel's receipt is `cycles.jsonl#<CODE>`: its rows and columns, and the
        file's bytes and SHA-256 (the file is the unit that was delivered and is archived)."""
        file = cohort_file(key, JSONL_NAME)
        data = read(JSONL_NAME)
        digest = sha256_beside(data)
        cycles = reduce_jsonl(data, file=file)
        rows = len(cycles[CHANNELS[0].code].mean)
        sha256 = digest.result()
        if on_valid:
            on_valid(JSONL_NAME, data)
        resampler = _Resampler(data, file=file, cycles=rows)
        for channel in CHANNELS:
            receipt = FileReceipt(
                part_name(JSONL_NAME, channel), len(data), rows, channel.samples, sha256
            )
            samples = partial(resampler.samples, channel)
            yield ChannelRead(channel, receipt, cycles[channel.code], samples)


JSONL = JsonLines()
