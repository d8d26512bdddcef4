"""How to reach RabbitMQ: the broker's settings and how its keys combine (url or separate keys,
several hosts, TLS, the password's sources)."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import SplitResult, quote, unquote

from pv_simulator.config.schema import AMQPS_PORT, PASSWORD_ENV, default
from pv_simulator.config.section import Section

log = logging.getLogger(__name__)


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

    host: str = default("broker", "host")
    port: int = default("broker", "port")
    virtual_host: str = default("broker", "virtual_host")
    username: str = default("broker", "username")
    password: str = field(default=default("broker", "password"), repr=False)
    connection_attempts: int = default("broker", "connection_attempts")
    retry_delay_s: float = default("broker", "retry_delay")
    heartbeat_s: int = default("broker", "heartbeat")
    blocked_connection_timeout_s: float = default("broker", "blocked_connection_timeout")
    tls: TlsConfig | None = None
    hosts: tuple[tuple[str, int], ...] = ()
    queue_type: str = default("broker", "queue_type")
    layout: str = default("broker", "layout")
    partitions: int = default("broker", "partitions")
    readings_per_message: int = default("broker", "readings_per_message")
    transport: str = default("broker", "transport")

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


def resolve_broker(s: Section, file: Path | None) -> BrokerConfig:
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


def _password(s: Section, file: Path | None, url_password: str | None) -> str:
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


def _tls(s: Section, enabled: bool) -> TlsConfig | None:
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
