"""The conversions of the CUSTOM keys: text in, value out, or InvalidValue / ValueError saying why.

A plain ``ValueError`` becomes the key's "'raw' is not ``expected``" message (:meth:`Key.convert`).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import SplitResult, urlsplit
from zoneinfo import ZoneInfo

from pv_simulator.config.keys import InvalidValue


def zone(raw: str) -> ZoneInfo:
    """An IANA time zone such as Europe/Vienna."""
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


def urls(raw: str) -> tuple[SplitResult, ...]:
    """One or more amqp:// or amqps:// URLs; no message shows a password."""
    found = []
    for item in raw.replace(",", " ").split():
        refused = InvalidValue(f"{_mask(item)!r} is not an amqp:// or amqps:// URL")
        try:
            url = urlsplit(item)
            _ = url.port  # raises ValueError on a port that is not a number in range
        except ValueError:
            raise refused from None
        if url.scheme not in ("amqp", "amqps") or not url.hostname:
            raise refused
        found.append(url)
    if not found:
        raise InvalidValue("must not be empty")
    if len({url.scheme for url in found}) > 1:
        raise InvalidValue("mixes amqp:// and amqps://")
    return tuple(found)


def host_list(raw: str) -> tuple[tuple[str, int | None], ...]:
    """``host:port`` or ``host`` items; a missing port is None, for the broker's builder to fill."""
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


def path(raw: str) -> Path:
    """A file name, ``~`` expanded."""
    return Path(raw).expanduser()


def readable_file(raw: str) -> Path | None:
    """An existing file, or None for an empty value."""
    if not raw:
        return None
    file = path(raw)
    if not file.is_file():
        raise InvalidValue(f"{file} is not a readable file")
    return file


def optional_text(raw: str) -> str | None:
    """Text, or None for an empty value."""
    return raw or None


def relative_path(raw: str) -> Path:
    """A file name as written; the loader makes a relative one relative to the configuration file."""
    if not raw:
        raise InvalidValue("must not be empty")
    return path(raw)


def country(raw: str) -> str:
    """An ISO 3166-1 alpha-2 code, upper case; whether holidays are known for it the meter checks."""
    if len(raw) != 2 or not raw.isalpha():
        raise ValueError(raw)
    return raw.upper()
