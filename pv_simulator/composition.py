"""From configuration and fleet file to the models each meter uses and the services that run
them: the services' composition.

The configuration describes one house; a fleet file (``[fleet] file``, see `pv_simulator.fleet`)
overrides it row by row. Every error a user can make here is a `ConfigError` of one line naming
the file, key or fleet line and column, raised before either service connects.

PV plants are built once per distinct set of parameters, so meters with the same plant share
one model object (and the PV service computes it once per timestamp for all of them). Meters
of one site share more than that even with different plants: one variable sky per seed,
whole degree of latitude and climate (same clouds; the latitude sets the default climate) and one
`WeatherSource` per weather file and site (one parse, one cache, the same weather).

`build_meter_service` and `build_pv_service` wire a whole service (models, connection,
output, metrics) from a configuration and the command line's options, so the command line
only parses, runs and reports. The metrics module knows no service: the counters that read
a service's counts are registered here.
"""

from __future__ import annotations

import hashlib
import logging
import math
import resource
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from importlib import metadata
from pathlib import Path

from pv_simulator.config import BrokerConfig, Config, ConfigError, schema_key
from pv_simulator.config.settings import battery_problem
from pv_simulator.fleet import FleetError, FleetMember, read_fleet
from pv_simulator.messaging.connection import Connection
from pv_simulator.messaging.mqtt import MqttPublisher
from pv_simulator.messaging.port import Layout
from pv_simulator.messaging.rabbitmq import RabbitConnector, retry_policy
from pv_simulator.models import household, pv_plant
from pv_simulator.models.random_walk import MeterModel, RandomWalkModel
from pv_simulator.models.seeds import meter_stream
from pv_simulator.models.site import Site, default_power_kw
from pv_simulator.models.sky import VariableSky
from pv_simulator.models.sky_climate import (
    ClimateSky,
    SkyClimate,
    SkyClimateError,
    climate_from_monthly_clearness,
    climate_from_weather,
    default_sky,
)
from pv_simulator.models.weather import WeatherSource
from pv_simulator.models.weather_checks import weather_warnings
from pv_simulator.models.weather_files import WeatherFile, WeatherFileError, read_weather_file
from pv_simulator.services.clock import SimClock
from pv_simulator.services.control import CommandInbox
from pv_simulator.services.energy import EnergyCounters, EnergyCsvOutput
from pv_simulator.services.home_assistant import HomeAssistantOutput, availability_topic
from pv_simulator.services.layouts import other_layout, queues_of, stranded_check
from pv_simulator.services.meter import MeterService
from pv_simulator.services.metrics import Metrics, pv_service_metrics
from pv_simulator.services.pv_service import PvService
from pv_simulator.services.results import Accepted, ResultStream
from pv_simulator.storage.csv_store import CsvOutput, check_output_dir
from pv_simulator.sunspec.register_map import Nameplate, assign_units
from pv_simulator.sunspec.rows import InverterTemperatures, file_row, written_row
from pv_simulator.sunspec.server import SunSpecServer

log = logging.getLogger(__name__)

SITE_DISTANCE_WARNING_KM = 50.0
"""A [site] this far from the weather file's own site gets a warning: its weather is elsewhere's."""

EARTH_RADIUS_KM = 6371.0088
"""Mean Earth radius (IUGG), for the haversine distance."""

# Fleet columns checked against the bounds of these schema keys.
_FLEET_BOUNDS = {
    "latitude": ("site", "latitude"),
    "longitude": ("site", "longitude"),
    "altitude_m": ("site", "altitude_m"),
    "peak_power_kw": ("pv", "peak_power_kw"),
    "tilt_deg": ("pv", "tilt_deg"),
    "azimuth_deg": ("pv", "azimuth_deg"),
    "dc_ac_ratio": ("pv", "dc_ac_ratio"),
    "losses_pct": ("pv", "losses_pct"),
    "annual_energy_kwh": ("meter", "annual_energy_kwh"),
    "sky_seed": ("pv", "seed"),
    "battery_kwh": ("battery", "capacity_kwh"),
    "battery_kw": ("battery", "max_charge_kw"),
}


def haversine_km(lat_a: float, lon_a: float, lat_b: float, lon_b: float) -> float:
    """Great-circle distance on a sphere (R. W. Sinnott, "Virtues of the haversine",
    Sky and Telescope 68 (1984) 159)."""
    phi_a, phi_b = math.radians(lat_a), math.radians(lat_b)
    half_dphi = (phi_b - phi_a) / 2.0
    half_dlambda = math.radians(lon_b - lon_a) / 2.0
    h = math.sin(half_dphi) ** 2 + math.cos(phi_a) * math.cos(phi_b) * math.sin(half_dlambda) ** 2
    return 2.0 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def fleet_check(column: str, value: float) -> str | None:
    """`read_fleet`'s range check: the configuration schema's bounds; peak 0 is a house without PV."""
    if column == "peak_power_kw" and value == 0.0:
        return None
    section, name = _FLEET_BOUNDS[column]
    return schema_key(section, name).problem(value)


def load_fleet(config: Config) -> list[FleetMember] | None:
    """The fleet file's houses with their weather files made relative to the fleet file's
    folder, or None without ``[fleet] file``."""
    path = config.fleet.file
    if path is None:
        return None
    try:
        members = read_fleet(path, check=fleet_check)
    except FleetError as exc:
        raise ConfigError(str(exc)) from None
    choices = schema_key("meter", "model").choices
    checked = []
    for member in members:
        if member.meter_model is not None and member.meter_model not in choices:
            raise ConfigError(f"{path}: meter {member.meter_id}: column 'meter_model': "
                              f"{member.meter_model!r} is not one of {', '.join(choices)}")
        if member.weather is not None:
            member = replace(member, weather=str(path.parent / Path(member.weather).expanduser()))
        if member.sky_climate is not None:
            member = replace(member, sky_climate=str(
                path.parent / Path(member.sky_climate).expanduser()))
        problem = battery_problem(config.battery) if member.battery_kwh else None
        if problem is not None:
            raise ConfigError(f"{config.where}: [battery] {problem[0]}: {problem[1]} (meter "
                              f"{member.meter_id} of {path} has a battery)")
        checked.append(member)
    return checked


def validate(config: Config) -> None:
    """What both services refuse alike, so that one file is never judged two ways.

    Raises:
        ConfigError: naming the key (or keys) at fault.
    """
    check_holidays(config)
    if config.pv.model == "reference":
        for section, key, given in (("pv", "weather", config.pv.weather is not None),
                                    ("fleet", "file", config.fleet.file is not None)):
            if given:
                raise ConfigError(f"{config.where}: [pv] model = reference and [{section}] {key}: "
                                  "the challenge's curve replays one plant's day; it takes no "
                                  f"{'weather file' if section == 'pv' else 'fleet'} (use model = solar)")


def check_holidays(config: Config) -> None:
    """Refuse a country or subdivision without known public holidays, naming the key."""
    site = config.site
    for key, subdivision in (("country", None), ("subdivision", site.subdivision)):
        if key == "subdivision" and subdivision is None:
            return
        try:
            household.public_holidays(site.country, subdivision)
        except ValueError as exc:
            raise ConfigError(f"{config.where}: [site] {key}: {exc}") from None


def meter_members(config: Config, count: int | None) -> list[FleetMember]:
    """The meters to publish, in order.

    Without a fleet: ``count`` meters (None: 1) named Meter_0.. of the configuration's house.
    With one: the fleet's meters in file order, the first ``count`` (None: all).
    """
    validate(config)
    fleet = load_fleet(config)
    if fleet is None:
        return [FleetMember(f"Meter_{i}") for i in range(1 if count is None else count)]
    if count is not None and count > len(fleet):
        log.warning("--nb-meter %d: the fleet %s holds %d meter(s); publishing those",
                    count, config.fleet.file, len(fleet))
    return fleet if count is None else fleet[:count]


def build_meter_models(config: Config, count: int | None, seed: int | None,
                       only: Collection[str] | None = None) -> tuple[list[str], list[MeterModel]]:
    """The meters to publish (:func:`meter_members`; of those, ``only`` these when given) and
    their consumption models, each with its fleet row's annual_energy_kwh and meter_model."""
    members = [member for member in meter_members(config, count)
               if only is None or member.meter_id in only]
    models = [build_meter_model(config, meter_stream(member.meter_id), seed, member)
              for member in members]
    return [member.meter_id for member in members], models


def build_meter_model(config: Config, meter_index: int | str, seed: int | None,
                      member: FleetMember | None = None) -> MeterModel:
    """The consumption model of the meter whose streams ``meter_index`` names
    (:func:`~pv_simulator.models.seeds.meter_stream`): the fleet row's values over [meter]'s."""
    meter = config.meter
    model = (member.meter_model if member else None) or meter.model
    if model == "random-walk":
        return RandomWalkModel(max_power_w=meter.max_power_w, seed=seed, meter_index=meter_index)
    annual_kwh = member.annual_energy_kwh if member else None
    return household.HouseholdModel(
        tz=config.site.timezone,
        annual_energy_kwh=meter.annual_energy_kwh if annual_kwh is None else annual_kwh,
        max_power_w=meter.max_power_w, seed=seed, meter_index=meter_index,
        profile=meter.profile, country=config.site.country,
        subdivision=config.site.subdivision)


class NoPvModel:
    """A house without PV (a fleet row's ``peak_power_kw = 0``)."""

    def power_kw(self, time_s: float) -> float:
        return 0.0


@dataclass(frozen=True)
class _Plant:
    """Everything one PV model is built from; equal plants share one model."""

    latitude_deg: float | None
    longitude_deg: float | None
    altitude_m: float | None
    peak_power_kw: float
    tilt_deg: float
    azimuth_deg: float
    dc_ac_ratio: float
    losses_pct: float
    weather: str | None
    seed: int | None
    sky_climate: str | None = None


class PvModels:
    """Builds the meters' PV models, sharing plants, skies and weather between them."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._models: dict[_Plant | str, pv_plant.PvModel] = {}
        self._skies: dict[tuple[int | None, int, str | None], VariableSky] = {}
        self._climates: dict[str, SkyClimate] = {}
        self._files: dict[str, WeatherFile] = {}
        self._checked_files: set[str] = set()
        # Per weather file: (distance km, meter id or None, where) of each site far from its own.
        self._far: dict[str, list[tuple[float, str | None, str]]] = {}
        self._sources: dict[tuple[str, float | None, float | None, float | None],
                            WeatherSource] = {}

    def for_meters(self, meter_ids: Sequence[str] | None) -> tuple[pv_plant.PvModel,
                                                                    dict[str, pv_plant.PvModel]]:
        """The configuration's plant, and each fleet meter's own (ids the fleet does not hold
        get the configuration's, with one warning). ``None``: every meter of the fleet (a PV
        service of the partitioned layout learns its meters from their readings)."""
        default = self.model(None)
        fleet = load_fleet(self.config)
        if fleet is None:
            self._warn_far_sites()
            return default, {}
        rows = {member.meter_id: member for member in fleet}
        if meter_ids is None:
            meter_ids = list(rows)
        missing = [meter_id for meter_id in meter_ids if meter_id not in rows]
        if missing:
            log.warning("fleet %s holds no row for %s: the configuration's plant applies",
                        self.config.fleet.file, ", ".join(missing))
        models = {meter_id: self.model(rows[meter_id]) for meter_id in meter_ids if meter_id in rows}
        self._warn_far_sites()
        return default, models

    def model(self, member: FleetMember | None) -> pv_plant.PvModel:
        """One house's PV model: its fleet row's values over the configuration's."""
        config = self.config
        pv, site = config.pv, config.site
        if pv.model == "reference":
            return self._shared("reference", lambda: pv_plant.ReferenceCurveModel(
                tz=site.timezone, seed=pv.seed))
        weather = member.weather if member and member.weather else (
            str(pv.weather) if pv.weather else None)

        def pick(row_value: float | None, section: str, key: str, value: float) -> float | None:
            """The row's value, else the configuration's; with weather, None for "the file's"
            where the configuration only has its default."""
            if row_value is not None:
                return row_value
            if weather is not None and not config.is_given(section, key):
                return None
            return value

        row = member or FleetMember("")
        plant = _Plant(
            latitude_deg=pick(row.latitude, "site", "latitude", site.latitude_deg),
            longitude_deg=pick(row.longitude, "site", "longitude", site.longitude_deg),
            altitude_m=pick(row.altitude_m, "site", "altitude_m", site.altitude_m),
            peak_power_kw=pv.peak_power_kw if row.peak_power_kw is None else row.peak_power_kw,
            tilt_deg=pv.tilt_deg if row.tilt_deg is None else row.tilt_deg,
            azimuth_deg=pv.azimuth_deg if row.azimuth_deg is None else row.azimuth_deg,
            dc_ac_ratio=pv.dc_ac_ratio if row.dc_ac_ratio is None else row.dc_ac_ratio,
            losses_pct=pv.losses_pct if row.losses_pct is None else row.losses_pct,
            weather=weather, seed=pv.seed if row.sky_seed is None else row.sky_seed,
            sky_climate=row.sky_climate or (str(pv.sky_climate) if pv.sky_climate else None))
        if plant.peak_power_kw == 0.0:
            return self._shared("no PV", NoPvModel)
        return self._shared(plant, lambda: self._build(plant, member))

    def _warn_far_sites(self) -> None:
        """One warning per weather file for the sites far from its own, naming the farthest."""
        for path, far in self._far.items():
            site = self._files[path].site
            assert site is not None
            distance_km, meter_id, where = max(far, key=lambda item: item[0])
            if len(far) == 1:
                log.warning("%s: the site is %.0f km from the weather file's (%.3f, %.3f): "
                            "its weather is not the site's", where, distance_km,
                            site.latitude_deg, site.longitude_deg)
            else:
                log.warning("%s: %d sites are more than %g km from the weather file's (%.3f, %.3f), "
                            "the farthest %s at %.0f km: its weather is not theirs", path, len(far),
                            SITE_DISTANCE_WARNING_KM, site.latitude_deg, site.longitude_deg,
                            meter_id or "the configuration's", distance_km)
        self._far.clear()

    def _shared(self, key: _Plant | str, build: Callable[[], pv_plant.PvModel]) -> pv_plant.PvModel:
        model = self._models.get(key)
        if model is None:
            model = self._models[key] = build()
        return model

    def _build(self, plant: _Plant, member: FleetMember | None) -> pv_plant.PvModel:
        pv, site = self.config.pv, self.config.site
        linke = pv.linke_turbidity or pv_plant.DEFAULT_LINKE_TURBIDITY
        if plant.weather is not None:
            return pv_plant.WeatherPvModel(
                self._source(plant, member), peak_power_kw=plant.peak_power_kw,
                tilt_deg=plant.tilt_deg, azimuth_deg=plant.azimuth_deg,
                dc_ac_ratio=plant.dc_ac_ratio, losses_pct=plant.losses_pct,
                temperature_coefficient=pv.temperature_coefficient, albedo=pv.albedo,
                air_temperature_c=pv.air_temperature_c, wind_speed_m_s=pv.wind_speed_m_s)
        assert plant.latitude_deg is not None and plant.longitude_deg is not None
        assert plant.altitude_m is not None
        sky = None
        if pv.sky == pv_plant.SKY_VARIABLE:
            sky = self._sky(plant, member, linke)
        return pv_plant.SolarPvModel(
            latitude_deg=plant.latitude_deg, longitude_deg=plant.longitude_deg,
            altitude_m=plant.altitude_m, tz=site.timezone, peak_power_kw=plant.peak_power_kw,
            tilt_deg=plant.tilt_deg, azimuth_deg=plant.azimuth_deg,
            dc_ac_ratio=plant.dc_ac_ratio, losses_pct=plant.losses_pct,
            temperature_coefficient=pv.temperature_coefficient, albedo=pv.albedo,
            linke_turbidity=linke, air_temperature_c=pv.air_temperature_c,
            wind_speed_m_s=pv.wind_speed_m_s, sky=pv.sky, seed=plant.seed, cloudy_sky=sky)

    def _sky(self, plant: _Plant, member: FleetMember | None,
             linke: tuple[float, ...]) -> VariableSky:
        """The variable sky of a plant, shared per seed, whole degree of latitude and climate."""
        assert plant.latitude_deg is not None and plant.longitude_deg is not None
        assert plant.altitude_m is not None
        pv = self.config.pv
        climate_key = plant.sky_climate or (
            None if pv.monthly_clearness is None else repr(pv.monthly_clearness))
        sky_key = (plant.seed, round(plant.latitude_deg), climate_key)
        sky = self._skies.get(sky_key)
        if sky is not None:
            return sky
        if climate_key is None:
            sky = default_sky(seed=plant.seed, latitude_deg=plant.latitude_deg)
        else:
            climate = self._climates.get(climate_key)
            if climate is None:
                climate = self._climates[climate_key] = self._climate(plant, member, linke)
            sky = ClimateSky(climate, seed=plant.seed, latitude_deg=plant.latitude_deg)
        self._skies[sky_key] = sky
        return sky

    def _climate(self, plant: _Plant, member: FleetMember | None,
                 linke: tuple[float, ...]) -> SkyClimate:
        """The sky climate of a file (at the file's site, else the plant's) or of [pv]
        monthly_clearness."""
        if plant.sky_climate is None:
            values = self.config.pv.monthly_clearness
            assert values is not None
            return climate_from_monthly_clearness(values * 12 if len(values) == 1 else values)
        where = (f"{self.config.fleet.file}: meter {member.meter_id}: column 'sky_climate'"
                 if member is not None and member.sky_climate
                 else f"{self.config.where}: [pv] sky_climate")
        try:
            data = self._files.get(plant.sky_climate) or read_weather_file(plant.sky_climate)
            self._files[plant.sky_climate] = data
            generic = data.site is None
            site = pv_plant.weather_source(
                data, latitude_deg=plant.latitude_deg if generic else None,
                longitude_deg=plant.longitude_deg if generic else None,
                altitude_m=plant.altitude_m if generic else None, linke_turbidity=linke).site
            return climate_from_weather(data, site)
        except (WeatherFileError, SkyClimateError) as exc:
            raise ConfigError(f"{where}: {exc}") from None

    def _source(self, plant: _Plant, member: FleetMember | None) -> WeatherSource:
        """The weather file replayed at the plant's site, shared by the plants of that site."""
        assert plant.weather is not None
        key = (plant.weather, plant.latitude_deg, plant.longitude_deg, plant.altitude_m)
        source = self._sources.get(key)
        if source is not None:
            return source
        where = (f"{self.config.fleet.file}: meter {member.meter_id}: column 'weather'"
                 if member is not None and member.weather else f"{self.config.where}: [pv] weather")
        data = self._files.get(plant.weather)
        if data is None:
            try:
                data = self._files[plant.weather] = read_weather_file(plant.weather)
            except WeatherFileError as exc:
                raise ConfigError(f"{where}: {exc}") from None
        latitude, longitude, altitude = plant.latitude_deg, plant.longitude_deg, plant.altitude_m
        site = self.config.site
        if data.site is None:
            # A generic file names no site: [site]'s, given or not.
            latitude = site.latitude_deg if latitude is None else latitude
            longitude = site.longitude_deg if longitude is None else longitude
            altitude = site.altitude_m if altitude is None else altitude
        elif latitude is not None or longitude is not None:
            distance_km = haversine_km(
                data.site.latitude_deg, data.site.longitude_deg,
                data.site.latitude_deg if latitude is None else latitude,
                data.site.longitude_deg if longitude is None else longitude)
            if distance_km > SITE_DISTANCE_WARNING_KM:
                self._far.setdefault(plant.weather, []).append(
                    (distance_km, member.meter_id if member else None, where))
        source = self._sources[key] = pv_plant.weather_source(
            data, latitude_deg=latitude, longitude_deg=longitude, altitude_m=altitude,
            linke_turbidity=self.config.pv.linke_turbidity or pv_plant.DEFAULT_LINKE_TURBIDITY,
            air_temperature_c=self.config.pv.air_temperature_c)
        if plant.weather not in self._checked_files:
            self._checked_files.add(plant.weather)
            for warning in weather_warnings(data, source.site):
                log.warning("%s: %s: %s", where, data.path, warning)
        return source


def site_of(config: Config, member: FleetMember | None, controlled: bool | None = None) -> Site | None:
    """One house's site (docs/site.md), its fleet row's battery over [battery]'s; None for a plain
    meter, one without battery, export limit and control (``controlled``, by default [control]
    enabled), whose rows keep the five columns."""
    battery, pv = config.battery, config.pv
    row = member or FleetMember("")
    capacity_kwh = battery.capacity_kwh if row.battery_kwh is None else row.battery_kwh
    controlled = config.control.enabled if controlled is None else controlled
    if capacity_kwh == 0.0 and config.site.export_limit_w is None and not controlled:
        return None
    peak_kw = pv.peak_power_kw if row.peak_power_kw is None else row.peak_power_kw
    dc_ac_ratio = pv.dc_ac_ratio if row.dc_ac_ratio is None else row.dc_ac_ratio
    unrated_kw = default_power_kw(capacity_kwh)
    max_charge_kw = row.battery_kw or battery.max_charge_kw or unrated_kw
    max_discharge_kw = row.battery_kw or battery.max_discharge_kw or unrated_kw
    return Site(inverter_ac_kw=peak_kw / dc_ac_ratio, capacity_kwh=capacity_kwh,
                max_charge_kw=max_charge_kw, max_discharge_kw=max_discharge_kw,
                round_trip_efficiency=battery.round_trip_efficiency,
                soc_min_pct=battery.soc_min_pct, soc_max_pct=battery.soc_max_pct,
                initial_soc_pct=battery.initial_soc_pct, mode=battery.mode,
                export_limit_w=config.site.export_limit_w)


def build_sites(config: Config, meter_ids: Sequence[str] | None,
                controlled: bool | None = None) -> tuple[Site | None, dict[str, Site | None]]:
    """The configuration's site, and each fleet meter's own (as :meth:`PvModels.for_meters`)."""
    default = site_of(config, None, controlled)
    fleet = load_fleet(config)
    if fleet is None:
        return default, {}
    rows = {member.meter_id: member for member in fleet}
    wanted = list(rows) if meter_ids is None else meter_ids
    return default, {meter_id: site_of(config, rows[meter_id], controlled) for meter_id in wanted
                     if meter_id in rows}


Connect = Callable[[BrokerConfig, str], Connection]
"""Builds a service's broker connection from [broker] and the client's name."""


def rabbit_connection(config: BrokerConfig, client_name: str) -> Connection:
    """The connection to RabbitMQ that [broker] describes, retrying as it says."""
    return Connection(RabbitConnector(config, client_name), retry_policy(config))


def layout_of(config: BrokerConfig) -> Layout:
    """Which queue holds which meter's readings, as [broker] layout says."""
    return Layout(config.partitions if config.layout == "partitioned" else 0)


def buffer_per_meter(buffer_s: float, interval_s: float, meters: int, max_readings: int) -> int:
    """Readings per meter the meter keeps while the broker is away: ``buffer_s`` worth, within
    ``max_readings`` in all (logged when that cuts it short)."""
    asked = max(1, int(buffer_s / interval_s))
    allowed = max(1, max_readings // max(1, meters))
    if allowed < asked:
        log.info("buffer: %d reading(s) per meter (%g s) while the broker is away: [meter] "
                 "buffer_s = %g is capped by buffer_max_readings = %d for %d meters",
                 allowed, allowed * interval_s, buffer_s, max_readings, meters)
    return min(asked, allowed)


def raise_open_file_limit() -> int:
    """Raise the soft open-file limit to the hard one (at most 65,536); the limit in force.

    Keeping each meter's file open saves a reopen and a tail read per row.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return 65536 if soft == resource.RLIM_INFINITY else soft


@dataclass(frozen=True)
class MeterOptions:
    """The meter's command-line choices the composition needs."""

    count: int | None
    seed: int | None
    start_s: float | None
    interval_s: float
    speed: float
    duration_s: float | None
    stats_interval_s: float
    metrics: bool = False
    only: frozenset[str] | None = None
    """Of the meters, only these (a dataset process's share); None: all."""
    batch_size: int = 2000
    """Readings per published batch in fast-forward."""


@dataclass(frozen=True)
class MeterParts:
    """A wired meter: the service to run, what to close after, what to serve and report."""

    service: MeterService
    connection: Connection
    meter_ids: list[str]
    layout: Layout
    metrics: Metrics | None


def build_meter_service(config: Config, options: MeterOptions, should_stop: Callable[[], bool],
                        connect: Connect = rabbit_connection) -> MeterParts:
    """The meter service of ``config``'s meters, unconnected; raises ConfigError naming the
    [meter] problem."""
    try:
        meter_ids, models = build_meter_models(config, options.count, options.seed, options.only)
    except ValueError as exc:
        raise ConfigError(f"{config.path or 'defaults'}: [meter]: {exc}") from None
    clock = SimClock(start_s=options.start_s, interval_s=options.interval_s, speed=options.speed,
                     duration_s=options.duration_s)
    buffered = buffer_per_meter(config.meter.buffer_s, options.interval_s, len(meter_ids),
                                config.meter.buffer_max_readings)
    connection = connect(config.broker, "pv-simulator meter")
    layout = layout_of(config.broker)
    other = other_layout(layout, config.broker.partitions)
    connection.on_connect(stranded_check(layout, other, queues_of(other, meter_ids)))
    service = MeterService(connection, meter_ids, models, clock, buffered, should_stop,
                           batch_size=options.batch_size, stats_interval_s=options.stats_interval_s,
                           layout=layout, readings_per_message=config.broker.readings_per_message)
    if config.broker.readings_per_message > 1:
        log.info("up to %d readings of one queue packed into each message",
                 config.broker.readings_per_message)
    metrics = meter_metrics(service) if options.metrics else None
    return MeterParts(service, connection, meter_ids, layout, metrics)


def meter_metrics(service: MeterService) -> Metrics:
    """The meter's metrics, read from ``service`` at each scrape."""
    metrics = Metrics("pv_meter")
    metrics.counter("readings_published", "readings the broker took", lambda: service.published)
    metrics.counter("readings_dropped", "readings dropped from a full buffer while the broker was away",
                    lambda: service.dropped)
    metrics.gauge("readings_buffered", "readings taken and not yet published", lambda: len(service.pending))
    metrics.counter("reconnects", "connections opened after the first", lambda: service.connection.reconnects)
    return metrics


@dataclass(frozen=True)
class PvServiceOptions:
    """The PV service's command-line choices the composition needs."""

    meter_ids: list[str] | None
    """The meters served; None: any the partitions' readings name."""
    queues: list[str]
    output_dir: Path
    exit_when_idle_s: float | None
    stats_interval_s: float
    publish: bool = False
    metrics: bool = False
    home_assistant: bool = False
    control: bool = False
    """``--control``: take commands whatever [control] enabled says."""
    summary: bool = False
    """``--summary-file``: the energy counters go into it."""
    modbus_port: int | None = None
    """``--modbus-port``: serve SunSpec over Modbus TCP from this port, whatever [modbus] port says."""


@dataclass(frozen=True)
class PvServiceParts:
    """A wired PV service: the service to run, what to close after, what to serve and report."""

    service: PvService
    output: CsvOutput
    connection: Connection
    results: ResultStream | None
    metrics: Metrics | None
    energy: EnergyCounters | None = None
    mqtt: MqttPublisher | None = None
    """Home Assistant's publisher, unconnected: the caller connects it before the run, closes it after."""
    modbus: SunSpecServer | None = None
    """The SunSpec server, not started: the caller starts it before the run, stops it after."""


def build_pv_service(config: Config, options: PvServiceOptions, should_stop: Callable[[], bool],
                     connect: Connect = rabbit_connection) -> PvServiceParts:
    """The PV service of ``config``'s plants over ``options``' queues, unconnected; raises
    ConfigError naming the [pv] problem, OutputError for an unusable output folder."""
    validate(config)
    check_output_dir(options.output_dir)
    if options.control:
        config = replace(config, control=replace(config.control, enabled=True))
    try:
        model, fleet_models = PvModels(config).for_meters(options.meter_ids)
    except ValueError as exc:
        raise ConfigError(f"{config.path or 'defaults'}: [pv]: {exc}") from None
    # Half the open-file limit for data files, the other half for the meters' lock files:
    # with fewer handles than meters, every tick would reopen each file (a cycle through
    # all meters is an LRU's worst case).
    max_open_files = max(16, raise_open_file_limit() // 2 - 64)
    modbus_port = options.modbus_port if options.modbus_port is not None else config.modbus.port
    modbus_control = modbus_port is not None and config.modbus.control
    site, sites = build_sites(config, options.meter_ids, config.control.enabled or modbus_control)

    def site_meters(meter_id: str) -> bool:
        return sites.get(meter_id, site) is not None

    home_assistant = options.home_assistant or config.output.home_assistant
    publish = options.publish or config.output.publish
    # Energy counters read every existing row at start, so only where something shows them.
    energy = (EnergyCounters() if home_assistant or options.metrics or publish or options.summary
              or modbus_port is not None else None)
    output = (CsvOutput(options.output_dir, config.site.timezone, config.output.fsync, max_open_files,
                        site_meters)
              if energy is None else
              EnergyCsvOutput(energy, options.output_dir, config.site.timezone, config.output.fsync,
                              max_open_files, site_meters))
    output.check_existing(options.meter_ids)
    if energy is not None:
        energy.seed(options.output_dir, options.meter_ids)
    connection = connect(config.broker, "pv-simulator pv-service")
    layout = layout_of(config.broker)
    other = other_layout(layout, config.broker.partitions)
    served = set(options.queues)
    known = (options.meter_ids if options.meter_ids is not None
             else [meter_id for meter_id in {*fleet_models, *output.meters_with_files()}
                   if layout.queue_of(meter_id) in served])
    # First, so nothing is consumed before the other layout's queues were looked at.
    connection.on_connect(stranded_check(layout, other, queues_of(other, known)))
    results = ResultStream(config.output.results_exchange, output, energy) if publish else None
    metrics = pv_service_metrics() if options.metrics else None
    inbox = CommandInbox() if modbus_control else None
    modbus: SunSpecServer | None = None
    on_rows: Callable[[list[Accepted]], None] | None = None
    if modbus_port is not None and energy is not None:
        modbus, temperatures = sunspec_server(config, options, modbus_port, site, sites, inbox,
                                              output, energy, model, fleet_models)
        on_rows = feed_rows(modbus, energy, temperatures)
    service = PvService(connection, options.queues, model, output, config.meter.max_power_w,
                        should_stop, exit_when_idle_s=options.exit_when_idle_s,
                        stats_interval_s=options.stats_interval_s, pv_models=fleet_models,
                        results=results, metrics=metrics, layout=layout,
                        site=site, sites=sites, control=config.control.enabled, inbox=inbox,
                        on_rows=on_rows, readings_per_message=config.broker.readings_per_message)
    if metrics is not None:
        count_pv_service(metrics, service)
        if energy is not None:
            count_energy(metrics, energy)
    mqtt = (home_assistant_output(config, options, energy, output, service)
            if home_assistant and isinstance(output, EnergyCsvOutput) and energy is not None else None)
    return PvServiceParts(service, output, connection, results, metrics, energy, mqtt, modbus)


def served_meter_ids(config: Config, options: PvServiceOptions) -> list[str]:
    """The meters a PV service serves, in serving order: its ids, or its partitions' fleet meters.

    Raises:
        ConfigError: a partitioned service without a fleet, whose meters are known only from
            their readings.
    """
    if options.meter_ids is not None:
        return list(options.meter_ids)
    fleet = load_fleet(config)
    if fleet is None:
        raise ConfigError(f"{config.where}: [modbus] port with [broker] layout = partitioned needs "
                          "[fleet] file: the meters to serve as Modbus units")
    layout = layout_of(config.broker)
    served = set(options.queues)
    return [member.meter_id for member in fleet if layout.queue_of(member.meter_id) in served]


def sunspec_server(config: Config, options: PvServiceOptions, port: int, site: Site | None,
                   sites: Mapping[str, Site | None], inbox: CommandInbox | None, output: CsvOutput,
                   energy: EnergyCounters, model: pv_plant.PvModel,
                   fleet_models: Mapping[str, pv_plant.PvModel]
                   ) -> tuple[SunSpecServer, InverterTemperatures]:
    """The SunSpec devices of the served meters, each showing its last written row already, and
    their inverters' temperatures (from ``model``, or a meter's own in ``fleet_models``)."""
    meter_ids = served_meter_ids(config, options)
    try:
        units = assign_units(meter_ids, port)
    except ValueError as exc:
        raise ConfigError(f"Modbus port {port}: {exc}") from None
    fleet = {member.meter_id: member for member in load_fleet(config) or []}
    nameplates = {unit.meter_id: nameplate_of(config, unit.meter_id, fleet.get(unit.meter_id),
                                              sites.get(unit.meter_id, site), unit.unit_id)
                  for unit in units}
    server = SunSpecServer(config.modbus.host, units, nameplates, inbox)
    temperatures = InverterTemperatures(
        {meter_id: air for meter_id in meter_ids
         if (air := air_temperature_of(fleet_models.get(meter_id, model))) is not None},
        {meter_id: nameplate.inverter_ac_w for meter_id, nameplate in nameplates.items()})
    for meter_id in meter_ids:
        row = output.last_row(meter_id)
        if row is not None:
            temperature_c = temperatures.at(meter_id, row.time_s, row.pv_power_value_kw * 1000.0)
            server.update(meter_id, file_row(row, energy.meters.get(meter_id), temperature_c))
    return server, temperatures


def air_temperature_of(model: pv_plant.PvModel) -> Callable[[float], float | None] | None:
    """The air temperature a PV model's cells see, for its inverter's; None: the model has none
    (the challenge's curve, a house without PV)."""
    if isinstance(model, pv_plant.SolarPvModel | pv_plant.WeatherPvModel):
        return model.air_temperature_c
    return None


def nameplate_of(config: Config, meter_id: str, member: FleetMember | None, site: Site | None,
                 unit_id: int) -> Nameplate:
    """A meter's SunSpec ratings: its inverter (fleet row over [pv]) and its site's battery."""
    pv = config.pv
    row = member or FleetMember("")
    peak_kw = pv.peak_power_kw if row.peak_power_kw is None else row.peak_power_kw
    dc_ac_ratio = pv.dc_ac_ratio if row.dc_ac_ratio is None else row.dc_ac_ratio
    nameplate = Nameplate(meter_id, unit_id, inverter_ac_w=peak_kw / dc_ac_ratio * 1000.0,
                          household_max_w=config.meter.max_power_w, version=package_version())
    if site is None or not site.has_battery:
        return nameplate
    return replace(nameplate, battery_wh=site.capacity_kwh * 1000.0,
                   max_charge_w=site.max_charge_kw * 1000.0,
                   max_discharge_w=site.max_discharge_kw * 1000.0,
                   soc_min_pct=site.soc_min_pct, soc_max_pct=site.soc_max_pct)


def package_version() -> str:
    """The installed pv-simulator's version, for SunSpec's common model."""
    try:
        return metadata.version("pv-simulator")
    except metadata.PackageNotFoundError:
        return ""


def feed_rows(server: SunSpecServer, energy: EnergyCounters,
              temperatures: InverterTemperatures) -> Callable[[list[Accepted]], None]:
    """The PV service's ``on_rows``: each written row to its meter's SunSpec device."""
    meters = energy.meters

    def on_rows(written: list[Accepted]) -> None:
        update = server.update
        temperature_at = temperatures.at
        for reading, pv_kw, site in written:
            meter_id = reading.meter_id
            update(meter_id, written_row(reading, pv_kw, site, meters.get(meter_id),
                                         temperature_at(meter_id, reading.time_s, pv_kw * 1000.0)))

    return on_rows


def home_assistant_output(config: Config, options: PvServiceOptions, energy: EnergyCounters,
                          output: EnergyCsvOutput, service: PvService) -> MqttPublisher:
    """Home Assistant discovery and states of the served meters, published after each flush.

    The availability topic is named by the served queues, so a restarted service (same queues)
    takes over its own topic and the entities of its meters come back.
    """
    service_id = hashlib.sha1("\n".join(sorted(options.queues)).encode()).hexdigest()[:12]
    mqtt = MqttPublisher(config.broker, config.output.mqtt_port, availability_topic(service_id),
                         birth_topic=f"{config.output.discovery_prefix}/status")
    ha = HomeAssistantOutput(mqtt, energy, options.meter_ids or [], service_id,
                             config.output.discovery_prefix, config.output.expire_after_s,
                             site_of=service.site_of, limits_of=service.limits_in_force,
                             control=config.control.enabled)
    mqtt.on_birth = ha.publish_discovery
    output.on_flushed = ha.rows_written
    return mqtt


def count_energy(metrics: Metrics, energy: EnergyCounters) -> None:
    """Gauges of the served meters' power (their last rows) and energy (counted since their first row)."""
    for name, documentation, read in (
            ("consumption_power_watts", "the served meters' consumption, last rows",
             lambda: energy.fleet().meter_power_w),
            ("pv_power_watts", "the served meters' PV power, last rows",
             lambda: energy.fleet().pv_power_kw * 1000.0),
            ("grid_power_watts", "drawn from (positive) or fed into (negative) the grid, last rows",
             lambda: energy.fleet().grid_power_w),
            ("consumption_energy_kwh", "energy consumed, integrated from the written rows",
             lambda: energy.fleet().consumption_kwh),
            ("pv_energy_kwh", "PV energy produced, integrated from the written rows",
             lambda: energy.fleet().pv_kwh),
            ("grid_import_energy_kwh", "energy drawn from the grid, integrated from the written rows",
             lambda: energy.fleet().grid_import_kwh),
            ("grid_export_energy_kwh", "energy fed into the grid, integrated from the written rows",
             lambda: energy.fleet().grid_export_kwh)):
        metrics.gauge(name, documentation, read)


def count_pv_service(metrics: Metrics, service: PvService) -> None:
    """Add the PV service's counters, read from ``service`` at each scrape."""
    output = service.output
    metrics.counter("rows_written", "rows appended to the CSV files", lambda: output.rows_written)
    metrics.counter("duplicates_skipped", "readings skipped as already written",
                    lambda: output.duplicates_skipped)
    metrics.counter("readings_out_of_order", "readings dead-lettered as older than their file's last "
                    "row and not in it", lambda: output.out_of_order)
    metrics.counter("readings_rejected", "readings dead-lettered as invalid", lambda: service.rejects.total)
    metrics.counter("results_published", "result messages the broker confirmed, repeats included",
                    lambda: service.results.published if service.results else 0)
    metrics.counter("reconnects", "connections opened after the first", lambda: service.connection.reconnects)
    control = service.control
    if control is not None:
        metrics.counter("commands_applied", "valid commands taken for a site",
                        lambda: control.applied)
        metrics.counter("commands_rejected", "commands that changed nothing (invalid, unknown "
                        "meter)", lambda: control.rejected)
