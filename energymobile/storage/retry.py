"""Retry transient failures of external systems a bounded number of times, with backoff.

Only what can succeed on a second try is retried (a dropped connection, a deadlock, a lock
wait timeout); a permanent failure (bad credentials, a constraint, bad input) is raised at once.
Retrying a whole cohort replacement is safe because it is one transaction: the failed attempt
was rolled back, so the retry starts from the cohort as it was.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)

ATTEMPTS = 4
BASE_DELAY_S = 0.5


def with_retries(
    action: Callable[[], T],
    is_transient: Callable[[BaseException], bool],
    *,
    what: str,
    attempts: int = ATTEMPTS,
    base_delay_s: float = BASE_DELAY_S,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run `action`; on a transient failure wait base × 2^n seconds and try again."""
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except Exception as error:
            if attempt == attempts or not is_transient(error):
                raise
            delay = base_delay_s * 2 ** (attempt - 1)
            log.warning(
                "%s failed (attempt %d of %d, %s); retrying in %.1f s",
                what,
                attempt,
                attempts,
                type(error).__name__,
                delay,
            )
            sleep(delay)
    raise AssertionError("unreachable")
