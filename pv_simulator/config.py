"""The INI configuration both services read, validated into typed settings.

Every key is declared once, as a :class:`Key` record in :data:`SCHEMA`: its section, name,
kind, default, bounds or choices and meaning. The reader, the unknown-section and unknown-key
checks, the error messages and the README's configuration tables (:func:`markdown_tables`) all
come from those records, so a new key is one record plus the typed attribute that holds it.

Every mistake a user can make in the file is a :class:`ConfigError` whose message names the
file, the section and key, and what was expected (``FILE: [section] key: message``), so the
command-line tools can print it as one line and exit with code 2.

``python -m pv_simulator.config --update-readme README.md`` rewrites the README's tables.
"""

from __future__ import annotations

import argparse
import configparser
import enum
import logging
import math
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, quote, unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pv_simulator.models.site import MODES, SELF_CONSUMPTION

log = logging.getLogger(__name__)

DEFAULT_CONFIG_FILE = "broker.ini"

PASSWORD_ENV = "PV_BROKER_PASSWORD"

AMQPS_PORT = 5671
"""The port with TLS when ``port`` is not given; without TLS it is the ``port`` key's default."""

TABLES_START = "<!-- config-tables:start -->"
TABLES_END = "<!-- config-tables:end -->"


class ConfigError(Exception):
    """A configuration file or value the services cannot use."""


class InvalidValue(ValueError):
    """A value a :class:`Key` refuses; the message is what the user reads after ``[section] key:``."""


class Kind(enum.Enum):
    """How a key's text becomes a value."""

    TEXT = "text"
    CHOICE = "choice"
    BOOLEAN = "boolean"
    INTEGER = "integer"
    NUMBER = "number"
    NUMBERS = "numbers"
    CUSTOM = "custom"


def _plain(value: float) -> str:
    """A bound or default as a person writes it: 1000000, not 1e+06."""
    return str(int(value)) if value == int(value) else repr(value)


def _finite_float(raw: str) -> float:
    value = float(raw)
    if not math.isfinite(value):
        raise ValueError(raw)
    return value


@dataclass(frozen=True)
class Key:
    """One INI key: where it lives, how it is read, its default, its bounds and its meaning.

    Bounds apply to INTEGER, NUMBER and each value of NUMBERS; ``low_exclusive`` and
    ``high_exclusive`` make them strict. CUSTOM keys convert with ``parse``, which raises
    :class:`InvalidValue` with its own message or ``ValueError`` for "'raw' is not ``expected``".
    ``attribute`` is the settings attribute the value fills when it differs from ``name``;
    ``combined`` keys are instead read by their section's builder together with others (the
    broker's url, hosts, TLS and password sources).
    """

    section: str
    name: str
    kind: Kind
    default: object
    meaning: str
    low: float = -math.inf
    high: float = math.inf
    low_exclusive: bool = False
    high_exclusive: bool = False
    choices: tuple[str, ...] = ()
    counts: tuple[int, ...] = ()
    parse: Callable[[str], object] | None = None
    expected: str = ""
    attribute: str | None = None
    combined: bool = False
    default_factory: Callable[[], object] | None = None
    shown_default: str | None = None

    @property
    def target(self) -> str | None:
        """The settings attribute this key fills, or None for a combined key."""
        return None if self.combined else self.attribute or self.name

    def read(self, raw: str | None) -> object:
        """The typed value of the key's text, or its default when the key is absent."""
        if raw is None:
            return self.default_factory() if self.default_factory else self.default
        return self.convert(raw.strip())

    def convert(self, raw: str) -> object:
        """The typed value of a given text; raises InvalidValue saying what is wrong."""
        if self.kind in (Kind.TEXT, Kind.CHOICE):
            if not raw:
                raise InvalidValue("must not be empty")
            if self.kind is Kind.CHOICE and raw not in self.choices:
                raise InvalidValue(f"{raw!r} is not one of {', '.join(self.choices)}")
            return raw
        if self.kind is Kind.BOOLEAN:
            state = configparser.ConfigParser.BOOLEAN_STATES.get(raw.lower())
            if state is None:
                raise InvalidValue(f"{raw!r} is not true or false")
            return state
        if self.kind is Kind.INTEGER:
            return self._within(self._parse(raw, int, "an integer"))
        if self.kind is Kind.NUMBER:
            return self._within(self._parse(raw, _finite_float, "a number"))
        if self.kind is Kind.NUMBERS:
            values = self._parse(raw, lambda text: tuple(_finite_float(part)
                                                         for part in text.split(",")),
                                 self.expected)
            if len(values) not in self.counts:
                raise InvalidValue(f"{raw!r} is not {self.expected}")
            return tuple(self._within(value) for value in values)
        if self.parse is None:
            raise TypeError(f"[{self.section}] {self.name}: a CUSTOM key needs parse")
        return self._parse(raw, self.parse, self.expected)

    @staticmethod
    def _parse(raw: str, parse: Callable[[str], Any], expected: str) -> Any:
        try:
            return parse(raw)
        except InvalidValue:
            raise
        except (ValueError, ZoneInfoNotFoundError):
            raise InvalidValue(f"{raw!r} is not {expected}") from None

    def _within(self, value: float) -> float:
        below = value < self.low or (self.low_exclusive and value == self.low)
        above = value > self.high or (self.high_exclusive and value == self.high)
        if not (below or above):
            return value
        if self.kind is Kind.INTEGER and not (self.low_exclusive or self.high_exclusive):
            raise InvalidValue(f"{value} is out of range {self.low:g}..{self.high:g}")
        parts = []
        if math.isfinite(self.low):
            parts.append(f"{'greater than' if self.low_exclusive else 'at least'} {self.low:g}")
        if math.isfinite(self.high):
            parts.append(f"{'less than' if self.high_exclusive else 'at most'} {self.high:g}")
        raise InvalidValue(f"{value:g} is out of range: must be {' and '.join(parts)}")

    def problem(self, value: float) -> str | None:
        """Why a number read elsewhere (a fleet file's cell) is out of this key's bounds, or None."""
        try:
            self._within(value)
        except InvalidValue as exc:
            return str(exc)
        return None

    def describe(self) -> str:
        """What the value may be, for the README."""
        if self.kind is Kind.CHOICE:
            quoted = [f"`{choice}`" for choice in self.choices]
            return f"{', '.join(quoted[:-1])} or {quoted[-1]}"
        if self.kind is Kind.BOOLEAN:
            return "`true` or `false`"
        if self.kind is Kind.INTEGER:
            return f"integer{self._range()}"
        if self.kind is Kind.NUMBER:
            return f"number{self._range()}"
        if self.kind is Kind.NUMBERS:
            return f"{self.expected}, each{self._range()}"
        if self.kind is Kind.TEXT:
            return "text"
        return self.expected

    def _range(self) -> str:
        low, high = math.isfinite(self.low), math.isfinite(self.high)
        if low and high:
            return (f" in {'(' if self.low_exclusive else '['}{_plain(self.low)}, "
                    f"{_plain(self.high)}{')' if self.high_exclusive else ']'}")
        if low:
            return f" {'>' if self.low_exclusive else '≥'} {_plain(self.low)}"
        if high:
            return f" {'<' if self.high_exclusive else '≤'} {_plain(self.high)}"
        return ""

    def shown(self) -> str:
        """The default as the README shows it."""
        if self.shown_default is not None:
            return self.shown_default
        if self.default is None:
            return "none"
        if isinstance(self.default, bool):
            return str(self.default).lower()
        if isinstance(self.default, (int, float)):
            return _plain(self.default)
        return str(self.default)


def local_timezone() -> ZoneInfo:
    """The machine's IANA time zone: ``TZ``, else ``/etc/localtime``, else UTC."""
    name = os.environ.get("TZ", "").lstrip(":")
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            log.warning("TZ=%r is not an IANA time zone; using /etc/localtime", name)
    localtime = Path("/etc/localtime")
    try:
        target = os.readlink(localtime)
    except OSError:
        target = ""
    if "zoneinfo/" in target:
        try:
            return ZoneInfo(target.split("zoneinfo/", 1)[1])
        except (ZoneInfoNotFoundError, ValueError):
            pass
    try:
        with localtime.open("rb") as tzfile:
            return ZoneInfo.from_file(tzfile, key="localtime")
    except (OSError, ValueError):
        return ZoneInfo("UTC")


def _timezone(raw: str) -> ZoneInfo:
    try:
        return ZoneInfo(raw)
    except OSError:
        raise ValueError(raw) from None  # a folder of zones such as "Europe"


def _mask(url: str) -> str:
    """A URL with its password replaced, for error messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)


def _urls(raw: str) -> tuple[SplitResult, ...]:
    """One or more amqp:// or amqps:// URLs; no message shows a password."""
    urls = []
    for item in raw.replace(",", " ").split():
        refused = InvalidValue(f"{_mask(item)!r} is not an amqp:// or amqps:// URL")
        try:
            url = urlsplit(item)
            _ = url.port  # raises ValueError on a port that is not a number in range
        except ValueError:
            raise refused from None
        if url.scheme not in ("amqp", "amqps") or not url.hostname:
            raise refused
        urls.append(url)
    if not urls:
        raise InvalidValue("must not be empty")
    if len({url.scheme for url in urls}) > 1:
        raise InvalidValue("mixes amqp:// and amqps://")
    return tuple(urls)


def _host_list(raw: str) -> tuple[tuple[str, int | None], ...]:
    """``host:port`` or ``host`` items; a missing port is None, for the builder to fill."""
    hosts: list[tuple[str, int | None]] = []
    for item in raw.replace(",", " ").split():
        if item.startswith("["):  # [IPv6]:port or [IPv6]
            host, _, port = item[1:].partition("]")
            port = port.removeprefix(":")
        elif item.count(":") == 1:
            host, _, port = item.partition(":")
        else:  # a name, or a bare IPv6 address without a port
            host, port = item, ""
        number = int(port) if port else None
        if not host or (number is not None and not 1 <= number <= 65535):
            raise ValueError(item)
        hosts.append((host, number))
    if not hosts:
        raise ValueError(raw)
    return tuple(hosts)


def _path(raw: str) -> Path:
    return Path(raw).expanduser()


def _readable_file(raw: str) -> Path | None:
    if not raw:
        return None
    path = _path(raw)
    if not path.is_file():
        raise InvalidValue(f"{path} is not a readable file")
    return path


def _optional_text(raw: str) -> str | None:
    return raw or None


def _relative_path(raw: str) -> Path:
    """A file name as written; `_build` makes a relative one relative to the configuration file."""
    if not raw:
        raise InvalidValue("must not be empty")
    return _path(raw)


def _country(raw: str) -> str:
    """An ISO 3166-1 alpha-2 code, upper case; whether holidays are known for it the meter checks."""
    if len(raw) != 2 or not raw.isalpha():
        raise ValueError(raw)
    return raw.upper()


SCHEMA: tuple[Key, ...] = (
    Key("broker", "host", Kind.TEXT, "localhost", "RabbitMQ host"),
    Key("broker", "port", Kind.INTEGER, 5672, "AMQP port", low=1, high=65535,
        shown_default=f"5672, {AMQPS_PORT} with TLS"),
    Key("broker", "virtual_host", Kind.TEXT, "/", "virtual host"),
    Key("broker", "username", Kind.TEXT, "guest",
        "login; logs show `amqp://user:***@host:port/vhost`"),
    Key("broker", "password", Kind.CUSTOM, "guest",
        "the login's password, never logged (see Passwords)", parse=str, expected="text"),
    Key("broker", "password_file", Kind.CUSTOM, None,
        f"read the password from this file; `{PASSWORD_ENV}` in the environment overrides it",
        parse=_path, expected="a file name", combined=True),
    Key("broker", "connection_attempts", Kind.INTEGER, 5,
        "tries to reach the broker at start before giving up (exit 1)", low=1, high=1000),
    Key("broker", "retry_delay", Kind.NUMBER, 2.0,
        "seconds before the second try, doubling (with jitter) up to 5 s (or retry_delay if "
        "larger): a broker that is back is found within seconds",
        low=0.0, high=3600.0, attribute="retry_delay_s"),
    Key("broker", "heartbeat", Kind.INTEGER, 30,
        "AMQP heartbeat, s: a dead broker is noticed within about twice that",
        low=0, high=3600, attribute="heartbeat_s"),
    Key("broker", "blocked_connection_timeout", Kind.NUMBER, 60.0,
        "s a connection may stay blocked by a broker alarm before it is dropped and retried",
        low=0.0, high=86400.0, low_exclusive=True, attribute="blocked_connection_timeout_s"),
    Key("broker", "url", Kind.CUSTOM, (),
        "the broker as `amqp[s]://user:password@host:port/vhost` URL(s), one per node, "
        "instead of the separate keys (see Broker addresses)",
        parse=_urls, expected="a list of amqp:// or amqps:// URLs", combined=True,
        shown_default="none"),
    Key("broker", "hosts", Kind.CUSTOM, (),
        "several `host:port` nodes tried in turn, instead of `host` and `port`",
        parse=_host_list, expected="a list of host:port", combined=True,
        shown_default="`host`:`port`"),
    Key("broker", "tls", Kind.BOOLEAN, False,
        "TLS, always verifying the broker's certificate (see TLS)", combined=True),
    Key("broker", "ca_file", Kind.CUSTOM, None,
        "CA certificate(s) that signed the broker's certificate; only with TLS",
        parse=_readable_file, expected="a readable file", combined=True,
        shown_default="the system's CAs"),
    Key("broker", "cert_file", Kind.CUSTOM, None,
        "client certificate, together with `key_file`; only with TLS",
        parse=_readable_file, expected="a readable file", combined=True),
    Key("broker", "key_file", Kind.CUSTOM, None,
        "the client certificate's unencrypted key; only with TLS",
        parse=_readable_file, expected="a readable file", combined=True),
    Key("broker", "server_hostname", Kind.CUSTOM, None,
        "name the broker's certificate is verified for; only with TLS",
        parse=_optional_text, expected="a host name", combined=True,
        shown_default="the host connected to"),
    Key("broker", "queue_type", Kind.CHOICE, "classic",
        "`quorum` replicates the meter queues over a cluster", choices=("classic", "quorum")),
    Key("broker", "layout", Kind.CHOICE, "queue_per_meter",
        "`queue_per_meter`: each meter's readings on a queue named after it; `partitioned`: "
        "on `partitions` queues shared by all meters, for thousands of meters (README: "
        "Layouts)", choices=("queue_per_meter", "partitioned")),
    Key("broker", "partitions", Kind.INTEGER, 4,
        "queues of the partitioned layout, `pv.readings.<N>p.0` to `.<N-1>`; a meter's are all "
        "on one, CRC-32 of its id modulo N; meters and PV services must agree", low=1, high=256),
    Key("site", "timezone", Kind.CUSTOM, None, "for file dates and local times",
        parse=_timezone, expected="an IANA time zone such as Europe/Vienna",
        default_factory=local_timezone, shown_default="the machine's zone"),
    Key("site", "latitude", Kind.NUMBER, 48.2, "the plant's site, degrees north (Vienna)",
        low=-90.0, high=90.0, attribute="latitude_deg"),
    Key("site", "longitude", Kind.NUMBER, 16.37, "the plant's site, degrees east (Vienna)",
        low=-180.0, high=180.0, attribute="longitude_deg"),
    Key("site", "altitude_m", Kind.NUMBER, 194.0, "the plant's height above sea level, m",
        low=-500.0, high=9000.0),
    Key("site", "country", Kind.CUSTOM, "DE",
        "country whose public holidays the household profile keeps (ISO 3166-1 alpha-2)",
        parse=_country, expected="a two-letter country code such as DE, AT or CH"),
    Key("site", "subdivision", Kind.CUSTOM, None,
        "state or region of `country` with its own holidays, e.g. BY (ISO 3166-2 suffix)",
        parse=_optional_text, expected="a subdivision code such as BY",
        shown_default="the country's national holidays"),
    Key("pv", "model", Kind.CHOICE, "solar",
        "`solar`: the physical chain; `reference`: the challenge's curve",
        choices=("solar", "reference")),
    Key("pv", "peak_power_kw", Kind.NUMBER, 4.0, "DC peak power of the modules, kW",
        low=0.0, high=1e6, low_exclusive=True),
    Key("pv", "tilt_deg", Kind.NUMBER, 30.0, "module tilt from horizontal, degrees",
        low=0.0, high=90.0),
    Key("pv", "azimuth_deg", Kind.NUMBER, 180.0,
        "module azimuth clockwise from north, degrees (180 = south)", low=0.0, high=360.0),
    Key("pv", "dc_ac_ratio", Kind.NUMBER, 1.2, "inverter AC limit = peak_power_kw / dc_ac_ratio",
        low=0.1, high=10.0),
    Key("pv", "losses_pct", Kind.NUMBER, 14.08,
        "PVWatts DC system losses (soiling, wiring, mismatch...), %",
        low=0.0, high=100.0, high_exclusive=True),
    Key("pv", "temperature_coefficient", Kind.NUMBER, -0.0035,
        "power temperature coefficient, 1/K (crystalline silicon about -0.0035)",
        low=-0.02, high=0.0),
    Key("pv", "albedo", Kind.NUMBER, 0.2, "ground reflectance", low=0.0, high=1.0),
    Key("pv", "linke_turbidity", Kind.NUMBERS, None,
        "haze of the clear sky; 12 values run January to December",
        low=1.0, high=10.0, counts=(1, 12),
        expected="one value or 12 comma-separated monthly values",
        shown_default="monthly climatology"),
    Key("pv", "air_temperature_c", Kind.NUMBER, None,
        "air temperature for the cell temperature, °C, constant; absent: the site's climate, a "
        "seasonal and daily cycle by latitude (see Weather). With `weather`: only where a generic "
        "file has no temperature column",
        low=-60.0, high=60.0, shown_default="climate"),
    Key("pv", "wind_speed_m_s", Kind.NUMBER, 1.0,
        "wind speed for the cell temperature, m/s; with `weather`: only where a generic file has "
        "no wind column", low=0.0, high=60.0),
    Key("pv", "sky", Kind.CHOICE, "variable",
        "`clear`: deterministic; `variable`: seeded clouds; not with `weather`",
        choices=("clear", "variable")),
    Key("pv", "weather", Kind.CUSTOM, None,
        "replay this weather file (EPW, TMY3, PVGIS csv/json/epw, generic CSV; see Weather), "
        "relative to the configuration file's folder; its irradiance, temperature and wind "
        "replace `sky`, `air_temperature_c` and `wind_speed_m_s`, its header's site [site]'s "
        "position unless given", parse=_relative_path, expected="a file name",
        shown_default="none: the modelled sky"),
    Key("pv", "seed", Kind.INTEGER, None, "same seed, same sky"),
    Key("meter", "model", Kind.CHOICE, "household",
        "`household`: the H0 load profile; `random-walk`: a bounded random walk",
        choices=("household", "random-walk")),
    Key("meter", "annual_energy_kwh", Kind.NUMBER, 4000.0, "the household's yearly consumption",
        low=0.0, high=1e7, low_exclusive=True),
    Key("meter", "max_power_w", Kind.NUMBER, 9000.0,
        "readings are clipped to it; the PV service rejects larger ones",
        low=0.0, high=1e7, low_exclusive=True),
    Key("meter", "profile", Kind.CHOICE, "h25",
        "`h25`: BDEW 2025 household profile with [site]'s public holidays; `h0`: the older VDEW H0",
        choices=("h25", "h0")),
    Key("meter", "buffer_s", Kind.NUMBER, 3600.0,
        "simulated seconds of readings per meter kept while the broker is away",
        low=0.0, high=30 * 86400.0),
    Key("meter", "buffer_max_readings", Kind.INTEGER, 500_000,
        "readings kept in all at most, whatever `buffer_s` asks (~200 bytes each: 10,000 meters "
        "at 1 s would otherwise buffer an hour, 7 GB)", low=1000, high=100_000_000),
    Key("output", "fsync", Kind.CHOICE, "batch",
        "`batch`: fsync each batch before acknowledging it; `always`: after each row; "
        "`never`: leave it to the OS", choices=("batch", "always", "never")),
    Key("fleet", "file", Kind.CUSTOM, None,
        "a fleet CSV, one row per house overriding [site], [pv] and [meter] (see Fleet), "
        "relative to the configuration file's folder", parse=_relative_path,
        expected="a file name", shown_default="none: every meter the configuration's house"),
    Key("output", "publish", Kind.BOOLEAN, False,
        "also publish each written row as a JSON result message (see Results stream); "
        "`--publish` turns it on too"),
    Key("output", "results_exchange", Kind.TEXT, "amq.topic",
        "the existing topic exchange the results go to, routing key `pv.results.<meter_id>`"),
    # The site: docs/site.md.
    Key("site", "export_limit_w", Kind.NUMBER, None,
        "the most the grid may take from the site, W; the PV is curtailed after the battery took "
        "what it can; 0 = zero feed-in", low=0.0, high=1e7),
    Key("battery", "capacity_kwh", Kind.NUMBER, 0.0,
        "usable capacity of the home battery, kWh; 0 = none (fleet column `battery_kwh`)",
        low=0.0, high=1e5),
    Key("battery", "max_charge_kw", Kind.NUMBER, None,
        "largest charging power, kW (fleet column `battery_kw`)", low=0.0, high=1e4,
        low_exclusive=True, shown_default="capacity_kwh / 2 h"),
    Key("battery", "max_discharge_kw", Kind.NUMBER, None,
        "largest discharging power, kW (fleet column `battery_kw`)", low=0.0, high=1e4,
        low_exclusive=True, shown_default="capacity_kwh / 2 h"),
    Key("battery", "round_trip_efficiency", Kind.NUMBER, 0.9,
        "share of the energy charged that a discharge gives back; sqrt of it each way",
        low=0.0, high=1.0, low_exclusive=True),
    Key("battery", "soc_min_pct", Kind.NUMBER, 5.0, "the state of charge it never discharges below, %",
        low=0.0, high=100.0),
    Key("battery", "soc_max_pct", Kind.NUMBER, 100.0, "the state of charge it never charges above, %",
        low=0.0, high=100.0),
    Key("battery", "initial_soc_pct", Kind.NUMBER, 50.0,
        "state of charge of a site's first row; after that the last row's", low=0.0, high=100.0),
    Key("battery", "mode", Kind.CHOICE, SELF_CONSUMPTION,
        "`self_consumption`: charge from surplus PV, discharge to cover the household; `idle`; "
        "`setpoint`: follow the commanded `battery_setpoint_w`", choices=MODES),
    Key("control", "enabled", Kind.BOOLEAN, False,
        "take commands on `amq.topic`, routing key `pv.control.<METER_ID>` (docs/site.md: only "
        "with a broker only trusted users can write to); `--control` turns it on too"),
)
"""Every key of every section, in the order the README lists them.

The bounds are the ones the models need, so a value the file accepts is one the plant can
simulate: ``peak_power_kw`` > 0; ``dc_ac_ratio`` >= 0.1, since an inverter ten times the array
is no design and the inverter rating divides by it; ``losses_pct`` < 100, so the plant produces
something; ``linke_turbidity`` 1 to 10, 1 being a clean dry Rayleigh atmosphere (no real sky is
clearer) and 10 a heavily polluted one; ``temperature_coefficient`` -0.02 to 0 per K: real
modules lie between about -0.002 (thin film) and -0.005 (older crystalline silicon), and at
-0.02 the PVWatts derate 1 + gamma (T - 25 C) already reaches zero at a 75 C cell, which a
summer roof attains, so anything steeper would switch a plant off on every hot day. It still
refuses the common slip of a value in %/K (-0.35).
"""

SECTIONS: tuple[str, ...] = tuple(dict.fromkeys(key.section for key in SCHEMA))
"""The sections a file may hold, in schema order."""


def schema_key(section: str, name: str) -> Key:
    """The record of ``[section] name``; KeyError when there is none."""
    for key in SCHEMA:
        if (key.section, key.name) == (section, name):
            return key
    raise KeyError(f"[{section}] {name}")


def _default(section: str, name: str) -> Any:
    """A key's default, for the settings class attribute it fills."""
    return schema_key(section, name).default


@dataclass(frozen=True)
class TlsConfig:
    """TLS towards the broker: the server's certificate and name are always verified."""

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    server_hostname: str | None = None


@dataclass(frozen=True)
class BrokerConfig:
    """Where and how to reach RabbitMQ.

    ``hosts`` lists every node to try, in turn; ``host`` and ``port`` are the first.
    """

    host: str = _default("broker", "host")
    port: int = _default("broker", "port")
    virtual_host: str = _default("broker", "virtual_host")
    username: str = _default("broker", "username")
    password: str = field(default=_default("broker", "password"), repr=False)
    connection_attempts: int = _default("broker", "connection_attempts")
    retry_delay_s: float = _default("broker", "retry_delay")
    heartbeat_s: int = _default("broker", "heartbeat")
    blocked_connection_timeout_s: float = _default("broker", "blocked_connection_timeout")
    tls: TlsConfig | None = None
    hosts: tuple[tuple[str, int], ...] = ()
    queue_type: str = _default("broker", "queue_type")
    layout: str = _default("broker", "layout")
    partitions: int = _default("broker", "partitions")

    def __post_init__(self) -> None:
        if not self.hosts:
            object.__setattr__(self, "hosts", ((self.host, self.port),))

    def url(self, host: str | None = None, port: int | None = None) -> str:
        """A node's address for logs and errors, password masked."""
        scheme = "amqps" if self.tls else "amqp"
        vhost = "" if self.virtual_host == "/" else quote(self.virtual_host, safe="")
        node = host or self.host
        if ":" in node:  # an IPv6 address: bracketed, as in any URL
            node = f"[{node}]"
        return (f"{scheme}://{quote(self.username, safe='')}:***@{node}:"
                f"{port or self.port}/{vhost}")


@dataclass(frozen=True)
class SiteConfig:
    """Where the household and its plant stand.

    The default site is Vienna, the site of the pvlib reference curves.
    """

    timezone: ZoneInfo
    latitude_deg: float = _default("site", "latitude")
    longitude_deg: float = _default("site", "longitude")
    altitude_m: float = _default("site", "altitude_m")
    country: str = _default("site", "country")
    subdivision: str | None = _default("site", "subdivision")
    export_limit_w: float | None = _default("site", "export_limit_w")


@dataclass(frozen=True)
class BatteryConfig:
    """Every house's home battery, unless its fleet row says otherwise; ``capacity_kwh`` 0: none.

    ``max_charge_kw`` and ``max_discharge_kw`` None: half the capacity per hour.
    """

    capacity_kwh: float = _default("battery", "capacity_kwh")
    max_charge_kw: float | None = _default("battery", "max_charge_kw")
    max_discharge_kw: float | None = _default("battery", "max_discharge_kw")
    round_trip_efficiency: float = _default("battery", "round_trip_efficiency")
    soc_min_pct: float = _default("battery", "soc_min_pct")
    soc_max_pct: float = _default("battery", "soc_max_pct")
    initial_soc_pct: float = _default("battery", "initial_soc_pct")
    mode: str = _default("battery", "mode")


@dataclass(frozen=True)
class ControlConfig:
    """Whether the PV service takes commands."""

    enabled: bool = _default("control", "enabled")


@dataclass(frozen=True)
class PvConfig:
    """The PV plant model and its parameters (see ``pv_model``)."""

    model: str = _default("pv", "model")
    peak_power_kw: float = _default("pv", "peak_power_kw")
    tilt_deg: float = _default("pv", "tilt_deg")
    azimuth_deg: float = _default("pv", "azimuth_deg")
    dc_ac_ratio: float = _default("pv", "dc_ac_ratio")
    losses_pct: float = _default("pv", "losses_pct")
    temperature_coefficient: float = _default("pv", "temperature_coefficient")
    albedo: float = _default("pv", "albedo")
    linke_turbidity: tuple[float, ...] | None = _default("pv", "linke_turbidity")
    air_temperature_c: float | None = _default("pv", "air_temperature_c")
    wind_speed_m_s: float = _default("pv", "wind_speed_m_s")
    sky: str = _default("pv", "sky")
    seed: int | None = _default("pv", "seed")
    weather: Path | None = None  # the schema default: no file


@dataclass(frozen=True)
class MeterConfig:
    """The household meter model and the publisher's buffer."""

    model: str = _default("meter", "model")
    annual_energy_kwh: float = _default("meter", "annual_energy_kwh")
    max_power_w: float = _default("meter", "max_power_w")
    profile: str = _default("meter", "profile")
    buffer_s: float = _default("meter", "buffer_s")
    buffer_max_readings: int = _default("meter", "buffer_max_readings")


@dataclass(frozen=True)
class OutputConfig:
    """How hard the PV service pushes rows to disk before acknowledging, and where rows are published."""

    fsync: str = _default("output", "fsync")
    publish: bool = _default("output", "publish")
    results_exchange: str = _default("output", "results_exchange")


@dataclass(frozen=True)
class FleetConfig:
    """The fleet file whose rows override the configuration per meter."""

    file: Path | None = None  # the schema default: no fleet


@dataclass(frozen=True)
class Config:
    """Everything read from one configuration file.

    ``given`` holds the ``(section, key)`` pairs the file set, for the values whose default
    another source replaces (a weather file's site) but an explicit key does not.
    """

    path: Path | None
    broker: BrokerConfig
    site: SiteConfig
    pv: PvConfig
    meter: MeterConfig
    output: OutputConfig
    fleet: FleetConfig = FleetConfig()
    given: frozenset[tuple[str, str]] = frozenset()
    battery: BatteryConfig = BatteryConfig()
    control: ControlConfig = ControlConfig()

    def is_given(self, section: str, key: str) -> bool:
        """Whether the file set ``[section] key`` rather than leaving it to its default."""
        return (section, key) in self.given

    @property
    def where(self) -> str:
        """The file's name for error messages, or "defaults" without one."""
        return str(self.path) if self.path is not None else "defaults"


class _Section:
    """One INI section read through its schema keys, each error naming file, section and key.

    Values are converted when first asked for, so the broker's builder reports a conflict
    between keys before a bad value of a key it would not use.
    """

    def __init__(self, where: str, name: str, raw: dict[str, str]) -> None:
        self.where = where
        self.name = name
        self.keys = {key.name: key for key in SCHEMA if key.section == name}
        for given in raw:
            if given not in self.keys:
                raise self.error(given, f"unknown key (known: {', '.join(sorted(self.keys))})")
        self._raw = raw
        self._values: dict[str, object] = {}

    def error(self, key: str, message: str) -> ConfigError:
        return ConfigError(f"{self.where}: [{self.name}] {key}: {message}")

    def given(self, key: str) -> bool:
        return key in self._raw

    def given_keys(self) -> tuple[str, ...]:
        return tuple(self._raw)

    def __getitem__(self, key: str) -> Any:
        if key not in self._values:
            try:
                self._values[key] = self.keys[key].read(self._raw.get(key))
            except InvalidValue as exc:
                raise self.error(key, str(exc)) from exc
        return self._values[key]

    def attributes(self) -> dict[str, Any]:
        """The settings attributes of the section's keys that are not combined."""
        return {key.target: self[key.name] for key in self.keys.values() if key.target}


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Read and validate the configuration.

    Args:
        path: the file the user named with ``-conf``; it must exist. ``None``
            means ``broker.ini`` in the working directory, and defaults with a
            warning when that file is absent.

    Returns:
        The validated configuration.

    Raises:
        ConfigError: the file cannot be read or parsed, or a section, key or
            value is not one the services know.
    """
    parser = configparser.ConfigParser(interpolation=None)
    if path is None:
        file = Path(DEFAULT_CONFIG_FILE)
        if not file.exists():
            log.warning("%s not found in %s: using the default configuration",
                        DEFAULT_CONFIG_FILE, Path.cwd())
            return _build("defaults", parser, None)
    else:
        file = Path(path)
    where = str(file)
    try:
        # utf-8-sig: editors on Windows start the file with a byte-order mark.
        with file.open(encoding="utf-8-sig") as handle:
            parser.read_file(handle)
    except FileNotFoundError:
        raise ConfigError(f"{where}: configuration file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{where}: is a directory, not a configuration file") from None
    except PermissionError:
        raise ConfigError(f"{where}: configuration file is not readable (permission denied)") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{where}: configuration file is not UTF-8 text") from None
    except configparser.Error as exc:
        first_line = str(exc).splitlines()[0]
        raise ConfigError(f"{where}: not a valid INI file: {first_line}") from None
    return _build(where, parser, file)


def _build(where: str, parser: configparser.ConfigParser, file: Path | None) -> Config:
    for name in parser.sections():
        if name not in SECTIONS:
            raise ConfigError(
                f"{where}: [{name}]: unknown section (known: {', '.join(sorted(SECTIONS))})")
    sections = {name: _Section(where, name, dict(parser[name]) if parser.has_section(name) else {})
                for name in SECTIONS}
    pv = sections["pv"]
    if pv.given("weather") and pv.given("sky"):
        raise pv.error("sky", "give either sky or weather, not both (a weather file brings "
                              "its own sky)")
    folder = file.parent if file is not None else Path(".")
    pv_settings = pv.attributes()
    fleet_settings = sections["fleet"].attributes()
    for settings, name in ((pv_settings, "weather"), (fleet_settings, "file")):
        if settings[name] is not None:
            settings[name] = folder / settings[name]
    return Config(
        path=file,
        broker=_broker(sections["broker"], file),
        site=SiteConfig(**sections["site"].attributes()),
        pv=PvConfig(**pv_settings),
        meter=MeterConfig(**sections["meter"].attributes()),
        output=OutputConfig(**sections["output"].attributes()),
        fleet=FleetConfig(**fleet_settings),
        given=frozenset((name, key) for name, section in sections.items()
                        for key in section.given_keys()),
        battery=_battery(sections["battery"]),
        control=ControlConfig(**sections["control"].attributes()),
    )


def battery_problem(battery: BatteryConfig) -> tuple[str, str] | None:
    """(key, message) when a battery could not work with these state-of-charge bounds, else None.

    Checked for ``capacity_kwh`` > 0 here, and by the fleet's reader when only its rows give
    batteries.
    """
    if battery.soc_min_pct >= battery.soc_max_pct:
        return "soc_min_pct", (f"{battery.soc_min_pct:g} must be below soc_max_pct "
                               f"({battery.soc_max_pct:g})")
    if not battery.soc_min_pct <= battery.initial_soc_pct <= battery.soc_max_pct:
        return "initial_soc_pct", (f"{battery.initial_soc_pct:g} must lie within soc_min_pct "
                                   f"{battery.soc_min_pct:g} and soc_max_pct {battery.soc_max_pct:g}")
    return None


def _battery(s: _Section) -> BatteryConfig:
    battery = BatteryConfig(**s.attributes())
    problem = battery_problem(battery) if battery.capacity_kwh > 0.0 else None
    if problem is not None:
        raise s.error(*problem)
    return battery


def _broker(s: _Section, file: Path | None) -> BrokerConfig:
    """The broker settings: url, hosts, TLS and password sources combined with the plain keys."""
    urls: tuple[SplitResult, ...] = s["url"] if s.given("url") else ()
    for key in ("host", "port", "hosts", "virtual_host", "username", "tls"):
        if urls and s.given(key):
            raise s.error(key, "give either url or the separate keys, not both")
    if s.given("hosts") and (s.given("host") or s.given("port")):
        raise s.error("hosts", "give either hosts or host and port, not both")
    first = urls[0] if urls else None
    tls = _tls(s, first.scheme == "amqps" if first else s["tls"])
    default_port = AMQPS_PORT if tls else s.keys["port"].default
    if first is not None:
        hosts = tuple((u.hostname or "localhost", u.port or default_port) for u in urls)
        virtual_host = unquote(first.path[1:]) if len(first.path) > 1 else s["virtual_host"]
        username = unquote(first.username) if first.username else s["username"]
    else:
        listed: tuple[tuple[str, int | None], ...] = s["hosts"]
        hosts = (tuple((host, default_port if port is None else port) for host, port in listed)
                 or ((s["host"], s["port"] if s.given("port") else default_port),))
        virtual_host = s["virtual_host"]
        username = s["username"]
    password = _password(s, file, unquote(first.password) if first and first.password else None)
    settings = s.attributes()
    settings.update(host=hosts[0][0], port=hosts[0][1], hosts=hosts, tls=tls,
                    virtual_host=virtual_host, username=username, password=password)
    return BrokerConfig(**settings)


def _password(s: _Section, file: Path | None, url_password: str | None) -> str:
    """The password from the environment, a password file, the file itself or the URL.

    A configuration file that holds a password and that others may read gets a warning.
    """
    if s.given("password") and s.given("password_file"):
        raise s.error("password_file", "give either password or password_file, not both")
    if ((s.given("password") or url_password) and file is not None
            and file.stat().st_mode & 0o044):
        log.warning("%s holds a broker password and is readable by others: chmod 600 it, or "
                    "use password_file or %s", file, PASSWORD_ENV)
    from_env = os.environ.get(PASSWORD_ENV)
    if from_env:
        return from_env
    if s.given("password_file"):
        path: Path = s["password_file"]
        try:
            return path.read_text(encoding="utf-8").strip("\r\n")
        except OSError as exc:
            raise s.error("password_file", f"cannot read {path}: {exc.strerror}") from None
    password: str = s["password"]
    return password if s.given("password") else url_password or password


def _tls(s: _Section, enabled: bool) -> TlsConfig | None:
    keys = ("ca_file", "cert_file", "key_file", "server_hostname")
    if not enabled:
        for key in keys:
            if s.given(key):
                raise s.error(key, "applies only with tls = true or an amqps:// url")
        return None
    ca_file, cert_file, key_file = s["ca_file"], s["cert_file"], s["key_file"]
    if (cert_file is None) != (key_file is None):
        raise s.error("key_file" if cert_file else "cert_file",
                      "a client certificate needs both cert_file and key_file")
    return TlsConfig(ca_file, cert_file, key_file, s["server_hostname"])


def markdown_tables() -> str:
    """The README's configuration tables, one per section, rendered from :data:`SCHEMA`."""
    blocks = []
    for section in SECTIONS:
        rows = [f"| `{key.name}` | {key.describe()} | {key.shown()} | {key.meaning} |"
                for key in SCHEMA if key.section == section]
        blocks.append("\n".join([f"### `[{section}]`", "", "| key | value | default | meaning |",
                                 "|---|---|---|---|", *rows]))
    return "\n\n".join(blocks)


def with_markdown_tables(document: str) -> str:
    """``document`` with the text between the config-tables markers replaced by the tables.

    Raises:
        ValueError: the document lacks a start marker followed by an end marker.
    """
    before, start, rest = document.partition(TABLES_START)
    _, end, after = rest.partition(TABLES_END)
    if not (start and end):
        raise ValueError(f"no {TABLES_START} ... {TABLES_END} block")
    return f"{before}{TABLES_START}\n{markdown_tables()}\n{TABLES_END}{after}"


def main(argv: Sequence[str] | None = None) -> int:
    """Print the configuration tables, or rewrite them in a README."""
    parser = argparse.ArgumentParser(prog="python -m pv_simulator.config",
                                     description="The configuration keys as Markdown tables.")
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--markdown", action="store_true", help="print the tables")
    action.add_argument("--update-readme", metavar="FILE", type=Path,
                        help=f"replace the tables between {TABLES_START} and {TABLES_END}")
    args = parser.parse_args(argv)
    if args.markdown:
        print(markdown_tables())
        return 0
    readme: Path = args.update_readme
    try:
        readme.write_text(with_markdown_tables(readme.read_text(encoding="utf-8")),
                          encoding="utf-8")
    except (OSError, ValueError) as exc:
        parser.error(f"{readme}: {exc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
