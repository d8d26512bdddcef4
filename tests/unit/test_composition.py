"""The composition builders: fleet rows over the configuration, shared plants, skies and weather."""

from __future__ import annotations

import shutil
import tempfile
import unittest
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from pv_simulator.composition import (
    NoPvModel,
    PvModels,
    build_meter_models,
    fleet_check,
    haversine_km,
)
from pv_simulator.config import ConfigError, load_config
from pv_simulator.models.household import HouseholdModel
from pv_simulator.models.pv_plant import SolarPvModel, WeatherPvModel
from pv_simulator.models.random_walk import RandomWalkModel
from tests.paths import ROOT

PVGIS = ROOT / "tests" / "data" / "weather" / "pvgis_tmy_45N_8E.csv"
NOON_S = datetime(2026, 6, 21, 12, tzinfo=ZoneInfo("UTC")).timestamp()


class CompositionTest(unittest.TestCase):
    def setUp(self) -> None:
        self.tmp = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def config(self, ini: str, fleet: str | None = None) -> Path:
        if fleet is not None:
            (self.tmp / "fleet.csv").write_text(fleet)
            ini += "\n[fleet]\nfile = fleet.csv\n"
        path = self.tmp / "pv.ini"
        path.write_text("[site]\ntimezone = UTC\n" + ini)
        return path

    def test_haversine_distance(self) -> None:
        self.assertAlmostEqual(haversine_km(0.0, 0.0, 0.0, 1.0), 111.195, places=2)
        self.assertAlmostEqual(haversine_km(48.2, 16.37, 48.2, 16.37), 0.0)

    def test_fleet_values_are_checked_against_the_schema_bounds(self) -> None:
        self.assertIsNone(fleet_check("peak_power_kw", 0.0))
        self.assertIn("at most 90", fleet_check("tilt_deg", 95.0) or "")
        self.assertIn("greater than 0", fleet_check("annual_energy_kwh", 0.0) or "")
        config = load_config(self.config("", "meter_id,tilt_deg\nMeter_0,95\n"))
        with self.assertRaisesRegex(ConfigError, r"fleet.csv:2: column 'tilt_deg': 95: .*at most 90"):
            PvModels(config).for_meters(["Meter_0"])

    def test_a_bad_meter_model_in_the_fleet_names_meter_and_column(self) -> None:
        config = load_config(self.config("", "meter_id,meter_model\nMeter_0,h0\n"))
        with self.assertRaisesRegex(ConfigError, r"meter Meter_0: column 'meter_model': 'h0'"):
            build_meter_models(config, None, 1)

    def test_fleet_meters_in_file_order_first_n_and_their_own_households(self) -> None:
        config = load_config(self.config(
            "[meter]\nprofile = h0\n",
            "meter_id,annual_energy_kwh,meter_model\nB,1500,\nA,,random-walk\nC,7000,\n"))
        ids, models = build_meter_models(config, None, 1)
        self.assertEqual(ids, ["B", "A", "C"])
        self.assertIsInstance(models[1], RandomWalkModel)
        assert isinstance(models[0], HouseholdModel) and isinstance(models[2], HouseholdModel)
        self.assertEqual((models[0].annual_energy_kwh, models[2].annual_energy_kwh), (1500, 7000))
        self.assertEqual(models[0].profile, "h0")
        self.assertEqual(build_meter_models(config, 2, 1)[0], ["B", "A"])
        self.assertEqual(build_meter_models(load_config(self.config("")), None, 1)[0],
                         ["Meter_0"])

    def test_plants_skies_and_weather_are_shared(self) -> None:
        config = load_config(self.config(
            "[pv]\nseed = 3\n",
            "meter_id,peak_power_kw,tilt_deg,latitude\nA,4,30,48.2\nB,4,30,48.2\nC,8,30,48.3\n"
            "D,0,,\n"))
        with self.assertLogs("pv_simulator", "WARNING") as logs:
            default, models = PvModels(config).for_meters(["A", "B", "C", "D", "E"])
        self.assertEqual(len(logs.output), 1)
        self.assertIn("holds no row for E", logs.output[0])
        self.assertIs(models["A"], models["B"])
        self.assertIsInstance(models["D"], NoPvModel)
        self.assertNotIn("E", models)
        self.assertIsInstance(default, SolarPvModel)
        a, c = models["A"], models["C"]
        assert isinstance(a, SolarPvModel) and isinstance(c, SolarPvModel)
        self.assertIs(a._sky, c._sky)
        times = [NOON_S + 600.0 * k for k in range(-6, 7)]
        for time_s in times:
            self.assertAlmostEqual(c.power_kw(time_s), 2.0 * a.power_kw(time_s), delta=0.02)

    def test_a_partitioned_service_gets_every_fleet_meters_plant(self) -> None:
        # It learns its meters from their readings, so it cannot name them up front.
        config = load_config(self.config("", "meter_id,peak_power_kw\nA,6\nB,0\n"))
        with self.assertNoLogs("pv_simulator", "WARNING"):
            default, models = PvModels(config).for_meters(None)
        self.assertEqual(sorted(models), ["A", "B"])
        self.assertIsInstance(models["B"], NoPvModel)
        self.assertIsNot(models["A"], default)

    def test_weather_site_is_the_files_unless_given_and_a_distant_site_warns(self) -> None:
        shutil.copy(PVGIS, self.tmp / "tmy.csv")
        config = load_config(self.config("[pv]\nweather = tmy.csv\n"))
        model, _ = PvModels(config).for_meters(["Meter_0"])
        assert isinstance(model, WeatherPvModel)
        self.assertEqual((model.weather.site.latitude_deg, model.weather.site.longitude_deg),
                         (45.0, 8.0))
        far = load_config(self.config("latitude = 48.2\n[pv]\nweather = tmy.csv\n"))
        with self.assertLogs("pv_simulator", "WARNING") as logs:
            model, _ = PvModels(far).for_meters(["Meter_0"])
        assert isinstance(model, WeatherPvModel)
        self.assertEqual(model.weather.site.latitude_deg, 48.2)
        self.assertEqual(model.weather.site.longitude_deg, 8.0)
        self.assertIn("356 km from the weather file's", logs.output[0])

    def test_an_unreadable_weather_file_names_key_file_and_line(self) -> None:
        (self.tmp / "bad.csv").write_text("time,ghi_w_m2,dni_w_m2,dhi_w_m2\nsoon,1,2,3\n")
        config = load_config(self.config("[pv]\nweather = bad.csv\n"))
        with self.assertRaisesRegex(ConfigError, r"pv.ini: \[pv\] weather: .*bad.csv: line 2: "):
            PvModels(config).for_meters(["Meter_0"])

    def test_unknown_country_or_subdivision_names_the_key(self) -> None:
        for ini, key in (("country = XX\n", "country"), ("subdivision = ZZ\n", "subdivision")):
            config = load_config(self.config(ini))
            with self.assertRaisesRegex(ConfigError, rf"pv.ini: \[site\] {key}: unknown"):
                build_meter_models(config, 1, None)


if __name__ == "__main__":
    unittest.main()
