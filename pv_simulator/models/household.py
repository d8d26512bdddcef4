"""Household consumption model for the simulated grid meter.

The expected power follows a BDEW standard household load profile, normalised
so that a calendar year holds the configured annual energy:

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

A real meter does not see a smooth mean, though: it sees a base load (standby,
fridge compressor cycling) plus appliances switching on and off.  So the model
draws appliance events as a Poisson process whose rate makes the *expected*
power equal the profile, and returns the instantaneous power (base + running
appliances) with a little noise.

Simplifications, stated so nobody relies on them:
- The DST days (23 h and 25 h) are not treated specially in the annual
  normalisation: the skipped and the repeated hour are both night hours with
  nearly equal profile values, so their effects cancel to well under 0.1 %.
- Long appliance runs (television, lighting: up to 3 h) are centred on their
  arrival, so they blur the quarter-hour detail of H25 a little; the mean of
  many households still follows it (see tests/unit/models/test_household.py).
"""

from __future__ import annotations

import csv
import heapq
import json
import math
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from functools import cache, lru_cache
from importlib import resources
from zoneinfo import ZoneInfo

import holidays

from pv_simulator.models.seeds import derive_seed, derive_uniform

PROFILE_H25 = "h25"
PROFILE_H0 = "h0"
PROFILES = (PROFILE_H25, PROFILE_H0)

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

# Events are drawn per 15-minute block aligned to the epoch: every modern UTC
# offset is a multiple of 15 min, so the local hour (and thus the rate) is
# constant within a block.
_BLOCK_S = 900.0

# The base load is this fraction of the lowest hourly mean of the year, so the
# appliance part stays positive at every hour.
_BASE_FRACTION_OF_MIN = 0.8

# A fridge-freezer: ~100 W compressor, ~250 kWh/a (~30 W mean) for a current
# appliance (EU energy label data); cycle 30-60 min.
_COMPRESSOR_W = 100.0
_FRIDGE_MEAN_W = 30.0
_FRIDGE_SHARE_OF_BASE = 0.4
_FRIDGE_CYCLE_S = (1800.0, 3600.0)

# An H25 household draws the runs of each epoch-aligned hour (4 blocks) from a generator
# seeded with its key and the hour's index (this many low bits of it), made for that hour
# and dropped after: seeding one (~4 us) once an hour is cheap, holding one (~2.9 KB) per
# household for good is not.
_HOUR_S = 3600.0
_BLOCKS_PER_HOUR = 4
_HOUR_INDEX_BITS = 40
_HOUR_INDEX_MASK = (1 << _HOUR_INDEX_BITS) - 1

# Multiplicative Ornstein-Uhlenbeck noise (1 % rms, 30 s correlation time):
# voltage and appliance fluctuations, so constant stretches are not flat.
_NOISE_SIGMA = 0.01
_NOISE_TAU_S = 30.0


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
    text = resources.files(__package__).joinpath("data").joinpath(PROFILE_RESOURCE).read_text(encoding="utf-8")
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
def public_holidays(country: str = "DE", subdivision: str | None = None) -> holidays.HolidayBase:
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


def h25_day_type(day: date, country: str = "DE", subdivision: str | None = None) -> str:
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
    text = resources.files(__package__).joinpath("data").joinpath(H25_RESOURCE).read_text(encoding="utf-8")
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
def h25_day_w_per_kwh(day: date, country: str = "DE", subdivision: str | None = None) -> tuple[float, ...]:
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
    local_time: datetime, annual_energy_kwh: float, country: str = "DE", subdivision: str | None = None
) -> float:
    """Expected household power in W at a local time, for an annual energy."""
    quarter = local_time.hour * 4 + local_time.minute // 15
    return h25_day_w_per_kwh(local_time.date(), country, subdivision)[quarter] * annual_energy_kwh


@dataclass(frozen=True)
class Phase:
    """One phase of an appliance run: `cycles` times on for `on_s` at `power_w`
    then off for `off_s` (thermostat cycling); ranges are sampled uniformly,
    power once per phase."""

    power_w: tuple[float, float]
    on_s: tuple[float, float]
    off_s: tuple[float, float] = (0.0, 0.0)
    cycles: tuple[int, int] = (1, 1)

    @property
    def mean_energy_j(self) -> float:
        return _mid(self.power_w) * _mid(self.on_s) * (self.cycles[0] + self.cycles[1]) / 2.0

    @property
    def max_duration_s(self) -> float:
        return self.cycles[1] * (self.on_s[1] + self.off_s[1])


@dataclass(frozen=True)
class Appliance:
    """An appliance type: its run phases and when in the day it tends to run.

    `usage` are (centre hour, width h, weight) bumps of the time-of-day mix;
    `floor` keeps a small share at every hour; `season_weight` scales the mix
    per (winter, transition, summer), e.g. lighting is used more in winter.
    """

    name: str
    phases: tuple[Phase, ...]
    usage: tuple[tuple[float, float, float], ...]
    floor: float = 0.02
    season_weight: tuple[float, float, float] = (1.0, 1.0, 1.0)

    @property
    def mean_energy_j(self) -> float:
        return sum(phase.mean_energy_j for phase in self.phases)

    @property
    def max_duration_s(self) -> float:
        return sum(phase.max_duration_s for phase in self.phases)

    def preference(self, hour: int, season_index: int) -> float:
        """Relative use at local hour `hour` (evaluated at the hour's middle)."""
        centre = hour + 0.5
        weight = self.floor
        for peak_h, width_h, amplitude in self.usage:
            distance_h = abs(centre - peak_h) % 24.0
            distance_h = min(distance_h, 24.0 - distance_h)
            weight += amplitude * math.exp(-0.5 * (distance_h / width_h) ** 2)
        return weight * self.season_weight[season_index]


def _mid(bounds: tuple[float, float]) -> float:
    return (bounds[0] + bounds[1]) / 2.0


# Ratings and run lengths are typical values of the kind tabulated in the CREST
# demand model (Richardson, Thomson, Infield & Clifford, "Domestic electricity
# use: a high-resolution energy demand model", Energy and Buildings 42 (2010)
# 1878-1887) and in manufacturers' data sheets; heating phases of washing
# machines and dishwashers dominate their energy (~0.5-1.2 kWh per run).
APPLIANCES: tuple[Appliance, ...] = (
    Appliance("kettle", (Phase((1800, 2200), (120, 240)),), ((7.0, 1.5, 1.0), (16.0, 2.0, 0.5), (20.0, 2.0, 0.4))),
    Appliance(
        "coffee machine",
        (Phase((1000, 1400), (30, 90), (30, 120), (1, 3)),),
        ((7.0, 1.5, 1.0), (13.5, 1.5, 0.4)),
    ),
    Appliance("toaster", (Phase((800, 1200), (120, 240)),), ((7.5, 1.2, 1.0), (9.5, 1.5, 0.3))),
    Appliance("microwave", (Phase((800, 1200), (60, 420)),), ((12.5, 1.5, 0.8), (19.0, 2.0, 1.0))),
    Appliance(
        "hob",
        (Phase((1500, 2000), (300, 600)), Phase((1200, 2000), (60, 180), (30, 120), (4, 12))),
        ((12.0, 1.2, 1.0), (18.5, 1.5, 1.0)),
    ),
    Appliance(
        "oven",
        (Phase((2500, 3000), (480, 720)), Phase((2500, 3000), (60, 120), (90, 180), (5, 15))),
        ((12.0, 1.2, 0.7), (18.5, 1.5, 1.0)),
    ),
    Appliance(
        "washing machine",
        (
            Phase((150, 250), (120, 300)),
            Phase((1800, 2200), (600, 1200)),
            Phase((150, 250), (1800, 3000)),
            Phase((300, 500), (300, 600)),
        ),
        ((10.0, 2.5, 1.0), (17.0, 2.0, 0.3)),
    ),
    Appliance(
        "dishwasher",
        (
            Phase((80, 150), (300, 600)),
            Phase((1800, 2200), (600, 1000)),
            Phase((80, 150), (1200, 1800)),
            Phase((1800, 2200), (400, 700)),
            Phase((10, 30), (1200, 1800)),
        ),
        ((13.5, 1.5, 0.7), (20.5, 1.5, 1.0)),
    ),
    Appliance(
        "tumble dryer",
        (Phase((2000, 2500), (300, 600), (60, 180), (5, 9)),),
        ((12.0, 3.0, 0.6),),
        season_weight=(1.5, 1.0, 0.5),
    ),
    Appliance("vacuum cleaner", (Phase((700, 1600), (600, 1800)),), ((10.5, 2.0, 1.0), (16.0, 2.0, 0.4))),
    Appliance("iron", (Phase((1800, 2400), (20, 60), (30, 90), (20, 40)),), ((15.0, 3.0, 0.5), (20.0, 2.0, 0.5))),
    Appliance(
        "television",
        (Phase((60, 150), (1800, 10800)),),
        ((20.5, 2.0, 1.5), (13.0, 2.0, 0.3)),
        floor=0.15,
    ),
    Appliance(
        "computer",
        (Phase((40, 150), (1800, 7200)),),
        ((10.0, 3.0, 0.6), (20.0, 2.5, 1.0)),
        floor=0.15,
    ),
    Appliance(
        "lighting",
        (Phase((40, 250), (1800, 10800)),),
        ((7.0, 1.0, 0.5), (20.0, 2.5, 1.5)),
        floor=0.15,
        season_weight=(1.6, 1.0, 0.5),
    ),
)


@lru_cache(maxsize=1)
def _event_rates_per_w() -> dict[tuple[str, int], tuple[float, ...]]:
    """Events per second per W of appliance power, per (season, hour) and
    appliance: the hour's appliance power is split by the time-of-day mix and
    divided by each appliance's mean energy per run."""
    rates: dict[tuple[str, int], tuple[float, ...]] = {}
    for season_index, season in enumerate(SEASONS):
        for hour in range(24):
            weights = [appliance.preference(hour, season_index) for appliance in APPLIANCES]
            total = sum(weights)
            rates[season, hour] = tuple(
                weight / total / appliance.mean_energy_j for weight, appliance in zip(weights, APPLIANCES, strict=False)
            )
    return rates


_LOOKAHEAD_S = max(appliance.max_duration_s for appliance in APPLIANCES) / 2.0
"""How far ahead of the current time runs are drawn: a run is centred on its arrival,
so one arriving this much later may already be on."""


@lru_cache(maxsize=64)
def _base_load_w(profile: str, annual_energy_kwh: float) -> tuple[float, float, float]:
    """(base load W, standby W, fridge duty) of a household; the same float objects for
    every household of one profile and annual energy, so they are not held 10,000 times."""
    lowest_w = _h25_min_mean_per_1000_kwh() if profile == PROFILE_H25 else _min_hourly_mean_per_1000_kwh()
    base_w = _BASE_FRACTION_OF_MIN * lowest_w * annual_energy_kwh / 1000.0
    fridge_mean_w = min(_FRIDGE_MEAN_W, _FRIDGE_SHARE_OF_BASE * base_w)
    return base_w, base_w - fridge_mean_w, fridge_mean_w / _COMPRESSOR_W


@lru_cache(maxsize=64)
def _noise_step(dt_s: float) -> tuple[float, float]:
    """(keep, kick) of the noise over a step of dt_s: shared by the households stepping alike."""
    keep = math.exp(-dt_s / _NOISE_TAU_S)
    return keep, _NOISE_SIGMA * math.sqrt(1.0 - keep * keep)


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
    which draws at every reading. Under H25 the runs arriving in an hour come
    from a generator seeded for that hour alone (the household's key and the
    hour's index), made when the hour is drawn and dropped after, and the
    fridge's cycles from hashed draws (`derive_uniform`), so the runs of an
    hour do not even depend on the first call's time. H0 keeps the two
    long-lived generators it had for events and fridge, so its seeded output
    stays as recorded (tests/unit/models/test_household.py, H0UnchangedTest).
    """

    __slots__ = (
        "_active",
        "_event_rng",
        "_fridge_draws",
        "_fridge_duty",
        "_fridge_next_s",
        "_fridge_off_s",
        "_fridge_on",
        "_fridge_rng",
        "_generated_until_s",
        "_key",
        "_last_time_s",
        "_level_w",
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
        annual_energy_kwh: float = 4000.0,
        max_power_w: float = 9000.0,
        seed: int | None = None,
        meter_index: int = 0,
        profile: str = PROFILE_H25,
        country: str = "DE",
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
        if profile not in PROFILES:
            raise ValueError(f"profile must be one of {', '.join(PROFILES)}, got {profile!r}")
        public_holidays(country, subdivision)
        self.tz = tz
        self.profile = profile
        self.country = country
        self.subdivision = subdivision
        self.annual_energy_kwh = float(annual_energy_kwh)
        self.max_power_w = float(max_power_w)

        master = random.Random(derive_seed(seed, "household", meter_index))
        self._key = master.getrandbits(64)
        fridge_seed = master.getrandbits(64)
        self._noise_rng = random.Random(master.getrandbits(64))
        self._event_rng: random.Random | None = None
        self._fridge_rng: random.Random | None = None
        if profile == PROFILE_H0:
            self._event_rng = random.Random(self._key)
            self._fridge_rng = random.Random(fridge_seed)
        self._fridge_draws = 0

        self.base_w, self._standby_w, self._fridge_duty = _base_load_w(profile, self.annual_energy_kwh)

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
        """Draw the events around ``time_s`` (~130 us a household) ahead of the first reading.

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
        while self._generated_until_s < time_s + _LOOKAHEAD_S:
            self._generate_events()
        pending, active = self._pending, self._active
        while pending and pending[0][0] <= time_s:
            _, end_s, power_w = heapq.heappop(pending)
            if end_s > time_s:
                heapq.heappush(active, (end_s, power_w))
        while active and active[0][0] <= time_s:
            heapq.heappop(active)
        while self._fridge_next_s <= time_s:
            self._toggle_fridge()

        self._level_w = self._standby_w + (_COMPRESSOR_W if self._fridge_on else 0.0)
        self._level_w += sum(power_w for _, power_w in active)
        self._next_change_s = min(
            pending[0][0] if pending else math.inf,
            active[0][0] if active else math.inf,
            self._fridge_next_s,
            self._generated_until_s - _LOOKAHEAD_S,
        )

    def _start(self, time_s: float) -> None:
        """Begin drawing events early enough that runs in progress at the first
        call exist, and put the fridge at a random point of its cycle."""
        self._started = True
        first_s = time_s - _LOOKAHEAD_S
        step_s = _BLOCK_S if self._event_rng is not None else _HOUR_S
        self._generated_until_s = math.floor(first_s / step_s) * step_s
        cycle_s = self._fridge_uniform(*_FRIDGE_CYCLE_S)
        on_s = self._fridge_duty * cycle_s
        position_s = self._fridge_uniform(0.0, cycle_s)
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
            cycle_s = self._fridge_uniform(*_FRIDGE_CYCLE_S)
            self._fridge_on = True
            self._fridge_next_s += self._fridge_duty * cycle_s
            self._fridge_off_s = cycle_s - self._fridge_duty * cycle_s

    def _fridge_uniform(self, low: float, high: float) -> float:
        """The fridge's next uniform draw in [low, high): H0's generator, else the
        household's n-th hashed draw."""
        if self._fridge_rng is not None:
            return self._fridge_rng.uniform(low, high)
        self._fridge_draws += 1
        return low + (high - low) * derive_uniform(self._key, "fridge", self._fridge_draws)

    def mean_power_w(self, local_time: datetime) -> float:
        """Expected power in W at a local time under this model's profile."""
        if self.profile == PROFILE_H0:
            return h0_mean_power_w(local_time, self.annual_energy_kwh)
        return h25_mean_power_w(local_time, self.annual_energy_kwh, self.country, self.subdivision)

    def _generate_events(self) -> None:
        """Draw the runs of the next block from H0's long-lived generator, or
        those of the next hour's four blocks from a generator of that hour's own."""
        start_s = self._generated_until_s
        rng = self._event_rng
        if rng is not None:
            self._generate_block(rng, start_s)
            self._generated_until_s = start_s + _BLOCK_S
            return
        rng = random.Random((self._key << _HOUR_INDEX_BITS) | (int(start_s // _HOUR_S) & _HOUR_INDEX_MASK))
        for block in range(_BLOCKS_PER_HOUR):
            self._generate_block(rng, start_s + block * _BLOCK_S)
        self._generated_until_s = start_s + _HOUR_S

    def _generate_block(self, rng: random.Random, block_start_s: float) -> None:
        """Draw the appliance runs arriving in one 15-minute block; the
        appliance mix by time of day uses the H0 seasons for either profile."""
        local = datetime.fromtimestamp(block_start_s, self.tz)
        season = h0_season(local.date())
        appliance_w = self.mean_power_w(local) - self.base_w
        if appliance_w <= 0.0:
            return
        for appliance, rate_per_w in zip(APPLIANCES, _event_rates_per_w()[season, local.hour], strict=False):
            mean = appliance_w * rate_per_w * _BLOCK_S
            threshold = rng.random()
            term = math.exp(-mean)
            if threshold <= term:
                continue  # no run, as for most appliances in most blocks: no call
            for _ in range(_poisson(threshold, term, mean)):
                self._schedule(rng, appliance, block_start_s + rng.random() * _BLOCK_S)

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
