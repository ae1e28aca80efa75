"""At most one log line per interval for an event that can repeat thousands of times a second.

During a NATS outage every webhook is answered 503; the operator needs to know why, once, not once per
delivery. :class:`Throttle` lets the first occurrence through, then one per interval, counting the ones it
held back so that the next line says how many there were.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class Throttle:
    """Decides which occurrences of one event get a log line: the first, then one per ``interval``."""

    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._interval = interval
        self._clock = clock
        self._next = float("-inf")
        self._held = 0

    def allow(self) -> int | None:
        """None when this occurrence is held back; else how many were held back since the last line."""
        now = self._clock()
        if now < self._next:
            self._held += 1
            return None
        held, self._held = self._held, 0
        self._next = now + self._interval
        return held
