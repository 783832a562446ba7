"""The read-back rules: each passes on what a correct write leaves, and fails, saying where,
on each way a store can differ from it."""

from datetime import datetime, timedelta

import pytest

from energymobile.ingest import consistency

pytestmark = pytest.mark.unit

KEY = "2008-03-26"
START = datetime(2008, 3, 26)


def _hours(cycles: list[int]) -> list[datetime]:
    return [START + timedelta(hours=c) for c in cycles]


def test_a_whole_hourly_series_passes():
    outcome = consistency.warehouse_hours_contiguous(KEY, 5, list(range(5)), _hours(list(range(5))))
    assert outcome.passed, outcome.description
    assert outcome.description == "cycles 0 to 4, each once, hourly from 2008-03-26 00:00"


@pytest.mark.parametrize(
    ("loaded", "cycles", "times", "says"),
    [
        (5, [0, 1, 3, 4], None, "cycle 2 missing: the warehouse holds 4 rows"),
        (5, [0, 1, 2, 3], None, "cycles 4 to 4 are missing"),
        (5, [0, 1, 1, 2, 3], None, "cycle 1 twice"),
        (
            3,
            [0, 1, 2],
            _hours([0, 2, 3]),
            "cycle 1 is stored at 2008-03-26 02:00, expected 2008-03-26 01:00",
        ),
        (None, [], [], f"cohort {KEY} is not in the warehouse"),
        (0, [], [], f"cohort {KEY} has no rows in the warehouse"),
    ],
    ids=["missing row", "missing tail", "duplicate", "shifted hour", "not loaded", "empty"],
)
def test_each_way_the_stored_series_can_be_wrong_fails(loaded, cycles, times, says):
    outcome = consistency.warehouse_hours_contiguous(
        KEY, loaded, cycles, _hours(cycles) if times is None else times
    )
    assert not outcome.passed
    assert says in outcome.description


OBJECTS = {"PS1.txt": "raw/d/PS1.txt.zst", "profile.txt": "raw/d/profile.txt.zst"}
WRITTEN = {"PS1.txt": 120, "profile.txt": 40}


def test_an_archive_stored_whole_passes():
    stored = {"raw/d/PS1.txt.zst": 120, "raw/d/profile.txt.zst": 40, "raw/manifest.json": 9}
    outcome = consistency.archive_complete(OBJECTS, OBJECTS, WRITTEN, stored)
    assert outcome.passed and outcome.metadata["stored_bytes"] == 160


@pytest.mark.parametrize(
    ("delivered", "written", "stored", "says"),
    [
        (OBJECTS, WRITTEN, {"raw/d/PS1.txt.zst": 120}, "missing from the store: raw/d/profile"),
        (OBJECTS, WRITTEN, {"raw/d/PS1.txt.zst": 7, "raw/d/profile.txt.zst": 40}, "holds 7 bytes"),
        (
            {*OBJECTS, "TS1.txt"},
            WRITTEN,
            {"raw/d/PS1.txt.zst": 120, "raw/d/profile.txt.zst": 40},
            "no archived object for TS1.txt",
        ),
        (OBJECTS, {}, {"raw/d/PS1.txt.zst": 120}, "missing from the store: raw/d/profile"),
    ],
    ids=["object gone", "object truncated", "file not archived", "old manifest, object gone"],
)
def test_each_way_an_archive_can_be_incomplete_fails(delivered, written, stored, says):
    outcome = consistency.archive_complete(delivered, OBJECTS, written, stored)
    assert not outcome.passed
    assert says in outcome.description


def test_a_combined_file_holding_the_warehouse_passes():
    rows = {"2008-03-26": 24, "2008-06-26": 26}
    outcome = consistency.combined_matches_warehouse(rows, dict(rows))
    assert outcome.passed and outcome.description == "2 cohorts, 50 rows, as in the warehouse"


@pytest.mark.parametrize(
    ("in_file", "says"),
    [
        ({"2008-03-26": 24}, "cohorts in the warehouse but not in the file: 2008-06-26"),
        ({"2008-03-26": 24, "2008-06-26": 24}, "2008-06-26 (24 rows in the file, 26 in the"),
        (
            {"2008-03-26": 24, "2008-06-26": 26, "2008-09-26": 3},
            "cohorts in the file but not in the warehouse: 2008-09-26",
        ),
    ],
    ids=["cohort absent", "stale cohort", "cohort not in the warehouse"],
)
def test_each_way_the_combined_file_can_differ_from_the_warehouse_fails(in_file, says):
    warehouse = {"2008-03-26": 24, "2008-06-26": 26}
    outcome = consistency.combined_matches_warehouse(in_file, warehouse)
    assert not outcome.passed
    assert says in outcome.description


def test_long_lists_are_cut_short():
    warehouse = {f"2008-{m:02d}-26": 1 for m in range(1, 13)}
    outcome = consistency.combined_matches_warehouse({}, warehouse)
    assert outcome.description.endswith("2008-05-26 and 7 more")


def test_a_cohort_exported_after_the_file_is_named_not_failed_and_only_that_one():
    """Two backfills at once: the first's rebuild could not hold the second's cohort, loaded
    (or exported) after the file was written; the second's rebuild will."""
    warehouse = {"2008-03-26": 24, "2008-06-26": 26, "2008-09-26": 25}
    in_file = {"2008-03-26": 24}
    outcome = consistency.combined_matches_warehouse(in_file, warehouse, ["2008-06-26"])
    assert not outcome.passed
    assert outcome.description == "cohorts in the warehouse but not in the file: 2008-09-26"
    everything_pending = ["2008-06-26", "2008-09-26"]
    outcome = consistency.combined_matches_warehouse(in_file, warehouse, everything_pending)
    assert outcome.passed
    assert outcome.description == (
        "1 cohorts, 24 rows, as in the warehouse; exported after the file, in its next "
        "rebuild: 2008-06-26, 2008-09-26"
    )
    assert outcome.metadata["pending"] == everything_pending
