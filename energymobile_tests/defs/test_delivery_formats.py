"""Every delivery format through the whole chain: the same rows from the same values, a cohort
replaced whole by each delivery (never appended to), and bad input stopped with its reason
before anything is written or replaced."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from energymobile.backfill import materialize_combined
from energymobile.ingest.delivery import read_delivery
from energymobile.ingest.formats import delivered_name
from energymobile.sample.generate import generate_cohort
from energymobile.sample.real import real_bytes
from energymobile.storage.archive import read_archive
from energymobile.storage.exports import (
    COMBINED_KEY,
    cohort_csv_key,
    read_csv_export,
)
from energymobile.storage.object_store import open_object_store
from energymobile_tests.defs.test_bad_input import KEY, _state
from energymobile_tests.support.short_cohorts import SHORT_CYCLES

pytestmark = pytest.mark.integration

FORMATS = ("tsv", "csv", "jsonl")


def _deliver(landing: Path, fmt: str, *, cycles: int = SHORT_CYCLES, seed: int = 0) -> Path:
    return generate_cohort(landing, KEY, cycles=cycles, seed=seed, delivery_format=fmt)


def _query(settings, sql: str) -> list[tuple]:
    with sqlite3.connect(settings.database_url.removeprefix("sqlite:///")) as conn:
        return conn.execute(sql, (KEY,)).fetchall()


def _fact_rows(settings) -> list[tuple]:
    return _query(settings, "SELECT * FROM sensor_hourly WHERE cohort = ? ORDER BY cycle")


def _exported(settings):
    return read_csv_export(open_object_store(settings.object_store).get_bytes(cohort_csv_key(KEY)))


def test_each_format_loads_the_same_rows_and_a_cohort_may_switch_format(
    settings, landing, materialize
):
    store = open_object_store(settings.object_store)
    first: tuple[list[tuple], bytes] | None = None
    for fmt in (*FORMATS, "tsv"):  # each re-delivery in another format, then back
        folder = _deliver(landing, fmt, seed=4)
        outcome = materialize(KEY)[0]
        assert outcome.success, (fmt, outcome.failure)
        loaded = (_fact_rows(settings), store.get_bytes(cohort_csv_key(KEY)))
        first = first or loaded
        assert loaded == first, fmt  # same warehouse rows, same CSV bytes

        delivered = sorted(p.name for p in folder.iterdir())
        manifest = json.loads(store.get_bytes(f"raw/cohort={KEY}/manifest.json"))["files"]
        assert {delivered_name(f["name"]) for f in manifest} == {*delivered, "profile.txt"}
        assert [(f["rows"], f["columns"]) for f in manifest][:2] == [(SHORT_CYCLES, 6000)] * 2
        for name in delivered:
            archived = read_archive(store, KEY).read(store, name)
            assert archived == (folder / name).read_bytes(), name
        files = _query(settings, "SELECT file_name FROM cohort_files WHERE cohort = ?")
        assert sorted(f for (f,) in files) == sorted(f["name"] for f in manifest)


def test_a_space_separated_delivery_loads_the_rows_of_the_tab_separated_one(
    settings, landing, materialize
):
    """The first brief calls the files "whitespace delimited": the same values separated by
    spaces (single, or aligned in columns) load the same rows and CSV as with tabs."""
    store = open_object_store(settings.object_store)
    folder = _deliver(landing, "tsv", seed=6)
    assert materialize(KEY)[0].success
    by_tabs = (_fact_rows(settings), store.get_bytes(cohort_csv_key(KEY)))
    for path in [*folder.iterdir(), landing / "profile" / "profile.txt"]:
        lines = path.read_bytes().split(b"\n")
        aligned = path.name.startswith("P")  # PS1 … PS6 and the profile: aligned columns
        path.write_bytes(
            b"\n".join(
                b" ".join(v.rjust(10) for v in line.split(b"\t"))
                if aligned
                else line.replace(b"\t", b" ")
                for line in lines
            )
        )
    outcome = materialize(KEY)[0]
    assert outcome.success, outcome.failure
    assert (_fact_rows(settings), store.get_bytes(cohort_csv_key(KEY))) == by_tabs
    assert read_archive(store, KEY).read(store, "PS1.txt") == (folder / "PS1.txt").read_bytes()


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_fuller_delivery_replaces_the_partial_one_whole(
    fmt, settings, landing, materialize, instance
):
    _deliver(landing, fmt, seed=1)
    assert materialize(KEY)[0].success
    partial = _fact_rows(settings)
    assert len(partial) == SHORT_CYCLES

    more = SHORT_CYCLES + 6
    folder = _deliver(landing, fmt, cycles=more, seed=2)  # the next delivery, six cycles more
    outcome = materialize(KEY)[0]
    assert outcome.success, outcome.failure
    cycles = [c for (c,) in _query(settings, "SELECT cycle FROM sensor_hourly WHERE cohort = ?")]
    assert sorted(cycles) == list(range(more))  # every cycle once: replaced, not appended
    assert _fact_rows(settings)[:SHORT_CYCLES] != partial  # the old values are gone too

    exported = _exported(settings)
    assert exported["cycle"].tolist() == list(range(more))
    delivery = read_delivery(
        KEY,
        {p.name for p in folder.iterdir()},
        lambda name: (folder / name).read_bytes(),
        lambda: real_bytes("profile.txt"),
    )
    np.testing.assert_array_equal(exported["ps1_mean"].to_numpy(), delivery.cycles["PS1"].mean)
    np.testing.assert_array_equal(exported["ps1_first"].to_numpy(), delivery.cycles["PS1"].first)
    assert materialize_combined(settings=settings, instance=instance).success
    combined = read_csv_export(open_object_store(settings.object_store).get_bytes(COMBINED_KEY))
    assert len(combined) == more


def _appended_day(landing: Path) -> None:
    """A JSON Lines file holding only the cycles after the loaded ones: a blind append."""
    folder = _deliver(landing, "jsonl", cycles=SHORT_CYCLES + 6, seed=7)
    path = folder / "cycles.jsonl"
    path.write_bytes(b"".join(path.read_bytes().splitlines(keepends=True)[SHORT_CYCLES:]))


def _fewer_cycles(fmt: str) -> Callable[[Path], None]:
    return lambda landing: _deliver(landing, fmt, cycles=SHORT_CYCLES // 2, seed=7)


@pytest.mark.parametrize(
    ("case", "redeliver", "reason"),
    [
        (
            "a day appended as JSON Lines",
            _appended_day,
            f"logs/{KEY}/cycles.jsonl:1:cycle: cycle {SHORT_CYCLES} where 0 was expected",
        ),
        ("half a day as CSV", _fewer_cycles("csv"), "maintenance_shortfall"),
        ("half a day as JSON Lines", _fewer_cycles("jsonl"), "maintenance_shortfall"),
    ],
)
def test_a_partial_redelivery_that_fails_leaves_the_loaded_cohort(
    case, redeliver, reason, settings, landing, materialize
):
    _deliver(landing, "tsv")
    assert materialize(KEY)[0].success
    before = _state(settings)
    redeliver(landing)
    outcome = materialize(KEY)[0]
    assert not outcome.success
    assert reason in outcome.failure
    assert _state(settings) == before  # rows, CSVs and archive byte for byte


# ---------------------------------------------------------------------------------------------
# Bad input in the new formats: the pipeline table of test_bad_input.py, for CSV and JSON Lines
# ---------------------------------------------------------------------------------------------


def _csv_line(name: str, line: int, edit: Callable[[list[bytes]], None]):
    def corrupt(folder: Path) -> None:
        lines = (folder / name).read_bytes().split(b"\n")
        fields = lines[line - 1].split(b",")
        edit(fields)
        lines[line - 1] = b",".join(fields)
        (folder / name).write_bytes(b"\n".join(lines))

    return corrupt


def _jsonl_record(line: int, edit: Callable[[dict], None]):
    def corrupt(folder: Path) -> None:
        lines = (folder / "cycles.jsonl").read_bytes().split(b"\n")
        record = json.loads(lines[line - 1])
        edit(record)
        lines[line - 1] = json.dumps(record, separators=(",", ":")).encode()
        (folder / "cycles.jsonl").write_bytes(b"\n".join(lines))

    return corrupt


def _jsonl_text(line: int, cut: int):
    def corrupt(folder: Path) -> None:
        lines = (folder / "cycles.jsonl").read_bytes().split(b"\n")
        lines[line - 1] = lines[line - 1][:cut]
        (folder / "cycles.jsonl").write_bytes(b"\n".join(lines))

    return corrupt


def _set_item(key: str, index: int, value: object) -> Callable[[dict], None]:
    return lambda record: record[key].__setitem__(index, value)


CASES = {
    "csv header of another sensor": (
        "csv",
        _csv_line("PS1.csv", 1, lambda f: f.__setitem__(0, b"PS2_1")),
        f"logs/{KEY}/PS1.csv:1:1: header names column 1 'PS2_1', expected 'PS1_1'",
    ),
    "csv wrong number of columns": (
        "csv",
        _csv_line("FS1.csv", 5, lambda f: f.pop()),
        f"logs/{KEY}/FS1.csv:5:600: expected 600 values, found 599",
    ),
    "csv text": (
        "csv",
        _csv_line("CP.csv", 4, lambda f: f.__setitem__(8, b"n/a")),
        f"logs/{KEY}/CP.csv:4:9: 'n/a' is not a number",
    ),
    "csv missing file": ("csv", lambda f: (f / "TS4.csv").unlink(), f"logs/{KEY}/TS4.csv: missing"),
    "jsonl invalid JSON": (
        "jsonl",
        _jsonl_text(3, 5000),
        f"logs/{KEY}/cycles.jsonl:3:5001: invalid",
    ),
    "jsonl missing sensor key": (
        "jsonl",
        _jsonl_record(7, lambda r: r.pop("SE")),
        f'logs/{KEY}/cycles.jsonl:7:SE: missing "SE"',
    ),
    "jsonl wrong array length": (
        "jsonl",
        _jsonl_record(2, lambda r: r["PS2"].pop()),
        f"logs/{KEY}/cycles.jsonl:2:PS2[5999]: expected 6000 values, found 5999",
    ),
    "jsonl non-number": (
        "jsonl",
        _jsonl_record(4, _set_item("TS1", 10, "x")),
        f'logs/{KEY}/cycles.jsonl:4:TS1[10]: "x" is not a number',
    ),
    "jsonl duplicated cycle": (
        "jsonl",
        _jsonl_record(6, lambda r: r.__setitem__("cycle", 4)),
        f"logs/{KEY}/cycles.jsonl:6:cycle: cycle 4 again",
    ),
    "folder mixing formats": (
        "jsonl",
        lambda f: (f / "PS1.txt").write_bytes(b"1\t2\n"),
        f"logs/{KEY}/: mixes delivery formats: 1 tsv file (PS1.txt) and 1 jsonl file",
    ),
    "no recognised files": (
        "jsonl",
        lambda f: (f / "cycles.jsonl").rename(f / "cycles.json"),
        f"logs/{KEY}/: holds no recognised delivery: found cycles.json",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_new_cohort_in_a_new_format_is_stopped(case, settings, landing, materialize):
    fmt, corrupt, reason = CASES[case]
    corrupt(_deliver(landing, fmt))
    outcome = materialize(KEY)[0]
    assert not outcome.success
    assert reason in outcome.failure
    rows, objects = _state(settings)
    assert rows == [] and objects == {}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_redelivery_in_a_new_format_leaves_the_loaded_cohort(
    case, settings, landing, materialize
):
    fmt, corrupt, reason = CASES[case]
    _deliver(landing, fmt)
    assert materialize(KEY)[0].success
    before = _state(settings)
    corrupt(_deliver(landing, fmt, seed=5))
    outcome = materialize(KEY)[0]
    assert not outcome.success
    assert reason in outcome.failure
    assert _state(settings) == before
