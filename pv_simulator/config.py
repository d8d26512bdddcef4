"""The INI configuration both services read, validated into typed settings.

Every mistake a user can make in the file is a :class:`ConfigError` whose
message names the file, the section and key, and what was expected, so the
command-line tools can print it as one line and exit with code 2.
"""

from __future__ import annotations

import configparser
import logging
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar
from urllib.parse import SplitResult, quote, unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

log = logging.getLogger(__name__)

DEFAULT_CONFIG_FILE = "broker.ini"

T = TypeVar("T")


class ConfigError(Exception):
    """A configuration file or value the services cannot use."""


PASSWORD_ENV = "PV_BROKER_PASSWORD"


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

    host: str = "localhost"
    port: int = 5672
    virtual_host: str = "/"
    username: str = "guest"
    password: str = field(default="guest", repr=False)
    connection_attempts: int = 5
    retry_delay_s: float = 2.0
    heartbeat_s: int = 30
    blocked_connection_timeout_s: float = 60.0
    tls: TlsConfig | None = None
    hosts: tuple[tuple[str, int], ...] = ()
    queue_type: str = "classic"

    def __post_init__(self) -> None:
        if not self.hosts:
            object.__setattr__(self, "hosts", ((self.host, self.port),))

    def url(self, host: str | None = None, port: int | None = None) -> str:
        """A node's address for logs and errors, password masked."""
        scheme = "amqps" if self.tls else "amqp"
        vhost = "" if self.virtual_host == "/" else quote(self.virtual_host, safe="")
        return (f"{scheme}://{quote(self.username, safe='')}:***@{host or self.host}:"
                f"{port or self.port}/{vhost}")


@dataclass(frozen=True)
class SiteConfig:
    """Where the household and its plant stand.

    The default site is Vienna, the site of the pvlib reference curves.
    """

    timezone: ZoneInfo
    latitude_deg: float = 48.2
    longitude_deg: float = 16.37
    altitude_m: float = 194.0


@dataclass(frozen=True)
class PvConfig:
    """The PV plant model and its parameters (see ``pv_model``)."""

    model: str = "solar"
    peak_power_kw: float = 4.0
    tilt_deg: float = 30.0
    azimuth_deg: float = 180.0
    dc_ac_ratio: float = 1.2
    losses_pct: float = 14.08
    temperature_coefficient: float = -0.0035
    albedo: float = 0.2
    linke_turbidity: tuple[float, ...] | None = None
    air_temperature_c: float = 20.0
    wind_speed_m_s: float = 1.0
    sky: str = "variable"
    seed: int | None = None


@dataclass(frozen=True)
class MeterConfig:
    """The household meter model and the publisher's buffer."""

    model: str = "household"
    annual_energy_kwh: float = 4000.0
    max_power_w: float = 9000.0
    buffer_s: float = 3600.0


@dataclass(frozen=True)
class OutputConfig:
    """How hard the PV service pushes rows to disk before acknowledging."""

    fsync: str = "batch"


@dataclass(frozen=True)
class Config:
    """Everything read from one configuration file."""

    path: Path | None
    broker: BrokerConfig
    site: SiteConfig
    pv: PvConfig
    meter: MeterConfig
    output: OutputConfig


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


class _Section:
    """Typed reads of one INI section, each error naming file, section and key."""

    def __init__(self, where: str, parser: configparser.ConfigParser, name: str,
                 known: set[str]) -> None:
        self.where = where
        self.name = name
        self.values: dict[str, str] = dict(parser[name]) if parser.has_section(name) else {}
        for key in self.values:
            if key not in known:
                raise ConfigError(
                    f"{where}: [{name}] {key}: unknown key (known: {', '.join(sorted(known))})")

    def error(self, key: str, message: str) -> ConfigError:
        return ConfigError(f"{self.where}: [{self.name}] {key}: {message}")

    def get(self, key: str, default: T, convert: Callable[[str], T], expected: str) -> T:
        raw = self.values.get(key)
        if raw is None:
            return default
        raw = raw.strip()
        try:
            return convert(raw)
        except (ValueError, ZoneInfoNotFoundError) as exc:
            raise self.error(key, f"{raw!r} is not {expected}") from exc

    def text(self, key: str, default: str) -> str:
        value = self.values.get(key, default).strip()
        if not value:
            raise self.error(key, "must not be empty")
        return value

    def choice(self, key: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.text(key, default)
        if value not in choices:
            raise self.error(key, f"{value!r} is not one of {', '.join(choices)}")
        return value

    def number(self, key: str, default: float, low: float = -math.inf,
               high: float = math.inf, *, strict_low: bool = False) -> float:
        value = self.get(key, default, _finite_float, "a number")
        if value < low or value > high or (strict_low and value == low):
            bound = f"greater than {low:g}" if strict_low else f"at least {low:g}"
            if math.isfinite(high):
                bound = f"{bound} and at most {high:g}"
            raise self.error(key, f"{value:g} is out of range: must be {bound}")
        return value

    def integer(self, key: str, default: int, low: int, high: int) -> int:
        value = self.get(key, default, int, "an integer")
        if not low <= value <= high:
            raise self.error(key, f"{value} is out of range {low}..{high}")
        return value

    def optional_int(self, key: str) -> int | None:
        if key not in self.values:
            return None
        return self.get(key, 0, int, "an integer")


def _finite_float(raw: str) -> float:
    value = float(raw)
    if not math.isfinite(value):
        raise ValueError(raw)
    return value


def _linke_values(raw: str) -> tuple[float, ...]:
    values = tuple(_finite_float(part) for part in raw.split(","))
    if len(values) not in (1, 12) or any(value <= 0 for value in values):
        raise ValueError(raw)
    return values


_KNOWN = {
    "broker": {"host", "port", "virtual_host", "username", "password", "connection_attempts",
               "retry_delay", "heartbeat", "blocked_connection_timeout", "url", "hosts",
               "password_file", "tls", "ca_file", "cert_file", "key_file", "server_hostname",
               "queue_type"},
    "site": {"timezone", "latitude", "longitude", "altitude_m"},
    "pv": {"model", "peak_power_kw", "tilt_deg", "azimuth_deg", "dc_ac_ratio", "losses_pct",
           "temperature_coefficient", "albedo", "linke_turbidity", "air_temperature_c",
           "wind_speed_m_s", "sky", "seed"},
    "meter": {"model", "annual_energy_kwh", "max_power_w", "buffer_s"},
    "output": {"fsync"},
}


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
        with file.open(encoding="utf-8") as handle:
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
        if name not in _KNOWN:
            raise ConfigError(
                f"{where}: [{name}]: unknown section (known: {', '.join(sorted(_KNOWN))})")
    sections = {name: _Section(where, parser, name, keys) for name, keys in _KNOWN.items()}
    return Config(
        path=file,
        broker=_broker(sections["broker"], file),
        site=_site(sections["site"]),
        pv=_pv(sections["pv"]),
        meter=_meter(sections["meter"]),
        output=OutputConfig(fsync=sections["output"].choice(
            "fsync", "batch", ("batch", "always", "never"))),
    )


def _broker(s: _Section, file: Path | None) -> BrokerConfig:
    d = BrokerConfig()
    urls = _urls(s) if "url" in s.values else []
    for key in ("host", "port", "hosts", "virtual_host", "username", "tls"):
        if urls and key in s.values:
            raise s.error(key, "give either url or the separate keys, not both")
    if "hosts" in s.values and ("host" in s.values or "port" in s.values):
        raise s.error("hosts", "give either hosts or host and port, not both")
    first = urls[0] if urls else None
    tls = _tls(s, first.scheme == "amqps" if first else s.get(
        "tls", False, _boolean, "true or false"))
    default_port = 5671 if tls else 5672
    if urls:
        hosts = tuple((u.hostname or "localhost", u.port or default_port) for u in urls)
        virtual_host = unquote(first.path[1:]) if first and len(first.path) > 1 else "/"
        username = unquote(first.username) if first and first.username else d.username
    else:
        hosts = (s.get("hosts", (), _host_list(default_port), "a list of host:port")
                 or ((s.text("host", d.host), s.integer("port", default_port, 1, 65535)),))
        virtual_host = s.text("virtual_host", d.virtual_host)
        username = s.text("username", d.username)
    url_password = unquote(first.password) if first and first.password else None
    return BrokerConfig(
        host=hosts[0][0],
        port=hosts[0][1],
        hosts=hosts,
        tls=tls,
        virtual_host=virtual_host,
        username=username,
        password=_password(s, file, url_password),
        queue_type=s.choice("queue_type", d.queue_type, ("classic", "quorum")),
        connection_attempts=s.integer("connection_attempts", d.connection_attempts, 1, 1000),
        retry_delay_s=s.number("retry_delay", d.retry_delay_s, 0.0, 3600.0),
        heartbeat_s=s.integer("heartbeat", d.heartbeat_s, 0, 3600),
        blocked_connection_timeout_s=s.number(
            "blocked_connection_timeout", d.blocked_connection_timeout_s, 0.0, 86400.0,
            strict_low=True),
    )


def _boolean(raw: str) -> bool:
    lowered = raw.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(raw)


def _host_list(default_port: int) -> Callable[[str], tuple[tuple[str, int], ...]]:
    def convert(raw: str) -> tuple[tuple[str, int], ...]:
        hosts = []
        for item in raw.replace(",", " ").split():
            host, _, port = item.rpartition(":") if ":" in item else (item, "", "")
            number = int(port) if port else default_port
            if not host or not 1 <= number <= 65535:
                raise ValueError(item)
            hosts.append((host, number))
        if not hosts:
            raise ValueError(raw)
        return tuple(hosts)
    return convert


def _urls(s: _Section) -> list[SplitResult]:
    urls = []
    for raw in s.values["url"].replace(",", " ").split():
        try:
            url = urlsplit(raw)
            _ = url.port  # raises ValueError on a port that is not a number in range
        except ValueError:
            raise s.error("url", f"{_mask(raw)!r} is not an amqp:// or amqps:// URL") from None
        if url.scheme not in ("amqp", "amqps") or not url.hostname:
            raise s.error("url", f"{_mask(raw)!r} is not an amqp:// or amqps:// URL")
        urls.append(url)
    if not urls:
        raise s.error("url", "must not be empty")
    if len({u.scheme for u in urls}) > 1:
        raise s.error("url", "mixes amqp:// and amqps://")
    return urls


def _mask(url: str) -> str:
    """A URL with its password replaced, for error messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)


def _password(s: _Section, file: Path | None, url_password: str | None) -> str:
    """The password from the environment, a password file, the file itself or the URL.

    A configuration file that holds a password and that others may read gets a warning.
    """
    if "password" in s.values and "password_file" in s.values:
        raise s.error("password_file", "give either password or password_file, not both")
    if (("password" in s.values or url_password) and file is not None
            and file.stat().st_mode & 0o044):
        log.warning("%s holds a broker password and is readable by others: chmod 600 it, or "
                    "use password_file or %s", file, PASSWORD_ENV)
    from_env = os.environ.get(PASSWORD_ENV)
    if from_env:
        return from_env
    if "password_file" in s.values:
        path = Path(s.values["password_file"].strip()).expanduser()
        try:
            return path.read_text(encoding="utf-8").strip("\r\n")
        except OSError as exc:
            raise s.error("password_file", f"cannot read {path}: {exc.strerror}") from None
    if "password" in s.values:
        return s.values["password"]
    return url_password or BrokerConfig.password


def _tls(s: _Section, enabled: bool) -> TlsConfig | None:
    keys = ("ca_file", "cert_file", "key_file", "server_hostname")
    if not enabled:
        for key in keys:
            if key in s.values:
                raise s.error(key, "applies only with tls = true or an amqps:// url")
        return None
    files: dict[str, Path | None] = {}
    for key in keys[:3]:
        raw = s.values.get(key, "").strip()
        path = Path(raw).expanduser() if raw else None
        if path is not None and not path.is_file():
            raise s.error(key, f"{path} is not a readable file")
        files[key] = path
    if (files["cert_file"] is None) != (files["key_file"] is None):
        raise s.error("key_file" if files["cert_file"] else "cert_file",
                      "a client certificate needs both cert_file and key_file")
    hostname = s.values.get("server_hostname", "").strip() or None
    return TlsConfig(files["ca_file"], files["cert_file"], files["key_file"], hostname)


def _site(s: _Section) -> SiteConfig:
    timezone = s.get("timezone", local_timezone(), ZoneInfo,
                     "an IANA time zone such as Europe/Vienna")
    d = SiteConfig(timezone=timezone)
    return SiteConfig(
        timezone=timezone,
        latitude_deg=s.number("latitude", d.latitude_deg, -90.0, 90.0),
        longitude_deg=s.number("longitude", d.longitude_deg, -180.0, 180.0),
        altitude_m=s.number("altitude_m", d.altitude_m, -500.0, 9000.0),
    )


def _pv(s: _Section) -> PvConfig:
    d = PvConfig()
    return PvConfig(
        model=s.choice("model", d.model, ("solar", "reference")),
        peak_power_kw=s.number("peak_power_kw", d.peak_power_kw, 0.0, 1e6, strict_low=True),
        tilt_deg=s.number("tilt_deg", d.tilt_deg, 0.0, 90.0),
        azimuth_deg=s.number("azimuth_deg", d.azimuth_deg, 0.0, 360.0),
        dc_ac_ratio=s.number("dc_ac_ratio", d.dc_ac_ratio, 0.0, 10.0, strict_low=True),
        losses_pct=s.number("losses_pct", d.losses_pct, 0.0, 100.0),
        temperature_coefficient=s.number("temperature_coefficient", d.temperature_coefficient,
                                         -0.05, 0.0),
        albedo=s.number("albedo", d.albedo, 0.0, 1.0),
        linke_turbidity=s.get("linke_turbidity", d.linke_turbidity, _linke_values,
                              "one positive number or 12 comma-separated monthly values"),
        air_temperature_c=s.number("air_temperature_c", d.air_temperature_c, -60.0, 60.0),
        wind_speed_m_s=s.number("wind_speed_m_s", d.wind_speed_m_s, 0.0, 60.0),
        sky=s.choice("sky", d.sky, ("clear", "variable")),
        seed=s.optional_int("seed"),
    )


def _meter(s: _Section) -> MeterConfig:
    d = MeterConfig()
    return MeterConfig(
        model=s.choice("model", d.model, ("household", "random-walk")),
        annual_energy_kwh=s.number("annual_energy_kwh", d.annual_energy_kwh, 0.0, 1e7,
                                   strict_low=True),
        max_power_w=s.number("max_power_w", d.max_power_w, 0.0, 1e7, strict_low=True),
        buffer_s=s.number("buffer_s", d.buffer_s, 0.0, 30 * 86400.0),
    )
