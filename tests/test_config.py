"""Config parsing and its one-line errors."""

from __future__ import annotations

import os
import tempfile
import unittest
from pathlib import Path
from zoneinfo import ZoneInfo

from parameterized import parameterized

from pv_simulator.config import ConfigError, load_config


class ConfigTest(unittest.TestCase):
    def setUp(self) -> None:
        self.tmp = Path(tempfile.mkdtemp())
        self.addCleanup(lambda: [p.chmod(0o600) for p in self.tmp.iterdir()])

    def write(self, text: str) -> Path:
        path = self.tmp / "broker.ini"
        path.write_text(text)
        return path

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

    def test_password_is_masked_in_the_url(self) -> None:
        config = load_config(self.write("[broker]\nusername = alice\npassword = s3cret\n"))
        self.assertNotIn("s3cret", config.broker.url())
        self.assertNotIn("s3cret", repr(config.broker))
        self.assertIn("alice:***@", config.broker.url())

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


if __name__ == "__main__":
    unittest.main()
