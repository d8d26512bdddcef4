"""How one key's text becomes a value: the :class:`Key` record, its kinds and bounds, and the
message a refused value gets."""

from __future__ import annotations

import configparser
import enum
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfoNotFoundError

from pv_simulator.numbers import finite_float


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
                raise InvalidValue(f"{raw!r} is not true or false (nor yes/no, on/off, 1/0)")
            return state
        if self.kind is Kind.INTEGER:
            return self._within(self._parse(raw, int, "an integer"))
        if self.kind is Kind.NUMBER:
            return self._within(self._parse(raw, finite_float, "a number"))
        if self.kind is Kind.NUMBERS:
            values = self._parse(raw, lambda text: tuple(finite_float(part)
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
            return "`true` or `false` (also `yes`/`no`, `on`/`off`, `1`/`0`)"
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
