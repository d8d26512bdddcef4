"""How a household's random draws are seeded: per hour (H25) or from long-lived generators (H0).

Events are drawn per 15-minute block aligned to the epoch: every modern UTC offset is a
multiple of 15 min, so the local hour (and thus the rate) is constant within a block. A
:class:`Draws` hands the model the generator of each step of blocks and the fridge's uniform
draws.
"""

from __future__ import annotations

import random
import threading
from typing import Protocol

from pv_simulator.models.seeds import IndexedUniforms

BLOCK_S = 900.0
HOUR_S = 3600.0

# An H25 household draws the runs of each epoch-aligned hour (4 blocks) from a generator
# seeded with its key and the hour's index (this many low bits of it), made for that hour
# and dropped after: seeding one once an hour is cheap, holding one (a Mersenne Twister's
# state of 624 words) per household for good is not.
_HOUR_INDEX_BITS = 40
_HOUR_INDEX_MASK = (1 << _HOUR_INDEX_BITS) - 1


class _HourGenerator(threading.local):
    """The one generator each thread reseeds for an hour's runs (:meth:`HourlyDraws.step_rng`).

    ``seed`` leaves it as ``random.Random(seed)`` would make a new one (no Gaussian pending
    either), without the object an hour per household: a tenth of the seeding's cost, which was
    4 % of a fleet year's.
    """

    def __init__(self) -> None:
        self.rng = random.Random()


_HOUR = _HourGenerator()


class Draws(Protocol):
    """A household's source of randomness for appliance runs and fridge cycles."""

    @property
    def step_s(self) -> float:
        """The span of blocks one generator of :meth:`step_rng` draws, a multiple of BLOCK_S."""

    def step_rng(self, start_s: float) -> random.Random:
        """The generator of the runs of the step starting at epoch-aligned ``start_s``."""

    def fridge_uniform(self, low: float, high: float) -> float:
        """The fridge's next uniform draw in [low, high)."""


class HourlyDraws:
    """A generator per hour seeded with the household's key and the hour's index, and the
    fridge's n-th hashed draw: the runs of an hour do not depend on the first call's time."""

    __slots__ = ("_fridge", "_fridge_draws", "_key")

    step_s = HOUR_S

    def __init__(self, key: int) -> None:
        self._key = key
        self._fridge = IndexedUniforms(key, "fridge")
        self._fridge_draws = 0

    def step_rng(self, start_s: float) -> random.Random:
        """This thread's hour generator, seeded for this hour: good until its next call."""
        rng = _HOUR.rng
        rng.seed((self._key << _HOUR_INDEX_BITS) | (int(start_s // HOUR_S) & _HOUR_INDEX_MASK))
        return rng

    def fridge_uniform(self, low: float, high: float) -> float:
        self._fridge_draws += 1
        return low + (high - low) * self._fridge(self._fridge_draws)


class SequentialDraws:
    """Two long-lived generators, one for events block by block and one for the fridge (H0's)."""

    __slots__ = ("_events", "_fridge")

    step_s = BLOCK_S

    def __init__(self, events: random.Random, fridge: random.Random) -> None:
        self._events = events
        self._fridge = fridge

    def step_rng(self, start_s: float) -> random.Random:
        return self._events

    def fridge_uniform(self, low: float, high: float) -> float:
        return self._fridge.uniform(low, high)
