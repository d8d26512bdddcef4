"""Air temperature of a site without a weather file: a seasonal and a daily cycle by latitude.

A PV cell runs about 25-30 K above the air at full sun, and power falls by about 0.35 % per K,
so a constant 20 °C all year overstates winter cell temperatures and understates summer ones.
This climatology is deliberately simple, a few numbers per latitude, so the cell temperature
follows the seasons and the day without any data file:

* annual mean ``T0 = 27 - 28.8 sin^2(latitude)`` °C: the second-Legendre-polynomial shape of the
  zonal-mean surface temperature of energy-balance models (G. R. North, "Theory of energy-balance
  climate models", J. Atmos. Sci. 32 (1975) 2033-2043), its two coefficients set to land normals
  (WMO 1991-2020): about 27 °C for tropical lowland stations and 11 °C at 48 N (Vienna Hohe Warte
  11.4 °C); it gives 12.6 °C at 45 N (Turin 13), 17 °C at 36 N (Greensboro 15), 5 °C at 60 N
  (Oslo 6). Oceans, altitude and continentality are not modelled: give ``air_temperature_c`` or a
  weather file where they matter.
* seasonal half range ``1 + 10 sin(min(2 |latitude|, 90 deg))`` K (warmest minus coldest month
  mean, halved: 1-2 K in the tropics, about 10-11 K at 36-60 N such as Greensboro, Vienna, Oslo),
  warmest on 20 July in the north and 19 January in the south, a month after the solstice as
  land temperatures lag the sun.
* daily half range 5 K (a diurnal range of 10 K, about the mean of mid-latitude land stations:
  R. S. Vose, D. R. Easterling and B. Gleason, "Maximum and minimum temperature trends for the
  globe: an update through 2004", Geophys. Res. Lett. 32 (2005) L23822), warmest at 15:00 local
  solar time (the afternoon maximum of W. J. Parton and J. A. Logan, "A model for diurnal
  variation in soil and air temperature", Agric. Meteorol. 23 (1981) 205-216), a cosine.
"""

import math

DAY_S = 86400.0
YEAR_DAYS = 365.25
DAILY_HALF_RANGE_K = 5.0
WARMEST_SOLAR_HOUR = 15.0
_WARMEST_DAY_NORTH = 201.0
"""20 July as days since 1 January 1970 (day 0); later years drift by under half a day."""


def latitude_annual_mean_c(latitude_deg: float) -> float:
    """Annual mean air temperature at a latitude, °C (see the module docstring)."""
    return 27.0 - 28.8 * math.sin(math.radians(latitude_deg)) ** 2


def seasonal_half_range_k(latitude_deg: float) -> float:
    """Half the difference between the warmest and the coldest month, K."""
    return 1.0 + 10.0 * math.sin(math.radians(min(2.0 * abs(latitude_deg), 90.0)))


class AirTemperatureClimate:
    """Air temperature at any instant: annual mean + seasonal cosine + daily cosine."""

    def __init__(self, *, latitude_deg: float, longitude_deg: float) -> None:
        self.annual_mean_c = latitude_annual_mean_c(latitude_deg)
        self._seasonal_k = seasonal_half_range_k(latitude_deg)
        self._warmest_day = (_WARMEST_DAY_NORTH if latitude_deg >= 0.0
                             else _WARMEST_DAY_NORTH - YEAR_DAYS / 2.0)
        # Local solar time leads UTC by longitude / 15 h; the daily cosine peaks at 15:00 of it.
        self._daily_phase_s = (WARMEST_SOLAR_HOUR - longitude_deg / 15.0) * 3600.0
        self._day = math.nan
        self._day_mean_c = 0.0

    def at(self, time_s: float) -> float:
        """Air temperature in °C at epoch seconds time_s."""
        day = time_s // DAY_S
        if day != self._day:
            # The seasonal term changes by under 0.2 K a day: once per UTC day is exact enough.
            angle = 2.0 * math.pi * (day + 0.5 - self._warmest_day) / YEAR_DAYS
            self._day_mean_c = self.annual_mean_c + self._seasonal_k * math.cos(angle)
            self._day = day
        return self._day_mean_c + DAILY_HALF_RANGE_K * math.cos(
            2.0 * math.pi * (time_s - self._daily_phase_s) / DAY_S)
