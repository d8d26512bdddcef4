"""The household model: base load, fridge cycling and appliance runs around a load profile.

A real meter does not see a smooth mean, though: it sees a base load (standby,
fridge compressor cycling) plus appliances switching on and off.  So the model
draws appliance events as a Poisson process whose rate makes the *expected*
power equal the profile, and returns the instantaneous power (base + running
appliances) with a little noise.

Long appliance runs (television, lighting: up to 3 h) are centred on their arrival, so they
blur the quarter-hour detail of H25 a little; the mean of many households still follows it
(see tests/unit/models/test_household.py).
"""

from __future__ import annotations

import heapq
import math
import random
from datetime import datetime, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo

from pv_simulator.models.household.appliances import APPLIANCES, LOOKAHEAD_S, Appliance, event_rates_per_w
from pv_simulator.models.household.draws import BLOCK_S, Draws
from pv_simulator.models.household.profiles import (
    DEFAULT_COUNTRY,
    PROFILE_H25,
    LoadProfile,
    h0_season,
    load_profile,
)
from pv_simulator.models.random_walk import DEFAULT_MAX_POWER_W
from pv_simulator.models.seeds import derive_seed

DEFAULT_ANNUAL_ENERGY_KWH = 4000.0
"""A household's yearly consumption when none is given, kWh."""

# The base load is this fraction of the lowest hourly mean of the year, so the
# appliance part stays positive at every hour.
_BASE_FRACTION_OF_MIN = 0.8

# A fridge-freezer: ~100 W compressor, ~250 kWh/a (~30 W mean) for a current
# appliance (EU energy label data); cycle 30-60 min.
_COMPRESSOR_W = 100.0
_FRIDGE_MEAN_W = 30.0
_FRIDGE_SHARE_OF_BASE = 0.4
_FRIDGE_CYCLE_S = (1800.0, 3600.0)

# Multiplicative Ornstein-Uhlenbeck noise (1 % rms, 30 s correlation time):
# voltage and appliance fluctuations, so constant stretches are not flat.
_NOISE_SIGMA = 0.01
_NOISE_TAU_S = 30.0


@lru_cache(maxsize=64)
def _base_load_w(lowest_w: float, annual_energy_kwh: float) -> tuple[float, float, float]:
    """(base load W, standby W, fridge duty) of a household whose profile's lowest mean is
    ``lowest_w`` per 1000 kWh/a; the same float objects for every household of one profile
    and annual energy, so they are not held 10,000 times."""
    base_w = _BASE_FRACTION_OF_MIN * lowest_w * annual_energy_kwh / 1000.0
    fridge_mean_w = min(_FRIDGE_MEAN_W, _FRIDGE_SHARE_OF_BASE * base_w)
    return base_w, base_w - fridge_mean_w, fridge_mean_w / _COMPRESSOR_W


@lru_cache(maxsize=64)
def _noise_step(dt_s: float) -> tuple[float, float]:
    """(keep, kick) of the noise over a step of dt_s: shared by the households stepping alike."""
    keep = math.exp(-dt_s / _NOISE_TAU_S)
    return keep, _NOISE_SIGMA * math.sqrt(1.0 - keep * keep)


@lru_cache(maxsize=256)
def _block_local(block_start_s: float,
                 tz: tzinfo) -> tuple[datetime, tuple[tuple[Appliance, float], ...]]:
    """A block's local start and each appliance with its event rate per W (by H0 season and
    local hour): the same for every household of a time zone, so a fleet stepping together works
    them out once per block instead of once per household."""
    local = datetime.fromtimestamp(block_start_s, tz)
    rates = event_rates_per_w()[h0_season(local.date()), local.hour]
    return local, tuple(zip(APPLIANCES, rates, strict=True))


def _poisson(threshold: float, term: float, mean: float) -> int:
    """Poisson draw by inversion of the uniform `threshold`, `term` being exp(-mean);
    the means here are small (< ~5)."""
    cumulative = term
    count = 0
    while threshold > cumulative and term > 0.0:
        count += 1
        term *= mean / count
        cumulative += term
    return count


class HouseholdModel:
    """Instantaneous household power for one meter, following H25 (or H0) in expectation.

    Appliance runs are placed *centred* on their Poisson arrival time (drawn
    ahead of the current time), so long runs such as a washing machine do not
    shift energy into later hours. The event stream depends only on
    (seed, meter_index) and the first call's time, not on the step size: two
    callers stepping differently sample the same realisation.

    A meter process holds one per meter (10,000 and more), so the instance has
    slots, shares what households of one configuration have in common and
    keeps one long-lived random.Random (~2.9 KB with its state), the noise's,
    which draws at every reading. Its profile (a `LoadProfile`) gives the expected
    power and how runs and fridge cycles are drawn: under H25 the runs arriving
    in an hour come from a generator seeded for that hour alone, made when the
    hour is drawn and dropped after, and the fridge's cycles from hashed draws,
    so the runs of an hour do not even depend on the first call's time. H0 keeps
    the two long-lived generators it had for events and fridge, so its seeded
    output stays as recorded (tests/unit/models/test_household.py, H0UnchangedTest).
    """

    __slots__ = (
        "_active",
        "_draws",
        "_fridge_duty",
        "_fridge_next_s",
        "_fridge_off_s",
        "_fridge_on",
        "_generated_until_s",
        "_last_time_s",
        "_level_w",
        "_load",
        "_next_change_s",
        "_noise",
        "_noise_dt_s",
        "_noise_keep",
        "_noise_kick",
        "_noise_rng",
        "_pending",
        "_standby_w",
        "_started",
        "annual_energy_kwh",
        "base_w",
        "country",
        "max_power_w",
        "profile",
        "subdivision",
        "tz",
    )

    def __init__(
        self,
        *,
        tz: ZoneInfo,
        annual_energy_kwh: float = DEFAULT_ANNUAL_ENERGY_KWH,
        max_power_w: float = DEFAULT_MAX_POWER_W,
        seed: int | None = None,
        meter_index: int | str = 0,
        profile: str = PROFILE_H25,
        country: str = DEFAULT_COUNTRY,
        subdivision: str | None = None,
    ) -> None:
        """``profile`` is "h25" or "h0"; ``country`` (ISO 3166-1 alpha-2) and
        ``subdivision`` (e.g. "BY") pick H25's public holidays and are checked
        whatever the profile, so a bad value fails at start-up."""
        if not isinstance(tz, tzinfo):
            raise TypeError(f"tz must be a ZoneInfo, got {type(tz).__name__}")
        if not math.isfinite(annual_energy_kwh) or annual_energy_kwh <= 0:
            raise ValueError(f"annual_energy_kwh must be a positive number, got {annual_energy_kwh!r}")
        if not math.isfinite(max_power_w) or max_power_w <= 0:
            raise ValueError(f"max_power_w must be a positive number, got {max_power_w!r}")
        self._load: LoadProfile = load_profile(profile, country, subdivision)
        self.tz = tz
        self.profile = profile
        self.country = country
        self.subdivision = subdivision
        self.annual_energy_kwh = float(annual_energy_kwh)
        self.max_power_w = float(max_power_w)

        master = random.Random(derive_seed(seed, "household", meter_index))
        key = master.getrandbits(64)
        fridge_seed = master.getrandbits(64)
        self._noise_rng = random.Random(master.getrandbits(64))
        self._draws: Draws = self._load.draws(key, fridge_seed)

        self.base_w, self._standby_w, self._fridge_duty = _base_load_w(
            self._load.min_mean_w_per_1000_kwh(), self.annual_energy_kwh)

        self._started = False
        self._last_time_s = -math.inf
        self._next_change_s = -math.inf
        self._level_w = 0.0
        self._generated_until_s = 0.0
        self._pending: list[tuple[float, float, float]] = []  # (start_s, end_s, power_w)
        self._active: list[tuple[float, float]] = []  # (end_s, power_w)
        self._fridge_on = False
        self._fridge_next_s = 0.0
        self._fridge_off_s = 0.0
        self._noise = 0.0
        self._noise_dt_s = math.nan
        self._noise_keep = 0.0
        self._noise_kick = 0.0

    def prepare(self, time_s: float) -> None:
        """Draw the events around ``time_s`` ahead of the first reading.

        The same draws the first :meth:`power_w` at ``time_s`` would make, in the same order:
        the readings do not change.
        """
        if not self._started:
            self._advance(time_s)

    def power_w(self, time_s: float) -> float:
        """Household consumption in W at epoch seconds time_s.

        Called with non-decreasing time_s at any step (1 s..15 min).
        """
        dt_s = time_s - self._last_time_s
        if dt_s < 0:
            raise ValueError(f"time_s must not decrease: {time_s!r} after {self._last_time_s!r}")
        if time_s >= self._next_change_s:
            self._advance(time_s)
        if dt_s > 0:
            if dt_s != self._noise_dt_s:
                self._noise_dt_s = dt_s
                self._noise_keep, self._noise_kick = _noise_step(dt_s)
            self._noise = self._noise * self._noise_keep + self._noise_kick * self._noise_rng.gauss(0.0, 1.0)
            self._last_time_s = time_s
        power_w = self._level_w * (1.0 + self._noise)
        if power_w > self.max_power_w:
            return self.max_power_w
        return max(0.0, power_w)

    def _advance(self, time_s: float) -> None:
        """Bring events, fridge state and the summed level up to time_s and
        work out when the level next changes."""
        if not self._started:
            self._start(time_s)
        while self._generated_until_s < time_s + LOOKAHEAD_S:
            self._generate_events()
        pending, active = self._pending, self._active
        heappop, heappush = heapq.heappop, heapq.heappush
        while pending and pending[0][0] <= time_s:
            _, end_s, power_w = heappop(pending)
            if end_s > time_s:
                heappush(active, (end_s, power_w))
        while active and active[0][0] <= time_s:
            heappop(active)
        while self._fridge_next_s <= time_s:
            self._toggle_fridge()

        # Summed into a local, with a list rather than a generator and no sum when nothing
        # runs: the same additions in the same order (so the same float) at a reading's cost.
        level_w = self._standby_w + (_COMPRESSOR_W if self._fridge_on else 0.0)
        if active:
            level_w += sum([power_w for _, power_w in active])
        self._level_w = level_w
        next_change_s = min(self._fridge_next_s, self._generated_until_s - LOOKAHEAD_S)
        if pending and pending[0][0] < next_change_s:
            next_change_s = pending[0][0]
        if active and active[0][0] < next_change_s:
            next_change_s = active[0][0]
        self._next_change_s = next_change_s

    def _start(self, time_s: float) -> None:
        """Begin drawing events early enough that runs in progress at the first
        call exist, and put the fridge at a random point of its cycle."""
        self._started = True
        first_s = time_s - LOOKAHEAD_S
        step_s = self._draws.step_s
        self._generated_until_s = math.floor(first_s / step_s) * step_s
        cycle_s = self._draws.fridge_uniform(*_FRIDGE_CYCLE_S)
        on_s = self._fridge_duty * cycle_s
        position_s = self._draws.fridge_uniform(0.0, cycle_s)
        self._fridge_on = position_s < on_s
        self._fridge_next_s = time_s + (on_s - position_s if self._fridge_on else cycle_s - position_s)
        self._fridge_off_s = cycle_s - on_s

    def _toggle_fridge(self) -> None:
        """Compressor on for duty x cycle, off for the rest: the time average is
        exactly the duty whatever cycle lengths are drawn."""
        if self._fridge_on:
            self._fridge_on = False
            self._fridge_next_s += self._fridge_off_s
        else:
            cycle_s = self._draws.fridge_uniform(*_FRIDGE_CYCLE_S)
            self._fridge_on = True
            self._fridge_next_s += self._fridge_duty * cycle_s
            self._fridge_off_s = cycle_s - self._fridge_duty * cycle_s

    def mean_power_w(self, local_time: datetime) -> float:
        """Expected power in W at a local time under this model's profile."""
        return self._load.mean_power_w(local_time, self.annual_energy_kwh)

    def _generate_events(self) -> None:
        """Draw the runs of the next step's blocks (one for H0, an hour's four for H25) from
        the generator the profile's draws give for that step."""
        start_s = self._generated_until_s
        step_s = self._draws.step_s
        rng = self._draws.step_rng(start_s)
        for block in range(int(step_s // BLOCK_S)):
            self._generate_block(rng, start_s + block * BLOCK_S)
        self._generated_until_s = start_s + step_s

    def _generate_block(self, rng: random.Random, block_start_s: float) -> None:
        """Draw the appliance runs arriving in one 15-minute block; the
        appliance mix by time of day uses the H0 seasons for either profile."""
        local, rates = _block_local(block_start_s, self.tz)
        appliance_w = self.mean_power_w(local) - self.base_w
        if appliance_w <= 0.0:
            return
        # Names bound locally and the pairs zipped once per block (_block_local): the loop
        # runs for every appliance of every block of every household.
        random_ = rng.random
        exp = math.exp
        block_s = BLOCK_S
        for appliance, rate_per_w in rates:
            mean = appliance_w * rate_per_w * block_s
            threshold = random_()
            term = exp(-mean)
            if threshold <= term:
                continue  # no run, as for most appliances in most blocks: no call
            for _ in range(_poisson(threshold, term, mean)):
                self._schedule(rng, appliance, block_start_s + random_() * BLOCK_S)

    def _schedule(self, rng: random.Random, appliance: Appliance, arrival_s: float) -> None:
        """Queue one run's on-segments, centred on its arrival time."""
        segments: list[tuple[float, float, float]] = []
        offset_s = 0.0
        for phase in appliance.phases:
            power_w = rng.uniform(*phase.power_w)
            for _ in range(rng.randint(*phase.cycles)):
                on_s = rng.uniform(*phase.on_s)
                segments.append((offset_s, offset_s + on_s, power_w))
                offset_s += on_s + rng.uniform(*phase.off_s)
        start_s = arrival_s - offset_s / 2.0
        for begin_s, end_s, power_w in segments:
            heapq.heappush(self._pending, (start_s + begin_s, start_s + end_s, power_w))
