"""Plausibility checks of a weather file against physics: what a reader cannot see line by line.

A file can be well-formed and still wrong: its three irradiance columns disagree with each other,
or its header's time zone puts the sun hours off. Both are warned about (once per file, with a
count), not refused: measured data has bad rows, and the replay stays possible.

Closure: global horizontal irradiance is the diffuse part plus the beam on the horizontal,
GHI = DHI + DNI cos(z). The tolerance follows the BSRN quality-control "comparison" test (C. N.
Long and Y. Shi, "An automated quality assessment and control algorithm for surface radiation
measurements", The Open Atmospheric Science Journal 2 (2008) 23-37, which allows 8 % below a
zenith of 75 degrees and 15 % up to 93 degrees), widened to 15 % throughout and to sun elevations
above 10 degrees, since hourly means of a typical year are compared with the sun at mid-hour.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone

from pv_simulator.models.clear_sky import SiteClearSky
from pv_simulator.models.weather_files import HOUR_S, WeatherFile

CLOSURE_TOLERANCE = 0.15
"""Largest |GHI - (DHI + DNI cos z)| as a share of the larger of the two."""

CLOSURE_MAX_ZENITH_DEG = 80.0
"""Rows with the sun lower than this are not checked: cos(z) at mid-hour is too uncertain."""

CLOSURE_MIN_W_M2 = 50.0
"""Rows where both sides are below this are not checked (dawn, dusk, sensor offsets)."""

TIMEZONE_TOLERANCE_H = 2.0
"""How far a header's UTC offset may be from the longitude's solar time before it is suspect."""

CLOSURE_MAX_ROWS = 50_000
"""Rows checked at most, evenly spread, so that a year at 1 s costs no longer than a typical year."""

_REFERENCE_YEAR_START_S = datetime(2025, 1, 1, tzinfo=timezone.utc).timestamp()
"""A non-leap year to place a typical year's rows on, for the sun's position."""


@dataclass(frozen=True)
class ClosureReport:
    """How many of a file's checked rows break closure, and the first of them."""

    checked: int
    inconsistent: int
    first_index: int | None


def closure_deviation(ghi_w_m2: float, dni_w_m2: float, dhi_w_m2: float,
                      zenith_deg: float) -> float | None:
    """|GHI - (DHI + DNI cos z)| relative to the larger side; None where the row is not checked."""
    if zenith_deg >= CLOSURE_MAX_ZENITH_DEG:
        return None
    components_w_m2 = dhi_w_m2 + dni_w_m2 * math.cos(math.radians(zenith_deg))
    larger_w_m2 = max(ghi_w_m2, components_w_m2)
    if larger_w_m2 < CLOSURE_MIN_W_M2:
        return None
    return abs(ghi_w_m2 - components_w_m2) / larger_w_m2


def row_epoch_s(weather: WeatherFile, row: int) -> float:
    """The instant a row describes, in epoch seconds: mid-hour for hourly means, a typical year
    placed on a non-leap year."""
    time_s = weather.time_s[row]
    if weather.typical_year:
        time_s = _REFERENCE_YEAR_START_S + time_s - weather.utc_offset_s
    return time_s - HOUR_S / 2.0 if weather.hourly_means else time_s


def check_closure(weather: WeatherFile, site: SiteClearSky) -> ClosureReport:
    """The closure of daytime rows at ``site`` (the file's own site, or the configured one): every
    row, or an even sample of :data:`CLOSURE_MAX_ROWS` of a long file."""
    checked = inconsistent = 0
    first: int | None = None
    stride = max(1, math.ceil(len(weather.time_s) / CLOSURE_MAX_ROWS))
    for row in range(0, len(weather.time_s), stride):
        sun = site.at(row_epoch_s(weather, row))
        if sun is None:
            continue
        deviation = closure_deviation(weather.ghi_w_m2[row], weather.dni_w_m2[row],
                                      weather.dhi_w_m2[row], sun.apparent_zenith_deg)
        if deviation is None:
            continue
        checked += 1
        if deviation > CLOSURE_TOLERANCE:
            inconsistent += 1
            first = row if first is None else first
    return ClosureReport(checked, inconsistent, first)


def timezone_mismatch_h(utc_offset_s: float, longitude_deg: float) -> float:
    """Hours between a header's UTC offset and the longitude's mean solar time (15 degrees an hour)."""
    return abs(utc_offset_s / HOUR_S - longitude_deg / 15.0)


def weather_warnings(weather: WeatherFile, site: SiteClearSky) -> list[str]:
    """The file's physical inconsistencies, one line each, for a log warning."""
    warnings = []
    if weather.typical_year and weather.hourly_means and weather.site is not None:
        mismatch_h = timezone_mismatch_h(weather.utc_offset_s, weather.site.longitude_deg)
        if mismatch_h > TIMEZONE_TOLERANCE_H:
            warnings.append(
                f"the header's time zone UTC{weather.utc_offset_s / HOUR_S:+g} is {mismatch_h:.1f} h "
                f"from the solar time of its longitude {weather.site.longitude_deg:g} (more than "
                f"{TIMEZONE_TOLERANCE_H:g} h): the rows' hours are likely shifted")
    report = check_closure(weather, site)
    if report.inconsistent and report.first_index is not None:
        first = report.first_index
        warnings.append(
            f"{report.inconsistent} of {report.checked} daytime rows checked break GHI = DHI + DNI cos(z) "
            f"by more than {CLOSURE_TOLERANCE:.0%} (the first: row {first + 1}, GHI "
            f"{weather.ghi_w_m2[first]:g}, DNI {weather.dni_w_m2[first]:g}, DHI "
            f"{weather.dhi_w_m2[first]:g} W/m2): the columns disagree, check their order and units")
    return warnings
