"""Weather-file replay: GHI, DNI, DHI, air temperature and wind at any instant from a file's rows.

Between rows the clear-sky index is interpolated, not the irradiance, so sunrise and sunset
follow the sun and night is exactly zero (the approach of pvlib's `clearsky_index` and of
satellite-to-minute downscaling, e.g. T. E. Hoff and R. Perez, "Modeling PV fleet output
variability", Solar Energy 86 (2012) 2177-2189). Each component has its own index against the
modelled clear sky of `SiteClearSky` (Ineichen-Perez): GHI / clear GHI, DNI / clear DNI and
DHI / clear GHI (the diffuse of an overcast sky follows the global clear-sky shape, and the ratio
stays bounded where the clear-sky diffuse is small). Interpolating the three separately keeps
the file's own split of beam and diffuse, as a chain fed row by row (pvlib) uses it; indices are
capped at 2 as pvlib's `clearsky_index` does, so a row at a barely risen sun cannot blow up.

* Instantaneous rows (PVGIS, generic CSV): the indices are linear between the rows' instants and
  equal the file's values at them.
* Hourly means (EPW, TMY3): each row's index is its mean over its hour's clear-sky mean, set at
  mid-hour and linear between mid-hours; then each hour is scaled so the mean of index x clear
  sky over the hour (12 midpoint samples) equals the row, keeping every hour's energy.

Typical years (EPW, TMY3, PVGIS) apply to any year by month, day and time of day on the file's
standard-time clock, 29 February taking 28 February; generic files are absolute and give None
outside their first..last instant. Air temperature and wind are linear between rows.

Everything is a pure function of the file, the site and the time: hours and knots are cached by
their own start, so the order of the queries never changes a value.
"""

import bisect
import calendar
import math
from datetime import date
from functools import lru_cache
from typing import NamedTuple

from pv_simulator.models import pv_chain
from pv_simulator.models.clear_sky import SiteClearSky, SunAndClearSky
from pv_simulator.models.weather_files import DAY_S, HOUR_S, TYPICAL_YEAR_S, WeatherFile

MAX_CLEAR_SKY_INDEX = 2.0
"""Cap of every clear-sky index (pvlib.irradiance.clearsky_index's max_clearsky_index)."""

HOUR_SAMPLES = 12
"""Midpoint samples per hour for the clear-sky means of hourly rows (5-minute spacing)."""

_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_NO_SKY = pv_chain.SkyIrradiance(0.0, 0.0, 0.0)

_Indices = tuple[float | None, float | None, float | None]


class WeatherSample(NamedTuple):
    """The weather at one instant; temperature and wind None where the file has none."""

    sky: pv_chain.SkyIrradiance
    air_temperature_c: float | None
    wind_speed_m_s: float | None


class _Line(NamedTuple):
    """value(t) = start + slope * (t - origin_s)."""

    start: float
    slope: float

    def at(self, offset_s: float) -> float:
        return self.start + self.slope * offset_s


def _line(time_a_s: float, value_a: float, time_b_s: float, value_b: float,
          origin_s: float) -> _Line:
    slope = (value_b - value_a) / (time_b_s - time_a_s)
    return _Line(value_a + slope * (origin_s - time_a_s), slope)


class _Segment(NamedTuple):
    """Where one set of straight lines (of t - origin_s) holds: [start_s, end_s), epoch s."""

    start_s: float
    end_s: float
    origin_s: float
    ghi_index: _Line
    dni_index: _Line
    dhi_index: _Line
    air_temperature_c: _Line | None
    wind_speed_m_s: _Line | None


def clear_sky_index(value_w_m2: float, clear_w_m2: float) -> float | None:
    """Measured over clear-sky irradiance, capped; None with no clear sky to compare with."""
    if clear_w_m2 <= 0.0:
        return None
    return min(value_w_m2 / clear_w_m2, MAX_CLEAR_SKY_INDEX)


def _index_line(time_a_s: float, index_a: float | None, time_b_s: float, index_b: float | None,
                origin_s: float) -> _Line:
    """Linear between two knots; an undefined knot (sun down) takes the other one's value."""
    if index_a is None:
        index_a = index_b
    if index_b is None:
        index_b = index_a
    if index_a is None or index_b is None:
        return _Line(0.0, 0.0)
    return _line(time_a_s, index_a, time_b_s, index_b, origin_s)


@lru_cache(maxsize=64)
def _typical_year_shift_s(local_day: int) -> float:
    """What to add to a local time of that day (days since 1970) for its typical-year time."""
    day = date.fromordinal(local_day + _EPOCH_ORDINAL)
    shift_s = -(date(day.year, 1, 1).toordinal() - _EPOCH_ORDINAL) * DAY_S
    if calendar.isleap(day.year) and (day.month, day.day) >= (2, 29):
        shift_s -= DAY_S
    return shift_s


def typical_year_time_s(time_s: float, utc_offset_s: float) -> float:
    """Seconds since 1 January 00:00 of the instant's month, day and time of day on a clock
    utc_offset_s ahead of UTC, in a 365-day year: 29 February reads as 28 February."""
    local_s = time_s + utc_offset_s
    return local_s + _typical_year_shift_s(math.floor(local_s / DAY_S))


class WeatherSource:
    """A weather file replayed at a site: `sample(time_s)` for any instant."""

    def __init__(self, weather: WeatherFile, site: SiteClearSky) -> None:
        self.weather = weather
        self._site = site
        self._count = len(weather.time_s)
        # Hourly rows are interpolated between mid-hours; their own end stamps bound the hours.
        self._knot_s = (tuple(t - HOUR_S / 2.0 for t in weather.time_s) if weather.hourly_means
                        else weather.time_s)
        self._segment: _Segment | None = None
        self._hour_clear = lru_cache(maxsize=16)(self._compute_hour_clear)
        self._hour_segments = lru_cache(maxsize=16)(self._compute_hour_segments)
        self._instant_indices = lru_cache(maxsize=16)(self._compute_instant_indices)

    @property
    def site(self) -> SiteClearSky:
        """Where the file is replayed."""
        return self._site

    @property
    def start_s(self) -> float | None:
        """First instant of an absolute (generic) file; None for a typical year."""
        return None if self.weather.typical_year else self.weather.time_s[0]

    @property
    def end_s(self) -> float | None:
        """Last instant of an absolute (generic) file; None for a typical year."""
        return None if self.weather.typical_year else self.weather.time_s[-1]

    def sample(self, time_s: float, sun: SunAndClearSky | None = None) -> WeatherSample | None:
        """The weather at epoch seconds time_s, None outside a generic file's span.

        `sun` is the site's sun at time_s when the caller has it already (`SiteClearSky.at`).
        """
        segment = self._segment
        if segment is None or not segment.start_s <= time_s < segment.end_s:
            found = self._find_segment(time_s)
            if found is None:
                return None
            segment = self._segment = found
        offset_s = time_s - segment.origin_s
        if sun is None:
            sun = self._site.at(time_s)
        if sun is None:
            sky = _NO_SKY
        else:
            # The hot path of every reading: the lines written out rather than called.
            clear_ghi_w_m2, clear_dni_w_m2, _ = sun.clear
            ghi, dni, dhi = segment.ghi_index, segment.dni_index, segment.dhi_index
            sky = pv_chain.SkyIrradiance((ghi.start + ghi.slope * offset_s) * clear_ghi_w_m2,
                                         (dni.start + dni.slope * offset_s) * clear_dni_w_m2,
                                         (dhi.start + dhi.slope * offset_s) * clear_ghi_w_m2)
        temperature = segment.air_temperature_c
        wind = segment.wind_speed_m_s
        return WeatherSample(sky, None if temperature is None else temperature.at(offset_s),
                             None if wind is None else wind.at(offset_s))

    def _find_segment(self, time_s: float) -> _Segment | None:
        weather = self.weather
        if weather.typical_year:
            position_s = typical_year_time_s(time_s, weather.utc_offset_s)
            # Within the local day the typical year is the real one shifted; the day's ends bound
            # every segment because 29 Feb and 31 Dec -> 1 Jan jump in the typical year.
            local_day_start_s = (math.floor((time_s + weather.utc_offset_s) / DAY_S) * DAY_S
                                 - weather.utc_offset_s)
            bounds = (local_day_start_s, local_day_start_s + DAY_S)
        else:
            if not weather.time_s[0] <= time_s <= weather.time_s[-1]:
                return None
            position_s = time_s
            bounds = (weather.time_s[0], math.nextafter(weather.time_s[-1], math.inf))
        shift_s = time_s - position_s
        if weather.hourly_means:
            row = bisect.bisect_right(weather.time_s, position_s)
            hour_start_s = self._position_s(row) - HOUR_S + shift_s
            first_half, second_half = self._hour_segments(row % self._count, hour_start_s)
            segment = first_half if time_s < first_half.end_s else second_half
        else:
            knot = min(bisect.bisect_right(weather.time_s, position_s) - 1,
                       self._count - 2 + self._count * weather.typical_year)
            segment = self._instant_segment(knot, shift_s)
        return segment._replace(start_s=max(segment.start_s, bounds[0]),
                                end_s=min(segment.end_s, bounds[1]))

    def _position_s(self, row: int) -> float:
        """A row's time, continued cyclically beyond the typical year's ends."""
        return self.weather.time_s[row % self._count] + TYPICAL_YEAR_S * (row // self._count)

    def _knot_position_s(self, row: int) -> float:
        return self._knot_s[row % self._count] + TYPICAL_YEAR_S * (row // self._count)

    def _scalar_lines(self, row_a: int, time_a_s: float, row_b: int, time_b_s: float,
                      origin_s: float) -> tuple[_Line | None, _Line | None]:
        """Air temperature and wind lines between two rows, None where the file has none."""
        lines: list[_Line | None] = []
        for values in (self.weather.air_temperature_c, self.weather.wind_speed_m_s):
            lines.append(None if values is None else _line(
                time_a_s, values[row_a % self._count], time_b_s, values[row_b % self._count],
                origin_s))
        return lines[0], lines[1]

    def _instant_segment(self, knot: int, shift_s: float) -> _Segment:
        time_a_s = self._knot_position_s(knot) + shift_s
        time_b_s = self._knot_position_s(knot + 1) + shift_s
        index_a = self._instant_indices(knot % self._count, time_a_s)
        index_b = self._instant_indices((knot + 1) % self._count, time_b_s)
        ghi, dni, dhi = (_index_line(time_a_s, a, time_b_s, b, time_a_s)
                         for a, b in zip(index_a, index_b, strict=True))
        return _Segment(time_a_s, time_b_s, time_a_s, ghi, dni, dhi,
                        *self._scalar_lines(knot, time_a_s, knot + 1, time_b_s, time_a_s))

    def _compute_instant_indices(self, row: int, time_s: float) -> _Indices:
        sun = self._site.at(time_s)
        if sun is None:
            return None, None, None
        weather = self.weather
        return (clear_sky_index(weather.ghi_w_m2[row], sun.clear.ghi_w_m2),
                clear_sky_index(weather.dni_w_m2[row], sun.clear.dni_w_m2),
                clear_sky_index(weather.dhi_w_m2[row], sun.clear.ghi_w_m2))

    def _compute_hour_clear(self, hour_start_s: float) -> tuple[pv_chain.SkyIrradiance, ...]:
        """Clear sky at the hour's midpoint samples (zero with the sun down)."""
        step_s = HOUR_S / HOUR_SAMPLES
        samples = []
        for k in range(HOUR_SAMPLES):
            sun = self._site.at(hour_start_s + (k + 0.5) * step_s)
            samples.append(_NO_SKY if sun is None else sun.clear)
        return tuple(samples)

    def _hour_indices(self, row: int, hour_start_s: float) -> _Indices:
        """An hourly row's indices: the row over its hour's clear-sky means."""
        samples = self._hour_clear(hour_start_s)
        clear_ghi_w_m2 = sum(s.ghi_w_m2 for s in samples) / HOUR_SAMPLES
        clear_dni_w_m2 = sum(s.dni_w_m2 for s in samples) / HOUR_SAMPLES
        weather = self.weather
        row %= self._count
        return (clear_sky_index(weather.ghi_w_m2[row], clear_ghi_w_m2),
                clear_sky_index(weather.dni_w_m2[row], clear_dni_w_m2),
                clear_sky_index(weather.dhi_w_m2[row], clear_ghi_w_m2))

    def _compute_hour_segments(self, row: int, hour_start_s: float) -> tuple[_Segment, _Segment]:
        """The two half-hour segments of an hourly row, scaled to keep the row's energy."""
        middle_s = hour_start_s + HOUR_S / 2.0
        before = self._hour_indices(row - 1, hour_start_s - HOUR_S)
        own = self._hour_indices(row, hour_start_s)
        after = self._hour_indices(row + 1, hour_start_s + HOUR_S)
        halves = (
            [_index_line(middle_s - HOUR_S, b, middle_s, o, hour_start_s)
             for b, o in zip(before, own, strict=True)],
            [_index_line(middle_s, o, middle_s + HOUR_S, a, middle_s)
             for o, a in zip(own, after, strict=True)])
        samples = self._hour_clear(hour_start_s)
        step_s = HOUR_S / HOUR_SAMPLES
        sums = [0.0, 0.0, 0.0]
        for k, clear in enumerate(samples):
            offset_s = (k + 0.5) * step_s
            lines, origin_s = ((halves[0], 0.0) if offset_s < HOUR_S / 2.0
                               else (halves[1], HOUR_S / 2.0))
            sums[0] += lines[0].at(offset_s - origin_s) * clear.ghi_w_m2
            sums[1] += lines[1].at(offset_s - origin_s) * clear.dni_w_m2
            sums[2] += lines[2].at(offset_s - origin_s) * clear.ghi_w_m2
        weather = self.weather
        rows = row % self._count
        targets = (weather.ghi_w_m2[rows], weather.dni_w_m2[rows], weather.dhi_w_m2[rows])
        factors = [target * HOUR_SAMPLES / total if total > 0.0 else 0.0
                   for target, total in zip(targets, sums, strict=True)]
        first_ghi, first_dni, first_dhi = (_Line(line.start * f, line.slope * f)
                                           for line, f in zip(halves[0], factors, strict=True))
        second_ghi, second_dni, second_dhi = (_Line(line.start * f, line.slope * f)
                                              for line, f in zip(halves[1], factors, strict=True))
        first = _Segment(hour_start_s, middle_s, hour_start_s, first_ghi, first_dni, first_dhi,
                         *self._scalar_lines(row - 1, middle_s - HOUR_S, row, middle_s,
                                             hour_start_s))
        second = _Segment(middle_s, hour_start_s + HOUR_S, middle_s, second_ghi, second_dni,
                          second_dhi,
                          *self._scalar_lines(row, middle_s, row + 1, middle_s + HOUR_S,
                                              middle_s))
        return first, second
