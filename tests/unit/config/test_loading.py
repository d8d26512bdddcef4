"""Reading a configuration file: defaults, values, and one-line errors naming file, section and key."""

from __future__ import annotations

import os
import shutil
import tempfile
import unittest
from pathlib import Path
from zoneinfo import ZoneInfo

from parameterized import parameterized

from pv_simulator.config import SCHEMA, SECTIONS, Config, ConfigError, load_config
from tests.unit.config.ini import IniFileTest


class LoadingTest(IniFileTest):
    def test_defaults_when_the_default_file_is_absent(self) -> None:
        cwd = os.getcwd()
        os.chdir(self.tmp)
        self.addCleanup(os.chdir, cwd)
        with self.assertLogs("pv_simulator.config", "WARNING") as logs:
            config = load_config(None)
        self.assertIn("broker.ini not found", logs.output[0])
        self.assertEqual((config.broker.host, config.broker.port), ("localhost", 5672))
        self.assertEqual((config.broker.username, config.broker.password), ("guest", "guest"))
        self.assertEqual(config.broker.virtual_host, "/")

    @parameterized.expand([(word, True) for word in ("true", "yes", "on", "1", "TRUE")]
                          + [(word, False) for word in ("false", "no", "off", "0")])
    def test_booleans_take_the_documented_words(self, word: str, expected: bool) -> None:
        config = load_config(self.write(f"[output]\npublish = {word}\n"))
        self.assertIs(config.output.publish, expected)

    def test_values_are_read(self) -> None:
        config = load_config(self.write(
            "[broker]\nhost = 127.0.0.1\nport = 5673\nvirtual_host = v1\nusername = u\n"
            "password = p\n[site]\ntimezone = America/New_York\nlatitude = -33.9\n"
            "[pv]\nlinke_turbidity = 3,3,3,3,4,4,4,4,3,3,3,3\nseed = 7\n"
            "[meter]\nmodel = random-walk\n[output]\nfsync = never\n"))
        self.assertEqual(config.broker.host, "127.0.0.1")
        self.assertEqual(config.broker.port, 5673)
        self.assertEqual(config.broker.virtual_host, "v1")
        self.assertEqual(config.site.timezone, ZoneInfo("America/New_York"))
        self.assertEqual(config.site.latitude_deg, -33.9)
        self.assertEqual(len(config.pv.linke_turbidity or ()), 12)
        self.assertEqual(config.pv.seed, 7)
        self.assertEqual(config.meter.model, "random-walk")
        self.assertEqual(config.output.fsync, "never")

    def test_a_byte_order_mark_is_not_a_missing_section_header(self) -> None:
        path = self.tmp / "broker.ini"
        path.write_bytes("[broker]\nhost = h1\n".encode("utf-8-sig"))
        self.assertEqual(load_config(path).broker.host, "h1")

    def test_named_file_must_exist(self) -> None:
        missing = self.tmp / "nope.ini"
        with self.assertRaises(ConfigError) as caught:
            load_config(missing)
        self.assertIn(str(missing), str(caught.exception))
        self.assertIn("not found", str(caught.exception))

    def test_unreadable_file(self) -> None:
        if os.geteuid() == 0:
            path = self.tmp
            expected = "is a directory"
        else:
            path = self.write("[broker]\n")
            path.chmod(0)
            expected = "not readable"
        with self.assertRaises(ConfigError) as caught:
            load_config(path)
        self.assertIn(expected, str(caught.exception))

    @parameterized.expand([
        ("port_text", "[broker]\nport = abc\n", "[broker] port"),
        ("port_zero", "[broker]\nport = 0\n", "[broker] port"),
        ("port_high", "[broker]\nport = 65536\n", "[broker] port"),
        ("unknown_key", "[broker]\nhots = x\n", "[broker] hots: unknown key"),
        ("unknown_section", "[brokr]\nhost = x\n", "[brokr]: unknown section"),
        ("empty_host", "[broker]\nhost =\n", "[broker] host"),
        ("bad_timezone", "[site]\ntimezone = Mars/Olympus\n", "[site] timezone"),
        ("latitude", "[site]\nlatitude = 91\n", "[site] latitude"),
        ("tilt", "[pv]\ntilt_deg = 95\n", "[pv] tilt_deg"),
        ("negative_power", "[pv]\npeak_power_kw = -1\n", "[pv] peak_power_kw"),
        ("sky", "[pv]\nsky = foggy\n", "[pv] sky"),
        ("linke_count", "[pv]\nlinke_turbidity = 3,4\n", "[pv] linke_turbidity"),
        ("nan", "[pv]\nalbedo = nan\n", "[pv] albedo"),
        ("meter_model", "[meter]\nmodel = magic\n", "[meter] model"),
        ("fsync", "[output]\nfsync = sometimes\n", "[output] fsync"),
        ("not_ini", "host = x\n", "not a valid INI file"),
    ])
    def test_invalid_values_name_file_and_key(self, _name: str, text: str, expected: str) -> None:
        path = self.write(text)
        with self.assertRaises(ConfigError) as caught:
            load_config(path)
        message = str(caught.exception)
        self.assertIn(str(path), message)
        self.assertIn(expected, message)
        self.assertNotIn("\n", message)

    @parameterized.expand([
        ("latitude_high", "site", "latitude", "90.5"), ("latitude_low", "site", "latitude", "-91"),
        ("latitude_nan", "site", "latitude", "nan"), ("longitude", "site", "longitude", "181"),
        ("altitude", "site", "altitude_m", "-1000"), ("power_zero", "pv", "peak_power_kw", "0"),
        ("tilt_low", "pv", "tilt_deg", "-5"), ("azimuth", "pv", "azimuth_deg", "361"),
        ("dc_ac_zero", "pv", "dc_ac_ratio", "0"), ("dc_ac_tiny", "pv", "dc_ac_ratio", "0.05"),
        ("losses_all", "pv", "losses_pct", "100"), ("losses_negative", "pv", "losses_pct", "-1"),
        ("tempco_positive", "pv", "temperature_coefficient", "0.01"),
        ("tempco_percent", "pv", "temperature_coefficient", "-0.35"),
        ("tempco_steep", "pv", "temperature_coefficient", "-0.03"),
        ("albedo", "pv", "albedo", "1.5"), ("air", "pv", "air_temperature_c", "80"),
        ("wind", "pv", "wind_speed_m_s", "-1"), ("linke_clean", "pv", "linke_turbidity", "0.5"),
        ("linke_monthly", "pv", "linke_turbidity", "3,3,3,3,3,3,11,3,3,3,3,3"),
        ("linke_empty", "pv", "linke_turbidity", ""), ("seed", "pv", "seed", "1.5"),
        ("timezone_folder", "site", "timezone", "Europe"),
    ])
    def test_values_the_model_cannot_simulate_are_refused(self, _name: str, section: str,
                                                         key: str, value: str) -> None:
        path = self.write(f"[{section}]\n{key} = {value}\n")
        with self.assertRaises(ConfigError) as caught:
            load_config(path)
        self.assertTrue(str(caught.exception).startswith(f"{path}: [{section}] {key}: "),
                        str(caught.exception))

    @parameterized.expand([
        ("integer", "[broker]\nport = 0\n", "[broker] port: 0 is out of range 1..65535"),
        ("open_low", "[pv]\npeak_power_kw = -1\n",
         "[pv] peak_power_kw: -1 is out of range: must be greater than 0 and at most 1e+06"),
        ("open_high", "[pv]\nlosses_pct = 100\n",
         "[pv] losses_pct: 100 is out of range: must be at least 0 and less than 100"),
        ("each_value", "[pv]\nlinke_turbidity = 0.5\n",
         "[pv] linke_turbidity: 0.5 is out of range: must be at least 1 and at most 10"),
        ("count", "[pv]\nlinke_turbidity = 3,4\n",
         "[pv] linke_turbidity: '3,4' is not one value or 12 comma-separated monthly values"),
        ("boolean", "[broker]\ntls = maybe\n", "[broker] tls: 'maybe' is not true or false (nor yes/no, on/off, 1/0)"),
        ("empty", "[broker]\nhost =\n", "[broker] host: must not be empty"),
    ])
    def test_message_says_what_was_expected(self, _name: str, text: str, expected: str) -> None:
        path = self.write(text)
        with self.assertRaises(ConfigError) as caught:
            load_config(path)
        self.assertEqual(str(caught.exception), f"{path}: {expected}")

    def test_bounds_the_model_needs_are_accepted(self) -> None:
        pv = load_config(self.write(
            "[pv]\ndc_ac_ratio = 0.1\nlosses_pct = 99.9\ntemperature_coefficient = -0.02\n"
            "linke_turbidity = 1,10,1,10,1,10,1,10,1,10,1,10\n")).pv
        self.assertEqual((pv.dc_ac_ratio, pv.losses_pct, pv.temperature_coefficient),
                         (0.1, 99.9, -0.02))
        self.assertEqual(pv.linke_turbidity, (1.0, 10.0) * 6)

    def test_unknown_key_lists_the_schema_keys_of_its_section(self) -> None:
        path = self.write("[meter]\nbufer_s = 10\n")
        with self.assertRaises(ConfigError) as caught:
            load_config(path)
        known = ", ".join(sorted(key.name for key in SCHEMA if key.section == "meter"))
        self.assertEqual(str(caught.exception), f"{path}: [meter] bufer_s: unknown key (known: {known})")

    def test_unknown_section_lists_the_schema_sections(self) -> None:
        path = self.write("[fleets]\nfile = x\n")
        with self.assertRaises(ConfigError) as caught:
            load_config(path)
        self.assertEqual(str(caught.exception),
                         f"{path}: [fleets]: unknown section (known: {', '.join(sorted(SECTIONS))})")


class WeatherAndFleetKeysTest(unittest.TestCase):
    def setUp(self) -> None:
        self.tmp = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def load(self, text: str) -> Config:
        (self.tmp / "conf").mkdir(exist_ok=True)
        path = self.tmp / "conf" / "pv.ini"
        path.write_text(text)
        return load_config(path)

    def test_files_are_relative_to_the_configuration_files_folder(self) -> None:
        config = self.load("[pv]\nweather = w/tmy.csv\n[fleet]\nfile = /abs/fleet.csv\n")
        self.assertEqual(config.pv.weather, self.tmp / "conf" / "w" / "tmy.csv")
        self.assertEqual(config.fleet.file, Path("/abs/fleet.csv"))
        self.assertIsNone(self.load("").pv.weather)

    def test_sky_and_weather_together_name_both_keys(self) -> None:
        with self.assertRaisesRegex(ConfigError, r"pv.ini: \[pv\] sky: give either sky or weather"):
            self.load("[pv]\nsky = clear\nweather = tmy.csv\n")

    def test_given_keys_are_told_from_defaults(self) -> None:
        config = self.load("[site]\nlatitude = 48.2\n")
        self.assertTrue(config.is_given("site", "latitude"))
        self.assertFalse(config.is_given("site", "longitude"))
        self.assertEqual(config.site.latitude_deg, 48.2)

    def test_country_profile_and_subdivision(self) -> None:
        config = self.load("[site]\ncountry = at\nsubdivision = 9\n[meter]\nprofile = h0\n")
        self.assertEqual((config.site.country, config.site.subdivision), ("AT", "9"))
        self.assertEqual(config.meter.profile, "h0")
        self.assertEqual(self.load("").site.country, "DE")
        with self.assertRaisesRegex(ConfigError, r"\[site\] country: 'Germany' is not a two-letter"):
            self.load("[site]\ncountry = Germany\n")
        with self.assertRaisesRegex(ConfigError, r"\[meter\] profile: 'h26' is not one of h25, h0"):
            self.load("[meter]\nprofile = h26\n")

    def test_air_temperature_is_the_climate_unless_given(self) -> None:
        self.assertIsNone(self.load("").pv.air_temperature_c)
        self.assertEqual(self.load("[pv]\nair_temperature_c = 25\n").pv.air_temperature_c, 25.0)
