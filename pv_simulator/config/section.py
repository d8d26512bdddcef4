"""One INI section read through its schema keys, and the error every mistake in a file becomes."""

from __future__ import annotations

from typing import Any

from pv_simulator.config.keys import InvalidValue
from pv_simulator.config.schema import SCHEMA


class ConfigError(Exception):
    """A configuration file or value the services cannot use."""


class Section:
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
