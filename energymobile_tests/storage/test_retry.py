import pytest

from energymobile.storage.retry import with_retries


class Transient(Exception):
    pass


def _flaky(failures: int, error: Exception):
    calls = []

    def action():
        calls.append(1)
        if len(calls) <= failures:
            raise error
        return len(calls)

    return action, calls


def test_transient_failures_are_retried_with_exponential_backoff():
    action, _calls = _flaky(2, Transient())
    waits = []
    result = with_retries(
        action, lambda e: isinstance(e, Transient), what="load", sleep=waits.append
    )
    assert result == 3
    assert waits == [0.5, 1.0]


def test_retries_are_bounded():
    action, calls = _flaky(10, Transient())
    with pytest.raises(Transient):
        with_retries(
            action,
            lambda e: isinstance(e, Transient),
            what="load",
            attempts=3,
            sleep=lambda s: None,
        )
    assert len(calls) == 3


def test_permanent_failures_fail_at_once():
    action, calls = _flaky(1, ValueError("bad credentials"))
    with pytest.raises(ValueError, match="bad credentials"):
        with_retries(action, lambda e: isinstance(e, Transient), what="load", sleep=lambda s: None)
    assert len(calls) == 1
