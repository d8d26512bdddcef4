"""Config parsing, its one-line errors, and the schema every key is read through."""

from __future__ import annotations

import configparser
import dataclasses
import io
import math
import os
import shutil
import tempfile
import unittest
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from parameterized import parameterized

from pv_simulator.config import (
    SCHEMA,
    SECTIONS,
    TABLES_END,
    TABLES_START,
    Config,
    ConfigError,
    Key,
    Kind,
    load_config,
    main,
    markdown_tables,
    schema_key,
    with_markdown_tables,
)


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

    def test_a_byte_order_mark_is_not_a_missing_section_header(self) -> None:
        path = self.tmp / "broker.ini"
        path.write_bytes("[broker]\nhost = h1\n".encode("utf-8-sig"))
        self.assertEqual(load_config(path).broker.host, "h1")

    def test_ipv6_hosts_are_bracketed_in_urls_and_read_from_hosts(self) -> None:
        config = load_config(self.write("[broker]\nhosts = [::1]:5673 ::1 localhost:5674\n"))
        self.assertEqual(config.broker.hosts, (("::1", 5673), ("::1", 5672), ("localhost", 5674)))
        self.assertEqual(config.broker.url(), "amqp://guest:***@[::1]:5673/")
        self.assertEqual(config.broker.url("localhost", 5674), "amqp://guest:***@localhost:5674/")

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
        ("boolean", "[broker]\ntls = maybe\n", "[broker] tls: 'maybe' is not true or false"),
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


def section_of(config: Config, key: Key) -> Any:
    return getattr(config, key.section)


def as_text(key: Key, value: float) -> str:
    return repr(int(value)) if key.kind is Kind.INTEGER else repr(value)


def bound_cases(*, refused: bool) -> list[tuple[str, Key, str]]:
    """(name, key, text) just beyond or at every finite bound of the schema.

    Beyond a bound, and at an exclusive one, the reader must refuse; at an inclusive one it
    must read the value.
    """
    cases = []
    for key in SCHEMA:
        if key.kind not in (Kind.INTEGER, Kind.NUMBER, Kind.NUMBERS):
            continue
        for which, bound, exclusive, outward in (("low", key.low, key.low_exclusive, -1.0),
                                                 ("high", key.high, key.high_exclusive, 1.0)):
            if not math.isfinite(bound):
                continue
            step = 1 if key.kind is Kind.INTEGER else max(abs(bound), 1.0) * 1e-3
            name = f"{key.section}_{key.name}_{which}"
            if refused:
                cases.append((f"{name}_beyond", key, as_text(key, bound + outward * step)))
            if exclusive == refused:
                cases.append((f"{name}_at", key, as_text(key, bound)))
    return cases


class SchemaTest(unittest.TestCase):
    """The reader enforces each record of the schema, naming file, section and key."""

    def setUp(self) -> None:
        self.tmp = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, self.tmp)
        self.path = self.tmp / "broker.ini"

    def load(self, key: Key, text: str) -> Config:
        self.path.write_text(f"[{key.section}]\n{key.name} = {text}\n")
        return load_config(self.path)

    @parameterized.expand(bound_cases(refused=True))
    def test_value_beyond_a_bound_is_refused(self, _name: str, key: Key, text: str) -> None:
        with self.assertRaises(ConfigError) as caught:
            self.load(key, text)
        message = str(caught.exception)
        self.assertTrue(message.startswith(f"{self.path}: [{key.section}] {key.name}: "), message)
        self.assertIn("is out of range", message)
        self.assertNotIn("\n", message)

    @parameterized.expand(bound_cases(refused=False))
    def test_value_at_an_inclusive_bound_is_read(self, _name: str, key: Key, text: str) -> None:
        assert key.target is not None
        expected = int(text) if key.kind is Kind.INTEGER else float(text)
        self.assertEqual(getattr(section_of(self.load(key, text), key), key.target),
                         (expected,) if key.kind is Kind.NUMBERS else expected)

    @parameterized.expand([(f"{key.section}_{key.name}", key) for key in SCHEMA
                           if key.kind is Kind.CHOICE])
    def test_choices_are_enforced(self, _name: str, key: Key) -> None:
        assert key.target is not None
        for choice in key.choices:
            self.assertEqual(getattr(section_of(self.load(key, choice), key), key.target), choice)
        with self.assertRaises(ConfigError) as caught:
            self.load(key, "nonsense")
        self.assertEqual(str(caught.exception),
                         f"{self.path}: [{key.section}] {key.name}: 'nonsense' is not one of "
                         f"{', '.join(key.choices)}")

    @parameterized.expand([(f"{key.section}_{key.name}", key) for key in SCHEMA
                           if key.kind in (Kind.INTEGER, Kind.NUMBER, Kind.NUMBERS)])
    def test_text_is_not_a_number(self, _name: str, key: Key) -> None:
        with self.assertRaises(ConfigError) as caught:
            self.load(key, "abc")
        self.assertTrue(str(caught.exception).startswith(
            f"{self.path}: [{key.section}] {key.name}: 'abc' is not "), str(caught.exception))

    def test_every_stored_key_fills_a_field_with_the_schema_default(self) -> None:
        cwd = os.getcwd()
        os.chdir(self.tmp)
        self.addCleanup(os.chdir, cwd)
        with self.assertLogs("pv_simulator.config", "WARNING"):
            config = load_config(None)
        for key in SCHEMA:
            if key.target is None or key.default_factory is not None:
                continue
            settings = section_of(config, key)
            names = {f.name for f in dataclasses.fields(settings)}
            self.assertIn(key.target, names, key)
            self.assertEqual(getattr(settings, key.target), key.default, key)

    def test_every_key_has_a_one_line_meaning_and_a_known_section(self) -> None:
        self.assertEqual(SECTIONS, ("broker", "site", "pv", "meter", "output", "fleet", "battery",
                                    "control"))
        self.assertEqual(len({(key.section, key.name) for key in SCHEMA}), len(SCHEMA))
        for key in SCHEMA:
            self.assertTrue(key.meaning and "\n" not in key.meaning and "|" not in key.meaning, key)

    def test_schema_key_finds_a_record_or_says_which_is_missing(self) -> None:
        self.assertEqual(schema_key("pv", "losses_pct").high, 100.0)
        with self.assertRaisesRegex(KeyError, r"\[pv\] clouds"):
            schema_key("pv", "clouds")


class MarkdownTest(unittest.TestCase):
    def test_tables_have_a_row_per_key_with_bounds_and_default(self) -> None:
        tables = markdown_tables()
        rows = [line for line in tables.splitlines() if line.startswith("| `")]
        self.assertEqual(len(rows), len(SCHEMA))
        self.assertIn("| `losses_pct` | number in [0, 100) | 14.08 |", tables)
        self.assertIn("| `peak_power_kw` | number in (0, 1000000] | 4 |", tables)
        self.assertIn("| `fsync` | `batch`, `always` or `never` | batch |", tables)
        for section in SECTIONS:
            self.assertIn(f"### `[{section}]`", tables)

    def test_block_between_markers_is_replaced(self) -> None:
        document = f"intro\n{TABLES_START}\nstale\n{TABLES_END}\noutro\n"
        updated = with_markdown_tables(document)
        self.assertEqual(updated, f"intro\n{TABLES_START}\n{markdown_tables()}\n{TABLES_END}\noutro\n")
        self.assertEqual(with_markdown_tables(updated), updated)
        with self.assertRaises(ValueError):
            with_markdown_tables("no markers here\n")

    def test_command_prints_or_updates_the_tables(self) -> None:
        out = io.StringIO()
        with redirect_stdout(out):
            self.assertEqual(main(["--markdown"]), 0)
        self.assertEqual(out.getvalue(), markdown_tables() + "\n")
        readme = Path(tempfile.mkdtemp()) / "README.md"
        readme.write_text(f"# x\n{TABLES_START}\nold\n{TABLES_END}\n", encoding="utf-8")
        self.assertEqual(main(["--update-readme", str(readme)]), 0)
        self.assertIn(markdown_tables(), readme.read_text(encoding="utf-8"))
        readme.write_text("# no markers\n", encoding="utf-8")
        with redirect_stderr(io.StringIO()) as err, self.assertRaises(SystemExit) as caught:
            main(["--update-readme", str(readme)])
        self.assertEqual(caught.exception.code, 2)
        self.assertIn("config-tables", err.getvalue())

if __name__ == "__main__":
    unittest.main()


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
