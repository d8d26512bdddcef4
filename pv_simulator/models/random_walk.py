"""A household-agnostic meter: bounded, continuous random consumption."""

from __future__ import annotations

import math
import random
from typing import Protocol

from pv_simulator.models.seeds import derive_seed

DEFAULT_MAX_POWER_W = 9000.0
"""A meter's upper bound when none is given: the challenge's readings run from 0 to 9000 W."""


class MeterModel(Protocol):
    """A household's consumption over time."""

    def power_w(self, time_s: float) -> float:
        """Consumption in W at epoch seconds ``time_s``; called with non-decreasing times."""
        ...

    def prepare(self, time_s: float) -> None:
        """Do the first reading's costly set-up for readings from ``time_s`` on, changing no
        reading: the meter calls it before its clock starts, so that a first tick of thousands
        of households is not late by their set-up."""
        ...


class RandomWalkModel:
    """Bounded, continuous random consumption over the whole 0..max range.

    An Ornstein-Uhlenbeck process (Uhlenbeck and Ornstein 1930) around the middle of
    the range, reflected at both bounds: each step moves by a normal increment scaled
    with the square root of the elapsed time, so the series has no white-noise jumps
    and its spread over an hour covers the range.

    Args:
        max_power_w: upper bound of the readings.
        seed: same seed and index, same series; None for a fresh one.
        meter_index: which meter of the run (its number, or its id), so meters differ.
        reversion_s: time constant of the pull back to the middle.
    """

    def __init__(self, *, max_power_w: float = DEFAULT_MAX_POWER_W, seed: int | None = None,
                 meter_index: int | str = 0, reversion_s: float = 1800.0) -> None:
        if not max_power_w > 0:
            raise ValueError(f"max_power_w must be positive, not {max_power_w}")
        self.max_power_w = max_power_w
        self._rng = random.Random(derive_seed(seed, meter_index))
        self._mean_w = max_power_w / 2
        self._theta = 1.0 / reversion_s
        self._sigma = (max_power_w / 4) * math.sqrt(2 * self._theta)
        self._power_w = self._rng.uniform(0.1, 0.9) * max_power_w
        self._time_s: float | None = None

    def prepare(self, time_s: float) -> None:
        """Nothing to set up: a step is a few operations."""

    def power_w(self, time_s: float) -> float:
        if self._time_s is not None:
            dt = max(0.0, time_s - self._time_s)
            step = (self._theta * (self._mean_w - self._power_w) * dt
                    + self._sigma * math.sqrt(dt) * self._rng.gauss(0.0, 1.0))
            self._power_w = _reflect(self._power_w + step, self.max_power_w)
        self._time_s = time_s
        return self._power_w


def _reflect(value: float, high: float) -> float:
    """Fold ``value`` back into 0..high, as a reflecting barrier does."""
    period = 2 * high
    value = math.fmod(value, period)
    if value < 0:
        value += period
    return period - value if value > high else value
