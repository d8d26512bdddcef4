"""The household load profiles: BDEW H25 and VDEW H0 data, dynamisation, day types, holidays.

- ``h25`` (default): BDEW's 2025 profile H25 (BDEW, "Standardlastprofile
  Strom", 2025), kWh per quarter hour by month x day type (SA Saturday, FT
  Sunday/public holiday, WT workday), scaled by the dynamisation polynomial.
  Public holidays come from the ``holidays`` package for a country and optional
  subdivision (holidays are regional in Germany); 24 and 31 December take the
  Saturday profile unless they are a Sunday or holiday, as grid operators apply
  the BDEW profiles (e.g. Bayernwerk Netz, "Standardlastprofile (SLP)").
- ``h0``: the older VDEW H0 profile (VDEW, "Repräsentative VDEW-Lastprofile",
  1999; Fünfgeld & Tiedemann, BTU Cottbus 2000), hourly means for 3 seasons x
  3 day types, kept exactly as it was (same seeded output) for runs to compare
  with; it treats only Sundays as holidays.

Either is normalised so that a calendar year holds the configured annual energy. The DST days
(23 h and 25 h) are not treated specially in that normalisation: the skipped and the repeated
hour are both night hours with nearly equal profile values, so their effects cancel to well
under 0.1 %.

A household holds its profile as a :class:`LoadProfile` strategy, :class:`H25Profile` or
:class:`H0Profile` (:func:`load_profile`), so the model does not branch on the profile's name.
"""

from __future__ import annotations

import csv
import json
import math
import random
from datetime import date, datetime, timedelta
from functools import cache, lru_cache
from importlib import resources
from typing import Protocol

import holidays

from pv_simulator.models.household.draws import Draws, HourlyDraws, SequentialDraws

PROFILE_H25 = "h25"
PROFILE_H0 = "h0"
PROFILES = (PROFILE_H25, PROFILE_H0)

DEFAULT_COUNTRY = "DE"
"""Whose public holidays H25 keeps when none is given: the BDEW profiles are German ones."""

PROFILE_RESOURCE = "h0_hourly_W_per_1000kWh.json"
SEASONS = ("winter", "transition", "summer")
DAY_TYPES = ("workday", "saturday", "sunday")

H25_RESOURCE = "bdew_h25_15min.csv"
H25_DAY_TYPES = ("SA", "FT", "WT")
H25_MONTHS = (
    "Januar", "Februar", "März", "April", "Mai", "Juni",
    "Juli", "August", "September", "Oktober", "November", "Dezember",
)
_QUARTERS_PER_DAY = 96
# H25 is kWh per quarter hour per 1,000,000 kWh/a: / 1000 for 1000 kWh/a, x 4
# quarters per hour, x 1000 W/kW gives W per 1000 kWh/a.
_H25_W_PER_1000_KWH = 4.0

# The data files stay in pv_simulator/models/data, beside the other models' data.
_DATA_PACKAGE = "pv_simulator.models"


def dynamisation_factor(day_of_year: int) -> float:
    """H0 dynamisation factor F(t) for day of year t (1..366): the hourly
    profile values are seasonal averages, F shapes them over the year."""
    t = float(day_of_year)
    return -3.92e-10 * t**4 + 3.2e-7 * t**3 - 7.02e-5 * t**2 + 2.1e-3 * t + 1.24


def h0_season(day: date) -> str:
    """H0 season: winter 1 Nov-20 Mar, summer 15 May-14 Sep, transition otherwise."""
    month_day = (day.month, day.day)
    if month_day >= (11, 1) or month_day <= (3, 20):
        return "winter"
    if (5, 15) <= month_day <= (9, 14):
        return "summer"
    return "transition"


def h0_day_type(day: date) -> str:
    """H0 day type; holidays are not modelled, only Sundays count as 'sunday'."""
    return DAY_TYPES[min(max(day.weekday() - 4, 0), 2)]


@lru_cache(maxsize=1)
def load_h0_profile() -> dict[str, tuple[float, ...]]:
    """H0 hourly means in W per 1000 kWh/a, keyed '<season>_<day type>'."""
    text = resources.files(_DATA_PACKAGE).joinpath("data").joinpath(PROFILE_RESOURCE).read_text(encoding="utf-8")
    raw = json.loads(text)
    profile: dict[str, tuple[float, ...]] = {}
    for season in SEASONS:
        for day_type in DAY_TYPES:
            key = f"{season}_{day_type}"
            values = tuple(float(v) for v in raw[key])
            if len(values) != 24:
                raise ValueError(f"{PROFILE_RESOURCE}: {key} has {len(values)} values, expected 24")
            profile[key] = values
    return profile


@cache
def _profile_year_energy_kwh(year: int) -> float:
    """Energy of the raw profile x F over a calendar year (nominally 1000 kWh;
    really ~997-1001 kWh depending on the weekday pattern), used to normalise."""
    profile = load_h0_profile()
    day = date(year, 1, 1)
    energy_wh = 0.0
    while day.year == year:
        key = f"{h0_season(day)}_{h0_day_type(day)}"
        energy_wh += sum(profile[key]) * dynamisation_factor(day.timetuple().tm_yday)
        day += timedelta(days=1)
    return energy_wh / 1000.0


@lru_cache(maxsize=1)
def _min_hourly_mean_per_1000_kwh() -> float:
    """Lowest hourly mean of profile x F over a year, in W per 1000 kWh/a
    (all day types on every day, so it does not depend on the year)."""
    profile = load_h0_profile()
    lowest = math.inf
    day = date(2001, 1, 1)
    while day.year == 2001:
        season = h0_season(day)
        factor = dynamisation_factor(day.timetuple().tm_yday)
        for day_type in DAY_TYPES:
            lowest = min(lowest, min(profile[f"{season}_{day_type}"]) * factor)
        day += timedelta(days=1)
    return lowest


def h0_mean_power_w(local_time: datetime, annual_energy_kwh: float) -> float:
    """Expected household power in W at a local time, for an annual energy."""
    day = local_time.date()
    key = f"{h0_season(day)}_{h0_day_type(day)}"
    raw_w = load_h0_profile()[key][local_time.hour] * dynamisation_factor(day.timetuple().tm_yday)
    return raw_w * annual_energy_kwh / _profile_year_energy_kwh(day.year)


@cache
def public_holidays(country: str = DEFAULT_COUNTRY, subdivision: str | None = None) -> holidays.HolidayBase:
    """The public holidays of a country (ISO 3166-1 alpha-2) and optional
    subdivision (e.g. "BY"), matched case-insensitively.

    Raises ValueError naming the unknown code and the accepted ones, so a
    configuration error can point at its key.
    """
    supported = holidays.list_supported_countries()
    codes = {code.upper(): code for code in supported}
    code = codes.get(country.upper())
    if code is None:
        raise ValueError(
            f"unknown holiday country {country!r}: expected an ISO 3166-1 alpha-2 code that the holidays "
            f"package knows, such as 'DE', 'AT' or 'CH'"
        )
    if subdivision is None:
        return holidays.country_holidays(code)
    subdivisions = {name.upper(): name for name in supported[code]}
    name = subdivisions.get(subdivision.upper())
    if name is None:
        known = ", ".join(supported[code]) or "none"
        raise ValueError(f"unknown subdivision {subdivision!r} of {code}: expected one of {known}")
    return holidays.country_holidays(code, subdiv=name)


def h25_day_type(day: date, country: str = DEFAULT_COUNTRY, subdivision: str | None = None) -> str:
    """H25 day type: FT on Sundays and public holidays, SA on Saturdays and on
    24/31 December (BDEW convention), WT otherwise."""
    if day.weekday() == 6 or day in public_holidays(country, subdivision):
        return "FT"
    if day.weekday() == 5 or (day.month == 12 and day.day in (24, 31)):
        return "SA"
    return "WT"


@lru_cache(maxsize=1)
def load_h25_profile() -> dict[tuple[int, str], tuple[float, ...]]:
    """H25 in kWh per quarter hour for 1,000,000 kWh/a, keyed (month 1..12,
    day type), 96 values from 00:00-00:15 local time."""
    text = resources.files(_DATA_PACKAGE).joinpath("data").joinpath(H25_RESOURCE).read_text(encoding="utf-8")
    rows = list(csv.reader(text.splitlines()))
    months, day_types, values = rows[0][1:], rows[1][1:], rows[2:]
    expected_months = [month for month in H25_MONTHS for _ in H25_DAY_TYPES]
    if months != expected_months or sorted(day_types) != sorted(H25_DAY_TYPES * 12):
        raise ValueError(f"{H25_RESOURCE}: header is not 12 months x {'/'.join(H25_DAY_TYPES)}")
    if len(values) != _QUARTERS_PER_DAY or any(len(row) != len(months) + 1 for row in values):
        raise ValueError(f"{H25_RESOURCE}: expected {_QUARTERS_PER_DAY} rows of {len(months) + 1} cells")
    return {
        (H25_MONTHS.index(month) + 1, day_type): tuple(float(row[column + 1]) for row in values)
        for column, (month, day_type) in enumerate(zip(months, day_types, strict=True))
    }


@cache
def _h25_year_energy_kwh(year: int, country: str, subdivision: str | None) -> float:
    """Energy of H25 x F over a calendar year with its holidays (nominally
    1,000,000 kWh), used to normalise."""
    profile = load_h25_profile()
    day = date(year, 1, 1)
    energy_kwh = 0.0
    while day.year == year:
        key = (day.month, h25_day_type(day, country, subdivision))
        energy_kwh += sum(profile[key]) * dynamisation_factor(day.timetuple().tm_yday)
        day += timedelta(days=1)
    return energy_kwh


@lru_cache(maxsize=4096)
def h25_day_w_per_kwh(day: date, country: str = DEFAULT_COUNTRY, subdivision: str | None = None) -> tuple[float, ...]:
    """Expected power in W per kWh/a of annual energy for each quarter hour of a
    local day; cached so each household pays for a day once, not per reading."""
    profile = load_h25_profile()[day.month, h25_day_type(day, country, subdivision)]
    scale = (
        dynamisation_factor(day.timetuple().tm_yday)
        * _H25_W_PER_1000_KWH
        * 1000.0
        / _h25_year_energy_kwh(day.year, country, subdivision)
    )
    return tuple(value * scale for value in profile)


@lru_cache(maxsize=1)
def _h25_min_mean_per_1000_kwh() -> float:
    """Lowest quarter-hour mean of H25 x F over a year, in W per 1000 kWh/a
    (all day types on every day, so it does not depend on year or holidays)."""
    profile = load_h25_profile()
    lowest = math.inf
    day = date(2001, 1, 1)
    while day.year == 2001:
        factor = dynamisation_factor(day.timetuple().tm_yday)
        for day_type in H25_DAY_TYPES:
            lowest = min(lowest, min(profile[day.month, day_type]) * factor)
        day += timedelta(days=1)
    return lowest * _H25_W_PER_1000_KWH


def h25_mean_power_w(
    local_time: datetime, annual_energy_kwh: float, country: str = DEFAULT_COUNTRY, subdivision: str | None = None
) -> float:
    """Expected household power in W at a local time, for an annual energy."""
    quarter = local_time.hour * 4 + local_time.minute // 15
    return h25_day_w_per_kwh(local_time.date(), country, subdivision)[quarter] * annual_energy_kwh


class LoadProfile(Protocol):
    """What a household needs of its load profile: the expected power, the year's lowest mean
    (for the base load) and how its random draws are seeded."""

    @property
    def name(self) -> str:
        """The profile's configuration name, "h25" or "h0"."""

    def mean_power_w(self, local_time: datetime, annual_energy_kwh: float) -> float:
        """Expected household power in W at a local time, for an annual energy."""

    def min_mean_w_per_1000_kwh(self) -> float:
        """The lowest mean of the year in W per 1000 kWh/a."""

    def draws(self, key: int, fridge_seed: int) -> Draws:
        """A household's random draws of appliance runs and fridge cycles."""


class H25Profile:
    """BDEW H25 with the public holidays of a country and optional subdivision; a household's
    runs of each hour come from a generator of that hour's own, its fridge from hashed draws."""

    __slots__ = ("country", "subdivision")

    name = PROFILE_H25

    def __init__(self, country: str = DEFAULT_COUNTRY, subdivision: str | None = None) -> None:
        self.country = country
        self.subdivision = subdivision

    def mean_power_w(self, local_time: datetime, annual_energy_kwh: float) -> float:
        return h25_mean_power_w(local_time, annual_energy_kwh, self.country, self.subdivision)

    def min_mean_w_per_1000_kwh(self) -> float:
        return _h25_min_mean_per_1000_kwh()

    def draws(self, key: int, fridge_seed: int) -> Draws:
        return HourlyDraws(key)


class H0Profile:
    """VDEW H0 (only Sundays as holidays) with the two long-lived generators it always had for
    events and fridge, so its seeded output stays as recorded."""

    __slots__ = ()

    name = PROFILE_H0

    def mean_power_w(self, local_time: datetime, annual_energy_kwh: float) -> float:
        return h0_mean_power_w(local_time, annual_energy_kwh)

    def min_mean_w_per_1000_kwh(self) -> float:
        return _min_hourly_mean_per_1000_kwh()

    def draws(self, key: int, fridge_seed: int) -> Draws:
        return SequentialDraws(random.Random(key), random.Random(fridge_seed))


@cache
def load_profile(profile: str = PROFILE_H25, country: str = DEFAULT_COUNTRY,
                 subdivision: str | None = None) -> LoadProfile:
    """The strategy of profile "h25" or "h0"; one object for every household of a configuration.

    ``country`` and ``subdivision`` are checked whatever the profile, so a bad value fails at
    start-up; raises ValueError naming the bad value.
    """
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {', '.join(PROFILES)}, got {profile!r}")
    public_holidays(country, subdivision)
    if profile == PROFILE_H0:
        return H0Profile()
    return H25Profile(country, subdivision)
