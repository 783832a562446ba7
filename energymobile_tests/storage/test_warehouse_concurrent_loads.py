"""The warehouse at fleet size: two processes replacing different cohorts of one MariaDB
warehouse at the same time, starting on an empty table and then over each other's rows, with
neighbouring keys (the case where the deletes' gap locks would meet): no deadlock, no lock
wait, no lost or foreign row (issue 17). Once rigs land, the loaders take different rigs of
the same cohort.

This test fails with MySQL error 1213 (deadlock) when the writes run at InnoDB's default
REPEATABLE READ instead of dialects.MYSQL_WRITE_ISOLATION (tried 2026-12-01): the loaders start
at one barrier, a few ms apart."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from energymobile.cohorts import cohort_keys
from energymobile.storage.warehouse import FACT_TABLE
from energymobile_tests.support.concurrent_loads import load_at_once
from energymobile_tests.support.synthetic import synthetic_load

pytestmark = pytest.mark.integration

ROWS = 2_200  # a full-size cohort's hourly rows
ROUNDS = 4


def test_two_processes_replacing_neighbouring_cohorts_at_once_lose_nothing(mysql_url: str):
    keys = cohort_keys("2008-03-26", 4)
    # Interleaved: each loader's cohorts sit between the other's (next-key neighbours).
    loaders = [keys[0::2], keys[1::2]]
    reports = load_at_once(mysql_url, loaders, ROWS, ROUNDS)

    assert [len(r.seconds) for r in reports] == [ROUNDS * 2, ROUNDS * 2]
    engine = create_engine(mysql_url)
    try:
        with engine.connect() as conn:
            grouped = text(f"SELECT cohort, COUNT(*) FROM {FACT_TABLE} GROUP BY cohort")
            counts = {cohort: count for cohort, count in conn.execute(grouped)}
            for key in keys:
                expected = synthetic_load(key, ROWS, ROUNDS - 1).frame
                stored = conn.execute(
                    text(f"SELECT ps1_mean FROM {FACT_TABLE} WHERE cohort = :k ORDER BY cycle"),
                    {"k": key},
                ).scalars()
                assert list(stored) == pytest.approx(list(expected["ps1_mean"]))
    finally:
        engine.dispose()
    assert counts == dict.fromkeys(keys, ROWS)
    slowest = max(max(r.seconds) for r in reports)
    apart = abs(reports[0].started - reports[1].started)
    print(
        f"\n2 loaders x {ROUNDS} rounds x 2 cohorts of {ROWS} rows: slowest {slowest:.2f} s, "
        f"started {apart * 1000:.0f} ms apart"
    )
