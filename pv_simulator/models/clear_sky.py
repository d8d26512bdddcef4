"""Sun position and Ineichen-Perez clear sky at one site, for any instant.

Both the PV plant models and the weather-file replay need the clear sky of the same site at many
instants: the plant to scale it, the replay to turn a file's irradiance into a clear-sky index.
The slowly varying parts (SPA's periodic terms, extraterrestrial irradiance, the day's Linke
turbidity) are computed once per UTC day and cached, so one instant costs a few microseconds.
"""

import calendar
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from typing import NamedTuple

from pv_simulator.models import pv_chain

SECONDS_PER_DAY = 86400.0


class SunAndClearSky(NamedTuple):
    """What the chain needs of the sun at one instant; only built for a sun above the horizon."""

    apparent_zenith_deg: float
    azimuth_deg: float
    air_mass_relative: float
    dni_extra_w_m2: float
    clear: pv_chain.SkyIrradiance


@dataclass(frozen=True)
class _UtcDayConstants:
    """Everything of the sun and clear sky that depends only on the UTC day."""

    start_s: float
    sun_start: pv_chain.GeocentricSun
    sun_middle: pv_chain.GeocentricSun
    sun_end: pv_chain.GeocentricSun
    dni_extra_w_m2: float
    linke_turbidity: float


@lru_cache(maxsize=64)
def _geocentric_sun_nodes(utc_day: int) -> tuple[pv_chain.GeocentricSun, ...]:
    """Full SPA at 00, 12 and 24 h UTC of a day; shared by all sites in the process."""
    start_s = utc_day * SECONDS_PER_DAY
    return tuple(pv_chain.spa_geocentric_sun(start_s + offset_s)
                 for offset_s in (0.0, SECONDS_PER_DAY / 2.0, SECONDS_PER_DAY))


#: The geocentric sun of the instants asked lately, shared by every site of the process (it
#: depends on the time alone). More than the last: the PV service takes a batch meter by meter,
#: each meter's tens of ticks in a row, so the same instants come again once per meter.
_geocentric_memo: dict[float, pv_chain.GeocentricSun] = {}
#: Instants kept before the memo starts again: any batch's, at a few hundred bytes each.
_GEOCENTRIC_MEMO_SIZE = 4096


def _geocentric_sun_at(day: _UtcDayConstants, time_s: float) -> pv_chain.GeocentricSun:
    """The geocentric sun at time_s, interpolated in the day's nodes, or remembered."""
    sun = _geocentric_memo.get(time_s)
    if sun is None:
        if len(_geocentric_memo) >= _GEOCENTRIC_MEMO_SIZE:
            _geocentric_memo.clear()
        sun = pv_chain.interpolate_geocentric_sun(day.sun_start, day.sun_middle, day.sun_end,
                                                  (time_s - day.start_s) / SECONDS_PER_DAY)
        _geocentric_memo[time_s] = sun
    return sun


class SiteClearSky:
    """NREL SPA sun -> Kasten-Young air mass -> Ineichen-Perez clear sky at a fixed site.

    `linke_turbidity` holds 1 value or 12 monthly ones (interpolated between mid-months);
    `air_temperature_c` only sets the refraction of the apparent sun near the horizon.
    """

    def __init__(self, *, latitude_deg: float, longitude_deg: float, altitude_m: float,
                 linke_turbidity: tuple[float, ...], air_temperature_c: float) -> None:
        self.latitude_deg = latitude_deg
        self.longitude_deg = longitude_deg
        self.altitude_m = altitude_m
        self._linke_turbidity = tuple(linke_turbidity)
        self._air_temperature_c = air_temperature_c
        self._pressure_pa = pv_chain.pressure_from_altitude_pa(altitude_m)
        self._day_constants = lru_cache(maxsize=8)(self._compute_day_constants)
        # Meters sharing a site ask for one instant in a row (a tick's readings): the last
        # answer is kept, so their plants compute the sun once per timestamp.
        self._last_time_s = math.nan
        self._last: SunAndClearSky | None = None

    def _compute_day_constants(self, utc_day: int) -> _UtcDayConstants:
        start_s = utc_day * SECONDS_PER_DAY
        day = datetime.fromtimestamp(start_s, timezone.utc).date()
        day_of_year = day.timetuple().tm_yday
        if len(self._linke_turbidity) == 1:
            linke = self._linke_turbidity[0]
        else:
            linke = pv_chain.linke_turbidity_for_day(
                day_of_year, calendar.isleap(day.year), self._linke_turbidity)
        sun_start, sun_middle, sun_end = _geocentric_sun_nodes(utc_day)
        return _UtcDayConstants(start_s, sun_start, sun_middle, sun_end,
                                pv_chain.extraterrestrial_irradiance_w_m2(day_of_year), linke)

    def at(self, time_s: float) -> SunAndClearSky | None:
        """Sun and clear sky at epoch seconds time_s; None with the sun below the horizon."""
        if time_s == self._last_time_s:
            return self._last
        self._last = self._compute_at(time_s)
        self._last_time_s = time_s
        return self._last

    def _compute_at(self, time_s: float) -> SunAndClearSky | None:
        day = self._day_constants(math.floor(time_s / SECONDS_PER_DAY))
        sun = _geocentric_sun_at(day, time_s)
        position = pv_chain.topocentric_solar_position(
            sun, time_s, self.latitude_deg, self.longitude_deg, self.altitude_m,
            self._pressure_pa / 100.0, self._air_temperature_c)
        zenith_deg = position.apparent_zenith_deg
        if zenith_deg >= 90.0:
            return None
        air_mass = pv_chain.relative_air_mass(zenith_deg)
        clear = pv_chain.ineichen_perez_clear_sky(
            zenith_deg, pv_chain.absolute_air_mass(air_mass, self._pressure_pa),
            day.linke_turbidity, self.altitude_m, day.dni_extra_w_m2)
        return SunAndClearSky(zenith_deg, position.azimuth_deg, air_mass, day.dni_extra_w_m2,
                              clear)
