"""A home battery's state of charge step, as pure functions of plain numbers.

Power is AC power at the battery inverter's terminals, positive while charging. The
conversion loss is split evenly between the two directions: a charge stores
``power x sqrt(round_trip_efficiency)`` and a discharge takes ``power / sqrt(...)`` from
storage, so energy charged and then discharged again comes back as exactly
``round_trip_efficiency`` of itself (the usual data-sheet figure of a battery system, e.g.
the HTW Berlin "Stromspeicher-Inspektion" round-trip efficiencies of 0.85-0.95).
"""

from __future__ import annotations

import math

SECONDS_PER_HOUR = 3600.0


def one_way_efficiency(round_trip_efficiency: float) -> float:
    """The efficiency of one direction, so that charging then discharging loses ``1 - round_trip``."""
    return math.sqrt(round_trip_efficiency)


def charge_limit_w(soc_pct: float, capacity_kwh: float, soc_max_pct: float,
                   max_charge_kw: float, one_way: float, interval_s: float) -> float:
    """The largest charging power (W) the battery takes over ``interval_s`` without passing ``soc_max_pct``.

    A zero interval (a site's first reading) moves no energy, so only a full battery refuses.
    """
    headroom_kwh = (soc_max_pct - soc_pct) / 100.0 * capacity_kwh
    if headroom_kwh <= 0.0:
        return 0.0
    if interval_s <= 0.0:
        return max_charge_kw * 1000.0
    by_soc_w = headroom_kwh / one_way / (interval_s / SECONDS_PER_HOUR) * 1000.0
    return min(max_charge_kw * 1000.0, by_soc_w)


def discharge_limit_w(soc_pct: float, capacity_kwh: float, soc_min_pct: float,
                      max_discharge_kw: float, one_way: float, interval_s: float) -> float:
    """The largest discharging power (W, positive) over ``interval_s`` without passing ``soc_min_pct``."""
    available_kwh = (soc_pct - soc_min_pct) / 100.0 * capacity_kwh
    if available_kwh <= 0.0:
        return 0.0
    if interval_s <= 0.0:
        return max_discharge_kw * 1000.0
    by_soc_w = available_kwh * one_way / (interval_s / SECONDS_PER_HOUR) * 1000.0
    return min(max_discharge_kw * 1000.0, by_soc_w)


def stored_change_kwh(battery_power_w: float, one_way: float, interval_s: float) -> float:
    """Energy the storage gains (negative: loses) at ``battery_power_w`` held for ``interval_s``."""
    energy_kwh = battery_power_w / 1000.0 * interval_s / SECONDS_PER_HOUR
    return energy_kwh * one_way if energy_kwh > 0.0 else energy_kwh / one_way


def soc_after_pct(soc_pct: float, battery_power_w: float, capacity_kwh: float, one_way: float,
                  interval_s: float, soc_min_pct: float, soc_max_pct: float) -> float:
    """The state of charge after holding ``battery_power_w`` for ``interval_s``.

    A power within :func:`charge_limit_w` and :func:`discharge_limit_w` reaches a bound at
    most; the clamp only absorbs the floating point rest of that division. A state already
    outside the bounds (rows written under other bounds) is not pulled in by it.
    """
    soc = soc_pct + stored_change_kwh(battery_power_w, one_way, interval_s) / capacity_kwh * 100.0
    return min(max(soc_max_pct, soc_pct), max(min(soc_min_pct, soc_pct), soc))
