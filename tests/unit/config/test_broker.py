"""The broker's keys combined: url or separate keys, hosts, TLS, and the password's sources."""

from __future__ import annotations

import configparser
import os

from parameterized import parameterized

from pv_simulator.config import ConfigError, load_config
from tests.unit.config.ini import IniFileTest


class BrokerTest(IniFileTest):
    def test_password_is_masked_in_the_url(self) -> None:
        config = load_config(self.write("[broker]\nusername = alice\npassword = s3cret\n"))
        self.assertNotIn("s3cret", config.broker.url())
        self.assertNotIn("s3cret", repr(config.broker))
        self.assertIn("alice:***@", config.broker.url())

    def test_ipv6_hosts_are_bracketed_in_urls_and_read_from_hosts(self) -> None:
        config = load_config(self.write("[broker]\nhosts = [::1]:5673 ::1 localhost:5674\n"))
        self.assertEqual(config.broker.hosts, (("::1", 5673), ("::1", 5672), ("localhost", 5674)))
        self.assertEqual(config.broker.url(), "amqp://guest:***@[::1]:5673/")
        self.assertEqual(config.broker.url("localhost", 5674), "amqp://guest:***@localhost:5674/")

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

    @parameterized.expand([(word, state) for word, state
                           in configparser.ConfigParser.BOOLEAN_STATES.items()])
    def test_tls_takes_configparser_booleans(self, word: str, state: bool) -> None:
        config = load_config(self.write(f"[broker]\ntls = {word.upper()}\n"))
        self.assertEqual(config.broker.tls is not None, state)
        self.assertEqual(config.broker.port, 5671 if state else 5672)

    def test_url_with_port_and_no_user_keeps_defaults(self) -> None:
        broker = load_config(self.write("[broker]\nurl = amqp://node1:5690\n")).broker
        self.assertEqual((broker.hosts, broker.username, broker.password, broker.virtual_host),
                         ((("node1", 5690),), "guest", "guest", "/"))
