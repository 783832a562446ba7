"""The Dagster partitions and the pure cohort arithmetic must agree."""

from datetime import datetime

import pytest

from energymobile.cohorts import cohort_keys, cohort_window
from energymobile.defs.partitions import cohort_partitions

pytestmark = pytest.mark.unit


def test_partition_keys_are_the_cohort_keys():
    keys = cohort_partitions.get_partition_keys(current_time=datetime(2009, 7, 1))
    assert keys == cohort_keys("2008-03-26", 5)  # 2009-03-26's window ended on 2009-06-26


def test_a_cohort_exists_once_its_window_has_ended():
    before_end = cohort_partitions.get_partition_keys(current_time=datetime(2008, 6, 25, 23))
    at_end = cohort_partitions.get_partition_keys(current_time=datetime(2008, 6, 26, 0, 1))
    assert before_end == []
    assert at_end == ["2008-03-26"]


def test_partition_windows_match_cohort_windows():
    for key in cohort_keys("2008-03-26", 64):  # 16 years, leap years included
        window = cohort_partitions.time_window_for_partition_key(key)
        start, end = cohort_window(key)
        assert (window.start.replace(tzinfo=None), window.end.replace(tzinfo=None)) == (start, end)
        assert window.start.utcoffset().total_seconds() == 0
