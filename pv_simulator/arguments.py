"""Command-line value types shared by every CLI, so that a mistake reads the same in each.

Each is an ``argparse`` ``type=``: it returns the value or raises ``ArgumentTypeError`` with the
one phrase argparse puts after the option's name.
"""

from __future__ import annotations

import argparse
import math


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    return value


def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def positive(text: str) -> float:
    """A finite number above 0."""
    value = _number(text)
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive number")
    return value


def non_negative(text: str) -> float:
    """A finite number, 0 or above."""
    value = _number(text)
    if not (value >= 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"{text!r} must be 0 or a positive number")
    return value


def non_negative_int(text: str) -> int:
    """A whole number, 0 or above."""
    value = _whole(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be 0 or a positive whole number")
    return value


def positive_int(text: str) -> int:
    """A whole number, 1 or above."""
    value = _whole(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive whole number")
    return value


def hours(text: str) -> float:
    """A number of hours above 0, at most a year."""
    value = _number(text)
    if not (0 < value <= 24 * 366 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"{text!r} must be a number of hours above 0, at most a year")
    return value


def port(text: str) -> int:
    """A TCP port, 0 (any free one) to 65535."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not in 0..65535")
    return value


def url_host(host: str) -> str:
    """``host`` as it stands in a URL: an IPv6 address in brackets."""
    return f"[{host}]" if ":" in host else host
