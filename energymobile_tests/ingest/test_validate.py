import numpy as np
import pytest

from energymobile.ingest import validate
from energymobile.ingest.reduce import FileReceipt

pytestmark = pytest.mark.unit


def _receipt(name, rows):
    return FileReceipt(name, 100, rows, 60, "0" * 64)


def test_equal_row_counts_names_the_odd_file():
    outcome = validate.equal_row_counts(
        [_receipt("PS1.txt", 2205), _receipt("TS1.txt", 2204), _receipt("CE.txt", 2205)]
    )
    assert not outcome.passed
    assert "most have 2205 rows, but TS1.txt has 2204" in outcome.description
    assert outcome.metadata["rows_by_file"]["TS1.txt"] == 2204
    assert validate.equal_row_counts([_receipt("PS1.txt", 5), _receipt("CE.txt", 5)]).passed


def test_within_window_rejects_more_cycles_than_hours():
    assert validate.within_window("2008-03-26", 2208).passed
    outcome = validate.within_window("2008-03-26", 2209)
    assert not outcome.passed
    assert "2008-06-26 00:00" in outcome.description


def test_shortfall_bound_is_configurable():
    assert validate.shortfall_within_bound("2008-03-26", 2205, 24).passed
    outcome = validate.shortfall_within_bound("2008-03-26", 2208 - 25, 24)
    assert not outcome.passed
    assert outcome.metadata["shortfall_hours"] == 25
    assert "from 2008-06-24 23:00" in outcome.description
    assert validate.shortfall_within_bound("2008-03-26", 2208 - 25, 25).passed


def test_profile_must_cover_every_cycle():
    assert validate.profile_covers_cycles(2205, 2205).passed
    outcome = validate.profile_covers_cycles(2000, 2205)
    assert not outcome.passed
    assert "cycles 2000 to 2204 (lines 2001 to 2205)" in outcome.description


def test_undocumented_condition_code_is_located():
    profile = np.array([[3, 100, 0, 130, 1], [20, 95, 0, 130, 0]])
    outcome = validate.profile_codes_documented(profile, 2)
    assert not outcome.passed
    assert outcome.description.startswith("profile.txt:2:2: Valve condition / % code 95")
    assert validate.profile_codes_documented(profile, 1).passed
