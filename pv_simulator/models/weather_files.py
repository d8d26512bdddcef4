"""Weather file readers: EnergyPlus EPW, NREL TMY3, PVGIS TMY (csv, json, EPW export), generic CSV.

Every reader returns a `WeatherFile`: the rows' irradiance, air temperature and wind on a time
axis that says exactly which instant or hour each row describes, and the site where the header
names one. The format is recognised from the content, never from the file name.

Time conventions, as the formats define them:

* EPW (EnergyPlus Auxiliary Programs, "Weather converter program", 2.9.1) and TMY3 (S. Wilcox and
  W. Marion, "Users manual for TMY3 data sets", NREL/TP-581-43156, 2008): hour h of a day holds the
  mean (energy / 1 h) of the hour ENDING at h:00 in the file's local standard time (no DST), the
  offset from UTC in the header (EPW LOCATION field 8, TMY3 header field 4).
* PVGIS TMY csv and json (PVGIS 5.3 user manual, "TMY"): `time(UTC)` stamps; irradiance is the
  value at the instant stamp + `irradiance_time_offset` hours (csv "Irradiance Time Offset (h)").
  A file without that field is taken at the stamp itself (offset 0).
* PVGIS's EPW export: its LOCATION says UTC+1, yet its rows are the UTC rows of PVGIS's csv (row
  hour 1 is the csv's 00:00 UTC row). Recognised by its "Irradiance Time Offset (h): x" comment
  (x = the csv's offset - 1, so it is counted from the EPW stamp): the stamps are read as UTC,
  whatever the time zone field says, and each row as the instant stamp + x hours.
* Generic CSV, header `time,ghi_w_m2,dni_w_m2,dhi_w_m2[,air_temperature_c][,wind_speed_m_s]`:
  ISO 8601 times with an offset or Z, each row the value at that instant, strictly increasing,
  1 s to 1 h apart; without the temperature or wind column those are None.

Typical years (EPW, TMY3, PVGIS) stand for any year: their time axis is seconds since 1 January
00:00 of a non-leap year on the file's standard-time clock, within [0, 365 days). Generic files are
absolute (epoch seconds). Slightly negative irradiance (sensor offsets at night) is read as 0.
"""

import csv
import io
import json
import logging
import math
import os
import stat
import time
from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

EXAMPLE_WEATHER_PATH = Path(__file__).resolve().parent / "data" / "weather" / "pvgis_tmy_45N_8E.csv"
"""PVGIS 5.3 typical year at 45 N 8 E (SARAH3 + ERA5), shipped for demos and examples."""

HOUR_S = 3600.0
DAY_S = 86400.0
TYPICAL_YEAR_S = 365 * DAY_S
TYPICAL_YEAR_ROWS = 8760

GENERIC_COLUMNS = ("time", "ghi_w_m2", "dni_w_m2", "dhi_w_m2", "air_temperature_c",
                   "wind_speed_m_s")
_GENERIC_OPTIONAL = GENERIC_COLUMNS[4:]

_MONTH_START_DAY = (0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365)
_IRRADIANCE_RANGE_W_M2 = (-10.0, 2000.0)
_TEMPERATURE_RANGE_C = (-90.0, 70.0)
_WIND_RANGE_M_S = (0.0, 100.0)
_PVGIS_HEADER_CHARS = 4096
_GENERIC_MIN_STEP_S = 1.0
_GENERIC_MAX_STEP_S = HOUR_S


class WeatherFileError(ValueError):
    """A weather file that cannot be read; the message is one line: file, line, what is wrong."""

    def __init__(self, path: str, where: str, problem: str) -> None:
        super().__init__(f"{path}: {where}: {problem}")


@dataclass(frozen=True)
class WeatherSite:
    """Where the file's weather was measured or modelled."""

    latitude_deg: float
    longitude_deg: float
    altitude_m: float


@dataclass(frozen=True)
class WeatherFile:
    """A weather file's rows on an explicit time axis.

    hourly_means: row k is the mean of the hour ending at time_s[k]; otherwise the value at the
    instant time_s[k]. typical_year: time_s counts from 1 January 00:00 of the file's clock,
    utc_offset_s ahead of UTC; otherwise time_s are epoch seconds. time_s is increasing.
    """

    path: str
    format: str
    site: WeatherSite | None
    typical_year: bool
    hourly_means: bool
    utc_offset_s: float
    time_s: Sequence[float]
    ghi_w_m2: Sequence[float]
    dni_w_m2: Sequence[float]
    dhi_w_m2: Sequence[float]
    air_temperature_c: Sequence[float] | None
    wind_speed_m_s: Sequence[float] | None


class _Rows:
    """Rows as they are read, with the file line (or record) of each for error messages.

    Values are kept as C doubles, not Python floats: a year at 1 s is millions of rows.
    """

    def __init__(self, path: str, where_format: str = "line {}") -> None:
        self.path = path
        self._where_format = where_format
        self._where_keys = array("q")
        self.time_s = array("d")
        self.ghi_w_m2 = array("d")
        self.dni_w_m2 = array("d")
        self.dhi_w_m2 = array("d")
        self.air_temperature_c = array("d")
        self.wind_speed_m_s = array("d")

    def fail(self, where: str, problem: str) -> WeatherFileError:
        return WeatherFileError(self.path, where, problem)

    def where(self, row: int) -> str:
        """The line (or record) a row was read from."""
        return self._where_format.format(self._where_keys[row])

    def add(self, where: str, where_key: int, time_s: float, fields: dict[str, str]) -> None:
        """One row from its text fields: ghi, dni, dhi and, where present, temperature, wind.

        ``where`` names the row in this call's errors; ``where_key`` fills the reader's
        ``where_format`` for later ones.
        """
        self._where_keys.append(where_key)
        self.time_s.append(time_s)
        for name, target in (("ghi", self.ghi_w_m2), ("dni", self.dni_w_m2),
                             ("dhi", self.dhi_w_m2)):
            target.append(max(self.number(where, name, fields[name], _IRRADIANCE_RANGE_W_M2), 0.0))
        if "temperature" in fields:
            self.air_temperature_c.append(
                self.number(where, "air temperature", fields["temperature"], _TEMPERATURE_RANGE_C))
        if "wind" in fields:
            self.wind_speed_m_s.append(
                self.number(where, "wind speed", fields["wind"], _WIND_RANGE_M_S))

    def number(self, where: str, name: str, text: str, limits: tuple[float, float]) -> float:
        try:
            value = float(text)
        except ValueError:
            raise self.fail(where, f"{name} {text.strip()!r} is not a number") from None
        if not (math.isfinite(value) and limits[0] <= value <= limits[1]):
            raise self.fail(where, f"{name} {text.strip()} outside [{limits[0]:g}, {limits[1]:g}]"
                                   " (missing value?)")
        return value

    def typical_year(self, format_name: str, site: WeatherSite | None, hourly_means: bool,
                     utc_offset_s: float) -> WeatherFile:
        """Check the rows make one hourly typical year in order, then put them in time order.

        Each row must follow the previous one by an hour (Dec 31 wraps to Jan 1: PVGIS and EPW
        hour 24 rows do), so a gap, a repeat or a 29 February is reported at its line.
        """
        if not self.time_s:
            raise self.fail("line 1", "no data rows")
        for k in range(1, len(self.time_s)):
            step_s = (self.time_s[k] - self.time_s[k - 1]) % TYPICAL_YEAR_S
            if abs(step_s - HOUR_S) > 1e-6:
                raise self.fail(self.where(k), f"row is {_typical_stamp(self.time_s[k])}, expected "
                                               f"{_typical_stamp(self.time_s[k - 1] + HOUR_S)}")
        if len(self.time_s) != TYPICAL_YEAR_ROWS:
            raise self.fail(self.where(len(self.time_s) - 1), f"a typical year has {TYPICAL_YEAR_ROWS} hourly rows, "
                                            f"this file {len(self.time_s)}")
        wrapped = [t % TYPICAL_YEAR_S for t in self.time_s]
        order = sorted(range(len(wrapped)), key=wrapped.__getitem__)
        return self._build(format_name, site, True, hourly_means, utc_offset_s,
                           [wrapped[k] for k in order], order)

    def absolute(self, format_name: str) -> WeatherFile:
        """Check the instants of a generic file increase by 1 s to 1 h."""
        if len(self.time_s) < 2:
            raise self.fail(self.where(len(self.time_s) - 1) if self.time_s else "line 1",
                            "at least two data rows needed to span a time")
        for k in range(1, len(self.time_s)):
            step_s = self.time_s[k] - self.time_s[k - 1]
            if not _GENERIC_MIN_STEP_S <= step_s <= _GENERIC_MAX_STEP_S:
                raise self.fail(self.where(k), f"{step_s:g} s after the previous row; rows must be "
                                               "in time order, 1 s to 1 h apart")
        return self._build(format_name, None, False, False, 0.0, self.time_s,
                           range(len(self.time_s)))

    def _build(self, format_name: str, site: WeatherSite | None, typical_year: bool,
               hourly_means: bool, utc_offset_s: float, time_s: Sequence[float],
               order: Sequence[int]) -> WeatherFile:
        def pick(values: "array[float]") -> "array[float]":
            return values if order_is_identity else array("d", (values[k] for k in order))

        order_is_identity = all(k == row for row, k in enumerate(order))

        return WeatherFile(
            self.path, format_name, site, typical_year, hourly_means, utc_offset_s, array("d", time_s),
            pick(self.ghi_w_m2), pick(self.dni_w_m2), pick(self.dhi_w_m2),
            pick(self.air_temperature_c) if self.air_temperature_c else None,
            pick(self.wind_speed_m_s) if self.wind_speed_m_s else None)


def _typical_stamp(time_s: float) -> str:
    """MM-DD HH:MM of a typical-year time, for messages."""
    time_s %= TYPICAL_YEAR_S
    day = int(time_s // DAY_S)
    month = next(m for m in range(12) if day < _MONTH_START_DAY[m + 1])
    minutes = round((time_s - day * DAY_S) / 60.0)
    return f"{month + 1:02d}-{day - _MONTH_START_DAY[month] + 1:02d} " \
           f"{minutes // 60:02d}:{minutes % 60:02d}"


def _typical_year_time_s(rows: _Rows, where: str, month: int, day: int, seconds_of_day: float) -> float:
    """Seconds since 1 January 00:00 of a non-leap year; hour 24 of Dec 31 gives 365 days."""
    if not 1 <= month <= 12:
        raise rows.fail(where, f"month {month} outside 1..12")
    month_days = _MONTH_START_DAY[month] - _MONTH_START_DAY[month - 1]
    if month == 2 and day == 29:
        raise rows.fail(where, "29 February in a typical year (expected 365 days)")
    if not 1 <= day <= month_days:
        raise rows.fail(where, f"day {day} outside 1..{month_days} of month {month}")
    if not 0.0 <= seconds_of_day <= DAY_S:
        raise rows.fail(where, "time of day outside 00:00..24:00")
    return (_MONTH_START_DAY[month - 1] + day - 1) * DAY_S + seconds_of_day


def _int(rows: _Rows, where: str, name: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise rows.fail(where, f"{name} {text.strip()!r} is not an integer") from None


def _csv_lines(text: str, first_line: int = 1) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) of every non-blank CSV line."""
    for number, fields in enumerate(csv.reader(io.StringIO(text)), start=first_line):
        if fields and any(field.strip() for field in fields):
            yield number, fields


def _fields(rows: _Rows, where: str, fields: list[str], count: int) -> None:
    if len(fields) < count:
        raise rows.fail(where, f"{len(fields)} fields, expected at least {count}")


def _read_epw(path: str, text: str) -> WeatherFile:
    rows = _Rows(path)
    lines = text.splitlines()
    location = next(csv.reader([lines[0]]))
    _fields(rows, "line 1", location, 10)
    site = WeatherSite(rows.number("line 1", "latitude", location[6], (-90.0, 90.0)),
                       rows.number("line 1", "longitude", location[7], (-180.0, 180.0)),
                       rows.number("line 1", "elevation", location[9], (-500.0, 9000.0)))
    utc_offset_s = rows.number("line 1", "time zone", location[8], (-14.0, 14.0)) * HOUR_S
    pvgis_offset_h: float | None = None
    header_lines = 8
    for number in range(1, min(header_lines, len(lines))):
        line = lines[number]
        if line.startswith("COMMENTS") and "Irradiance Time Offset (h):" in line:
            pvgis_offset_h = rows.number(f"line {number + 1}", "irradiance time offset",
                                         line.split("Irradiance Time Offset (h):")[1], (-2.0, 2.0))
    if len(lines) <= header_lines or not lines[header_lines - 1].startswith("DATA PERIODS"):
        raise rows.fail(f"line {min(len(lines), header_lines)}",
                        "expected the 8 EPW header lines ending with DATA PERIODS")
    for number, fields in _csv_lines("\n".join(lines[header_lines:]), header_lines + 1):
        where = f"line {number}"
        _fields(rows, where, fields, 22)
        hour = _int(rows, where, "hour", fields[3])
        if not 1 <= hour <= 24:
            raise rows.fail(where, f"hour {hour} outside 1..24")
        time_s = _typical_year_time_s(rows, where, _int(rows, where, "month", fields[1]),
                                     _int(rows, where, "day", fields[2]), hour * HOUR_S)
        if pvgis_offset_h is not None:
            time_s += pvgis_offset_h * HOUR_S
        rows.add(where, number, time_s, {"ghi": fields[13], "dni": fields[14], "dhi": fields[15],
                                 "temperature": fields[6], "wind": fields[21]})
    if pvgis_offset_h is not None:
        return rows.typical_year("pvgis-epw", site, False, 0.0)
    return rows.typical_year("epw", site, True, utc_offset_s)


_TMY3_COLUMNS = {"ghi": "GHI (W/m^2)", "dni": "DNI (W/m^2)", "dhi": "DHI (W/m^2)",
                 "temperature": "Dry-bulb (C)", "wind": "Wspd (m/s)"}


def _read_tmy3(path: str, text: str) -> WeatherFile:
    rows = _Rows(path)
    lines = _csv_lines(text)
    _, header = next(lines)
    _fields(rows, "line 1", header, 7)
    utc_offset_s = rows.number("line 1", "time zone", header[3], (-14.0, 14.0)) * HOUR_S
    site = WeatherSite(rows.number("line 1", "latitude", header[4], (-90.0, 90.0)),
                       rows.number("line 1", "longitude", header[5], (-180.0, 180.0)),
                       rows.number("line 1", "elevation", header[6], (-500.0, 9000.0)))
    _, names = next(lines, (2, []))
    columns = {}
    for key, name in (("date", "Date (MM/DD/YYYY)"), ("time", "Time (HH:MM)"),
                      *_TMY3_COLUMNS.items()):
        if name not in names:
            raise rows.fail("line 2", f"no column {name!r}")
        columns[key] = names.index(name)
    width = max(columns.values()) + 1
    for number, fields in lines:
        where = f"line {number}"
        _fields(rows, where, fields, width)
        date = fields[columns["date"]].split("/")
        clock = fields[columns["time"]].split(":")
        if len(date) != 3 or len(clock) != 2:
            raise rows.fail(where, f"date {fields[columns['date']]!r} or time "
                                   f"{fields[columns['time']]!r} not MM/DD/YYYY and HH:MM")
        hour = _int(rows, where, "hour", clock[0])
        if not 1 <= hour <= 24:
            raise rows.fail(where, f"hour {hour} outside 01..24")
        time_s = _typical_year_time_s(rows, where, _int(rows, where, "month", date[0]),
                                     _int(rows, where, "day", date[1]),
                                     hour * HOUR_S + _int(rows, where, "minute", clock[1]) * 60.0)
        rows.add(where, number, time_s, {key: fields[columns[key]] for key in _TMY3_COLUMNS})
    return rows.typical_year("tmy3", site, True, utc_offset_s)


_PVGIS_COLUMNS = {"ghi": "G(h)", "dni": "Gb(n)", "dhi": "Gd(h)", "temperature": "T2m",
                  "wind": "WS10m"}


def _pvgis_time_s(rows: _Rows, where: str, stamp: str, offset_h: float) -> float:
    """Typical-year time of a PVGIS `YYYYMMDD:HHMM` UTC stamp plus the irradiance offset."""
    if len(stamp) != 13 or stamp[8] != ":" or not (stamp[:8] + stamp[9:]).isdigit():
        raise rows.fail(where, f"time {stamp!r} is not YYYYMMDD:HHMM")
    seconds = int(stamp[9:11]) * HOUR_S + int(stamp[11:13]) * 60.0
    return (_typical_year_time_s(rows, where, int(stamp[4:6]), int(stamp[6:8]), seconds)
            + offset_h * HOUR_S)


def _read_pvgis_csv(path: str, text: str) -> WeatherFile:
    rows = _Rows(path)
    header: dict[str, str] = {}
    lines = text.splitlines()
    number = 0
    while number < len(lines) and not lines[number].startswith("time(UTC)"):
        key, _, value = lines[number].partition(":")
        header[key.strip()] = value
        number += 1
    if number == len(lines):
        raise rows.fail(f"line {number}", "no 'time(UTC),...' header of the hourly rows")
    values = {}
    for key, limits in (("Latitude (decimal degrees)", (-90.0, 90.0)),
                        ("Longitude (decimal degrees)", (-180.0, 180.0)),
                        ("Elevation (m)", (-500.0, 9000.0))):
        if key not in header:
            raise rows.fail("line 1", f"no {key!r} in the header")
        values[key] = rows.number("line 1", key, header[key], limits)
    site = WeatherSite(*values.values())
    offset_h = rows.number("line 4", "irradiance time offset",
                           header.get("Irradiance Time Offset (h)", "0"), (-2.0, 2.0))
    names = lines[number].split(",")
    missing = [name for name in _PVGIS_COLUMNS.values() if name not in names]
    if missing:
        raise rows.fail(f"line {number + 1}", f"no column {missing[0]!r}")
    columns = {key: names.index(name) for key, name in _PVGIS_COLUMNS.items()}
    for line_number in range(number + 1, len(lines)):
        line = lines[line_number]
        if not line.strip():
            break
        where = f"line {line_number + 1}"
        fields = line.split(",")
        _fields(rows, where, fields, len(names))
        rows.add(where, line_number + 1, _pvgis_time_s(rows, where, fields[0], offset_h),
                 {key: fields[index] for key, index in columns.items()})
    return rows.typical_year("pvgis-csv", site, False, 0.0)


def _json_member(rows: _Rows, where: str, value: Any, key: str) -> Any:
    if not isinstance(value, dict) or key not in value:
        raise rows.fail(where, f"no {key!r}")
    return value[key]


def _read_pvgis_json(path: str, text: str) -> WeatherFile:
    rows = _Rows(path, "outputs.tmy_hourly[{}]")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise rows.fail(f"line {exc.lineno}", f"invalid JSON: {exc.msg}") from None
    location = _json_member(rows, "inputs", _json_member(rows, "top level", document, "inputs"),
                            "location")
    if not isinstance(location, dict):
        raise rows.fail("inputs.location", f"an object expected, not {type(location).__name__}")
    numbers = {}
    for key, limits in (("latitude", (-90.0, 90.0)), ("longitude", (-180.0, 180.0)),
                        ("elevation", (-500.0, 9000.0)), ("irradiance_time_offset", (-2.0, 2.0))):
        value = location.get(key, 0.0 if key == "irradiance_time_offset" else None)
        numbers[key] = rows.number("inputs.location", key, str(value), limits)
    site = WeatherSite(numbers["latitude"], numbers["longitude"], numbers["elevation"])
    records = _json_member(rows, "outputs", _json_member(rows, "top level", document, "outputs"),
                           "tmy_hourly")
    if not isinstance(records, list):
        raise rows.fail("outputs.tmy_hourly", "not a list")
    for index, record in enumerate(records):
        where = f"outputs.tmy_hourly[{index}]"
        stamp = _json_member(rows, where, record, "time(UTC)")
        fields = {key: str(_json_member(rows, where, record, name))
                  for key, name in _PVGIS_COLUMNS.items()}
        rows.add(where, index, _pvgis_time_s(rows, where, str(stamp), numbers["irradiance_time_offset"]),
                 fields)
    return rows.typical_year("pvgis-json", site, False, 0.0)


def _parse_iso_time_s(rows: _Rows, where: str, text: str) -> float:
    """Epoch seconds of an ISO 8601 time that carries its UTC offset (or Z)."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise rows.fail(where, f"time {text.strip()!r} is not ISO 8601") from None
    if moment.utcoffset() is None:
        raise rows.fail(where, f"time {text.strip()!r} has no UTC offset (add Z or +HH:MM)")
    return moment.timestamp()


def _read_generic_csv(path: str, text: str) -> WeatherFile:
    rows = _Rows(path)
    lines = _csv_lines(text)
    _, names = next(lines)
    names = [name.strip().strip('"').strip() for name in names]
    optional = [name for name in names[4:] if name in _GENERIC_OPTIONAL]
    if names[:4] != list(GENERIC_COLUMNS[:4]) or names[4:] != optional or len(set(names)) != len(names):
        raise rows.fail("line 1", f"header must be {','.join(GENERIC_COLUMNS[:4])} and optionally "
                                  f"{' and '.join(_GENERIC_OPTIONAL)}, got {','.join(names)!r}")
    keys = ("time", "ghi", "dni", "dhi",
            *("temperature" if name == "air_temperature_c" else "wind" for name in optional))
    for number, fields in lines:
        where = f"line {number}"
        if len(fields) != len(names):
            raise rows.fail(where, f"{len(fields)} fields, expected {len(names)}")
        values = dict(zip(keys, fields, strict=True))
        rows.add(where, number, _parse_iso_time_s(rows, where, values.pop("time")), values)
    return rows.absolute("generic-csv")


def _detect(text: str) -> Callable[[str, str], WeatherFile] | None:
    """The reader for a file's content, from its first line."""
    first = text.lstrip("\ufeff").split("\n", 1)[0].strip()
    if first.startswith("LOCATION,"):
        return _read_epw
    if first.startswith("{"):
        return _read_pvgis_json
    if "\ntime(UTC)," in text[:_PVGIS_HEADER_CHARS]:
        return _read_pvgis_csv
    if first.replace(" ", "").replace('"', "").startswith(",".join(GENERIC_COLUMNS[:4])):
        return _read_generic_csv
    second = text.split("\n", 2)[1] if text.count("\n") >= 1 else ""
    if second.startswith("Date (MM/DD/YYYY)"):
        return _read_tmy3
    return None


def read_weather_file(path: str | Path) -> WeatherFile:
    """Read any supported weather file; raises WeatherFileError naming the file and line.

    Only regular files: a FIFO or a device would block the read for as long as nobody writes.
    """
    name = str(path)
    try:
        status = os.stat(path)
    except OSError as exc:
        raise WeatherFileError(name, "line 1", f"cannot be read ({exc.strerror})") from None
    if not stat.S_ISREG(status.st_mode):
        raise WeatherFileError(name, "line 1", "not a regular file (a directory, FIFO or device)")
    log.info("reading weather file %s (%.1f MB)", name, status.st_size / 1e6)
    started_s = time.monotonic()
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise WeatherFileError(name, "line 1", f"not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise WeatherFileError(name, "line 1", f"cannot be read ({exc.strerror})") from None
    reader = _detect(text)
    if reader is None:
        raise WeatherFileError(name, "line 1", "not an EPW, TMY3, PVGIS csv/json file nor a csv "
                                               f"with header {','.join(GENERIC_COLUMNS)}")
    weather = reader(name, text)
    log.info("weather file %s: %d rows (%s) in %.1f s", name, len(weather.time_s), weather.format,
             time.monotonic() - started_s)
    return weather
