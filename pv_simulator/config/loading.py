"""Reading a configuration file: INI syntax, sections and keys checked, settings built."""

from __future__ import annotations

import configparser
import logging
import os
from pathlib import Path

from pv_simulator.config.broker import resolve_broker
from pv_simulator.config.schema import SECTIONS
from pv_simulator.config.section import ConfigError, Section
from pv_simulator.config.settings import (
    BatteryConfig,
    Config,
    ControlConfig,
    FleetConfig,
    MeterConfig,
    ModbusConfig,
    OutputConfig,
    PvConfig,
    SiteConfig,
    battery_problem,
)

log = logging.getLogger(__name__)

DEFAULT_CONFIG_FILE = "broker.ini"


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
    sections = {name: Section(where, name, dict(parser[name]) if parser.has_section(name) else {})
                for name in SECTIONS}
    pv = sections["pv"]
    if pv.given("weather") and pv.given("sky"):
        raise pv.error("sky", "give either sky or weather, not both (a weather file brings "
                              "its own sky)")
    folder = file.parent if file is not None else Path(".")
    pv_settings = pv.attributes()
    fleet_settings = sections["fleet"].attributes()
    if pv.given("sky_climate") and pv.given("monthly_clearness"):
        raise pv.error("monthly_clearness", "give either sky_climate or monthly_clearness, "
                                            "not both")
    for settings, name in ((pv_settings, "weather"), (pv_settings, "sky_climate"),
                           (fleet_settings, "file")):
        if settings[name] is not None:
            settings[name] = folder / settings[name]
    return Config(
        path=file,
        broker=resolve_broker(sections["broker"], file),
        site=SiteConfig(**sections["site"].attributes()),
        pv=PvConfig(**pv_settings),
        meter=MeterConfig(**sections["meter"].attributes()),
        output=OutputConfig(**sections["output"].attributes()),
        fleet=FleetConfig(**fleet_settings),
        given=frozenset((name, key) for name, section in sections.items()
                        for key in section.given_keys()),
        battery=_battery(sections["battery"]),
        control=ControlConfig(**sections["control"].attributes()),
        modbus=ModbusConfig(**sections["modbus"].attributes()),
    )


def _battery(s: Section) -> BatteryConfig:
    battery = BatteryConfig(**s.attributes())
    problem = battery_problem(battery) if battery.capacity_kwh > 0.0 else None
    if problem is not None:
        raise s.error(*problem)
    return battery
