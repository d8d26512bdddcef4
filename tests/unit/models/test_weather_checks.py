"""Weather plausibility: closure of the irradiance columns, the header's time zone against its
longitude, and files a reader must refuse or accept (FIFOs, malformed PVGIS JSON, quoted headers)."""

from __future__ import annotations

import json
import os
import tempfile
import unittest
from pathlib import Path

from parameterized import parameterized

from pv_simulator.models.clear_sky import SiteClearSky
from pv_simulator.models.weather_checks import (
    CLOSURE_TOLERANCE,
    closure_deviation,
    timezone_mismatch_h,
    weather_warnings,
)
from pv_simulator.models.weather_files import WeatherFile, WeatherFileError, read_weather_file
from tests.paths import DATA_DIR

WEATHER_DIR = DATA_DIR / "weather"
GREENSBORO = WEATHER_DIR / "greensboro_tmy3.csv"


def _site(weather: WeatherFile, latitude_deg: float = 48.2, longitude_deg: float = 16.37) -> SiteClearSky:
    site = weather.site
    return SiteClearSky(latitude_deg=site.latitude_deg if site else latitude_deg,
                        longitude_deg=site.longitude_deg if site else longitude_deg,
                        altitude_m=site.altitude_m if site else 0.0,
                        linke_turbidity=(3.0,), air_temperature_c=12.0)


class _TempDir(unittest.TestCase):
    def setUp(self) -> None:
        folder = tempfile.TemporaryDirectory()
        self.addCleanup(folder.cleanup)
        self.folder = Path(folder.name)


class ClosureDeviationTest(unittest.TestCase):
    def test_components_that_add_up_deviate_by_nothing(self) -> None:
        deviation = closure_deviation(ghi_w_m2=400.0 + 600.0 * 0.5, dni_w_m2=600.0, dhi_w_m2=400.0,
                                      zenith_deg=60.0)
        self.assertIsNotNone(deviation)
        self.assertAlmostEqual(deviation or 0.0, 0.0, places=9)

    def test_ghi_far_below_its_components_breaks_closure(self) -> None:
        deviation = closure_deviation(ghi_w_m2=50.0, dni_w_m2=600.0, dhi_w_m2=400.0, zenith_deg=30.0)
        self.assertGreater(deviation or 0.0, CLOSURE_TOLERANCE)

    @parameterized.expand([("low sun", 500.0, 85.0), ("dim", 20.0, 30.0)])
    def test_rows_that_cannot_be_judged_are_skipped(self, _name: str, ghi_w_m2: float,
                                                    zenith_deg: float) -> None:
        self.assertIsNone(closure_deviation(ghi_w_m2, ghi_w_m2 / 10.0, ghi_w_m2 / 10.0, zenith_deg))


class WeatherWarningsTest(_TempDir):
    @parameterized.expand([(name,) for name in ("greensboro_tmy3.csv", "pvgis_tmy_45N_8E.csv",
                                                "pvgis_tmy_45N_8E.json", "pvgis_tmy_45N_8E.epw")])
    def test_real_typical_years_raise_no_warning(self, name: str) -> None:
        weather = read_weather_file(WEATHER_DIR / name)
        self.assertEqual(weather_warnings(weather, _site(weather)), [])

    def test_generic_file_whose_ghi_disagrees_with_dni_and_dhi_is_counted(self) -> None:
        path = self.folder / "bad.csv"
        rows = [f"2026-06-21T{hour:02d}:00:00Z,50,600,400" for hour in range(0, 24)]
        path.write_text("time,ghi_w_m2,dni_w_m2,dhi_w_m2\n" + "\n".join(rows) + "\n", encoding="utf-8")
        weather = read_weather_file(path)
        warnings = weather_warnings(weather, _site(weather))
        self.assertEqual(len(warnings), 1)
        self.assertRegex(warnings[0], r"^\d+ of \d+ daytime rows checked break GHI = DHI \+ DNI cos\(z\)")
        broken, checked = (int(word) for word in warnings[0].split()[:3:2])
        self.assertEqual(broken, checked)
        self.assertGreater(checked, 5)

    def test_tmy3_whose_time_zone_contradicts_its_longitude_is_warned(self) -> None:
        lines = GREENSBORO.read_text(encoding="utf-8").split("\n")
        header = lines[0].split(",")
        self.assertEqual(float(header[3]), -5.0)
        header[3] = "1.0"
        path = self.folder / "shifted.csv"
        path.write_text("\n".join([",".join(header), *lines[1:]]), encoding="utf-8")
        weather = read_weather_file(path)
        warnings = weather_warnings(weather, _site(weather))
        self.assertTrue(any("time zone UTC+1 is 6.3 h from the solar time of its longitude" in w
                            for w in warnings), warnings)

    def test_mismatch_counts_hours_of_solar_time(self) -> None:
        self.assertAlmostEqual(timezone_mismatch_h(3600.0, -79.95), 1.0 + 79.95 / 15.0)
        self.assertAlmostEqual(timezone_mismatch_h(-5 * 3600.0, -75.0), 0.0)


class RefusedAndAcceptedFilesTest(_TempDir):
    def test_a_fifo_is_refused_at_once(self) -> None:
        path = self.folder / "weather.fifo"
        os.mkfifo(path)
        with self.assertRaises(WeatherFileError) as caught:
            read_weather_file(path)
        self.assertEqual(str(caught.exception),
                         f"{path}: line 1: not a regular file (a directory, FIFO or device)")

    @parameterized.expand([("a list", [1, 2]), ("a string", "45N 8E")])
    def test_pvgis_json_whose_location_is_not_an_object_is_one_line(self, _name: str,
                                                                   location: object) -> None:
        document = json.loads((WEATHER_DIR / "pvgis_tmy_45N_8E.json").read_text(encoding="utf-8"))
        document["inputs"]["location"] = location
        path = self.folder / "bad.json"
        path.write_text(json.dumps(document), encoding="utf-8")
        with self.assertRaises(WeatherFileError) as caught:
            read_weather_file(path)
        message = str(caught.exception)
        self.assertTrue(message.startswith(f"{path}: inputs.location: an object expected"), message)
        self.assertNotIn("\n", message)

    def test_generic_csv_with_a_quoted_header_and_a_lowercase_z_reads(self) -> None:
        path = self.folder / "quoted.csv"
        path.write_text('"time","ghi_w_m2","dni_w_m2","dhi_w_m2"\n'
                        "2026-06-21T10:00:00z,500,400,150\n2026-06-21T10:01:00z,510,410,151\n",
                        encoding="utf-8")
        weather = read_weather_file(path)
        self.assertEqual(weather.format, "generic-csv")
        self.assertEqual(weather.time_s[1] - weather.time_s[0], 60.0)
        self.assertEqual(tuple(weather.ghi_w_m2), (500.0, 510.0))


if __name__ == "__main__":
    unittest.main()
