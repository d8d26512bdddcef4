"""One reading's power balance of a site: household, PV plant, optional battery, grid meter.

Signs follow the grid meter: ``grid_power_w`` is positive while the site draws from the
grid, negative while it feeds in; ``battery_power_w`` is positive while the battery charges.
Every reading satisfies, in whole milliwatts (the CSV's resolution)::

    grid_power_w = household_w - pv_power_kw x 1000 + battery_power_w

The order of the steps is a hybrid inverter's: the PV is first capped by the inverter's
active power limit (``pv_limit_pct`` of the AC rating, as a SunSpec ``WMaxLimPct`` caps it),
the battery then takes what its mode asks within its power and state-of-charge limits, and
an export limit last curtails the PV (then the battery's discharge) so that the grid never
takes more than the limit: the battery has taken what it can before any PV is thrown away
(the way zero feed-in works in e.g. SMA's and Fronius' hybrid inverters).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

from pv_simulator.models.battery import (
    charge_limit_w,
    discharge_limit_w,
    one_way_efficiency,
    soc_after_pct,
)

SELF_CONSUMPTION = "self_consumption"
IDLE = "idle"
SETPOINT = "setpoint"
MODES = (SELF_CONSUMPTION, IDLE, SETPOINT)

#: A battery's defaults: a typical home battery system's data sheet (cf. battery.py's sources).
DEFAULT_ROUND_TRIP_EFFICIENCY = 0.9
DEFAULT_SOC_MIN_PCT = 5.0
DEFAULT_SOC_MAX_PCT = 100.0
DEFAULT_INITIAL_SOC_PCT = 50.0
DEFAULT_MODE = SELF_CONSUMPTION
#: Without a given power, a battery charges and discharges its capacity in this many hours.
DEFAULT_FULL_POWER_HOURS = 2.0


def default_power_kw(capacity_kwh: float) -> float:
    """The charging and discharging power of a battery whose data sheet gives none."""
    return capacity_kwh / DEFAULT_FULL_POWER_HOURS
"""``self_consumption``: charge from surplus PV, discharge to cover the household; ``idle``: the
battery rests; ``setpoint``: it follows ``battery_setpoint_w`` (charging from the grid, or
discharging into it, if asked)."""


@dataclass(frozen=True)
class Site:
    """What one meter's site is made of, beyond its household and PV model.

    ``capacity_kwh`` 0 is a site without battery; ``export_limit_w`` None is no limit.
    """

    inverter_ac_kw: float
    capacity_kwh: float
    max_charge_kw: float
    max_discharge_kw: float
    round_trip_efficiency: float
    soc_min_pct: float
    soc_max_pct: float
    initial_soc_pct: float
    mode: str
    export_limit_w: float | None

    @property
    def has_battery(self) -> bool:
        return self.capacity_kwh > 0.0

    @cached_property
    def one_way(self) -> float:
        """The efficiency of each direction (see :mod:`pv_simulator.models.battery`)."""
        return one_way_efficiency(self.round_trip_efficiency)


class SiteStep(NamedTuple):
    """One reading's outcome, each power a whole number of milliwatts (the household's too, so
    that the balance holds exactly on the values written)."""

    household_w: float
    pv_power_kw: float
    battery_power_w: float
    grid_power_w: float
    soc_pct: float


def pv_capped_kw(pv_available_kw: float, pv_limit_pct: float | None, inverter_ac_kw: float) -> float:
    """The PV after an active power limit, a share of the inverter's AC rating (not of the DC peak)."""
    if pv_limit_pct is None:
        return pv_available_kw
    return min(pv_available_kw, pv_limit_pct / 100.0 * inverter_ac_kw)


def battery_request_w(mode: str, surplus_w: float, setpoint_w: float) -> float:
    """What the battery's mode asks for before its limits: positive charge, negative discharge."""
    if mode == SELF_CONSUMPTION:
        return surplus_w
    if mode == SETPOINT:
        return setpoint_w
    return 0.0


def _toward_zero_mw(power_w: float) -> int:
    """Whole milliwatts, rounded toward zero so a power never exceeds the limit it was cut to.

    The nanowatt allowance keeps a value such as 0.3 W (0.29999... in binary) at 300 mW.
    """
    milliwatts = abs(power_w) * 1000.0 + 1e-6
    return int(math.copysign(math.floor(milliwatts), power_w))


def site_step(site: Site, household_w: float, pv_available_kw: float, interval_s: float,
              soc_pct: float, mode: str, setpoint_w: float, pv_limit_pct: float | None,
              export_limit_w: float | None, soc_decimals: int) -> SiteStep:
    """The reading's PV delivered, battery power, grid power and the state of charge after it.

    Args:
        household_w: the meter's reading.
        pv_available_kw: what the plant could deliver now.
        interval_s: time since the meter's previous reading, over which the battery's power
            holds (0 for a site's first reading: no energy moves).
        soc_pct: the state of charge before this reading.
        mode, setpoint_w, pv_limit_pct, export_limit_w: what the site's configuration and
            the commands in force ask.
        soc_decimals: the state of charge is rounded to these, as written, and the next
            step continues from exactly that.
    """
    household_mw = round(household_w * 1000.0)
    pv_w = pv_capped_kw(pv_available_kw, pv_limit_pct, site.inverter_ac_kw) * 1000.0
    battery_w = 0.0
    if site.has_battery:
        one_way = site.one_way
        requested_w = battery_request_w(mode, pv_w - household_w, setpoint_w)
        if requested_w > 0.0:
            battery_w = min(requested_w, charge_limit_w(
                soc_pct, site.capacity_kwh, site.soc_max_pct, site.max_charge_kw, one_way,
                interval_s))
        elif requested_w < 0.0:
            battery_w = -min(-requested_w, discharge_limit_w(
                soc_pct, site.capacity_kwh, site.soc_min_pct, site.max_discharge_kw, one_way,
                interval_s))
    if export_limit_w is not None and household_w - pv_w + battery_w < -export_limit_w:
        pv_w = max(0.0, household_w + battery_w + export_limit_w)
        if household_w - pv_w + battery_w < -export_limit_w:
            battery_w = -(household_w + export_limit_w)
    pv_mw = _toward_zero_mw(pv_w)
    battery_mw = _toward_zero_mw(battery_w)
    grid_mw = household_mw - pv_mw + battery_mw
    soc = soc_pct
    if site.has_battery and battery_mw:
        exact = soc_after_pct(soc_pct, battery_mw / 1000.0, site.capacity_kwh, site.one_way,
                              interval_s, site.soc_min_pct, site.soc_max_pct)
        soc = min(max(site.soc_max_pct, soc_pct), max(min(site.soc_min_pct, soc_pct),
                                                      round(exact, soc_decimals)))
    return SiteStep(household_mw / 1000.0, pv_mw / 1e6, battery_mw / 1000.0, grid_mw / 1000.0, soc)
