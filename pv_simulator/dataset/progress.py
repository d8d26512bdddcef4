"""The dataset command's progress: readings done of the total, their rate and the time left.

On a terminal with ``tqdm`` installed (the ``progress`` extra) a bar; otherwise, at a terminal
or in a log, one line every ``interval_s``. The rate counts only this run's readings, so a
resumed run's estimate is not flattered by the readings it found written.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Protocol, TextIO

log = logging.getLogger(__name__)


class _Bar(Protocol):
    def update(self, n: float) -> Any: ...

    def close(self) -> None: ...


def _tqdm_bar(total: int, initial: int, stream: TextIO) -> _Bar | None:
    """A tqdm bar, or None without tqdm: it is an optional extra."""
    try:
        from tqdm import tqdm  # type: ignore[import-untyped, unused-ignore]
    except ImportError:
        return None
    bar: _Bar = tqdm(total=total, initial=initial, file=stream, unit=" readings", unit_scale=True,
                     dynamic_ncols=True, smoothing=0.05)
    return bar


def eta_text(seconds: float) -> str:
    """A time left as people read it: ``45 s``, ``6 min 05 s``, ``2 h 03 min``."""
    whole = max(0, round(seconds))
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"


class Progress:
    """Readings done of ``total``; :meth:`update` with the running count, :meth:`close` at the end.

    Args:
        total: readings the run makes, those already written included.
        interval_s: seconds between log lines when there is no bar; 0 for none.
        stream: where a bar draws; a bar only when it is a terminal.
        now: the monotonic clock, injectable for tests.
    """

    def __init__(self, total: int, interval_s: float, stream: TextIO,
                 now: Callable[[], float] = time.monotonic) -> None:
        self.total = total
        self.interval_s = interval_s
        self.stream = stream
        self.now = now
        self.done: int | None = None
        self._first = 0
        self._started = now()
        self._last_line = self._started
        self._bar: _Bar | None = None

    def update(self, done: int) -> None:
        if self.done is None:
            # The first count is what was found written: the rate starts from it.
            self._first = done
            self.done = done
            if self.stream.isatty():
                self._bar = _tqdm_bar(self.total, done, self.stream)
            return
        if self._bar is not None:
            self._bar.update(done - self.done)
        self.done = done
        if self._bar is None and self.interval_s > 0 and self.now() - self._last_line >= self.interval_s:
            self._last_line = self.now()
            log.info("%s", self.line())

    def rate(self) -> float:
        """This run's readings per second so far."""
        return ((self.done or 0) - self._first) / max(self.now() - self._started, 1e-9)

    def line(self) -> str:
        """The progress as one line: count, share, rate and the time left."""
        done = self.done or 0
        rate = self.rate()
        left = f"ETA {eta_text((self.total - done) / rate)}" if rate > 0 else "ETA unknown"
        share = 100.0 * done / self.total if self.total else 100.0
        return f"progress: {done:,} of {self.total:,} readings ({share:.1f} %), {rate:,.0f} readings/s, {left}"

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
