"""Weather files: every format parses onto the right time axis, bad files fail on one line naming
the file and line, the clear-sky-index replay keeps hourly energy and night, typical years map
onto any year, and a year of the references.json plants matches pvlib."""

from __future__ import annotations

import json
import math
import tempfile
import unittest
from datetime import datetime, timezone
from functools import cache
from pathlib import Path

from parameterized import parameterized

from pv_simulator.models.clear_sky import SiteClearSky
from pv_simulator.models.pv_plant import DEFAULT_LINKE_TURBIDITY, WeatherPvModel
from pv_simulator.models.weather import WeatherSource, typical_year_time_s
from pv_simulator.models.weather_files import (
    EXAMPLE_WEATHER_PATH,
    HOUR_S,
    WeatherFile,
    WeatherFileError,
    WeatherSite,
    read_weather_file,
)
from tests.paths import DATA_DIR

WEATHER_DIR = DATA_DIR / "weather"
PVGIS_CSV = WEATHER_DIR / "pvgis_tmy_45N_8E.csv"
PVGIS_JSON = WEATHER_DIR / "pvgis_tmy_45N_8E.json"
PVGIS_EPW = WEATHER_DIR / "pvgis_tmy_45N_8E.epw"
GREENSBORO = WEATHER_DIR / "greensboro_tmy3.csv"
REFERENCES = json.loads((WEATHER_DIR / "references.json").read_text(encoding="utf-8"))
PVGIS_OFFSET_S = 0.1761 * HOUR_S
YEAR_STEP_S = 900.0
"""Step of the unit suite's year integrations; tools/weather_accuracy.py runs 5 minutes."""


def utc_s(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> float:
    return datetime(year, month, day, hour, minute, second, tzinfo=timezone.utc).timestamp()


@cache
def weather(path: Path) -> WeatherFile:
    return read_weather_file(path)


def source_for(data: WeatherFile) -> WeatherSource:
    assert data.site is not None
    return WeatherSource(data, SiteClearSky(
        latitude_deg=data.site.latitude_deg, longitude_deg=data.site.longitude_deg,
        altitude_m=data.site.altitude_m, linke_turbidity=DEFAULT_LINKE_TURBIDITY,
        air_temperature_c=20.0))


def reference_model(path: Path, system: str) -> WeatherPvModel:
    plant = REFERENCES["system"]
    tilt_deg, azimuth_deg = plant["systems"][system]
    return WeatherPvModel(weather(path), peak_power_kw=plant["peak_power_kw"], tilt_deg=tilt_deg,
                          azimuth_deg=azimuth_deg, dc_ac_ratio=plant["dc_ac_ratio"],
                          losses_pct=plant["losses_pct"],
                          temperature_coefficient=plant["temperature_coefficient"],
                          albedo=plant["albedo"])


@cache
def monthly_kwh(path: Path, system: str) -> tuple[float, ...]:
    """A (non-leap) year of AC energy by month, left Riemann sum at YEAR_STEP_S."""
    model = reference_model(path, system)
    totals = [0.0] * 12
    time_s, end_s = utc_s(2025, 1, 1), utc_s(2026, 1, 1)
    while time_s < end_s:
        totals[datetime.fromtimestamp(time_s, timezone.utc).month - 1] += (
            model.power_kw(time_s) * YEAR_STEP_S / HOUR_S)
        time_s += YEAR_STEP_S
    return tuple(totals)


def reference_case(key: str) -> dict[str, dict[str, object]]:
    return next(case["systems"] for name, case in REFERENCES["cases"].items()
                if name.startswith(key))


class FormatTest(unittest.TestCase):
    """Row counts, site, first and last values and the time axis of every shared file."""

    @parameterized.expand([
        ("pvgis_csv", PVGIS_CSV, "pvgis-csv"), ("pvgis_json", PVGIS_JSON, "pvgis-json"),
        ("pvgis_epw", PVGIS_EPW, "pvgis-epw")])
    def test_pvgis_rows_are_utc_instants_at_stamp_plus_offset(self, _: str, path: Path,
                                                              format_name: str) -> None:
        data = weather(path)
        self.assertEqual(data.format, format_name)
        self.assertEqual(len(data.time_s), 8760)
        self.assertEqual((data.site.latitude_deg, data.site.longitude_deg, data.site.altitude_m)
                         if data.site else None, (45.0, 8.0, 250.0))
        self.assertTrue(data.typical_year)
        self.assertFalse(data.hourly_means)
        self.assertEqual(data.utc_offset_s, 0.0)
        # First row: 20180101:0000 UTC (EPW 1/1 hour 1), last 20161231:2300 (EPW hour 24).
        self.assertAlmostEqual(data.time_s[0], PVGIS_OFFSET_S, places=3)
        self.assertAlmostEqual(data.time_s[-1], 364 * 86400.0 + 23 * HOUR_S + PVGIS_OFFSET_S,
                               places=3)
        self.assertEqual(data.air_temperature_c[0] if data.air_temperature_c else None, 2.04)
        self.assertEqual(data.air_temperature_c[-1] if data.air_temperature_c else None, 2.1)
        # 20180101:0900, the morning's first beam.
        self.assertEqual((data.ghi_w_m2[9], data.dni_w_m2[9], data.dhi_w_m2[9]),
                         (149.0, 125.3, 117.0))

    def test_pvgis_epw_matches_csv_rows_not_its_time_zone(self) -> None:
        csv_rows, epw_rows = weather(PVGIS_CSV), weather(PVGIS_EPW)
        for a, b in zip(csv_rows.time_s, epw_rows.time_s, strict=True):
            self.assertAlmostEqual(a, b, places=3)
        self.assertEqual(csv_rows.ghi_w_m2, epw_rows.ghi_w_m2)
        self.assertEqual(csv_rows.dhi_w_m2, epw_rows.dhi_w_m2)

    def test_epw_without_the_pvgis_comment_is_hour_ending_local_time(self) -> None:
        text = PVGIS_EPW.read_text(encoding="utf-8").replace(
            "COMMENTS 2,Irradiance Time Offset (h):-0.8239", "COMMENTS 2,plain EPW")
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "plain.epw"
            path.write_text(text, encoding="utf-8")
            data = read_weather_file(path)
        self.assertEqual(data.format, "epw")
        self.assertTrue(data.hourly_means)
        self.assertEqual(data.utc_offset_s, HOUR_S)
        # Read literally, row 1 is the hour ending 01:00 UTC+1, i.e. 23:00-00:00 UTC: more than an
        # hour before the instant PVGIS meant (00:10:34 UTC).
        self.assertEqual(data.time_s[1], HOUR_S)
        self.assertEqual(data.ghi_w_m2[1], weather(PVGIS_CSV).ghi_w_m2[0])

    def test_tmy3_is_hour_ending_local_standard_time(self) -> None:
        data = weather(GREENSBORO)
        self.assertEqual(data.format, "tmy3")
        self.assertEqual(len(data.time_s), 8760)
        self.assertEqual(data.site, WeatherSite(36.1, -79.95, 273.0))
        self.assertTrue(data.hourly_means)
        self.assertEqual(data.utc_offset_s, -5 * HOUR_S)
        # 12/31 24:00 wraps to the start of the typical year; 01/01 01:00 follows it.
        self.assertEqual(tuple(data.time_s[:2]), (0.0, HOUR_S))
        self.assertEqual(data.time_s[-1], 365 * 86400.0 - HOUR_S)
        self.assertEqual(data.air_temperature_c[1] if data.air_temperature_c else None, 10.0)
        self.assertEqual(data.wind_speed_m_s[1] if data.wind_speed_m_s else None, 6.2)
        self.assertEqual(data.air_temperature_c[0] if data.air_temperature_c else None, 2.2)

    def test_packaged_example_is_the_pvgis_csv(self) -> None:
        self.assertEqual(read_weather_file(EXAMPLE_WEATHER_PATH).ghi_w_m2,
                         weather(PVGIS_CSV).ghi_w_m2)

    def test_generic_csv(self) -> None:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "w.txt"
            path.write_text("time,ghi_w_m2,dni_w_m2,dhi_w_m2,wind_speed_m_s\n"
                            "2026-06-21T10:00:00Z,500,400,150,2\n"
                            "2026-06-21T12:01:00+02:00,510,410,151,3\n", encoding="utf-8")
            data = read_weather_file(path)
        self.assertEqual(data.format, "generic-csv")
        self.assertFalse(data.typical_year)
        self.assertIsNone(data.site)
        self.assertEqual(tuple(data.time_s), (utc_s(2026, 6, 21, 10), utc_s(2026, 6, 21, 10, 1)))
        self.assertIsNone(data.air_temperature_c)
        self.assertEqual(tuple(data.wind_speed_m_s or ()), (2.0, 3.0))


def _replace_line(path: Path, number: int, change: tuple[str, str]) -> str:
    lines = path.read_text(encoding="utf-8").split("\n")
    assert change[0] in lines[number - 1], (path, number, lines[number - 1])
    lines[number - 1] = lines[number - 1].replace(*change, 1)
    return "\n".join(lines)


def _truncate_line(path: Path, number: int, fields: int) -> str:
    lines = path.read_text(encoding="utf-8").split("\n")
    lines[number - 1] = ",".join(lines[number - 1].split(",")[:fields])
    return "\n".join(lines)


def _drop_line(path: Path, number: int) -> str:
    lines = path.read_text(encoding="utf-8").split("\n")
    return "\n".join(lines[:number - 1] + lines[number:])


GENERIC_HEADER = "time,ghi_w_m2,dni_w_m2,dhi_w_m2,air_temperature_c,wind_speed_m_s\n"
GENERIC_ROW = "2026-06-21T10:00:00Z,500,400,150,20,2\n"

MALFORMED = [
    # (name, file text, line or place named, words of the problem)
    ("epw_ghi_text", _replace_line(PVGIS_EPW, 14, (",0.00,-0.00,", ",abc,-0.00,")), "line 14",
     "not a number"),
    ("epw_ghi_missing", _replace_line(PVGIS_EPW, 30, (",0.00,-0.00,", ",9999,-0.00,")),
     "line 30", "missing value"),
    ("epw_month_13", _replace_line(PVGIS_EPW, 9, ("2018,1,1,1,", "2018,13,1,1,")), "line 9",
     "month 13"),
    ("epw_hour_0", _replace_line(PVGIS_EPW, 9, ("2018,1,1,1,", "2018,1,1,0,")), "line 9",
     "hour 0"),
    ("epw_gap", _drop_line(PVGIS_EPW, 100), "line 100", "expected 01-04 19:11"),
    ("epw_29_feb", _replace_line(PVGIS_EPW, 9 + 59 * 24, ("2009,3,1,1,", "2009,2,29,1,")),
     f"line {9 + 59 * 24}", "29 February"),
    ("epw_short_row", _truncate_line(PVGIS_EPW, 12, 10), "line 12", "10 fields, expected at least 22"),
    ("epw_no_data_periods", _replace_line(PVGIS_EPW, 8, ("DATA PERIODS", "DATA")), "line 8",
     "DATA PERIODS"),
    ("epw_bad_latitude", _replace_line(PVGIS_EPW, 1, ("45.000000", "145.0")), "line 1",
     "latitude"),
    ("tmy3_truncated", "\n".join(GREENSBORO.read_text(encoding="utf-8").split("\n")[:5000]),
     "line 5000", "8760 hourly rows"),
    ("tmy3_bad_date", _replace_line(GREENSBORO, 7, ("01/01/1988,05:00", "01-01-1988,05:00")),
     "line 7", "MM/DD/YYYY"),
    ("tmy3_no_ghi_column", _replace_line(GREENSBORO, 2, ("GHI (W/m^2)", "GHI")), "line 2",
     "no column 'GHI (W/m^2)'"),
    ("tmy3_hot", _replace_line(GREENSBORO, 3, (",10.0,A,7,", ",99.9,A,7,")), "line 3",
     "air temperature 99.9"),
    ("pvgis_csv_stamp", _replace_line(PVGIS_CSV, 24, ("20180101:0500", "2018-01-01 05:00")),
     "line 24", "YYYYMMDD:HHMM"),
    ("pvgis_csv_no_latitude", _replace_line(PVGIS_CSV, 1, ("Latitude", "Lat")), "line 1",
     "Latitude"),
    ("pvgis_csv_wind", _replace_line(PVGIS_CSV, 19, (",0.75,257.0,", ",fast,257.0,")), "line 19",
     "wind speed"),
    ("pvgis_csv_repeat", _replace_line(PVGIS_CSV, 20, ("20180101:0100", "20180101:0000")),
     "line 20", "expected 01-01 01:11"),
    ("pvgis_json_syntax", PVGIS_JSON.read_text(encoding="utf-8")[:5000], "line 1",
     "invalid JSON"),
    ("pvgis_json_no_ghi", PVGIS_JSON.read_text(encoding="utf-8").replace('"G(h)": 149.0',
                                                                         '"G": 149.0'),
     "outputs.tmy_hourly[9]", "'G(h)'"),
    ("generic_naive_time", GENERIC_HEADER + "2026-06-21T10:00:00,500,400,150,20,2\n", "line 2",
     "no UTC offset"),
    ("generic_bad_time", GENERIC_HEADER + "yesterday,500,400,150,20,2\n", "line 2",
     "not ISO 8601"),
    ("generic_backwards", GENERIC_HEADER + GENERIC_ROW + "2026-06-21T09:00:00Z,1,1,1,1,1\n",
     "line 3", "time order"),
    ("generic_gap", GENERIC_HEADER + GENERIC_ROW + "2026-06-21T12:00:00Z,1,1,1,1,1\n", "line 3",
     "1 s to 1 h"),
    ("generic_fields", GENERIC_HEADER + GENERIC_ROW + "2026-06-21T10:01:00Z,1,1,1\n", "line 3",
     "4 fields, expected 6"),
    ("generic_one_row", GENERIC_HEADER + GENERIC_ROW, "line 2", "two data rows"),
    ("generic_column", "time,ghi_w_m2,dni_w_m2,dhi_w_m2,rain_mm\n" + GENERIC_ROW, "line 1",
     "header must be"),
    ("generic_negative", GENERIC_HEADER + GENERIC_ROW + "2026-06-21T10:01:00Z,-50,1,1,1,1\n",
     "line 3", "ghi -50"),
    ("unknown_format", "hello,world\n1,2\n", "line 1", "not an EPW"),
]


class MalformedFileTest(unittest.TestCase):
    """One exception type, one line: the file, where, and what is wrong."""

    @parameterized.expand(MALFORMED)
    def test_error_names_file_and_line(self, name: str, text: str, where: str,
                                       problem: str) -> None:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f"{name}.dat"
            path.write_text(text, encoding="utf-8")
            with self.assertRaises(WeatherFileError) as caught:
                read_weather_file(path)
        message = str(caught.exception)
        self.assertNotIn("\n", message)
        self.assertTrue(message.startswith(f"{path}: {where}: "), message)
        self.assertIn(problem, message)
        self.assertIsInstance(caught.exception, ValueError)

    def test_unreadable_files(self) -> None:
        with tempfile.TemporaryDirectory() as folder:
            binary = Path(folder) / "binary.epw"
            binary.write_bytes(b"\xff\xfe\x00LOCATION")
            for path in (binary, Path(folder) / "missing.csv"):
                with self.assertRaises(WeatherFileError) as caught:
                    read_weather_file(path)
                self.assertTrue(str(caught.exception).startswith(f"{path}: line 1: "))


class ReplayTest(unittest.TestCase):
    """The clear-sky-index interpolation between rows."""

    def test_hourly_means_keep_each_hours_energy_and_night_is_zero(self) -> None:
        data = weather(GREENSBORO)
        source = source_for(data)
        step_s = 60.0
        for day_start_s in (utc_s(2025, 1, 15, 5), utc_s(2025, 6, 21, 5), utc_s(2025, 9, 3, 5)):
            for hour in range(24):
                end_s = day_start_s + (hour + 1) * HOUR_S
                samples = [source.sample(end_s - HOUR_S + (k + 0.5) * step_s)
                           for k in range(int(HOUR_S / step_s))]
                row = data.time_s.index(typical_year_time_s(end_s - 1.0, data.utc_offset_s)
                                        // HOUR_S * HOUR_S + HOUR_S)
                for name, values in (("ghi", data.ghi_w_m2), ("dni", data.dni_w_m2),
                                     ("dhi", data.dhi_w_m2)):
                    index = ("ghi", "dni", "dhi").index(name)
                    mean = sum(s.sky[index] for s in samples if s) / len(samples)
                    if values[row] >= 20.0:
                        self.assertAlmostEqual(mean / values[row], 1.0, delta=0.01,
                                               msg=f"{name} hour ending {end_s}")
                    elif values[row] == 0.0:
                        self.assertEqual(mean, 0.0)
            midnight = source.sample(day_start_s)
            self.assertEqual(midnight.sky if midnight else None, (0.0, 0.0, 0.0))

    def test_instantaneous_rows_are_met_at_their_instants(self) -> None:
        data = weather(PVGIS_CSV)
        source = source_for(data)
        row = data.ghi_w_m2.index(971.0)
        time_s = utc_s(2025, 1, 1) + data.time_s[row]
        sample = source.sample(time_s)
        assert sample is not None
        self.assertAlmostEqual(sample.sky.ghi_w_m2, data.ghi_w_m2[row], places=6)
        self.assertAlmostEqual(sample.sky.dni_w_m2, data.dni_w_m2[row], places=6)
        self.assertAlmostEqual(sample.sky.dhi_w_m2, data.dhi_w_m2[row], places=6)
        self.assertEqual(sample.air_temperature_c,
                         data.air_temperature_c[row] if data.air_temperature_c else None)

    def test_values_do_not_depend_on_query_order(self) -> None:
        times = [utc_s(2025, 6, 21) + k * 1234.5 for k in range(140)]
        forward = source_for(weather(GREENSBORO))
        expected = [forward.sample(t) for t in times]
        backward = source_for(weather(GREENSBORO))
        self.assertEqual([backward.sample(t) for t in reversed(times)], expected[::-1])

    def test_sunrise_follows_the_sun(self) -> None:
        source = source_for(weather(PVGIS_CSV))
        site = source._site
        for minute in range(0, 24 * 60, 2):
            time_s = utc_s(2025, 6, 21) + minute * 60.0
            sample = source.sample(time_s)
            assert sample is not None
            if site.at(time_s) is None:
                self.assertEqual(sample.sky, (0.0, 0.0, 0.0))


class TypicalYearTest(unittest.TestCase):
    """Any year reads the typical year by month, day and time of day; 29 Feb takes 28 Feb."""

    @parameterized.expand([
        ("jan_1", (2025, 1, 1, 0, 30), 0, 1800.0),
        ("local_clock", (2025, 1, 1, 6, 0), -5 * 3600, 3600.0),
        ("new_year_local", (2025, 1, 1, 2, 0), -5 * 3600, 364 * 86400.0 + 21 * 3600.0),
        ("leap_29_feb", (2024, 2, 29, 12, 0), 0, (31 + 27) * 86400.0 + 12 * 3600.0),
        ("leap_28_feb", (2024, 2, 28, 12, 0), 0, (31 + 27) * 86400.0 + 12 * 3600.0),
        ("leap_1_mar", (2024, 3, 1, 0, 0), 0, (31 + 28) * 86400.0),
        ("leap_31_dec", (2024, 12, 31, 23, 0), 0, 364 * 86400.0 + 23 * 3600.0),
        ("leap_29_feb_local", (2024, 2, 29, 3, 0), -5 * 3600, (31 + 27) * 86400.0 + 22 * 3600.0),
    ])
    def test_typical_year_time(self, _: str, moment: tuple[int, ...], utc_offset_s: int,
                               expected_s: float) -> None:
        self.assertEqual(typical_year_time_s(utc_s(*moment), utc_offset_s), expected_s)

    def test_29_february_replays_28_february(self) -> None:
        source = source_for(weather(PVGIS_CSV))
        for hour in range(24):
            leap = source.sample(utc_s(2024, 2, 29, hour, 20))
            common = source.sample(utc_s(2025, 2, 28, hour, 20))
            assert leap is not None and common is not None
            self.assertEqual(leap.air_temperature_c, common.air_temperature_c)
            self.assertAlmostEqual(leap.sky.ghi_w_m2, common.sky.ghi_w_m2,
                                   delta=0.03 * common.sky.ghi_w_m2 + 1.0)

    def test_typical_year_covers_any_year(self) -> None:
        source = source_for(weather(GREENSBORO))
        for year in (1999, 2024, 2100):
            for moment in ((year, 1, 1, 0, 0), (year, 12, 31, 23, 59)):
                self.assertIsNotNone(source.sample(utc_s(*moment)))


class GenericSpanTest(unittest.TestCase):
    """An absolute file answers inside its span only, and its missing columns fall back."""

    def setUp(self) -> None:
        folder = tempfile.TemporaryDirectory()
        self.addCleanup(folder.cleanup)
        self.path = Path(folder.name) / "measured.csv"
        rows = ["time,ghi_w_m2,dni_w_m2,dhi_w_m2"]
        for minute in range(0, 121, 10):
            rows.append(f"2026-06-21T{10 + minute // 60:02d}:{minute % 60:02d}:00Z,"
                        f"{700 + minute},{600 + minute},{150 + minute}")
        self.path.write_text("\n".join(rows) + "\n", encoding="utf-8")

    def model(self, air_temperature_c: float) -> WeatherPvModel:
        return WeatherPvModel(self.path, latitude_deg=48.2, longitude_deg=16.4, altitude_m=190.0,
                              peak_power_kw=4.0, tilt_deg=35.0, azimuth_deg=180.0,
                              air_temperature_c=air_temperature_c)

    def test_outside_span_is_none(self) -> None:
        model = self.model(20.0)
        self.assertEqual(model.weather.start_s, utc_s(2026, 6, 21, 10))
        self.assertEqual(model.weather.end_s, utc_s(2026, 6, 21, 12))
        for time_s in (utc_s(2026, 6, 21, 9, 59, 59), utc_s(2026, 6, 21, 12, 0, 1),
                       utc_s(2027, 6, 21, 11)):
            self.assertIsNone(model.weather.sample(time_s))
            self.assertIsNone(model.ac_power_w(time_s))
            self.assertEqual(model.power_kw(time_s), 0.0)
        for time_s in (utc_s(2026, 6, 21, 10), utc_s(2026, 6, 21, 11, 5),
                       utc_s(2026, 6, 21, 12)):
            self.assertGreater(model.power_kw(time_s), 1.0)

    def test_rows_are_met_and_missing_temperature_uses_the_configured_one(self) -> None:
        sample = self.model(20.0).weather.sample(utc_s(2026, 6, 21, 11))
        assert sample is not None
        self.assertAlmostEqual(sample.sky.ghi_w_m2, 760.0, places=6)
        self.assertIsNone(sample.air_temperature_c)
        self.assertIsNone(sample.wind_speed_m_s)
        time_s = utc_s(2026, 6, 21, 11)
        self.assertGreater(self.model(0.0).power_kw(time_s), self.model(30.0).power_kw(time_s))

    def test_site_is_required(self) -> None:
        with self.assertRaisesRegex(ValueError, "names no site"):
            WeatherPvModel(self.path, peak_power_kw=4.0, tilt_deg=35.0, azimuth_deg=180.0)


class AccuracyTest(unittest.TestCase):
    """A year of both references.json plants against pvlib: annual 2 %, each month 4 %."""

    @parameterized.expand([
        (f"{key}_{system}", path, key, system)
        for path, key in ((PVGIS_CSV, "pvgis"), (GREENSBORO, "greensboro"))
        for system in ("south35", "west20")])
    def test_year_matches_pvlib(self, _: str, path: Path, key: str, system: str) -> None:
        reference = reference_case(key)[system]
        annual_kwh = reference["annual_kwh"]
        monthly = reference["monthly_kwh"]
        assert isinstance(annual_kwh, (int, float)) and isinstance(monthly, list)
        months = monthly_kwh(path, system)
        self.assertAlmostEqual(sum(months) / float(annual_kwh), 1.0, delta=0.02)
        for month, (value, expected) in enumerate(zip(months, monthly, strict=True), start=1):
            self.assertAlmostEqual(value / float(expected), 1.0, delta=0.04, msg=f"month {month}")

    @parameterized.expand([("json", PVGIS_JSON), ("epw", PVGIS_EPW)])
    def test_pvgis_formats_agree(self, _: str, path: Path) -> None:
        self.assertAlmostEqual(sum(monthly_kwh(path, "south35"))
                               / sum(monthly_kwh(PVGIS_CSV, "south35")), 1.0, delta=0.005)

    def test_night_is_zero(self) -> None:
        model = reference_model(GREENSBORO, "south35")
        self.assertEqual(model.power_kw(utc_s(2025, 6, 21, 5)), 0.0)
        self.assertTrue(math.isfinite(model.power_kw(utc_s(2025, 6, 21, 17))))
