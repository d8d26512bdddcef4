"""Household consumption model for the simulated grid meter.

The expected power follows a BDEW standard household load profile, H25 (default) or the older
H0, normalised so that a calendar year holds the configured annual energy (`profiles`); the
instantaneous power is a base load, a cycling fridge and appliance runs (`appliances`) drawn
around it (`model`). What callers use is importable from here.
"""

from pv_simulator.models.household.appliances import APPLIANCES, Appliance, Phase, event_rates_per_w
from pv_simulator.models.household.draws import Draws, HourlyDraws, SequentialDraws
from pv_simulator.models.household.model import DEFAULT_ANNUAL_ENERGY_KWH, HouseholdModel
from pv_simulator.models.household.profiles import (
    DAY_TYPES,
    DEFAULT_COUNTRY,
    H25_DAY_TYPES,
    H25_MONTHS,
    H25_RESOURCE,
    PROFILE_H0,
    PROFILE_H25,
    PROFILE_RESOURCE,
    PROFILES,
    SEASONS,
    H0Profile,
    H25Profile,
    LoadProfile,
    dynamisation_factor,
    h0_day_type,
    h0_mean_power_w,
    h0_season,
    h25_day_type,
    h25_day_w_per_kwh,
    h25_mean_power_w,
    load_h0_profile,
    load_h25_profile,
    load_profile,
    public_holidays,
)

__all__ = [
    "APPLIANCES",
    "DAY_TYPES",
    "DEFAULT_ANNUAL_ENERGY_KWH",
    "DEFAULT_COUNTRY",
    "H25_DAY_TYPES",
    "H25_MONTHS",
    "H25_RESOURCE",
    "PROFILES",
    "PROFILE_H0",
    "PROFILE_H25",
    "PROFILE_RESOURCE",
    "SEASONS",
    "Appliance",
    "Draws",
    "H0Profile",
    "H25Profile",
    "HourlyDraws",
    "HouseholdModel",
    "LoadProfile",
    "Phase",
    "SequentialDraws",
    "dynamisation_factor",
    "event_rates_per_w",
    "h0_day_type",
    "h0_mean_power_w",
    "h0_season",
    "h25_day_type",
    "h25_day_w_per_kwh",
    "h25_mean_power_w",
    "load_h0_profile",
    "load_h25_profile",
    "load_profile",
    "public_holidays",
]
