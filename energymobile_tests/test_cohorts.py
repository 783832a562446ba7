from datetime import datetime

import pytest

from energymobile.cohorts import (
    InvalidCohortKey,
    check_complete,
    cohort_keys,
    cohort_keys_between,
    cohort_window,
    cycle_times,
    default_cycles,
    latest_complete_cohort,
    parse_cohort_key,
    window_hours,
)

pytestmark = pytest.mark.unit


def test_cohorts_start_on_the_26th_of_march_june_september_december():
    assert cohort_keys("2008-03-26", 6) == [
        "2008-03-26",
        "2008-06-26",
        "2008-09-26",
        "2008-12-26",
        "2009-03-26",
        "2009-06-26",
    ]


def test_window_runs_to_the_next_cohort_at_midnight():
    assert cohort_window("2008-12-26") == (datetime(2008, 12, 26), datetime(2009, 3, 26))
    assert window_hours("2008-03-26") == 92 * 24
    assert window_hours("2008-12-26") == 90 * 24  # 2009 is not a leap year
    assert window_hours("2011-12-26") == 91 * 24  # 2012 is


def test_a_full_delivery_is_three_hours_short_of_its_window():
    assert default_cycles("2008-03-26") == 2205  # the real dataset's size
    assert default_cycles("2008-12-26") == 90 * 24 - 3


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("2008-04-26", "26th of March, June"),  # */3 months: Jan/Apr/Jul/Oct
        ("2008-03-25", "26th of March, June"),
        ("2007-12-26", "before the first cohort"),
        ("2008-3-26", "expected YYYY-MM-DD"),
        ("2008-02-30", "not a valid date"),
        ("cohort-1", "expected YYYY-MM-DD"),
    ],
)
def test_invalid_keys_say_what_is_wrong(key, reason):
    with pytest.raises(InvalidCohortKey, match=reason):
        parse_cohort_key(key)


def test_range_of_keys_is_inclusive():
    assert cohort_keys_between("2008-09-26", "2009-03-26") == [
        "2008-09-26",
        "2008-12-26",
        "2009-03-26",
    ]
    with pytest.raises(InvalidCohortKey):
        cohort_keys_between("2009-03-26", "2008-09-26")


def test_cycle_times_are_one_hour_apart_from_midnight():
    times = cycle_times("2008-06-26", 26)
    assert times[0] == datetime(2008, 6, 26, 0)
    assert times[25] == datetime(2008, 6, 27, 1)


def test_the_latest_complete_cohort_is_the_last_whose_window_has_ended():
    assert latest_complete_cohort(datetime(2008, 6, 25, 23)) is None
    assert latest_complete_cohort(datetime(2008, 6, 26)) == "2008-03-26"
    assert latest_complete_cohort(datetime(2026, 12, 1)) == "2026-06-26"


def test_a_cohort_still_running_or_in_the_future_is_not_complete():
    now = datetime(2026, 12, 1)
    assert check_complete("2026-06-26", now) == "2026-06-26"
    for key in ("2026-09-26", "2099-03-26"):
        with pytest.raises(InvalidCohortKey, match=f"cohort {key} is not complete"):
            check_complete(key, now)
    with pytest.raises(InvalidCohortKey, match="the latest complete cohort is 2026-06-26"):
        check_complete("2026-09-26", now)
