"""The simulated clock: when each reading is taken, in simulated and wall time.

Tick ``k`` is at simulated time ``start + k * interval`` and due on the wall
clock at ``wall_start + k * interval / speed``. Both are computed from ``k``,
never accumulated, so the schedule does not drift however long it runs or
however late one tick is served.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo


def parse_start(text: str, tz: ZoneInfo) -> float:
    """Epoch seconds of an ISO 8601 date-time; without an offset it is local time in ``tz``.

    Raises:
        ValueError: ``text`` is not an ISO 8601 date or date-time.
    """
    text = text.strip()
    if text[-1:] in ("Z", "z"):  # Python 3.10's fromisoformat does not take the Z suffix
        text = text[:-1] + "+00:00"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment.timestamp()


@dataclass
class SimClock:
    """Ticks of simulated time at a fixed interval, paced against the wall clock.

    The schedule runs from :meth:`begin`, so set-up work before the first tick
    (declaring thousands of queues) does not make the first ticks late.

    Args:
        start_s: simulated epoch seconds of the first tick; None for the wall time
            at :meth:`begin`.
        interval_s: simulated seconds between ticks (> 0).
        speed: simulated seconds per wall-clock second; 0 means as fast as possible.
        duration_s: simulated seconds after which there are no more ticks; None for no end.
        now: the wall clock (monotonic seconds); injectable for tests.
    """

    start_s: float | None
    interval_s: float
    speed: float = 1.0
    duration_s: float | None = None
    now: Callable[[], float] = time.monotonic
    wall_start_s: float = field(init=False)

    def __post_init__(self) -> None:
        if not self.interval_s > 0 or not math.isfinite(self.interval_s):
            raise ValueError(f"interval must be a positive number of seconds, not {self.interval_s}")
        if not self.speed >= 0 or not math.isfinite(self.speed):
            raise ValueError(f"speed must be 0 or a positive factor, not {self.speed}")
        self.begin()

    def begin(self) -> None:
        """Start the schedule now: tick 0 is due at once."""
        self.wall_start_s = self.now()
        if self.start_s is None:
            self.start_s = time.time()

    @property
    def tick_count(self) -> int | None:
        """How many ticks there are in all; None when the clock runs until stopped."""
        if self.duration_s is None:
            return None
        return max(0, math.ceil(self.duration_s / self.interval_s - 1e-9))

    def sim_time(self, tick: int) -> float:
        """Simulated epoch seconds of tick ``tick``."""
        assert self.start_s is not None
        return self.start_s + tick * self.interval_s

    def wait_s(self, tick: int) -> float:
        """Wall seconds still to wait before tick ``tick`` is due (0 when due or paced by speed 0)."""
        if self.speed == 0:
            return 0.0
        due = self.wall_start_s + tick * self.interval_s / self.speed
        return max(0.0, due - self.now())

    def finished(self, tick: int) -> bool:
        """Whether ``tick`` lies past the configured duration."""
        count = self.tick_count
        return count is not None and tick >= count
