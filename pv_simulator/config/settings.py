"""The typed settings one configuration file gives, section by section."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from pv_simulator.config.broker import BrokerConfig
from pv_simulator.config.schema import default


@dataclass(frozen=True)
class SiteConfig:
    """Where the household and its plant stand.

    The default site is Vienna, the site of the pvlib reference curves.
    """

    timezone: ZoneInfo
    latitude_deg: float = default("site", "latitude")
    longitude_deg: float = default("site", "longitude")
    altitude_m: float = default("site", "altitude_m")
    country: str = default("site", "country")
    subdivision: str | None = default("site", "subdivision")
    export_limit_w: float | None = default("site", "export_limit_w")


@dataclass(frozen=True)
class BatteryConfig:
    """Every house's home battery, unless its fleet row says otherwise; ``capacity_kwh`` 0: none.

    ``max_charge_kw`` and ``max_discharge_kw`` None: half the capacity per hour.
    """

    capacity_kwh: float = default("battery", "capacity_kwh")
    max_charge_kw: float | None = default("battery", "max_charge_kw")
    max_discharge_kw: float | None = default("battery", "max_discharge_kw")
    round_trip_efficiency: float = default("battery", "round_trip_efficiency")
    soc_min_pct: float = default("battery", "soc_min_pct")
    soc_max_pct: float = default("battery", "soc_max_pct")
    initial_soc_pct: float = default("battery", "initial_soc_pct")
    mode: str = default("battery", "mode")


def battery_problem(battery: BatteryConfig) -> tuple[str, str] | None:
    """(key, message) when a battery could not work with these state-of-charge bounds, else None.

    Checked for ``capacity_kwh`` > 0 when the file is read, and by the fleet's reader when only
    its rows give batteries.
    """
    if battery.soc_min_pct >= battery.soc_max_pct:
        return "soc_min_pct", (f"{battery.soc_min_pct:g} must be below soc_max_pct "
                               f"({battery.soc_max_pct:g})")
    if not battery.soc_min_pct <= battery.initial_soc_pct <= battery.soc_max_pct:
        return "initial_soc_pct", (f"{battery.initial_soc_pct:g} must lie within soc_min_pct "
                                   f"{battery.soc_min_pct:g} and soc_max_pct {battery.soc_max_pct:g}")
    return None


@dataclass(frozen=True)
class ControlConfig:
    """Whether the PV service takes commands."""

    enabled: bool = default("control", "enabled")


@dataclass(frozen=True)
class ModbusConfig:
    """The SunSpec Modbus TCP server: where it listens, whether writes command the sites."""

    port: int | None = default("modbus", "port")
    host: str = default("modbus", "host")
    control: bool = default("modbus", "control")


@dataclass(frozen=True)
class PvConfig:
    """The PV plant model and its parameters (see ``pv_model``)."""

    model: str = default("pv", "model")
    peak_power_kw: float = default("pv", "peak_power_kw")
    tilt_deg: float = default("pv", "tilt_deg")
    azimuth_deg: float = default("pv", "azimuth_deg")
    dc_ac_ratio: float = default("pv", "dc_ac_ratio")
    losses_pct: float = default("pv", "losses_pct")
    temperature_coefficient: float = default("pv", "temperature_coefficient")
    albedo: float = default("pv", "albedo")
    linke_turbidity: tuple[float, ...] | None = default("pv", "linke_turbidity")
    air_temperature_c: float | None = default("pv", "air_temperature_c")
    wind_speed_m_s: float = default("pv", "wind_speed_m_s")
    sky: str = default("pv", "sky")
    seed: int | None = default("pv", "seed")
    weather: Path | None = None  # the schema default: no file
    sky_climate: Path | None = None  # the schema default: no file
    monthly_clearness: tuple[float, ...] | None = default("pv", "monthly_clearness")


@dataclass(frozen=True)
class MeterConfig:
    """The household meter model and the publisher's buffer."""

    model: str = default("meter", "model")
    annual_energy_kwh: float = default("meter", "annual_energy_kwh")
    max_power_w: float = default("meter", "max_power_w")
    profile: str = default("meter", "profile")
    buffer_s: float = default("meter", "buffer_s")
    buffer_max_readings: int = default("meter", "buffer_max_readings")


@dataclass(frozen=True)
class OutputConfig:
    """How hard the PV service pushes rows to disk before acknowledging, and where rows are published."""

    fsync: str = default("output", "fsync")
    publish: bool = default("output", "publish")
    results_exchange: str = default("output", "results_exchange")
    home_assistant: bool = default("output", "home_assistant")
    discovery_prefix: str = default("output", "discovery_prefix")
    mqtt_port: int = default("output", "mqtt_port")
    expire_after_s: int = default("output", "expire_after")


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
    modbus: ModbusConfig = ModbusConfig()

    def is_given(self, section: str, key: str) -> bool:
        """Whether the file set ``[section] key`` rather than leaving it to its default."""
        return (section, key) in self.given

    @property
    def where(self) -> str:
        """The file's name for error messages, or "defaults" without one."""
        return str(self.path) if self.path is not None else "defaults"
