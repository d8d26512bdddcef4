"""What every variable sky shares: the protocol a plant needs, and the day series cache.

A variable sky (`sky_climate.ClimateSky`, the default one from `sky_climate.default_sky`) gives
a clear-sky index (GHI / clear-sky GHI) for any minute of any local calendar day. Readings may be
redelivered and services restarted, so a sky is a pure function of (seed, day): a day's minute
series is built on first use and kept in a small LRU cache (`DaySeries`), a cache miss only costs
time.
"""

from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

DEFAULT_SEED = 0
"""Seed used when none is configured, so an unconfigured simulator is still reproducible."""

MINUTES_PER_DAY = 1440

MAX_CLEAR_SKY_INDEX = 1.3
"""Upper bound of the index: cloud-edge enhancement rarely lifts GHI 30 % above clear sky."""


class DaySeries:
    """The last ``days`` minute series of a sky, built on first use, and the index between minutes.

    Series are pure functions of (seed, day), so a cache miss only costs time.
    """

    def __init__(self, days: int, build: Callable[[int], tuple[float, ...]]) -> None:
        self._days = days
        self._build = build
        self._series: OrderedDict[int, tuple[float, ...]] = OrderedDict()

    def of(self, day_ordinal: int) -> tuple[float, ...]:
        """The day's clear-sky index at minutes 0..MINUTES_PER_DAY."""
        series = self._series.get(day_ordinal)
        if series is not None:
            self._series.move_to_end(day_ordinal)
            return series
        series = self._series[day_ordinal] = self._build(day_ordinal)
        if len(self._series) > self._days:
            self._series.popitem(last=False)
        return series

    def at(self, day_ordinal: int, minute_of_day: float) -> float:
        """Clear-sky index at a (fractional) minute of the day, linear between grid minutes."""
        series = self.of(day_ordinal)
        position = min(max(minute_of_day, 0.0), float(MINUTES_PER_DAY))
        index = min(int(position), MINUTES_PER_DAY - 1)
        weight = position - index
        return series[index] + (series[index + 1] - series[index]) * weight


class VariableSky(Protocol):
    """What a plant needs of a variable sky (`sky_climate.ClimateSky`)."""

    def clear_sky_index(self, day_ordinal: int, minute_of_day: float) -> float:
        """Clear-sky index at a minute of a local calendar day."""
        ...
