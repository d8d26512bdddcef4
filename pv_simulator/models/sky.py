"""Reproducible cloudiness: a clear-sky index (GHI / clear-sky GHI) for any minute of any day.

Two time scales, as in the classic synthetic radiation generators (R. Aguiar, M. Collares-Pereira
and J. P. Conde, "Simple procedure for generating sequences of daily radiation values using a
library of Markov transition matrices", Solar Energy 40 (1988) 269-279; R. Aguiar and M.
Collares-Pereira, "TAG: a time-dependent, autoregressive, Gaussian model for generating synthetic
hourly radiation", Solar Energy 49 (1992) 167-174):

* each day has a weather regime (clear, broken clouds, overcast) drawn from a first-order Markov
  chain over days, so sunny and grey spells last several days;
* within the day the clear-sky index follows a regime-specific transform of a Gaussian AR(1)
  process on a 1-minute grid (a discrete Ornstein-Uhlenbeck process), linear in between.

Readings may be redelivered and services restarted, so everything is a pure function of (seed,
day). A day's regime comes from coupling from the past (J. G. Propp and D. B. Wilson, "Exact
sampling with coupled Markov chains", Random Structures and Algorithms 9 (1996) 223-252) with one
hashed uniform per day: it yields the exact stationary Markov chain without any state carried
over from earlier queries. A day's minute series comes from a random generator seeded with (seed,
day). Series are built lazily and kept in a small LRU cache. Days are calendar days of whatever
clock the caller uses (the PV model uses local wall time).

Seasons: given the site's latitude, each day's transitions are those of its month
(`monthly_transitions`): winter skies of the mid latitudes are far more often overcast than summer
ones, mirrored south of the equator. Coupling from the past works unchanged for such a
time-inhomogeneous chain: it composes the same per-day random maps, each with its own month's
matrix. The statistics the sky is built to reproduce, and tested for over simulated months:

* regimes at mid latitudes (40-60 N, central Europe): about 39 % clear, 48 % broken and 13 %
  overcast days in July, 8 % clear, 24 % broken and 68 % overcast in January. This follows the
  seasonal cycle of relative sunshine duration in Germany, about 20 % of the possible hours in
  December and January against 45 % in June to August (Deutscher Wetterdienst, climate normals
  1991-2020, sunshine duration), and the grey spells of a central European winter (low stratus
  lasting days).
* cloud enhancement in broken skies: in 1-minute data of a central European summer month about
  one daylight minute in ten has a clear-sky index above 1.04 and a few in a hundred above 1.1
  (enhancements near cloud edges by light scattered forward from cloud sides, measured in northern
  Germany by N. H. Schade, A. Macke, H. Sandmann and C. Stick, "Enhanced solar global irradiance
  during cloudy sky conditions", Meteorol. Z. 16 (2007) 295-303; short-term variability at Juelich
  in G. M. Lohmann, A. H. Monahan and D. Heinemann, "Local short-term variability in solar
  irradiance", Atmos. Chem. Phys. 16 (2016) 6365-6379). Here the sunlit gaps of a broken sky are
  brightened by the surrounding clouds' diffuse light (0-7 % above clear sky, drawn per day) and
  a brief bump of up to 20 % sits just outside each cloud edge.
"""

import math
import random
from collections import OrderedDict
from collections.abc import Callable
from datetime import date
from statistics import NormalDist
from typing import Protocol

from pv_simulator.models.seeds import derive_seed, derive_uniform

CLEAR = "clear"
BROKEN = "broken"
OVERCAST = "overcast"
REGIMES: tuple[str, ...] = (CLEAR, BROKEN, OVERCAST)

DEFAULT_SEED = 0
"""Seed used when none is configured, so an unconfigured simulator is still reproducible."""

MINUTES_PER_DAY = 1440

DEFAULT_TRANSITIONS: tuple[tuple[float, float, float], ...] = (
    (0.55, 0.35, 0.10),
    (0.20, 0.50, 0.30),
    (0.08, 0.32, 0.60),
)
"""Day-to-day regime transition probabilities, rows and columns in REGIMES order.

Chosen for a central European climate: about 24 % clear, 40 % broken and 36 % overcast days with
spells of two to three days. Every state can reach CLEAR and OVERCAST in one step, which makes
coupling from the past coalesce quickly.
"""

SEASONAL_SWING: tuple[tuple[float, float, float], ...] = (
    (0.05, 0.03, -0.08),
    (0.08, 0.07, -0.15),
    (0.06, 0.16, -0.22),
)
"""What midsummer adds to DEFAULT_TRANSITIONS at mid latitudes (midwinter subtracts it).

Rows sum to 0, so every month's matrix stays stochastic, and every probability stays
non-negative at both extremes.
"""

FULL_SEASON_LATITUDE_DEG = 40.0
"""From this latitude on the seasons swing fully; towards the equator the swing fades linearly
(the tropics' wet and dry seasons are not modelled)."""


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
    """What a plant needs of a variable sky (`CloudySky`, `sky_climate.ClimateSky`)."""

    def clear_sky_index(self, day_ordinal: int, minute_of_day: float) -> float:
        """Clear-sky index at a minute of a local calendar day."""
        ...


def monthly_transitions(month: int, latitude_deg: float) -> tuple[tuple[float, float, float], ...]:
    """The day-to-day regime transitions of a month (1-12) at a latitude.

    DEFAULT_TRANSITIONS plus SEASONAL_SWING times a cosine peaking in July (January south of the
    equator), scaled by ``min(1, |latitude| / FULL_SEASON_LATITUDE_DEG)``.
    """
    peak_month = 7 if latitude_deg >= 0.0 else 1
    weight = (min(1.0, abs(latitude_deg) / FULL_SEASON_LATITUDE_DEG)
              * math.cos(2.0 * math.pi * (month - peak_month) / 12.0))
    rows = []
    for row, swing in zip(DEFAULT_TRANSITIONS, SEASONAL_SWING, strict=True):
        a, b, c = (p + weight * d for p, d in zip(row, swing, strict=True))
        rows.append((a, b, c))
    return tuple(rows)


def stationary_distribution(transitions: tuple[tuple[float, ...], ...]) -> tuple[float, ...]:
    """Long-run share of days in each regime (left eigenvector of the transition matrix)."""
    size = len(transitions)
    shares = [1.0 / size] * size
    for _ in range(10000):
        updated = [sum(shares[i] * transitions[i][j] for i in range(size)) for j in range(size)]
        if max(abs(a - b) for a, b in zip(updated, shares, strict=True)) < 1e-13:
            return tuple(updated)
        shares = updated
    return tuple(shares)


CORRELATION_MINUTES: dict[str, float] = {CLEAR: 90.0, BROKEN: 30.0, OVERCAST: 40.0}
"""e-folding time of each regime's latent AR(1) process: haze and stratus change slowly, cumulus
fields drifting past the sun decorrelate within half an hour."""

_CLEAR_HAZE_SCALE = 0.02
_CLEAR_MIN_INDEX = 0.85
_BROKEN_COVER_RANGE = (0.3, 0.7)
_BROKEN_CLOUD_INDEX_RANGE = (0.2, 0.45)
_BROKEN_EDGE_WIDTH = 0.7
_BROKEN_GAP_BRIGHTENING_MAX = 0.07
_BROKEN_ENHANCEMENT = 0.2
_BROKEN_ENHANCEMENT_WIDTH = 0.15
_OVERCAST_INDEX_RANGE = (0.15, 0.45)
_OVERCAST_SPREAD = 0.07
_MIN_INDEX = 0.03
MAX_CLEAR_SKY_INDEX = 1.3
"""Upper bound of the index: cloud-edge enhancement rarely lifts GHI 30 % above clear sky."""


def _logistic(value: float) -> float:
    if value < -60.0:
        return 0.0
    return 1.0 / (1.0 + math.exp(-value))


def clear_sky_index_series(regime: str, rng: random.Random) -> tuple[float, ...]:
    """One day of 1-minute clear-sky indices (MINUTES_PER_DAY + 1 values) for a regime.

    The latent process is a unit-variance Gaussian AR(1) with the regime's CORRELATION_MINUTES.
    clear: thin haze only, index 0.85-1.0.
    broken: a latent AR(1) field is cut at the day's cloud cover (30-70 %); below the threshold
    the sun is behind a cloud, the index ramps over a soft edge; in the sunlit gaps it stands a
    little above 1 (the day's brightening by the clouds' diffuse light, 0-7 %) and briefly
    higher just outside clouds (light scattered from cloud sides, "cloud enhancement").
    overcast: a low, slowly varying index around the day's cloud transmittance (0.15-0.45).
    """
    persistence = math.exp(-1.0 / CORRELATION_MINUTES[regime])
    innovation_scale = math.sqrt(1.0 - persistence * persistence)
    threshold = NormalDist().inv_cdf(rng.uniform(*_BROKEN_COVER_RANGE))
    cloud_index = rng.uniform(*(_BROKEN_CLOUD_INDEX_RANGE if regime == BROKEN
                                else _OVERCAST_INDEX_RANGE))
    gap_index = 1.0 + rng.uniform(0.0, _BROKEN_GAP_BRIGHTENING_MAX)
    latent = rng.gauss(0.0, 1.0)
    series = []
    for _ in range(MINUTES_PER_DAY + 1):
        if regime == CLEAR:
            index = max(1.0 - _CLEAR_HAZE_SCALE * abs(latent), _CLEAR_MIN_INDEX)
        elif regime == BROKEN:
            distance = latent - threshold
            sunlit = _logistic(distance / (_BROKEN_EDGE_WIDTH / 4.0))
            edge_offset = (distance - _BROKEN_EDGE_WIDTH / 2.0) / _BROKEN_ENHANCEMENT_WIDTH
            index = (cloud_index + (gap_index - cloud_index) * sunlit
                     + _BROKEN_ENHANCEMENT * math.exp(-edge_offset * edge_offset))
        else:
            index = cloud_index + _OVERCAST_SPREAD * latent
        series.append(min(max(index, _MIN_INDEX), MAX_CLEAR_SKY_INDEX))
        latent = persistence * latent + innovation_scale * rng.gauss(0.0, 1.0)
    return tuple(series)


class CloudySky:
    """Clear-sky index for (day ordinal, minute of day), reproducible from the seed alone."""

    def __init__(self, *, seed: int | None = None,
                 transitions: tuple[tuple[float, float, float], ...] = DEFAULT_TRANSITIONS,
                 cache_days: int = 4, latitude_deg: float | None = None) -> None:
        """``latitude_deg`` makes the regimes seasonal (`monthly_transitions`, replacing
        ``transitions``), taken to the whole degree so that neighbours' skies are the same;
        None keeps ``transitions`` all year."""
        if len(transitions) != len(REGIMES) or any(
                len(row) != len(REGIMES) or any(p < 0.0 for p in row)
                or abs(sum(row) - 1.0) > 1e-9 for row in transitions):
            raise ValueError(
                "transitions must be a 3x3 matrix of probabilities whose rows sum to 1")
        if cache_days < 1:
            raise ValueError("cache_days must be at least 1")
        self._seed = DEFAULT_SEED if seed is None else seed
        matrices = ([transitions] * 12 if latitude_deg is None else
                    [monthly_transitions(month, round(latitude_deg)) for month in range(1, 13)])
        self._cumulative_by_month = tuple(
            tuple(tuple(sum(row[:j + 1]) for j in range(len(row))) for row in matrix)
            for matrix in matrices)
        self._cache_days = cache_days
        self._regimes: OrderedDict[int, str] = OrderedDict()
        self._series = DaySeries(cache_days, self._build_day)

    def _step(self, state: int, day_ordinal: int) -> int:
        uniform = derive_uniform(self._seed, "sky-regime", day_ordinal)
        cumulative = self._cumulative_by_month[date.fromordinal(day_ordinal).month - 1]
        for next_state, threshold in enumerate(cumulative[state]):
            if uniform < threshold:
                return next_state
        return len(REGIMES) - 1

    def regime(self, day_ordinal: int) -> str:
        """Weather regime of a day (coupling from the past; independent of query history)."""
        cached = self._regimes.get(day_ordinal)
        if cached is not None:
            return cached
        lookback = 32
        while True:
            states = set(range(len(REGIMES)))
            for day in range(day_ordinal - lookback + 1, day_ordinal + 1):
                states = {self._step(state, day) for state in states}
            if len(states) == 1:
                break
            lookback *= 2
        result = REGIMES[states.pop()]
        self._regimes[day_ordinal] = result
        if len(self._regimes) > 64 * self._cache_days:
            self._regimes.popitem(last=False)
        return result

    def day_series(self, day_ordinal: int) -> tuple[float, ...]:
        """The day's clear-sky index at minutes 0..MINUTES_PER_DAY (built once, LRU-cached)."""
        return self._series.of(day_ordinal)

    def _build_day(self, day_ordinal: int) -> tuple[float, ...]:
        rng = random.Random(derive_seed(self._seed, "sky-day", day_ordinal))
        return clear_sky_index_series(self.regime(day_ordinal), rng)

    def clear_sky_index(self, day_ordinal: int, minute_of_day: float) -> float:
        """Clear-sky index at a (fractional) minute of the day, linear between grid minutes."""
        return self._series.at(day_ordinal, minute_of_day)
