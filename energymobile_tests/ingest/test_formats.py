"""The delivery formats: detection by file names, and the CSV and JSON Lines readers' contract
(what each tolerates, and the exact file, line and column of what it rejects)."""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Callable

import numpy as np
import pytest
import zstandard

from energymobile.channels import CHANNELS
from energymobile.ingest.errors import InputError
from energymobile.ingest.formats import CSV, JSONL, TSV, delivery_format, detect
from energymobile.ingest.formats import jsonl as jsonl_module
from energymobile.ingest.formats.csv import header_line, parse_csv_table
from energymobile.ingest.formats.jsonl import reduce_jsonl, sample_groups
from energymobile.ingest.reduce import reduce_samples

pytestmark = pytest.mark.unit

KEY = "2008-03-26"
TXT = [c.file_name for c in CHANNELS]
CSVS = [f"{c.code}.csv" for c in CHANNELS]

# ---------------------------------------------------------------------------------------------
# Detection
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (TXT, "tsv"),
        (CSVS, "csv"),
        (["cycles.jsonl"], "jsonl"),
        (TXT[:10], "tsv"),  # incomplete, but clearly TSV: read_delivery names what is missing
        ([], "tsv"),  # nothing yet: the rig's format, all 17 files missing
        ([*CSVS, "notes.md", "_SUCCESS", ".PS1.csv.tmp"], "csv"),
        (["cycles.jsonl", "profile.txt", "manifest.json"], "jsonl"),  # an archive's listing
        ([*TXT, "profile.txt"], "tsv"),
    ],
)
def test_the_format_is_told_by_the_file_names(names, expected):
    detection = detect(names)
    assert detection.format is not None
    assert detection.format.name == expected
    assert detection.problem is None


@pytest.mark.parametrize(
    ("names", "reason"),
    [
        (
            [*TXT, "cycles.jsonl"],
            "formats: 17 tsv files (CE.txt, CP.txt, EPS1.txt, FS1.txt and 13"
            " more) and 1 jsonl file (cycles.jsonl); deliver one format per cohort",
        ),
        (["PS1.txt", "PS1.csv"], "mixes delivery formats: 1 tsv file (PS1.txt) and 1 csv file"),
        (["notes.md", "data.jsonl"], "holds no recognised delivery: found data.jsonl, notes.md"),
        (["ps1.txt"], "holds no recognised delivery: found ps1.txt; expected 17 <CODE>.txt"),
    ],
)
def test_a_mixed_or_unknown_folder_is_an_error_naming_the_folder(names, reason):
    with pytest.raises(InputError) as caught:
        delivery_format(KEY, names)
    assert caught.value.file == f"logs/{KEY}/"
    assert caught.value.line is None
    assert reason in str(caught.value)
    assert str(caught.value).startswith(f"logs/{KEY}/: ")


def test_missing_files_are_those_of_the_detected_format():
    assert detect(CSVS[2:]).missing() == CSVS[:2]
    assert detect(TXT).missing() == []
    assert detect([]).missing() == TXT
    assert detect(["cycles.jsonl", *TXT]).missing() == []  # unclear: nothing to add


def test_each_format_owns_only_its_names():
    for fmt, names in ((TSV, TXT), (CSV, CSVS), (JSONL, ["cycles.jsonl"])):
        assert list(fmt.file_names) == names
        others = {TSV, CSV, JSONL} - {fmt}
        assert not any(o.owns(n) for o in others for n in names)


# ---------------------------------------------------------------------------------------------
# CSV: a header, then the tab-separated rules with commas
# ---------------------------------------------------------------------------------------------

CSV_FILE = f"logs/{KEY}/CE.csv"
HEADER = b"CE_1,CE_2,CE_3\n"
BODY = b"1.5,2,3\n4,5.25,-6\n"
EXPECTED = np.array([[1.5, 2, 3], [4, 5.25, -6]])


def _parse_csv(data: bytes):
    return parse_csv_table(data, file=CSV_FILE, columns=3, code="CE")


def test_the_header_is_the_channel_code_and_column_number():
    assert header_line("PS1", 6000).startswith(b"PS1_1,PS1_2,")
    assert header_line("PS1", 6000).endswith(b",PS1_6000\n")


@pytest.mark.parametrize(
    ("case", "data"),
    [
        ("clean", HEADER + BODY),
        ("CRLF", (HEADER + BODY).replace(b"\n", b"\r\n")),
        ("byte-order mark", b"\xef\xbb\xbf" + HEADER + BODY),
        ("quoted header names", b'"CE_1","CE_2","CE_3"\n' + BODY),
        ("spaces in the header", b"CE_1, CE_2 ,CE_3 \n" + BODY),
        ("spaces around values", HEADER + b"1.5, 2,3\n4 ,5.25,-6\n"),
        ("missing final newline", HEADER + BODY.rstrip(b"\n")),
        ("empty lines at the end", HEADER + BODY + b"\n\r\n"),
    ],
)
def test_csv_tolerated_variations_parse_to_the_same_values(case, data):
    table = _parse_csv(data)
    np.testing.assert_array_equal(table.to_numpy(), EXPECTED)


@pytest.mark.parametrize(
    ("case", "data", "line", "column", "reason"),
    [
        ("empty file", b"", None, None, "file is empty"),
        ("only a header", HEADER, 2, None, "no cycles: the file holds only its header line"),
        ("no header", BODY, 1, None, "no header line: the first line holds values"),
        ("header of another sensor", b"CP_1,CP_2,CP_3\n" + BODY, 1, 1, "'CP_1', expected 'CE_1'"),
        ("header name out of order", b"CE_1,CE_3,CE_2\n" + BODY, 1, 2, "expected 'CE_2'"),
        ("header too short", b"CE_1,CE_2\n" + BODY, 1, 3, "header has 2 columns, expected 3"),
        ("header too long", b"CE_1,CE_2,CE_3,CE_4\n" + BODY, 1, 4, "header has 4 columns"),
        ("semicolons", b"CE_1;CE_2;CE_3\n" + BODY, 1, 1, "separated by semicolons"),
        ("tab-separated", b"CE_1\tCE_2\tCE_3\n" + BODY, 1, 1, "separated by tabs"),
        ("too few values", HEADER + b"1,2,3\n4,5\n", 3, 3, "expected 3 values, found 2"),
        ("too many values", HEADER + b"1,2,3,4\n5,6,7\n", 2, 4, "expected 3 values, found 4"),
        ("trailing comma", HEADER + b"1,2,3,\n", 2, 4, "expected 3 values, found 4"),
        ("text", HEADER + b"1,2,3\n4,abc,6\n", 3, 2, "'abc' is not a number"),
        ("empty value", HEADER + b"1,,3\n", 2, 2, "empty value (two commas in a row?)"),
        ("nan", HEADER + b"1,nan,3\n", 2, 2, "'nan' is not a finite number"),
        ("quoted value", HEADER + b'1,"2",3\n', 2, 2, "is not a number"),
        ("decimal comma", HEADER + b"1,2,3\n4,1,5,6\n", 3, 4, "expected 3 values, found 4"),
        ("empty line between", HEADER + b"1,2,3\n\n4,5,6\n", 3, None, "a cycle is missing"),
        ("truncated last line", HEADER + b"1,2,3\n4,5", 3, 3, "truncated last line"),
        ("unreadable byte", HEADER + b"1,2,3\n4,5\xe96,6\n", 3, 2, "unreadable byte 0xE9"),
    ],
)
def test_csv_bad_input_names_file_line_and_column(case, data, line, column, reason):
    with pytest.raises(InputError) as caught:
        _parse_csv(data)
    error = caught.value
    assert (error.file, error.line, error.column) == (CSV_FILE, line, column)
    assert reason in str(error)
    where = ":".join(str(p) for p in (CSV_FILE, line, column) if p is not None)
    assert str(error).startswith(where + ": ")


# ---------------------------------------------------------------------------------------------
# JSON Lines: one object per cycle
# ---------------------------------------------------------------------------------------------

JSONL_FILE = f"logs/{KEY}/cycles.jsonl"
Record = dict[str, object]


def _records(cycles: int = 3, seed: int = 0) -> list[Record]:
    rng = np.random.default_rng(seed)
    return [
        {"cycle": i}
        | {c.code: np.round(rng.uniform(0.0, 200.0, c.samples), 3).tolist() for c in CHANNELS}
        for i in range(cycles)
    ]


def _dump(record: Record) -> bytes:
    return json.dumps(record, separators=(",", ":")).encode()


def _lines(records: list[Record]) -> bytes:
    return b"".join(_dump(r) + b"\n" for r in records)


RECORDS = _records()
CLEAN = _lines(RECORDS)


def _expected(records: list[Record]) -> dict[str, np.ndarray]:
    return {c.code: np.array([r[c.code] for r in records], dtype=np.float64) for c in CHANNELS}


def _edited(edit: Callable[[list[Record]], None]) -> bytes:
    records = json.loads(json.dumps(RECORDS))
    edit(records)
    return _lines(records)


def _set(line: int, key: str, value: object, index: int | None = None) -> bytes:
    def edit(records: list[Record]) -> None:
        if index is None:
            records[line - 1][key] = value
        else:
            records[line - 1][key][index] = value  # type: ignore[index]

    return _edited(edit)


def _delete(line: int, key: str) -> bytes:
    return _edited(lambda records: records[line - 1].pop(key))


def _replace_line(line: int, text: bytes) -> bytes:
    lines = CLEAN.split(b"\n")
    lines[line - 1] = text
    return b"\n".join(lines)


def _raw_value(line: int, key: str, index: int, text: bytes) -> bytes:
    """Put `text` (not valid as a Python value) at `key[index]` of a line."""
    marker = 123456.789
    return _set(line, key, marker, index).replace(b"123456.789", text, 1)


def _integers_and_exponents() -> bytes:
    """TS1 of the first cycle starting `2e0,2.5E2,`: the values 2 and 250."""
    data = _set(1, "TS1", 2, 0)
    start = data.index(b'"TS1":[2,') + len(b'"TS1":[')
    end = data.index(b",", start + 2)
    return data[:start] + b"2e0,2.5E2" + data[end:]


def _both_paths(monkeypatch: pytest.MonkeyPatch, data: bytes):
    """The outcome through the fast path, then with the strict path alone."""
    outcomes = []
    for strict in (False, True):
        with monkeypatch.context() as patch:
            if strict:
                patch.setattr(jsonl_module, "_fast_arrays", lambda *args: None)
            try:
                outcomes.append(reduce_jsonl(data, file=JSONL_FILE))
            except InputError as err:
                outcomes.append(err)
    return outcomes


def _assert_reductions(cycles, expected: dict[str, np.ndarray]) -> None:
    for code, values in expected.items():
        want = reduce_samples(code, values)
        np.testing.assert_array_equal(cycles[code].mean, want.mean, err_msg=code)
        np.testing.assert_array_equal(cycles[code].first, want.first, err_msg=code)


@pytest.mark.parametrize(
    ("case", "data"),
    [
        ("clean", CLEAN),
        ("CRLF", CLEAN.replace(b"\n", b"\r\n")),
        ("byte-order mark", b"\xef\xbb\xbf" + CLEAN),
        ("missing final newline", CLEAN.rstrip(b"\n")),
        ("blank lines at the end", CLEAN + b"\n \r\n\n"),
        ("blank line between cycles", _replace_line(2, b"\n" + _dump(RECORDS[1]))),
        ("spaces between tokens", _lines([RECORDS[0]]).replace(b":", b" : ") + _lines(RECORDS[1:])),
        ("another key", _set(2, "rig", "7")),
        ("keys in another order", _lines([dict(reversed(r.items())) for r in RECORDS])),
        (
            "a key twice: the first counts",
            _replace_line(2, _dump(RECORDS[1])[:-1] + b',"PS1":"ignored"}'),
        ),
        ("whole numbers and exponents", _integers_and_exponents()),
    ],
)
def test_jsonl_tolerated_variations_give_the_same_values(case, data, monkeypatch):
    fast, strict = _both_paths(monkeypatch, data)
    expected = _expected(RECORDS)
    if case == "whole numbers and exponents":
        expected["TS1"][0, :2] = [2.0, 250.0]
    for outcome in (fast, strict):
        assert not isinstance(outcome, InputError), outcome
        _assert_reductions(outcome, expected)


LAST = len(RECORDS)
CHAR = "a character position"
"""The column of a JSON syntax error: where the parser stopped, counted in characters."""


def _overflowing_sum() -> bytes:
    def edit(records: list[Record]) -> None:
        records[1]["TS3"][:2] = [1.7e308, 1.7e308]  # type: ignore[index]

    return _edited(edit)


@pytest.mark.parametrize(
    ("case", "data", "line", "column", "reason"),
    [
        ("empty file", b"", None, None, "file is empty"),
        ("only blank lines", b"\n \r\n", None, None, "file is empty"),
        ("invalid JSON", _replace_line(2, b'{"cycle":1,"PS1":[1,2'), 2, 22, "invalid JSON"),
        ("truncated last line", CLEAN[:-9], LAST, CHAR, "(truncated last line?)"),
        ("single quotes", _replace_line(1, b"{'cycle':0}"), 1, 2, "invalid JSON"),
        ("leading dot", _raw_value(1, "PS6", 0, b".5"), 1, CHAR, "invalid JSON"),
        ("not an object", _replace_line(2, b"[1,2,3]"), 2, 1, "expected a JSON object"),
        ("unreadable byte", _replace_line(2, b'{"cycle":1,"x":"\xe9"}'), 2, 17, "byte 0xE9"),
        ("missing sensor key", _delete(2, "FS2"), 2, "FS2", 'missing "FS2": expected an array'),
        (
            "sensor key in lower case",
            _edited(lambda r: r[0].update(ps3=r[0].pop("PS3"))),
            1,
            "PS3",
            'missing "PS3"',
        ),
        ("null instead of an array", _set(3, "VS1", None), 3, "VS1", '"VS1" holds null'),
        ("a string instead of an array", _set(1, "CE", "1,2"), 1, "CE", '"CE" holds a string'),
        (
            "array too short",
            _edited(lambda r: r[1]["TS2"].pop()),  # type: ignore[union-attr]
            2,
            "TS2[59]",
            "expected 60 values, found 59",
        ),
        (
            "array too long",
            _edited(lambda r: r[1]["FS1"].append(1.0)),  # type: ignore[union-attr]
            2,
            "FS1[600]",
            "expected 600 values, found 601",
        ),
        ("empty array", _set(1, "SE", []), 1, "SE[0]", "expected 60 values, found 0"),
        ("a string value", _set(2, "PS1", "17.5", 17), 2, "PS1[17]", '"17.5" is not a number'),
        ("decimal comma", _set(1, "PS6", "1,5", 0), 1, "PS6[0]", '"1,5" is not a number'),
        ("null value", _set(3, "EPS1", None, 5999), 3, "EPS1[5999]", "null is not a number"),
        ("boolean value", _set(1, "CP", True, 0), 1, "CP[0]", "true is not a number"),
        ("nested array", _set(1, "CP", [1], 3), 1, "CP[3]", "[1] is not a number"),
        ("NaN", _raw_value(2, "PS4", 3000, b"NaN"), 2, "PS4[3000]", "'NaN' is not a finite"),
        ("Infinity", _raw_value(2, "PS4", 1, b"-Infinity"), 2, "PS4[1]", "is not a finite"),
        ("beyond float64", _raw_value(1, "PS5", 2, b"1e999"), 1, "PS5[2]", "out of range"),
        ("huge integer", _raw_value(1, "PS5", 2, b"9" * 400), 1, "PS5[2]", "out of range"),
        ("sum beyond float64", _overflowing_sum(), 2, "TS3", "overflow when added up"),
        ("missing cycle", _delete(2, "cycle"), 2, "cycle", 'missing "cycle"'),
        ("cycle not a whole number", _set(2, "cycle", 1.0), 2, "cycle", "1.0 is not a cycle"),
        ("cycle as text", _set(2, "cycle", "1"), 2, "cycle", '"1" is not a cycle number'),
        (
            "first cycle not 0 (a day appended)",
            _lines(_records(3)[1:]),
            1,
            "cycle",
            "cycle 1 where 0 was expected: a delivery holds its cohort from cycle 0",
        ),
        ("duplicated cycle", _set(3, "cycle", 1), 3, "cycle", "cycle 1 again"),
        (
            "cycles out of order",
            _lines([RECORDS[0], RECORDS[2], RECORDS[1]]),
            2,
            "cycle",
            "cycle 2 where 1 was expected: 1–1 missing",
        ),
        ("cycle going back", _lines([*RECORDS, RECORDS[0]]), 4, "cycle", "cycle 0 out of order"),
        ("missing cycles", _set(3, "cycle", 5), 3, "cycle", "cycle 5 where 2 was expected"),
    ],
)
def test_jsonl_bad_input_names_file_line_and_column(case, data, line, column, reason, monkeypatch):
    fast, strict = _both_paths(monkeypatch, data)
    assert isinstance(fast, InputError), case
    assert str(fast) == str(strict)
    if column is CHAR:
        assert isinstance(fast.column, int)
        column = fast.column
    assert (fast.file, fast.line, fast.column) == (JSONL_FILE, line, column)
    assert reason in str(fast)
    where = ":".join(str(p) for p in (JSONL_FILE, line, column) if p is not None)
    assert str(fast).startswith(where + ": ")


def test_jsonl_read_in_chunks_gives_the_same_values_and_absolute_lines(monkeypatch):
    records = _records(7, seed=3)
    data = _lines(records)
    whole = reduce_jsonl(data, file=JSONL_FILE)
    monkeypatch.setattr(jsonl_module, "CHUNK_BYTES", len(_dump(records[0])) * 2)
    _assert_reductions(reduce_jsonl(data, file=JSONL_FILE), _expected(records))
    for code, cycles in whole.items():
        np.testing.assert_array_equal(cycles.mean, reduce_jsonl(data, file="x")[code].mean)
    # an error in a later chunk names its line in the file, and cycles run on across chunks
    lines = data.split(b"\n")
    lines[5] = lines[4]  # line 6 repeats cycle 4
    with pytest.raises(InputError, match=r"cycles\.jsonl:6:cycle: cycle 4 again"):
        reduce_jsonl(b"\n".join(lines), file=JSONL_FILE)


def test_jsonl_samples_are_read_again_in_groups_within_the_budget():
    groups = sample_groups(2205)
    assert [c for g in groups for c in g] == list(CHANNELS)
    for group in groups:
        size = sum(2205 * c.samples * 8 for c in group)
        assert size <= jsonl_module.SAMPLES_GROUP_BYTES or len(group) == 1
    assert len(groups) == 4  # a full cohort: 4 passes over the file, not 17
    assert sample_groups(24) == [tuple(CHANNELS)]  # a short cohort: one pass


# ---------------------------------------------------------------------------------------------
# Hostile input in CSV and JSON Lines: compressed bytes, impossible lines, huge numbers
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "data"),
    [
        ("gzip", gzip.compress(HEADER + BODY)),
        ("zstd", zstandard.ZstdCompressor().compress(HEADER + BODY)),
    ],
)
def test_csv_compressed_bytes_are_refused(case, data):
    with pytest.raises(InputError, match=rf"^{CSV_FILE}: holds {case}-compressed data, not text"):
        _parse_csv(data)


REFUSED_WITHIN = pytest.mark.timeout(60)
"""A bound on a hang, not a speed test (as in test_parse): refused in under a second here."""


@REFUSED_WITHIN
def test_csv_a_100_mb_header_or_line_is_refused_before_it_is_parsed():
    with pytest.raises(InputError) as caught:
        _parse_csv(b"CE_1," * 20_000_000 + b"\n" + BODY)
    assert (caught.value.line, caught.value.column) == (1, None)
    assert caught.value.reason.startswith("header line of 100000000 bytes: a header of 3 names")
    with pytest.raises(InputError) as caught:
        _parse_csv(HEADER + BODY + b"1," * 50_000_000)
    assert (caught.value.line, caught.value.column) == (4, 4)
    assert caught.value.reason == "expected 3 values, found 50000001"


@pytest.mark.parametrize(
    ("case", "data"),
    [
        ("gzip", gzip.compress(CLEAN)),
        ("gzip", gzip.compress(CLEAN)[:-50]),
        ("zlib", zlib.compress(CLEAN)[:-50]),
        ("zstd", zstandard.ZstdCompressor().compress(CLEAN)[:-5]),
    ],
)
def test_jsonl_compressed_bytes_are_refused(case, data):
    with pytest.raises(InputError, match=rf"^{JSONL_FILE}: holds {case}-compressed data"):
        reduce_jsonl(data, file=JSONL_FILE)


@REFUSED_WITHIN
def test_jsonl_a_100_mb_line_is_refused_before_it_is_parsed(monkeypatch):
    huge = b'{"cycle":1,"PS1":[' + b"1.5," * 25_000_000 + b"1]}"
    fast, strict = _both_paths(monkeypatch, _replace_line(2, huge))
    assert str(fast) == str(strict)
    assert (fast.file, fast.line) == (JSONL_FILE, 2)
    assert fast.reason.startswith("line of 100000021 bytes: a cycle's line holds at most")


@REFUSED_WITHIN
def test_jsonl_a_60000_digit_value_is_out_of_range(monkeypatch):
    """Python's json refuses integers of more than 4300 digits, naming no column."""
    fast, strict = _both_paths(monkeypatch, _raw_value(2, "PS3", 7, b"9" * 60_000))
    assert str(fast) == str(strict)
    assert str(fast) == f"{JSONL_FILE}:2:PS3[7]: value out of range for a float64"
    huge_cycle = CLEAN.replace(b'"cycle":2', b'"cycle":' + b"9" * 60_000)
    fast, strict = _both_paths(monkeypatch, huge_cycle)
    assert str(fast) == str(strict)
    assert str(fast) == (
        f"{JSONL_FILE}:3:cycle: an integer of 60000 digits is not a cycle number: expected the "
        "whole number 2"
    )


def test_jsonl_values_are_quoted_only_as_a_short_excerpt(monkeypatch):
    secret = "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    fast, strict = _both_paths(monkeypatch, _set(1, "PS1", secret, 3))
    assert str(fast) == str(strict)
    assert str(fast) == (
        f'{JSONL_FILE}:1:PS1[3]: "aws_secret_access_k… (64 characters) is not a number'
    )
