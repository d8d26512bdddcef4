"""The periodic one-line statistics each service logs, so an operator sees it is alive."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class StatsLog:
    """One INFO line every ``interval_s``: a running count, its rate since the last line, details.

    Args:
        label: what the count counts (``published``, ``written``).
        interval_s: seconds between lines; 0 turns the lines off.
        now: the monotonic clock, injectable for tests.
    """

    def __init__(self, label: str, interval_s: float,
                 now: Callable[[], float] = time.monotonic) -> None:
        self.label = label
        self.interval_s = interval_s
        self.now = now
        self._last_time = now()
        self._last_count = 0

    def due(self) -> bool:
        return self.interval_s > 0 and self.now() - self._last_time >= self.interval_s

    def report(self, count: int, details: str) -> None:
        now = self.now()
        rate = (count - self._last_count) / max(now - self._last_time, 1e-9)
        log.info("stats: %s %d (%.0f/s), %s", self.label, count, rate, details)
        self._last_time, self._last_count = now, count
