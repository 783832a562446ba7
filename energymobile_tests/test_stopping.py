"""SIGINT and SIGTERM stop the CLI wherever they arrive: directly where our handler is in
place, and after the run where Dagster's own handler had replaced it."""

from __future__ import annotations

import os
import signal
import sys
import weakref

import pytest

from energymobile.stopping import Stopped, raise_if_stopped, stop_on_signals

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("signum", "name", "status"),
    [(signal.SIGINT, "Ctrl-C (SIGINT)", 130), (signal.SIGTERM, "SIGTERM", 143)],
)
def test_a_signal_raises_stopped_naming_it(signum, name, status):
    with pytest.raises(Stopped) as caught, stop_on_signals():
        os.kill(os.getpid(), signum)
        signal.sigtimedwait([], 0)  # let the handler run (no-op wait, a bytecode boundary)
    assert caught.value.name == name and caught.value.exit_code == status


def test_a_signal_taken_by_another_handler_is_still_seen_afterwards():
    """Dagster swaps in a handler that only sets a flag (dropped when the run returns)."""
    received = []
    with pytest.raises(Stopped) as caught, stop_on_signals():
        previous = signal.signal(signal.SIGTERM, lambda signum, _frame: received.append(signum))
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            signal.sigtimedwait([], 0)
        finally:
            signal.signal(signal.SIGTERM, previous)
        assert received == [signal.SIGTERM]  # the other handler got it, nothing was raised
        raise_if_stopped()
    assert caught.value.signum == signal.SIGTERM


def test_without_a_signal_nothing_is_raised_and_handlers_are_restored():
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    with stop_on_signals():
        raise_if_stopped()
    raise_if_stopped()  # outside: no effect
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before


def test_an_interruption_python_cannot_pass_on_is_not_printed_anything_else_is(monkeypatch):
    """A signal handler that raises inside a weakref callback (Dagster's, during a run): Python
    drops the exception and printed "Exception ignored in: …" with a traceback under the
    CLI's one line. Within stop_on_signals the dropped interruption is not printed; any other
    error dropped there still is."""
    reported: list[type[BaseException]] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda args: reported.append(args.exc_type))

    def drop_in_a_weakref_callback(error: BaseException) -> None:
        class Thing:
            pass

        def callback(_ref: weakref.ref[Thing]) -> None:
            raise error

        thing = Thing()
        ref = weakref.ref(thing, callback)
        del thing  # the callback runs, its exception is unraisable
        assert ref() is None

    with stop_on_signals():
        drop_in_a_weakref_callback(KeyboardInterrupt())
        drop_in_a_weakref_callback(Stopped(signal.SIGTERM))
        drop_in_a_weakref_callback(ValueError("a real bug"))
    drop_in_a_weakref_callback(KeyboardInterrupt())  # outside: Python's own behaviour again
    assert reported == [ValueError, KeyboardInterrupt]
