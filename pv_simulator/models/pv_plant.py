"""PV plant models: AC power in kW of a rooftop plant at any instant.

Two interchangeable models implement `PvModel`:

* `ReferenceCurveModel` replays the challenge's digitized curve by local time of day;
* `SolarPvModel` computes the plant's output physically (sun position, clear sky, clouds,
  transposition, temperature, DC and inverter; see `solar` and `sky`).

Both are pure functions of their configuration, seed and the timestamp, so a redelivered meter
reading or a restarted service gets exactly the same PV value.
"""

import bisect
import itertools
import math
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo

from pv_simulator.models import pv_chain
from pv_simulator.models.challenge_curve import minute_of_day, read_curve
from pv_simulator.models.clear_sky import SiteClearSky, SunAndClearSky
from pv_simulator.models.climate import AirTemperatureClimate, latitude_annual_mean_c
from pv_simulator.models.seeds import derive_uniform
from pv_simulator.models.sky import DEFAULT_SEED, VariableSky
from pv_simulator.models.sky_climate import default_sky
from pv_simulator.models.weather import WeatherSample, WeatherSource
from pv_simulator.models.weather_files import WeatherFile, read_weather_file

DEFAULT_LINKE_TURBIDITY: tuple[float, ...] = (
    2.1, 2.2, 2.5, 2.9, 3.2, 3.4, 3.5, 3.3, 2.9, 2.6, 2.3, 2.2)
"""Monthly Linke turbidity, January to December, for rural sites of a mild northern climate.

The "rural" row of the monthly climatology for a mild northern climate in the GRASS GIS r.sun
manual (J. Hofierka and M. Suri, "The solar radiation model for Open source GIS: implementation
and applications", Open source GIS - GRASS users conference, Trento 2002), after the European
Solar Radiation Atlas (K. Scharmer and J. Greif, eds., ESRA, 2000). Hazier summer air gives
higher values. South of the equator the table is shifted by six months. Satellite climatologies
(pvlib's lookup table) are often higher for a given place, e.g. 4.85 for Vienna in June; configure
`linke_turbidity` per site when it matters.
"""

SKY_CLEAR = "clear"
SKY_VARIABLE = "variable"

DEFAULT_PEAK_POWER_KW = 4.0
DEFAULT_TILT_DEG = 30.0
DEFAULT_AZIMUTH_DEG = 180.0
"""The plant a configuration gets when it describes none: 4 kWp facing south at 30 degrees."""

DEFAULT_DC_AC_RATIO = 1.2
"""DC peak power over the inverter's AC limit, as PVWatts assumes by default."""

DEFAULT_LOSSES_PCT = 14.08
"""PVWatts' default DC system losses (soiling, shading, mismatch, wiring...), %."""

DEFAULT_TEMPERATURE_COEFFICIENT = -0.0035
"""Power temperature coefficient, 1/K: about that of crystalline silicon modules."""

DEFAULT_ALBEDO = 0.2
"""Ground reflectance: the usual assumption for ground without snow."""

DEFAULT_WIND_SPEED_M_S = 1.0
"""Wind speed for the cell temperature, m/s, when neither the caller nor a weather file gives one."""

_SECONDS_PER_DAY = 86400.0
_NOISE_KNOT_S = 300.0


class PvModel(Protocol):
    """What the simulator needs from a PV model."""

    def power_kw(self, time_s: float) -> float:
        """PV plant AC power in kW at epoch seconds time_s; >= 0, 0 at night."""
        ...


class MonotoneCubic:
    """Shape-preserving piecewise cubic interpolation (PCHIP).

    F. N. Fritsch and R. E. Carlson, "Monotone piecewise cubic interpolation", SIAM J. Numer.
    Anal. 17 (1980) 238-246, with the slopes of F. N. Fritsch and J. Butland (1984) as in
    scipy.interpolate.PchipInterpolator: every segment stays between its two data values, so a
    curve through non-negative points never goes negative nor overshoots the peak, unlike a
    cubic spline through sparse digitized points.
    """

    def __init__(self, xs: tuple[float, ...], ys: tuple[float, ...]) -> None:
        if len(xs) != len(ys) or len(xs) < 3:
            raise ValueError("need at least three points with one y per x")
        if any(b <= a for a, b in itertools.pairwise(xs)):
            raise ValueError("xs must be strictly increasing")
        self._xs = xs
        self._ys = ys
        widths = [b - a for a, b in itertools.pairwise(xs)]
        secants = [(ys[k + 1] - ys[k]) / widths[k] for k in range(len(widths))]
        slopes = [0.0] * len(xs)
        for k in range(1, len(xs) - 1):
            if secants[k - 1] * secants[k] > 0.0:
                weight_left = 2.0 * widths[k] + widths[k - 1]
                weight_right = widths[k] + 2.0 * widths[k - 1]
                slopes[k] = (weight_left + weight_right) / (
                    weight_left / secants[k - 1] + weight_right / secants[k])
        slopes[0] = self._end_slope(widths[0], widths[1], secants[0], secants[1])
        slopes[-1] = self._end_slope(widths[-1], widths[-2], secants[-1], secants[-2])
        self._slopes = tuple(slopes)

    @staticmethod
    def _end_slope(width_0: float, width_1: float, secant_0: float, secant_1: float) -> float:
        """One-sided three-point slope, limited to keep the end segment monotone."""
        slope = ((2.0 * width_0 + width_1) * secant_0 - width_0 * secant_1) / (width_0 + width_1)
        if slope * secant_0 <= 0.0:
            return 0.0
        if secant_0 * secant_1 <= 0.0 and abs(slope) > abs(3.0 * secant_0):
            return 3.0 * secant_0
        return slope

    def __call__(self, x: float) -> float:
        """Interpolated value; the end values outside the data range."""
        xs = self._xs
        if x <= xs[0]:
            return self._ys[0]
        if x >= xs[-1]:
            return self._ys[-1]
        k = bisect.bisect_right(xs, x) - 1
        width = xs[k + 1] - xs[k]
        t = (x - xs[k]) / width
        t2 = t * t
        t3 = t2 * t
        return ((2.0 * t3 - 3.0 * t2 + 1.0) * self._ys[k]
                + (t3 - 2.0 * t2 + t) * width * self._slopes[k]
                + (-2.0 * t3 + 3.0 * t2) * self._ys[k + 1]
                + (t3 - t2) * width * self._slopes[k + 1])


def _local_minute_of_day(time_s: float, tz: ZoneInfo) -> tuple[int, float]:
    """Local calendar day ordinal and wall-clock minute of that day."""
    local = datetime.fromtimestamp(time_s, tz)
    minute = local.hour * 60.0 + local.minute + (local.second + local.microsecond * 1e-6) / 60.0
    return local.toordinal(), minute


def _check_range(name: str, value: float, low: float, high: float) -> None:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and low <= value <= high):
        raise ValueError(f"{name} must be a number in [{low}, {high}], got {value!r}")


class ReferenceCurveModel:
    """The challenge's PV curve (a real plant on a sunny day) by local time of day.

    Between the digitized points the curve is interpolated with PCHIP; outside the first and last
    point (about 05:36 and 21:07) it is zero. A small relative variation of +-`variation` is
    smooth value noise: uniform knots every 5 minutes hashed from (seed, knot index), blended with a
    cosine ramp. It depends only on (seed, time_s), so a redelivered reading gives the same value;
    seed None uses the fixed DEFAULT_SEED.
    """

    def __init__(self, *, tz: ZoneInfo, seed: int | None = None, variation: float = 0.02) -> None:
        _check_range("variation", variation, 0.0, 0.5)
        points = [(minute_of_day(local_time), kw) for local_time, kw in read_curve()]
        self._tz = tz
        self._seed = DEFAULT_SEED if seed is None else seed
        self._variation = variation
        self._curve = MonotoneCubic(tuple(p[0] for p in points), tuple(p[1] for p in points))
        self._first_minute = points[0][0]
        self._last_minute = points[-1][0]

    def _noise(self, time_s: float) -> float:
        """Smooth deterministic noise in [-1, 1]."""
        position = time_s / _NOISE_KNOT_S
        knot = math.floor(position)
        left = 2.0 * derive_uniform(self._seed, "pv-noise", knot) - 1.0
        right = 2.0 * derive_uniform(self._seed, "pv-noise", knot + 1) - 1.0
        blend = 0.5 - 0.5 * math.cos(math.pi * (position - knot))
        return left + (right - left) * blend

    def power_kw(self, time_s: float) -> float:
        """Curve value at the local time of time_s, with the seeded variation; 0 at night."""
        _, minute = _local_minute_of_day(time_s, self._tz)
        if minute <= self._first_minute or minute >= self._last_minute:
            return 0.0
        base_kw = self._curve(minute)
        return max(base_kw * (1.0 + self._variation * self._noise(time_s)), 0.0)


class PlantChain:
    """A fixed-tilt plant from the sky's irradiance to AC power: the part all sky sources share.

    Perez 1990 transposition with ground albedo -> physical IAM on the beam -> SAPM cell
    temperature -> PVWatts DC with losses -> PVWatts inverter clipped at
    peak_power_kw / dc_ac_ratio.
    """

    def __init__(self, *, peak_power_kw: float, tilt_deg: float, azimuth_deg: float,
                 dc_ac_ratio: float, losses_pct: float, temperature_coefficient: float,
                 albedo: float) -> None:
        self._tilt_deg = tilt_deg
        self._azimuth_deg = azimuth_deg
        self._albedo = albedo
        self._temperature_coefficient = temperature_coefficient
        self._losses_pct = losses_pct
        self._dc_rating_w = peak_power_kw * 1000.0
        self._inverter_dc_rating_w = (self._dc_rating_w / dc_ac_ratio
                                      / pv_chain.PVWATTS_ETA_INV_NOMINAL)

    def ac_power_w(self, sun: SunAndClearSky, sky: pv_chain.SkyIrradiance,
                   air_temperature_c: float, wind_speed_m_s: float) -> float:
        """AC power in W under irradiance `sky` with the sun at `sun`."""
        zenith_deg = sun.apparent_zenith_deg
        cos_aoi = pv_chain.cos_angle_of_incidence(self._tilt_deg, self._azimuth_deg, zenith_deg,
                                                  sun.azimuth_deg)
        beam_w_m2 = pv_chain.poa_beam_w_m2(sky.dni_w_m2, cos_aoi)
        diffuse_w_m2 = (pv_chain.perez_sky_diffuse_w_m2(self._tilt_deg, cos_aoi, sky.dhi_w_m2,
                                                        sky.dni_w_m2, sun.dni_extra_w_m2,
                                                        zenith_deg, sun.air_mass_relative)
                        + pv_chain.ground_reflected_w_m2(sky.ghi_w_m2, self._tilt_deg,
                                                         self._albedo))
        effective_w_m2 = beam_w_m2 * pv_chain.iam_physical(cos_aoi) + diffuse_w_m2
        cell_temperature_c = pv_chain.sapm_cell_temperature_c(
            beam_w_m2 + diffuse_w_m2, air_temperature_c, wind_speed_m_s)
        dc_power_w = pv_chain.pvwatts_dc_power_w(effective_w_m2, cell_temperature_c,
                                                 self._dc_rating_w, self._temperature_coefficient,
                                                 self._losses_pct)
        return pv_chain.pvwatts_ac_power_w(dc_power_w, self._inverter_dc_rating_w)


def _site_linke_turbidity(latitude_deg: float,
                          linke_turbidity: tuple[float, ...]) -> tuple[float, ...]:
    """The default table shifted by six months south of the equator."""
    if latitude_deg < 0.0 and tuple(linke_turbidity) == DEFAULT_LINKE_TURBIDITY:
        return DEFAULT_LINKE_TURBIDITY[6:] + DEFAULT_LINKE_TURBIDITY[:6]
    return tuple(linke_turbidity)


class SolarPvModel:
    """A fixed-tilt rooftop plant simulated with the physical chain of `pv_simulator.models.pv_chain`.

    Sun position and Ineichen-Perez clear sky (`SiteClearSky`) -> for sky="variable": clear-sky
    index from the variable sky (`sky_climate.default_sky` unless one is given; day of the local
    calendar, wall-clock minute) and Erbs split of the cloudy GHI
    (`pv_chain.cloudy_sky_irradiance`) -> `PlantChain` (Perez 1990 transposition, IAM, SAPM cell
    temperature, PVWatts DC and inverter).

    The expensive, slowly varying parts (SPA's periodic terms, extraterrestrial irradiance, the
    day's Linke turbidity, the day's cloud series) are computed once per day and cached; one
    evaluation then costs a few tens of microseconds.
    """

    def __init__(self, *, latitude_deg: float, longitude_deg: float, altitude_m: float,
                 tz: ZoneInfo, peak_power_kw: float, tilt_deg: float, azimuth_deg: float,
                 dc_ac_ratio: float = DEFAULT_DC_AC_RATIO, losses_pct: float = DEFAULT_LOSSES_PCT,
                 temperature_coefficient: float = DEFAULT_TEMPERATURE_COEFFICIENT,
                 albedo: float = DEFAULT_ALBEDO,
                 linke_turbidity: tuple[float, ...] = DEFAULT_LINKE_TURBIDITY,
                 air_temperature_c: float | None = None,
                 wind_speed_m_s: float = DEFAULT_WIND_SPEED_M_S,
                 sky: str = SKY_VARIABLE, seed: int | None = None,
                 cloudy_sky: VariableSky | None = None) -> None:
        """``air_temperature_c`` None follows the site's climate (`climate`); ``cloudy_sky`` is
        a sky to share with neighbours (same clouds), else sky="variable" makes its own."""
        self._plant = PlantChain(peak_power_kw=peak_power_kw, tilt_deg=tilt_deg,
                                 azimuth_deg=azimuth_deg, dc_ac_ratio=dc_ac_ratio,
                                 losses_pct=losses_pct,
                                 temperature_coefficient=temperature_coefficient, albedo=albedo)
        linke_turbidity = _site_linke_turbidity(latitude_deg, linke_turbidity)
        self._site = SiteClearSky(
            latitude_deg=latitude_deg, longitude_deg=longitude_deg, altitude_m=altitude_m,
            linke_turbidity=linke_turbidity,
            air_temperature_c=(latitude_annual_mean_c(latitude_deg) if air_temperature_c is None
                               else air_temperature_c))
        self._tz = tz
        self._temperature_c = _temperature(self._site, air_temperature_c)
        self._wind_speed_m_s = wind_speed_m_s
        self._sky: VariableSky | None = (
            (cloudy_sky or default_sky(seed=seed, latitude_deg=latitude_deg))
            if sky == SKY_VARIABLE else None)

    def power_kw(self, time_s: float) -> float:
        """AC power in kW at epoch seconds time_s (0 with the sun below the horizon)."""
        return self.ac_power_w(time_s) / 1000.0

    def air_temperature_c(self, time_s: float) -> float:
        """The air temperature the cells see at time_s, deg C: the constant given, else the
        site's climate (the inverter's temperature starts from it too)."""
        return self._temperature_c(time_s)

    def ac_power_w(self, time_s: float) -> float:
        """AC power in W at epoch seconds time_s."""
        sun = self._site.at(time_s)
        if sun is None:
            return 0.0
        if self._sky is None:
            sky = sun.clear
        else:
            day_ordinal, minute = _local_minute_of_day(time_s, self._tz)
            sky = pv_chain.cloudy_sky_irradiance(
                sun.clear, self._sky.clear_sky_index(day_ordinal, minute),
                sun.apparent_zenith_deg, sun.dni_extra_w_m2)
        return self._plant.ac_power_w(sun, sky, self._temperature_c(time_s), self._wind_speed_m_s)


class WeatherPvModel:
    """The plant of `SolarPvModel` under the weather of a file (`weather.WeatherSource`).

    The site defaults to the file's header (a generic CSV has none: give all three numbers);
    Linke turbidity only shapes the clear sky the file's clear-sky index is measured against.
    Cell temperature uses the file's air temperature and wind where it has them, else
    air_temperature_c (None: the site's climate, `climate`) and wind_speed_m_s. `ac_power_w` is
    None outside a generic file's span (`power_kw` then gives 0.0, as the simulator's `PvModel`
    must return a number; `covers` tells the caller which).

    ``weather`` may be a `WeatherSource` already replayed at the site, to share one between
    plants of one site (one parse, one cache, the same weather); the site arguments are then
    ignored, the source's site applies.
    """

    def __init__(self, weather: str | Path | WeatherFile | WeatherSource, *, peak_power_kw: float,
                 tilt_deg: float, azimuth_deg: float, dc_ac_ratio: float = DEFAULT_DC_AC_RATIO,
                 losses_pct: float = DEFAULT_LOSSES_PCT,
                 temperature_coefficient: float = DEFAULT_TEMPERATURE_COEFFICIENT,
                 albedo: float = DEFAULT_ALBEDO, latitude_deg: float | None = None,
                 longitude_deg: float | None = None, altitude_m: float | None = None,
                 linke_turbidity: tuple[float, ...] = DEFAULT_LINKE_TURBIDITY,
                 air_temperature_c: float | None = None,
                 wind_speed_m_s: float = DEFAULT_WIND_SPEED_M_S) -> None:
        self._plant = PlantChain(peak_power_kw=peak_power_kw, tilt_deg=tilt_deg,
                                 azimuth_deg=azimuth_deg, dc_ac_ratio=dc_ac_ratio,
                                 losses_pct=losses_pct,
                                 temperature_coefficient=temperature_coefficient, albedo=albedo)
        if isinstance(weather, WeatherSource):
            self.weather = weather
        else:
            data = weather if isinstance(weather, WeatherFile) else read_weather_file(weather)
            self.weather = weather_source(data, latitude_deg=latitude_deg,
                                          longitude_deg=longitude_deg, altitude_m=altitude_m,
                                          linke_turbidity=linke_turbidity,
                                          air_temperature_c=air_temperature_c)
        self._site = self.weather.site
        self._fallback_temperature_c = _temperature(self._site, air_temperature_c)
        self._wind_speed_m_s = wind_speed_m_s
        self._start_s = self.weather.start_s
        self._end_s = self.weather.end_s

    @property
    def weather_name(self) -> str:
        """The weather file, for messages."""
        return self.weather.weather.path

    def covers(self, time_s: float) -> bool:
        """Whether the file has weather at time_s (a typical year always has)."""
        start_s, end_s = self._start_s, self._end_s
        return start_s is None or end_s is None or start_s <= time_s <= end_s

    def power_kw(self, time_s: float) -> float:
        """AC power in kW at epoch seconds time_s; 0.0 also outside a generic file's span."""
        power_w = self.ac_power_w(time_s)
        return 0.0 if power_w is None else power_w / 1000.0

    def air_temperature_c(self, time_s: float) -> float | None:
        """The air temperature the cells see at time_s, deg C: the file's where it has one,
        else the fallback; None outside a generic file's span."""
        sample = self.weather.sample(time_s, self._site.at(time_s))
        return None if sample is None else self._air_of(sample, time_s)

    def _air_of(self, sample: WeatherSample, time_s: float) -> float:
        """The sample's air temperature, else the fallback's at time_s."""
        air_temperature_c = sample.air_temperature_c
        return self._fallback_temperature_c(time_s) if air_temperature_c is None else air_temperature_c

    def ac_power_w(self, time_s: float) -> float | None:
        """AC power in W at epoch seconds time_s; None outside a generic file's span."""
        sun = self._site.at(time_s)
        sample = self.weather.sample(time_s, sun)
        if sample is None:
            return None
        if sun is None:
            return 0.0
        return self._plant.ac_power_w(
            sun, sample.sky, self._air_of(sample, time_s),
            self._wind_speed_m_s if sample.wind_speed_m_s is None else sample.wind_speed_m_s)


def _temperature(site: SiteClearSky, air_temperature_c: float | None) -> Callable[[float], float]:
    """Air temperature at an instant: the constant given, else the site's climate."""
    if air_temperature_c is None:
        return AirTemperatureClimate(latitude_deg=site.latitude_deg,
                                     longitude_deg=site.longitude_deg).at
    constant_c = air_temperature_c
    return lambda _time_s: constant_c


def weather_source(data: WeatherFile, *, latitude_deg: float | None = None,
                   longitude_deg: float | None = None, altitude_m: float | None = None,
                   linke_turbidity: tuple[float, ...] = DEFAULT_LINKE_TURBIDITY,
                   air_temperature_c: float | None = None) -> WeatherSource:
    """A weather file replayed at a site: the file header's, each of the three numbers given
    replacing the header's (a generic CSV has none: give all three).

    Raises:
        ValueError: the file names no site and not all three numbers are given.
    """
    site = data.site
    if latitude_deg is None or longitude_deg is None or altitude_m is None:
        if site is None:
            raise ValueError(f"{data.path} names no site: give latitude_deg, longitude_deg "
                             "and altitude_m")
        latitude_deg = site.latitude_deg if latitude_deg is None else latitude_deg
        longitude_deg = site.longitude_deg if longitude_deg is None else longitude_deg
        altitude_m = site.altitude_m if altitude_m is None else altitude_m
    if air_temperature_c is None:
        # Only the refraction of the sun near the horizon: the file's mean, else the climate's.
        temperatures = data.air_temperature_c
        air_temperature_c = (sum(temperatures) / len(temperatures) if temperatures
                             else latitude_annual_mean_c(latitude_deg))
    return WeatherSource(data, SiteClearSky(
        latitude_deg=latitude_deg, longitude_deg=longitude_deg, altitude_m=altitude_m,
        linke_turbidity=_site_linke_turbidity(latitude_deg, linke_turbidity),
        air_temperature_c=air_temperature_c))
