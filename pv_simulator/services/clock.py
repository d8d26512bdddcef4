"""The simulated clock: when each reading is taken, in simulated and wall time.

Tick ``k`` is at simulated time ``start + k * interval`` and due on the wall
clock at ``wall_start + k * interval / speed``. Both are computed from ``k``,
never accumulated, so the schedule does not drift however long it runs or
however late one tick is served.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

log = logging.getLogger(__name__)


def parse_start(text: str, tz: ZoneInfo) -> float:
    """Epoch seconds of an ISO 8601 date-time; without an offset it is local time in ``tz``.

    Raises:
        ValueError: ``text`` is not an ISO 8601 date or date-time.
    """
    text = text.strip()
    if text[-1:] in ("Z", "z"):  # Python 3.10's fromisoformat does not take the Z suffix
        text = text[:-1] + "+00:00"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is not None:
        return moment.timestamp()
    first, second = moment.replace(tzinfo=tz, fold=0), moment.replace(tzinfo=tz, fold=1)
    if first.utcoffset() != second.utcoffset():
        taken = datetime.fromtimestamp(first.timestamp(), tz)
        if taken.replace(tzinfo=None) != moment:
            log.warning("start %s does not exist in %s (the clocks skip it): taking %s",
                        moment.isoformat(), tz.key, taken.isoformat())
        else:
            log.warning("start %s occurs twice in %s: taking the first, %s (give the offset, "
                        "e.g. %s, for the second)", moment.isoformat(), tz.key, taken.isoformat(),
                        datetime.fromtimestamp(second.timestamp(), tz).isoformat())
    return first.timestamp()


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
        wall_time: epoch seconds now, for a clock that follows the wall; injectable for tests.
    """

    start_s: float | None
    interval_s: float
    speed: float = 1.0
    duration_s: float | None = None
    now: Callable[[], float] = time.monotonic
    wall_time: Callable[[], float] = time.time
    wall_start_s: float = field(init=False)
    follows_wall: bool = field(init=False)

    def __post_init__(self) -> None:
        if not self.interval_s > 0 or not math.isfinite(self.interval_s):
            raise ValueError(f"interval must be a positive number of seconds, not {self.interval_s}")
        if not self.speed >= 0 or not math.isfinite(self.speed):
            raise ValueError(f"speed must be 0 or a positive factor, not {self.speed}")
        self.follows_wall = self.start_s is None
        self.begin()

    def begin(self) -> None:
        """Start the schedule now: tick 0 is due at once.

        Without a configured start, tick 0 is the wall time of this call, not of the clock's
        construction: declaring thousands of queues in between must not date every reading back.
        """
        self.wall_start_s = self.now()
        if self.follows_wall:
            self.start_s = self.wall_time()

    @property
    def real_time(self) -> bool:
        """Whether the schedule follows the wall clock, so a reading late is a reading lost."""
        return self.speed == 1.0

    def delay(self, wall_s: float) -> None:
        """Shift every tick not yet due by ``wall_s``: an accelerated run paused while the broker was away."""
        self.wall_start_s += wall_s

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
