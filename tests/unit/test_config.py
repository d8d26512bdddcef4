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

    def test_url_gives_nodes_credentials_and_vhost(self) -> None:
        config = load_config(self.write(
            "[broker]\nurl = amqp://alice:pa%40ss@node1:5681/%2Fprod, amqp://node2\n"))
        broker = config.broker
        self.assertEqual(broker.hosts, (("node1", 5681), ("node2", 5672)))
        self.assertEqual((broker.username, broker.password), ("alice", "pa@ss"))
        self.assertEqual(broker.virtual_host, "/prod")
        self.assertIsNone(broker.tls)

    def test_amqps_url_turns_tls_on_with_port_5671(self) -> None:
        config = load_config(self.write("[broker]\nurl = amqps://broker.example\n"))
        self.assertIsNotNone(config.broker.tls)
        self.assertEqual(config.broker.port, 5671)
        self.assertTrue(config.broker.url().startswith("amqps://guest:***@broker.example:5671"))

    def test_hosts_list(self) -> None:
        config = load_config(self.write("[broker]\nhosts = a:5681, b, c:5683\n"))
        self.assertEqual(config.broker.hosts, (("a", 5681), ("b", 5672), ("c", 5683)))
        self.assertEqual((config.broker.host, config.broker.port), ("a", 5681))

    def test_tls_files_and_hostname(self) -> None:
        ca = self.tmp / "ca.pem"
        ca.write_text("x")
        config = load_config(self.write(
            f"[broker]\ntls = true\nca_file = {ca}\nserver_hostname = rabbit.local\n"))
        tls = config.broker.tls
        assert tls is not None
        self.assertEqual((tls.ca_file, tls.server_hostname), (ca, "rabbit.local"))
        self.assertEqual(config.broker.port, 5671)

    def test_password_from_environment_wins(self) -> None:
        path = self.write("[broker]\npassword = from-file\n")
        os.environ["PV_BROKER_PASSWORD"] = "from-env"
        self.addCleanup(os.environ.pop, "PV_BROKER_PASSWORD")
        self.assertEqual(load_config(path).broker.password, "from-env")

    def test_password_from_password_file(self) -> None:
        secret = self.tmp / "secret"
        secret.write_text("s3cret\n")
        self.assertEqual(load_config(self.write(f"[broker]\npassword_file = {secret}\n"))
                         .broker.password, "s3cret")

    def test_world_readable_password_warns(self) -> None:
        path = self.write("[broker]\npassword = s3cret\n")
        path.chmod(0o644)
        with self.assertLogs("pv_simulator.config", "WARNING") as logs:
            load_config(path)
        self.assertIn("readable by others", logs.output[0])
        self.assertNotIn("s3cret", logs.output[0])
        path.chmod(0o600)
        with self.assertNoLogs("pv_simulator.config", "WARNING"):
            load_config(path)

    def test_url_password_never_shows_in_errors(self) -> None:
        with self.assertRaises(ConfigError) as caught:
            load_config(self.write("[broker]\nurl = http://bob:hunter2@host\n"))
        self.assertNotIn("hunter2", str(caught.exception))
        self.assertIn("[broker] url", str(caught.exception))

    @parameterized.expand([
        ("url_and_host", "[broker]\nurl = amqp://a\nhost = b\n", "[broker] host"),
        ("hosts_and_host", "[broker]\nhosts = a\nhost = b\n", "[broker] hosts"),
        ("bad_hosts_port", "[broker]\nhosts = a:99999\n", "[broker] hosts"),
        ("bad_url_port", "[broker]\nurl = amqp://a:x\n", "[broker] url"),
        ("mixed_schemes", "[broker]\nurl = amqp://a amqps://b\n", "mixes"),
        ("tls_word", "[broker]\ntls = maybe\n", "[broker] tls"),
        ("ca_without_tls", "[broker]\nca_file = /etc/hosts\n", "[broker] ca_file"),
        ("missing_ca", "[broker]\ntls = true\nca_file = /nonexistent.pem\n", "[broker] ca_file"),
        ("cert_without_key", "[broker]\ntls = true\ncert_file = /etc/hosts\n", "[broker] key_file"),
        ("both_passwords", "[broker]\npassword = a\npassword_file = /etc/hosts\n",
         "[broker] password_file"),
        ("missing_password_file", "[broker]\npassword_file = /nonexistent\n",
         "[broker] password_file"),
        ("queue_type", "[broker]\nqueue_type = stream\n", "[broker] queue_type"),
    ])
    def test_invalid_broker_settings(self, _name: str, text: str, expected: str) -> None:
        with self.assertRaises(ConfigError) as caught:
            load_config(self.write(text))
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
