"""Bad deliveries through the whole chain: a clear reason, and nothing written or replaced.

Each case corrupts a generated short cohort, first as a new cohort (nothing may be written
anywhere) and then as a re-delivery of a cohort that loaded before (its rows, CSVs and archive
must stay byte for byte as they were).
"""

from __future__ import annotations

import gzip
import sqlite3
from collections.abc import Callable
from pathlib import Path

import dagster as dg
import pytest

from energymobile.cohorts import window_hours
from energymobile.storage.object_store import open_object_store
from energymobile_tests.support.short_cohorts import SHORT_CYCLES

pytestmark = pytest.mark.integration

KEY = "2008-03-26"


def _edit_line(path: Path, line: int, edit: Callable[[list[bytes]], None]) -> None:
    lines = path.read_bytes().split(b"\n")
    fields = lines[line - 1].split(b"\t")
    edit(fields)
    lines[line - 1] = b"\t".join(fields)
    path.write_bytes(b"\n".join(lines))


def _set_value(name: str, line: int, column: int, value: bytes):
    def corrupt(folder: Path, landing: Path) -> None:
        def edit(fields: list[bytes]) -> None:
            fields[column - 1] = value

        _edit_line(folder / name, line, edit)

    return corrupt


def _drop_value(name: str, line: int):
    def corrupt(folder: Path, landing: Path) -> None:
        _edit_line(folder / name, line, lambda fields: fields.pop())

    return corrupt


def _add_value(name: str, line: int):
    def corrupt(folder: Path, landing: Path) -> None:
        _edit_line(folder / name, line, lambda fields: fields.append(b"1.0"))

    return corrupt


def _remove(name: str):
    return lambda folder, landing: (folder / name).unlink()


def _empty(name: str):
    return lambda folder, landing: (folder / name).write_bytes(b"")


def _truncate_last_line(name: str):
    def corrupt(folder: Path, landing: Path) -> None:
        data = (folder / name).read_bytes().rstrip(b"\n")
        (folder / name).write_bytes(data[: data.rfind(b"\t") - 3])

    return corrupt


def _drop_last_row(name: str):
    def corrupt(folder: Path, landing: Path) -> None:
        lines = (folder / name).read_bytes().splitlines(keepends=True)
        (folder / name).write_bytes(b"".join(lines[:-1]))

    return corrupt


def _short_profile(rows: int):
    def corrupt(folder: Path, landing: Path) -> None:
        profile = landing / "profile" / "profile.txt"
        profile.write_bytes(b"".join(profile.read_bytes().splitlines(keepends=True)[:rows]))

    return corrupt


def _profile_code(line: int, column: int, value: bytes):
    def corrupt(folder: Path, landing: Path) -> None:
        def edit(fields: list[bytes]) -> None:
            fields[column - 1] = value

        _edit_line(landing / "profile" / "profile.txt", line, edit)

    return corrupt


def _more_cycles_than_the_window():
    """Every file (and the profile) repeated to one cycle more than the window has hours."""

    def corrupt(folder: Path, landing: Path) -> None:
        wanted = window_hours(KEY) + 1
        for path in [*folder.iterdir(), landing / "profile" / "profile.txt"]:
            lines = path.read_bytes().splitlines(keepends=True)
            path.write_bytes(b"".join(lines * (wanted // len(lines) + 1))[: _nth(lines, wanted)])

    def _nth(lines: list[bytes], count: int) -> int:
        """Bytes in the first `count` lines of `lines` repeated."""
        whole, rest = divmod(count, len(lines))
        return whole * sum(map(len, lines)) + sum(map(len, lines[:rest]))

    return corrupt


def _linked_out(name: str):
    """The file replaced by a link to a credentials file outside the landing folder."""

    def corrupt(folder: Path, landing: Path) -> None:
        credentials = landing.parent / "credentials"
        credentials.write_text(f"[default]\naws_secret_access_key={SECRET}\n")
        (folder / name).unlink()
        (folder / name).symlink_to(credentials)

    return corrupt


def _holding_credentials(name: str):
    """The file's bytes replaced by a credentials line, delivered inside the landing: the
    parser reads it, and may quote only a short excerpt of its first token."""

    def corrupt(folder: Path, landing: Path) -> None:
        (folder / name).write_text(f"aws_secret_access_key={SECRET}\n")

    return corrupt


def _gzipped(name: str):
    def corrupt(folder: Path, landing: Path) -> None:
        (folder / name).write_bytes(gzip.compress((folder / name).read_bytes()))

    return corrupt


def _whole_numbers_truncated(name: str, keep: int):
    """Every value rounded to a whole number, the last line cut after `keep` values: the old
    line expression tried every split of every number (2^keep steps) and never finished."""

    def corrupt(folder: Path, landing: Path) -> None:
        lines = (folder / name).read_bytes().rstrip(b"\n").split(b"\n")
        rows = [[str(round(float(v))).encode() for v in line.split(b"\t")] for line in lines]
        rows[-1] = rows[-1][:keep]
        (folder / name).write_bytes(b"\n".join(b"\t".join(r) for r in rows))

    return corrupt


SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

CASES = {
    "missing sensor file": (_remove("FS2.txt"), f"logs/{KEY}/FS2.txt: missing"),
    "empty file": (_empty("TS3.txt"), f"logs/{KEY}/TS3.txt: file is empty"),
    "truncated last line": (_truncate_last_line("VS1.txt"), f"logs/{KEY}/VS1.txt:{SHORT_CYCLES}:"),
    "too few values": (_drop_value("PS6.txt", 7), f"logs/{KEY}/PS6.txt:7:6000: expected 6000"),
    "too many values": (_add_value("FS1.txt", 2), f"logs/{KEY}/FS1.txt:2:601: expected 600"),
    "text": (_set_value("CP.txt", 3, 9, b"n/a"), f"logs/{KEY}/CP.txt:3:9: 'n/a' is not a number"),
    "decimal comma": (_set_value("SE.txt", 1, 1, b"68,039"), f"logs/{KEY}/SE.txt:1:1:"),
    "nan": (_set_value("EPS1.txt", 10, 3000, b"nan"), f"logs/{KEY}/EPS1.txt:10:3000: 'nan'"),
    "empty field": (_set_value("TS1.txt", 4, 5, b""), f"logs/{KEY}/TS1.txt:4:5: empty value"),
    "unreadable bytes": (
        _set_value("CE.txt", 6, 2, b"4\xe97"),
        f"logs/{KEY}/CE.txt:6:2: unreadable byte 0xE9",
    ),
    "different row counts": (_drop_last_row("PS2.txt"), "PS2.txt has 23"),
    "more cycles than the window": (
        _more_cycles_than_the_window(),
        f"{window_hours(KEY) + 1} cycles do not fit the cohort's {window_hours(KEY)}-hour window",
    ),
    "profile shorter than the cohort": (_short_profile(10), "profile.txt has 10 rows"),
    "undocumented condition code": (
        _profile_code(3, 2, b"95"),
        "profile.txt:3:2: Valve condition / % code 95",
    ),
    "sensor file linked out of the landing": (
        _linked_out("TS1.txt"),
        f"logs/{KEY}/TS1.txt: a symbolic link to a file outside the landing folder: refused",
    ),
    "sensor file holding a credentials line": (
        _holding_credentials("TS1.txt"),
        f"logs/{KEY}/TS1.txt:1:1: 'aws_secret_access_ke'… (62 characters) is not a number",
    ),
    "compressed sensor file": (
        _gzipped("PS1.txt"),
        f"logs/{KEY}/PS1.txt: holds gzip-compressed data, not text",
    ),
    "whole numbers, truncated last line": (
        _whole_numbers_truncated("TS1.txt", 40),
        f"logs/{KEY}/TS1.txt:{SHORT_CYCLES}:41: expected 60 values, found 40 (truncated",
    ),
    "tabs and spaces in one line": (
        _set_value("TS2.txt", 5, 3, b"35.1 35.2"),
        f"logs/{KEY}/TS2.txt:5:3: '35.1 35.2' holds values separated by spaces",
    ),
    "missing profile": (
        lambda folder, landing: (landing / "profile" / "profile.txt").unlink(),
        "profile/profile.txt: missing: ",
    ),
    "profile code beyond the integer range": (
        _profile_code(3, 2, b"99999999999999999999"),
        "profile/profile.txt:3:2: '99999999999999999999' is beyond the range of a condition code",
    ),
}


def _everything_logged(instance: dg.DagsterInstance) -> str:
    """Every event of every run (logs, errors, metadata), as Dagster stores it."""
    return "\n".join(
        dg.serialize_value(event)
        for run in instance.get_runs()
        for event in instance.all_logs(run.run_id)
    )


def _assert_no_secret_shown(failure: str, instance: dg.DagsterInstance) -> None:
    """At most a 20-character excerpt of a token: never the key after `…key=`, anywhere."""
    assert "aws_secret_access_key=" not in failure and SECRET[:5] not in failure
    logged = _everything_logged(instance)
    assert '"STEP_FAILURE"' in logged  # the search sees the stored failure
    assert SECRET[:5] not in logged


def _state(settings) -> tuple[list, dict[str, bytes]]:
    path = settings.database_url.removeprefix("sqlite:///")
    rows: list = []
    if Path(path).exists():
        with sqlite3.connect(path) as conn:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
            if "sensor_hourly" in tables:
                rows = conn.execute("SELECT * FROM sensor_hourly ORDER BY cohort, cycle").fetchall()
                rows += conn.execute("SELECT * FROM cohorts").fetchall()
    store = open_object_store(settings.object_store)
    return rows, {key: store.get_bytes(key) for key in store.list_keys("")}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_new_cohort_is_stopped_with_its_reason(
    case, settings, landing, generate, materialize, instance
):
    corrupt, reason = CASES[case]
    corrupt(generate(KEY), landing)
    outcome = materialize(KEY)[0]
    assert not outcome.success
    assert reason in outcome.failure
    _assert_no_secret_shown(outcome.failure, instance)
    rows, objects = _state(settings)
    assert rows == [] and objects == {}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_redelivery_leaves_the_loaded_cohort_as_it_was(
    case, settings, landing, generate, materialize, instance
):
    generate(KEY)
    assert materialize(KEY)[0].success
    before = _state(settings)
    corrupt, reason = CASES[case]
    corrupt(generate(KEY, seed=5), landing)  # a different delivery, then corrupted
    outcome = materialize(KEY)[0]
    assert not outcome.success
    assert reason in outcome.failure
    _assert_no_secret_shown(outcome.failure, instance)
    assert _state(settings) == before
