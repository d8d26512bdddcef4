"""A site's cloud climate, and a variable sky that generates new days with it.

The climate is each month's distribution of daily clear-sky index K_d (the day's GHI over the
day's clear-sky GHI of `SiteClearSky`, Ineichen-Perez) and how daily values persist from one day
to the next. It comes from a weather file (`climate_from_weather`: the file's own days) or from
twelve monthly K values (`climate_from_monthly_clearness`: a fitted distribution around each).

`ClimateSky` generates days from it in two steps, as the synthetic generators of Meteonorm's
kind do:

* daily values: a Gaussian AR(1) process over days mapped through the month's distribution of
  K_d (V. A. Graham, K. G. T. Hollands and T. E. Unny, "A time series model for Kt with
  application to global synthetic weather generation", Solar Energy 40 (1988) 83-92; the daily
  Markov transitions of R. Aguiar, M. Collares-Pereira and J. P. Conde, Solar Energy 40 (1988)
  269-279, describe the same persistence). Within a calendar month the days are stratified: day
  ranks of the latent process pick one quantile of the month's distribution each, so every
  generated month has the climate's monthly K (as Meteonorm rescales its generated months to the
  monthly means: J. Remund and S. Kunz, "Meteonorm 8 handbook part II: theory", Meteotest 2020).
* within a day: a two-state cloud field on a 1-minute grid driven by Gaussian AR(1) processes
  (cloud cover from a cut of one latent process, the cloud
  transmittance a log-normal AR(1) of its own), with brightened gaps and an enhancement bump
  outside cloud edges; its sunlit share and cloud level follow the day's K_d and the day is then
  scaled so its daylight mean is K_d exactly. The shape constants were fitted to one month of
  measured 1-minute GHI: BSRN Payerne, June 2016 (tests/data/sky/bsrn_payerne_2016-06_1min.csv).

Everything is a pure function of (seed, day) (`sky.DaySeries`).

Without a file or 12 values, `default_sky` feeds the same machinery with a monthly K that
follows latitude and the hemisphere's seasons (`latitude_monthly_clearness`).
"""

from __future__ import annotations

import math
import random
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, datetime, timezone
from statistics import NormalDist

from pv_simulator.models.clear_sky import SiteClearSky
from pv_simulator.models.seeds import derive_seed, derive_uniform
from pv_simulator.models.sky import (
    DEFAULT_SEED,
    MAX_CLEAR_SKY_INDEX,
    MINUTES_PER_DAY,
    DaySeries,
    VariableSky,
)
from pv_simulator.models.weather_files import DAY_S, HOUR_S, WeatherFile

MAX_DAILY_CLEARNESS = 1.1
"""Upper end of a day's clear-sky index: the clearest measured days reach about 1.05."""

MIN_DAILY_CLEARNESS = 0.03

DAILY_LOGIT_SPREAD = 1.3
"""Standard deviation of logit(K_d / MAX_DAILY_CLEARNESS) within a month, for monthly_clearness.

Fitted to the 24 months of the two shared typical years (PVGIS 45 N 8 E and TMY3 Greensboro):
with it the logit-normal's standard deviation of K_d matches theirs month by month within about
a quarter."""

DEFAULT_DAY_PERSISTENCE = 0.3
"""Lag-1 autocorrelation of the latent daily process without a file (Graham et al. 1988 report
about 0.3 for daily clearness at most stations)."""

_MAX_DAY_PERSISTENCE = 0.7
_PERSISTENCE_LAGS = 12
_QUANTILES = 64
_MIN_DAYS_PER_MONTH = 5
_NIGHT_GHI_W_M2 = 0.0

_STANDARD_NORMAL = NormalDist()


class SkyClimateError(ValueError):
    """A climate that cannot drive the sky; one line naming the file or the values."""


@dataclass(frozen=True)
class SkyClimate:
    """Each month's daily clear-sky indices (sorted) and the day-to-day persistence."""

    daily_clearness: tuple[tuple[float, ...], ...]
    day_persistence: float
    source: str

    @property
    def monthly_clearness(self) -> tuple[float, ...]:
        """Monthly K, January to December (the mean of the month's daily values)."""
        return tuple(sum(days) / len(days) for days in self.daily_clearness)


def daily_clearness_of_weather(data: WeatherFile,
                               site: SiteClearSky) -> list[tuple[int, float, float]]:
    """(month, Σ GHI, Σ clear-sky GHI) of every day of a weather file with sun (K_d is their
    ratio).

    Each row is set against the clear sky at the instant it describes (the middle of the hour
    for hourly means); a typical year's days are days of its own clock, in a non-leap year.
    """
    year_start_s = datetime(2025, 1, 1, tzinfo=timezone.utc).timestamp()
    sums: dict[int, list[float]] = {}
    for time_s, ghi_w_m2 in zip(data.time_s, data.ghi_w_m2, strict=True):
        if data.typical_year:
            local_s = time_s - (HOUR_S if data.hourly_means else 0.0) / 2.0
            instant_s = year_start_s + local_s - data.utc_offset_s
            day = date.fromordinal(date(2025, 1, 1).toordinal() + int(local_s // DAY_S))
        else:
            instant_s = time_s
            day = datetime.fromtimestamp(time_s, timezone.utc).date()
        sun = site.at(instant_s)
        if sun is None:
            continue
        totals = sums.setdefault(day.toordinal(), [0.0, 0.0])
        totals[0] += max(ghi_w_m2, _NIGHT_GHI_W_M2)
        totals[1] += sun.clear.ghi_w_m2
    return [(date.fromordinal(ordinal).month, measured, clear)
            for ordinal, (measured, clear) in sorted(sums.items()) if clear > 0.0]


def lag1_autocorrelation(values: list[float]) -> float:
    """Lag-1 autocorrelation of a series (0 for a constant one)."""
    mean = sum(values) / len(values)
    variance = sum((value - mean) ** 2 for value in values)
    if variance == 0.0:
        return 0.0
    return sum((values[k] - mean) * (values[k + 1] - mean)
               for k in range(len(values) - 1)) / variance


def climate_from_weather(data: WeatherFile, site: SiteClearSky) -> SkyClimate:
    """The climate of a weather file's days at a site.

    Each month's days are shifted so that their mean is the file's monthly K (Σ GHI / Σ clear-sky
    GHI over the month, which weights long days more than the plain mean of K_d does).

    Raises:
        SkyClimateError: a month has fewer than a few days with sun.
    """
    days = daily_clearness_of_weather(data, site)
    by_month: list[list[float]] = [[] for _ in range(12)]
    sums = [[0.0, 0.0] for _ in range(12)]
    for month, measured, clear in days:
        by_month[month - 1].append(measured / clear)
        sums[month - 1][0] += measured
        sums[month - 1][1] += clear
    short = [str(month + 1) for month, values in enumerate(by_month)
             if len(values) < _MIN_DAYS_PER_MONTH]
    if short:
        raise SkyClimateError(f"{data.path}: a sky climate needs every month; fewer than "
                              f"{_MIN_DAYS_PER_MONTH} days with sun in month(s) {', '.join(short)}")
    # Persistence of the anomalies, so the seasonal cycle does not count as persistence.
    means = [sum(values) / len(values) for values in by_month]
    anomalies = [measured / clear - means[month - 1] for month, measured, clear in days]
    persistence = min(max(lag1_autocorrelation(anomalies), 0.0), _MAX_DAY_PERSISTENCE)
    months = []
    for values, mean, (measured, clear) in zip(by_month, means, sums, strict=True):
        shift = measured / clear - mean
        months.append(tuple(sorted(min(max(value + shift, MIN_DAILY_CLEARNESS),
                                       MAX_DAILY_CLEARNESS) for value in values)))
    return SkyClimate(tuple(months), persistence, data.path)


def logit_normal_mean(location: float, spread: float) -> float:
    """Mean of MAX_DAILY_CLEARNESS * logistic(location + spread * Z), Z standard normal.

    Midpoint quadrature over 64 equal-probability strata.
    """
    total = 0.0
    for k in range(_QUANTILES):
        z = _STANDARD_NORMAL.inv_cdf((k + 0.5) / _QUANTILES)
        total += 1.0 / (1.0 + math.exp(-(location + spread * z)))
    return MAX_DAILY_CLEARNESS * total / _QUANTILES


def logit_normal_days(monthly_clearness: float,
                      spread: float = DAILY_LOGIT_SPREAD) -> tuple[float, ...]:
    """_QUANTILES equal-probability daily values of a logit-normal K_d with this mean.

    The location is found by bisection, the mean being increasing in it.
    """
    low, high = -12.0, 12.0
    for _ in range(60):
        middle = (low + high) / 2.0
        if logit_normal_mean(middle, spread) < monthly_clearness:
            low = middle
        else:
            high = middle
    location = (low + high) / 2.0
    return tuple(MAX_DAILY_CLEARNESS / (1.0 + math.exp(
        -(location + spread * _STANDARD_NORMAL.inv_cdf((k + 0.5) / _QUANTILES))))
        for k in range(_QUANTILES))


def climate_from_monthly_clearness(values: tuple[float, ...]) -> SkyClimate:
    """A climate from 12 monthly K values, January to December (logit-normal days)."""
    if len(values) != 12 or not all(MIN_DAILY_CLEARNESS < value < MAX_DAILY_CLEARNESS
                                    for value in values):
        raise SkyClimateError(f"monthly clearness needs 12 values in ({MIN_DAILY_CLEARNESS}, "
                              f"{MAX_DAILY_CLEARNESS}), got {values!r}")
    return SkyClimate(tuple(logit_normal_days(value) for value in values),
                      DEFAULT_DAY_PERSISTENCE, "monthly_clearness")


DEFAULT_CLEARNESS_AT_40_DEG = 0.677
"""Annual mean of the default monthly K at 40 deg latitude (see `latitude_monthly_clearness`)."""

DEFAULT_CLEARNESS_SLOPE_PER_DEG = -0.0052
"""Change of that annual mean per degree of latitude poleward."""

DEFAULT_WINTER_DIP_AT_40_DEG = 0.031
"""Half the summer-minus-winter difference of monthly K at 40 deg (winter darker if positive)."""

DEFAULT_WINTER_DIP_SLOPE_PER_DEG = 0.0033
"""Change of that half difference per degree of latitude poleward."""

DEFAULT_FIT_LATITUDES_DEG = (25.0, 55.0)
"""The latitudes of the typical years fitted; outside, the nearest end's values are kept."""


def latitude_monthly_clearness(latitude_deg: float) -> tuple[float, ...]:
    """The default monthly clear-sky index K, January to December, at a latitude.

    ``K = a(phi) - b(phi) cos(2 pi (m - m_w) / 12)``, m_w January north of the equator and July
    south of it (the same months, six apart), ``a`` and ``b`` linear in |latitude| phi clamped
    to DEFAULT_FIT_LATITUDES_DEG, ``b`` fading to 0 at the equator and negative below 31 deg
    (the subtropics' wet summers are the cloudier season). The four coefficients are a
    least-squares fit to the monthly K (Σ GHI / Σ clear-sky GHI with our clear sky, as
    `tools/sky_clearness.py` measures it) of nine typical or single years, 108 months at
    25.8-55.3 N:

    * NREL TMY2 Miami 12839 (W. Marion and K. Urban, "User's manual for TMY2s", NREL 1995);
    * NREL TMY3 Greensboro 723170, Chicago O'Hare 725300 and Sand Point AK 703165 (S. Wilcox
      and W. Marion, "Users manual for TMY3 data sets", NREL/TP-581-43156, 2008);
    * a typical-year EPW of Tokyo (labelled TMY3, its source not stated);
    * SolarAnywhere's 2021 satellite year of Burlington VT (Clean Power Research);
    * PVGIS 5.3 TMY 45 N 8 E (SARAH3 + ERA5, European Commission JRC);
    * the DWD/BBSR test reference year of Mannheim and ASHRAE's IWEC year of Amsterdam 062400.

    Miami, Sand Point, Burlington and Amsterdam are pvlib 0.16.1's data; Tokyo, Chicago and
    Mannheim ladybug-tools' test weather. The fit: 0.755 + 0.019 cos(...) at 25 deg, darker and
    more seasonal poleward, 0.60 - 0.08 cos(...) at 55 deg, as the zonal means of satellite
    cloud cover go (clear subtropics, cloudy mid-latitude storm tracks, most in winter: W. B.
    Rossow and R. A. Schiffer, "Advances in understanding clouds from ISCCP", Bull. Amer.
    Meteor. Soc. 80 (1999) 2261-2287). It knows
    no coast, mountain, fog or monsoon: each file's misfit is in docs/sky.md, and a site's own
    typical year (`sky_climate`) is the remedy.
    """
    low, high = DEFAULT_FIT_LATITUDES_DEG
    poleward_deg = min(max(abs(latitude_deg), low), high) - 40.0
    annual = DEFAULT_CLEARNESS_AT_40_DEG + DEFAULT_CLEARNESS_SLOPE_PER_DEG * poleward_deg
    # Towards the equator the two hemispheres' seasons meet: the dip fades to 0 there.
    dip = ((DEFAULT_WINTER_DIP_AT_40_DEG + DEFAULT_WINTER_DIP_SLOPE_PER_DEG * poleward_deg)
           * min(1.0, abs(latitude_deg) / low))
    darkest = 1 if latitude_deg >= 0.0 else 7
    return tuple(annual - dip * math.cos(2.0 * math.pi * ((month - darkest) % 12) / 12.0)
                 for month in range(1, 13))


def quantile(sorted_values: tuple[float, ...], probability: float) -> float:
    """Empirical quantile: linear between order statistics at (i + 0.5) / n, flat outside."""
    count = len(sorted_values)
    position = probability * count - 0.5
    if position <= 0.0:
        return sorted_values[0]
    if position >= count - 1:
        return sorted_values[-1]
    index = int(position)
    weight = position - index
    return sorted_values[index] + (sorted_values[index + 1] - sorted_values[index]) * weight


COVER_CORRELATION_MINUTES = 60.0
"""e-folding time of the latent cloud-cover process (fitted to the measured 1-minute ramps)."""

TRANSMITTANCE_CORRELATION_MINUTES = 30.0
"""e-folding time of the cloud transmittance (thick and thin parts of a cloud deck)."""

_TRANSMITTANCE_SPREAD = 0.35
_CLOUD_BASE = 0.3
_CLOUD_SLOPE = 0.3
_GAP_BRIGHTENING_MAX = 0.06
_EDGE_WIDTH = 1.0
_ENHANCEMENT = 0.25
_ENHANCEMENT_WIDTH = 0.15
_MIN_INDEX = 0.03
_NOON_MINUTE = 750.0
_DEFAULT_LATITUDE_DEG = 45.0


def daylight_weights(day_of_year: int, latitude_deg: float) -> tuple[float, ...]:
    """Each minute's share of a clear day's GHI, roughly: cos(hour angle) - cos(sunset angle).

    Declination after P. I. Cooper, "The absorption of radiation in solar stills", Solar Energy
    12 (1969) 333-346; local noon taken at 12:30 wall-clock time (time zones and summer time
    put it between 11:30 and 13:30). Only the day's scaling uses it, so rough is enough.
    """
    declination = math.radians(23.45) * math.sin(2.0 * math.pi * (284 + day_of_year) / 365.0)
    product = -math.tan(math.radians(latitude_deg)) * math.tan(declination)
    cos_sunset = min(max(product, -1.0), 1.0 - 1e-6)
    return tuple(value - cos_sunset if value > cos_sunset else 0.0
                 for value in _COS_HOUR_ANGLE)


_COS_HOUR_ANGLE = tuple(math.cos(math.radians((minute - _NOON_MINUTE) / 4.0))
                        for minute in range(MINUTES_PER_DAY + 1))
"""cos(hour angle) of each grid minute, the same every day."""


def _ar1(rng: random.Random, correlation_minutes: float) -> list[float]:
    """A unit-variance Gaussian AR(1) series on the minute grid.

    The normal deviates are Box-Muller pairs drawn from ``rng.random()`` as `random.gauss` makes
    them, inline because a day needs thousands and the method call was most of their cost.
    """
    persistence = math.exp(-1.0 / correlation_minutes)
    innovation = math.sqrt(1.0 - persistence * persistence)
    draw, cos, sin, log, sqrt = rng.random, math.cos, math.sin, math.log, math.sqrt
    deviates = []
    for _ in range((MINUTES_PER_DAY + 2) // 2):
        angle = draw() * _TWO_PI
        radius = sqrt(-2.0 * log(1.0 - draw()))
        deviates.append(cos(angle) * radius)
        deviates.append(sin(angle) * radius)
    value = deviates[0]
    values = [value]
    for deviate in deviates[1:MINUTES_PER_DAY + 1]:
        value = persistence * value + innovation * deviate
        values.append(value)
    return values


_TWO_PI = 2.0 * math.pi


def _weighted_quantile(values: list[float], weights: tuple[float, ...], share: float) -> float:
    """The value below which ``share`` of the total weight lies."""
    pairs = sorted((value, weight) for value, weight in zip(values, weights, strict=True)
                   if weight > 0.0)
    target = share * sum(weight for _, weight in pairs)
    running = 0.0
    for value, weight in pairs:
        running += weight
        if running >= target:
            return value
    return pairs[-1][0]


def clearness_day_series(daily_clearness: float, rng: random.Random,
                         weights: tuple[float, ...]) -> tuple[float, ...]:
    """One day of 1-minute clear-sky indices whose ``weights``-mean is ``daily_clearness``.

    The cloud level is ``min(K_d, 0.3 + 0.3 K_d)``, the gaps' level 1-1.06 (brightened by the
    clouds' diffuse light), and the sunlit share whatever mixes the two to K_d; the cover is a
    cut of a latent AR(1) at the weighted quantile giving that share over daylight, its edges
    soft with a bump of up to +0.25 just outside (cloud enhancement). The cloud part is then
    scaled so the weighted mean is K_d.
    """
    cloud_level = min(daily_clearness, _CLOUD_BASE + _CLOUD_SLOPE * daily_clearness)
    gap_level = 1.0 + rng.uniform(0.0, _GAP_BRIGHTENING_MAX)
    sunlit_share = min(max((daily_clearness - cloud_level) / (gap_level - cloud_level), 0.0), 1.0)
    cover = _ar1(rng, COVER_CORRELATION_MINUTES)
    transmittance = _ar1(rng, TRANSMITTANCE_CORRELATION_MINUTES)
    threshold = _weighted_quantile(cover, weights, 1.0 - sunlit_share)
    half_variance = _TRANSMITTANCE_SPREAD * _TRANSMITTANCE_SPREAD / 2.0
    broken = 0.0 < sunlit_share < 1.0
    exp = math.exp
    clouds, bright = [], []
    if broken:
        edge_scale, edge_offset = _EDGE_WIDTH / 4.0, _EDGE_WIDTH / 2.0
        for latent, thickness in zip(cover, transmittance, strict=True):
            distance = latent - threshold
            cut = distance / edge_scale
            sunlit = 0.0 if cut < -60.0 else 1.0 / (1.0 + exp(-cut))
            clouds.append(cloud_level * exp(_TRANSMITTANCE_SPREAD * thickness - half_variance)
                          * (1.0 - sunlit))
            edge = (distance - edge_offset) / _ENHANCEMENT_WIDTH
            bright.append(gap_level * sunlit + _ENHANCEMENT * exp(-edge * edge))
    else:
        sunlit = 1.0 if sunlit_share >= 1.0 else 0.0
        for thickness in transmittance:
            clouds.append(cloud_level * exp(_TRANSMITTANCE_SPREAD * thickness - half_variance)
                          * (1.0 - sunlit))
            bright.append(gap_level * sunlit)
    total = sum(weights)
    cloud_sum = sum(c * w for c, w in zip(clouds, weights, strict=True))
    bright_sum = sum(b * w for b, w in zip(bright, weights, strict=True))
    low, high = _MIN_INDEX, MAX_CLEAR_SKY_INDEX
    if cloud_sum > 1e-9 * total:
        scale = max((daily_clearness * total - bright_sum) / cloud_sum, 0.0)
        series = [c * scale + b for c, b in zip(clouds, bright, strict=True)]
    else:
        scale = daily_clearness * total / bright_sum
        series = [b * scale for b in bright]
    return tuple(low if value < low else high if value > high else value for value in series)


class ClimateSky:
    """A variable sky with a `SkyClimate`: clear-sky index for (day ordinal, minute of day)."""

    def __init__(self, climate: SkyClimate, *, seed: int | None = None,
                 latitude_deg: float | None = None, cache_days: int = 4) -> None:
        """``latitude_deg`` only sets day lengths for the day's scaling (45 without)."""
        if cache_days < 1:
            raise ValueError("cache_days must be at least 1")
        self.climate = climate
        self._seed = DEFAULT_SEED if seed is None else seed
        self._latitude_deg = _DEFAULT_LATITUDE_DEG if latitude_deg is None else latitude_deg
        rho = climate.day_persistence
        self._lag_weights = tuple(rho ** lag for lag in range(_PERSISTENCE_LAGS))
        self._lag_norm = 1.0 / math.sqrt(sum(weight * weight for weight in self._lag_weights))
        self._months: OrderedDict[tuple[int, int], dict[int, float]] = OrderedDict()
        self._series = DaySeries(cache_days, self._build_day)

    def _latent(self, day_ordinal: int) -> float:
        """The day's standard-normal AR(1) value, a moving average of hashed innovations."""
        total = 0.0
        for lag, weight in enumerate(self._lag_weights):
            uniform = derive_uniform(self._seed, "sky-climate-day", day_ordinal - lag)
            total += weight * _STANDARD_NORMAL.inv_cdf(min(max(uniform, 1e-12), 1.0 - 1e-12))
        return total * self._lag_norm

    def _month(self, year: int, month: int) -> dict[int, float]:
        """Every day's K_d of a month: the latent ranks pick stratified quantiles."""
        key = (year, month)
        cached = self._months.get(key)
        if cached is not None:
            return cached
        first = date(year, month, 1).toordinal()
        following = date(year + month // 12, month % 12 + 1, 1).toordinal()
        days = list(range(first, following))
        ranked = sorted(days, key=self._latent)
        values = self.climate.daily_clearness[month - 1]
        result = {}
        for rank, day in enumerate(ranked):
            jitter = derive_uniform(self._seed, "sky-climate-jitter", day)
            result[day] = quantile(values, (rank + jitter) / len(days))
        self._months[key] = result
        if len(self._months) > 3:
            self._months.popitem(last=False)
        return result

    def daily_clearness(self, day_ordinal: int) -> float:
        """The day's clear-sky index K_d (its daylight mean)."""
        day = date.fromordinal(day_ordinal)
        return self._month(day.year, day.month)[day_ordinal]

    def day_series(self, day_ordinal: int) -> tuple[float, ...]:
        """The day's clear-sky index at minutes 0..MINUTES_PER_DAY (built once, LRU-cached)."""
        return self._series.of(day_ordinal)

    def _build_day(self, day_ordinal: int) -> tuple[float, ...]:
        day = date.fromordinal(day_ordinal)
        rng = random.Random(derive_seed(self._seed, "sky-climate-minutes", day_ordinal))
        weights = daylight_weights(day.timetuple().tm_yday, self._latitude_deg)
        return clearness_day_series(self.daily_clearness(day_ordinal), rng, weights)

    def clear_sky_index(self, day_ordinal: int, minute_of_day: float) -> float:
        """Clear-sky index at a (fractional) minute of the day, linear between grid minutes."""
        return self._series.at(day_ordinal, minute_of_day)


def default_sky(*, seed: int | None, latitude_deg: float, cache_days: int = 4) -> ClimateSky:
    """The variable sky without `sky_climate` or `monthly_clearness`: the latitude's default
    monthly K through the same days and minutes as `monthly_clearness`.

    The latitude is taken to the whole degree, so that neighbours' skies are the same.
    """
    latitude = float(round(latitude_deg))
    return ClimateSky(climate_from_monthly_clearness(latitude_monthly_clearness(latitude)),
                      seed=seed, latitude_deg=latitude, cache_days=cache_days)


def clear_sky_samples(site: SiteClearSky, year: int, utc_offset_s: float,
                      step_minutes: int = 10) -> list[tuple[int, float, float]]:
    """(local day ordinal, local minute, clear-sky GHI) of a year's daylight at a step.

    Local is a clock ``utc_offset_s`` ahead of UTC; with `sky_daily_clearness` it measures a
    sky's days the way `daily_clearness_of_weather` measures a file's.
    """
    start_s = datetime(year, 1, 1, tzinfo=timezone.utc).timestamp() - utc_offset_s
    end_s = datetime(year + 1, 1, 1, tzinfo=timezone.utc).timestamp() - utc_offset_s
    first_day = date(year, 1, 1).toordinal()
    samples = []
    time_s = start_s + step_minutes * 30.0
    while time_s < end_s:
        sun = site.at(time_s)
        if sun is not None:
            local_s = time_s - start_s
            samples.append((first_day + int(local_s // DAY_S), (local_s % DAY_S) / 60.0,
                            sun.clear.ghi_w_m2))
        time_s += step_minutes * 60.0
    return samples


def sky_daily_clearness(sky: VariableSky, samples: list[tuple[int, float, float]]
                        ) -> list[tuple[int, float, float]]:
    """(month, Σ index x clear-sky GHI, Σ clear-sky GHI) of each day of `clear_sky_samples`."""
    sums: dict[int, list[float]] = {}
    for day_ordinal, minute, clear_w_m2 in samples:
        totals = sums.setdefault(day_ordinal, [0.0, 0.0])
        totals[0] += sky.clear_sky_index(day_ordinal, minute) * clear_w_m2
        totals[1] += clear_w_m2
    return [(date.fromordinal(day).month, measured, clear)
            for day, (measured, clear) in sorted(sums.items())]


def monthly_clearness_of_days(days: list[tuple[int, float, float]]) -> tuple[float, ...]:
    """Monthly K (Σ / Σ) of (month, Σ GHI, Σ clear-sky GHI) days; NaN for a month without."""
    sums = [[0.0, 0.0] for _ in range(12)]
    for month, measured, clear in days:
        sums[month - 1][0] += measured
        sums[month - 1][1] += clear
    return tuple(measured / clear if clear > 0.0 else math.nan for measured, clear in sums)
