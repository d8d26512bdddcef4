"""Turn the stream of PV results into what the live page draws: bounded series and counters.

Pure and single-threaded (the server serialises access). Every reading costs
O(1): it only touches its meter's bucket and the fleet bucket beside it. The
cost of a snapshot depends on the number of points drawn, never on the number
of readings taken, so 1,000 meters at 1 Hz and a simulated day streamed in
seconds both stay cheap.

Time is *simulated* time: buckets are slices of ``time_s`` and the window is
the last ``window_s`` before the latest ``time_s`` seen, so a fast-forward run
fills the window in seconds just as a real-time one does in hours.

Each bucket keeps a meter's *latest* reading in it: a power is an
instantaneous value, so the latest one is what that meter showed at the end of
the slice, a duplicate or a redelivered reading changes nothing, and the fleet
total of a bucket is simply the sum over meters of their latest values.

Buckets start fine (``min_bucket_s``) so that the first minutes of a run
already draw a curve, and double in width whenever the data seen spans more
than ``points`` of them, up to ``window_s / points``: the page never gets more
than about ``points`` points per meter. Doubling merges two buckets into one
by keeping the later reading, which is exact under the latest-value rule.
"""

from __future__ import annotations

import json
import math
import re
import time
from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

#: Readings per meter remembered to spot a duplicate (same meter_id and time_s).
#: Duplicates come from redelivery, close behind the original; older ones only
#: count twice in the message rate, they never change a bucket's value.
DEDUP_MEMORY = 256

#: Bucket index of an empty slot (no real bucket index is this low).
_EMPTY = -(2**63)

#: Seconds of wall-clock time over which the message rate is averaged.
RATE_WINDOW_S = 5


class BadReading(ValueError):
    """A message body that is not a PV result the page can draw."""


@dataclass(frozen=True)
class Reading:
    """One PV result, as the PV service publishes it for every CSV row."""

    meter_id: str
    time_s: float
    meter_power_w: float
    pv_power_kw: float
    grid_power_w: float


def parse_reading(body: bytes) -> Reading:
    """The reading in a message body.

    Raises:
        BadReading: the body is not JSON, or a field is missing or not a finite number.
    """
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadReading(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BadReading("not a JSON object")
    meter_id = data.get("meter_id")
    if not isinstance(meter_id, str) or not meter_id:
        raise BadReading("meter_id missing or not a string")
    values = []
    for key in ("time_s", "meter_power_w", "pv_power_kw", "grid_power_w"):
        value = data.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise BadReading(f"{key} missing or not a finite number")
        values.append(float(value))
    return Reading(meter_id, *values)


def natural_key(meter_id: str) -> tuple[Any, ...]:
    """Sort key that puts Meter_2 before Meter_10."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", meter_id))


class _Fleet:
    """Sums over meters of their latest values in one bucket."""

    __slots__ = ("grid_w", "meter_w", "meters", "pv_kw")

    def __init__(self) -> None:
        self.meter_w = 0.0
        self.pv_kw = 0.0
        self.grid_w = 0.0
        self.meters = 0


class _Meter:
    """One meter's buckets, its latest reading and its recent times, in flat arrays of doubles.

    A ring of ``slots`` buckets: bucket index i lives in slot i % slots, so the buckets of the
    window (never more than ``slots``) are kept without pruning, and a meter costs the same few
    kilobytes however long the run. ``recent`` is a ring of the last :data:`DEDUP_MEMORY` times.
    """

    __slots__ = ("grid_w", "index", "latest", "meter_w", "pv_kw", "recent", "recent_next", "time_s")

    def __init__(self, slots: int) -> None:
        self.index = array("q", [_EMPTY]) * slots
        self.time_s = array("d", [0.0]) * slots
        self.meter_w = array("d", [0.0]) * slots
        self.pv_kw = array("d", [0.0]) * slots
        self.grid_w = array("d", [0.0]) * slots
        self.latest: Reading | None = None
        self.recent = array("d", [math.nan]) * DEDUP_MEMORY  # NaN equals nothing: an empty place
        self.recent_next = 0

    def seen(self, time_s: float) -> bool:
        """True if ``time_s`` was seen recently; otherwise remember it."""
        if time_s in self.recent:
            return True
        self.recent[self.recent_next] = time_s
        self.recent_next = (self.recent_next + 1) % DEDUP_MEMORY
        return False

    def bucket(self, index: int) -> Reading | None:
        """The latest reading kept in bucket ``index``, if any."""
        slot = index % len(self.index)
        if self.index[slot] != index:
            return None
        return Reading("", self.time_s[slot], self.meter_w[slot], self.pv_kw[slot], self.grid_w[slot])

    def put(self, index: int, reading: Reading) -> Reading | None:
        """Keep ``reading`` in bucket ``index``; return what the slot held, if it held that bucket."""
        slot = index % len(self.index)
        old = None
        if self.index[slot] == index:
            old = Reading("", self.time_s[slot], self.meter_w[slot], self.pv_kw[slot], self.grid_w[slot])
        self.index[slot] = index
        self.time_s[slot] = reading.time_s
        self.meter_w[slot] = reading.meter_power_w
        self.pv_kw[slot] = reading.pv_power_kw
        self.grid_w[slot] = reading.grid_power_w
        return old

    def evicted(self, index: int) -> int | None:
        """The older bucket that keeping bucket ``index`` would overwrite, if any."""
        held = self.index[index % len(self.index)]
        return held if held not in (_EMPTY, index) else None

    def kept(self) -> list[tuple[int, Reading]]:
        """Every kept bucket with its reading, in no particular order."""
        return [(index, Reading("", self.time_s[slot], self.meter_w[slot], self.pv_kw[slot],
                                self.grid_w[slot]))
                for slot, index in enumerate(self.index) if index != _EMPTY]

    def clear(self) -> None:
        for slot in range(len(self.index)):
            self.index[slot] = _EMPTY


class Aggregator:
    """Bounded per-meter and fleet series over the last hours of simulated time.

    Args:
        window_s: simulated seconds shown, back from the latest reading.
        points: most points per series over the window.
        min_bucket_s: the finest bucket, used while the data spans little time.
        clock: wall-clock seconds for the message rate (monotonic).
    """

    def __init__(self, window_s: float, points: int = 300, min_bucket_s: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if window_s <= 0 or points < 2 or min_bucket_s <= 0:
            raise ValueError("window_s and min_bucket_s must be positive and points at least 2")
        self.window_s = window_s
        self.points = points
        self.max_bucket_s = window_s / points
        # The coarsest width divided by a power of two: each doubling merges exactly two buckets.
        self.bucket_s = self.max_bucket_s
        while self.bucket_s / 2 >= min_bucket_s:
            self.bucket_s /= 2
        self.clock = clock
        # The data spans at most `points` buckets (coarsening keeps it so), plus both ends.
        self._slots = points + 2
        self._meters: dict[str, _Meter] = {}
        self._sorted_ids: list[str] | None = []
        self._fleet: dict[int, _Fleet] = {}
        self._earliest_s = math.inf
        self.latest_s = -math.inf
        self.accepted = 0
        self.duplicates = 0
        self.rejected = 0
        self.stale = 0
        self._rate: dict[int, int] = {}

    # ---- ingest -------------------------------------------------------------------------

    def ingest_body(self, body: bytes) -> bool:
        """Take one message body; False (and counted as rejected) when it is not a reading."""
        try:
            reading = parse_reading(body)
        except BadReading:
            self.rejected += 1
            return False
        return self.ingest(reading)

    def ingest(self, reading: Reading) -> bool:
        """Take one reading; False if it is a duplicate or older than the window."""
        if reading.time_s < self.latest_s - self.window_s:
            self.stale += 1
            return False
        meter = self._meters.get(reading.meter_id)
        if meter is None:
            meter = self._meters[reading.meter_id] = _Meter(self._slots)
            self._sorted_ids = None
        if meter.seen(reading.time_s):
            self.duplicates += 1
            return False
        self.accepted += 1
        second = int(self.clock())
        self._rate[second] = self._rate.get(second, 0) + 1
        if len(self._rate) > 2 * RATE_WINDOW_S:
            for old in [s for s in self._rate if s < second - RATE_WINDOW_S]:
                del self._rate[old]
        if meter.latest is None or reading.time_s > meter.latest.time_s:
            meter.latest = reading
        self.latest_s = max(self.latest_s, reading.time_s)
        self._earliest_s = max(min(self._earliest_s, reading.time_s), self.latest_s - self.window_s)
        # Coarsen before placing, so that the new reading never overwrites a bucket still in the data.
        while (self.bucket_s < self.max_bucket_s
               and self.latest_s - self._earliest_s > self.points * self.bucket_s):
            self._coarsen()
        self._place(meter, reading)
        if len(self._fleet) > self._slots + self.points // 8:
            self._prune_fleet()
        return True

    def _place(self, meter: _Meter, reading: Reading) -> None:
        index = math.floor(reading.time_s / self.bucket_s)
        old = meter.bucket(index)
        if old is not None and old.time_s >= reading.time_s:
            return
        evicted = meter.evicted(index)
        if evicted is not None and evicted > index:
            return  # older than every bucket the ring keeps: before the window
        meter.put(index, reading)
        fleet = self._fleet.get(index)
        if fleet is None:
            fleet = self._fleet[index] = _Fleet()
        if old is None:
            fleet.meters += 1
        else:
            fleet.meter_w -= old.meter_power_w
            fleet.pv_kw -= old.pv_power_kw
            fleet.grid_w -= old.grid_power_w
        fleet.meter_w += reading.meter_power_w
        fleet.pv_kw += reading.pv_power_kw
        fleet.grid_w += reading.grid_power_w

    def _coarsen(self) -> None:
        """Double the bucket width: re-place every kept reading, so each pair keeps its later one.

        Costs O(meters x points) but happens only log2(max/min width) times in a run.
        """
        self.bucket_s *= 2
        self._fleet.clear()
        for meter in self._meters.values():
            kept = meter.kept()
            meter.clear()
            for _, reading in sorted(kept, key=lambda item: item[0]):
                self._place(meter, reading)

    def _prune_fleet(self) -> None:
        """Forget fleet buckets before the window (amortised: once per ``points / 8`` new buckets)."""
        first = self._first_index()
        for index in [i for i in self._fleet if i < first]:
            del self._fleet[index]

    def _first_index(self) -> int:
        return math.floor((self.latest_s - self.window_s) / self.bucket_s)

    # ---- read ---------------------------------------------------------------------------

    def meter_ids(self) -> list[str]:
        """Every meter seen, in natural order (cached until a new meter appears)."""
        if self._sorted_ids is None:
            self._sorted_ids = sorted(self._meters, key=natural_key)
        return self._sorted_ids

    def rate_per_s(self) -> float:
        """Readings accepted per wall-clock second, over the last complete seconds."""
        now = int(self.clock())
        return sum(self._rate.get(now - back, 0) for back in range(1, RATE_WINDOW_S + 1)) / RATE_WINDOW_S

    def meter_series(self, meter_id: str) -> dict[str, list[float]]:
        """One meter's points in the window, oldest first (empty lists for an unknown meter)."""
        meter = self._meters.get(meter_id)
        rows = [] if meter is None else self._window(dict(meter.kept()))
        return {
            "t": [index * self.bucket_s for index, _ in rows],
            "meter_w": [round(r.meter_power_w, 1) for _, r in rows],
            "pv_kw": [round(r.pv_power_kw, 4) for _, r in rows],
            "grid_w": [round(r.grid_power_w, 1) for _, r in rows],
        }

    def fleet_series(self) -> dict[str, list[float]]:
        """Fleet sums per bucket in the window, with how many meters each bucket holds."""
        rows = self._window(self._fleet)
        return {
            "t": [index * self.bucket_s for index, _ in rows],
            "meter_w": [round(f.meter_w, 1) for _, f in rows],
            "pv_kw": [round(f.pv_kw, 4) for _, f in rows],
            "grid_w": [round(f.grid_w, 1) for _, f in rows],
            "meters": [f.meters for _, f in rows],
        }

    def _window(self, buckets: dict[int, Any]) -> list[tuple[int, Any]]:
        if not buckets:
            return []
        first = self._first_index()
        return sorted((item for item in buckets.items() if item[0] >= first), key=lambda item: item[0])

    def latest_totals(self) -> dict[str, float]:
        """Sum over meters of each one's latest reading: what the fleet shows now."""
        latest = [m.latest for m in self._meters.values() if m.latest is not None]
        return {
            "meter_w": round(sum(r.meter_power_w for r in latest), 1),
            "pv_kw": round(sum(r.pv_power_kw for r in latest), 4),
            "grid_w": round(sum(r.grid_power_w for r in latest), 1),
        }

    def snapshot(self, meter_ids: Iterable[str]) -> dict[str, Any]:
        """Everything the page draws: counters, fleet series and totals, and the named meters' series."""
        ids = self.meter_ids()
        return {
            "counters": {
                "accepted": self.accepted,
                "duplicates": self.duplicates,
                "rejected": self.rejected,
                "stale": self.stale,
                "rate_per_s": round(self.rate_per_s(), 1),
                "meters_seen": len(ids),
                "last_time_s": self.latest_s if ids else None,
            },
            "window_s": self.window_s,
            "bucket_s": self.bucket_s,
            "meter_ids": ids,
            "fleet": self.fleet_series(),
            "totals": self.latest_totals(),
            "meters": {meter_id: self.meter_series(meter_id) for meter_id in meter_ids
                       if meter_id in self._meters},
        }
