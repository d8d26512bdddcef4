"""From configuration and fleet file to the models each meter uses: the services' composition.

The configuration describes one house; a fleet file (``[fleet] file``, see `pv_simulator.fleet`)
overrides it row by row. Every error a user can make here is a `ConfigError` of one line naming
the file, key or fleet line and column, raised before either service connects.

PV plants are built once per distinct set of parameters, so meters with the same plant share
one model object (and the PV service computes it once per timestamp for all of them). Meters
of one site share more than that even with different plants: one `CloudySky` per seed and
whole degree of latitude (same clouds; the latitude only sets the seasons) and one
`WeatherSource` per weather file and site (one parse, one cache, the same weather).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from pv_simulator.config import Config, ConfigError, battery_problem, schema_key
from pv_simulator.fleet import FleetError, FleetMember, read_fleet
from pv_simulator.models import household, pv_plant
from pv_simulator.models.random_walk import MeterModel, RandomWalkModel
from pv_simulator.models.site import Site
from pv_simulator.models.sky import CloudySky
from pv_simulator.models.weather import WeatherSource
from pv_simulator.models.weather_files import WeatherFile, WeatherFileError, read_weather_file

log = logging.getLogger("pv_simulator")

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
        problem = battery_problem(config.battery) if member.battery_kwh else None
        if problem is not None:
            raise ConfigError(f"{config.where}: [battery] {problem[0]}: {problem[1]} (meter "
                              f"{member.meter_id} of {path} has a battery)")
        checked.append(member)
    return checked


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


def build_meter_models(config: Config, count: int | None,
                       seed: int | None) -> tuple[list[str], list[MeterModel]]:
    """The meters to publish and their consumption models.

    Without a fleet: ``count`` meters (None: 1) named Meter_0.. of the configuration's house.
    With one: the fleet's meters in file order, the first ``count`` (None: all), each with its
    row's annual_energy_kwh and meter_model.
    """
    check_holidays(config)
    fleet = load_fleet(config)
    if fleet is None:
        members = [FleetMember(f"Meter_{i}") for i in range(1 if count is None else count)]
    else:
        if count is not None and count > len(fleet):
            log.warning("--nb-meter %d: the fleet %s holds %d meter(s); publishing those",
                        count, config.fleet.file, len(fleet))
        members = fleet if count is None else fleet[:count]
    models = [build_meter_model(config, index, seed, member)
              for index, member in enumerate(members)]
    return [member.meter_id for member in members], models


def build_meter_model(config: Config, meter_index: int, seed: int | None,
                      member: FleetMember | None = None) -> MeterModel:
    """Meter ``meter_index``'s consumption model: the fleet row's values over [meter]'s."""
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


class PvModels:
    """Builds the meters' PV models, sharing plants, skies and weather between them."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._models: dict[_Plant | str, pv_plant.PvModel] = {}
        self._skies: dict[tuple[int | None, int], CloudySky] = {}
        self._files: dict[str, WeatherFile] = {}
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
            return default, {}
        rows = {member.meter_id: member for member in fleet}
        if meter_ids is None:
            meter_ids = list(rows)
        missing = [meter_id for meter_id in meter_ids if meter_id not in rows]
        if missing:
            log.warning("fleet %s holds no row for %s: the configuration's plant applies",
                        self.config.fleet.file, ", ".join(missing))
        return default, {meter_id: self.model(rows[meter_id])
                         for meter_id in meter_ids if meter_id in rows}

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
            weather=weather, seed=pv.seed if row.sky_seed is None else row.sky_seed)
        if plant.peak_power_kw == 0.0:
            return self._shared("no PV", NoPvModel)
        return self._shared(plant, lambda: self._build(plant, member))

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
            sky_key = (plant.seed, round(plant.latitude_deg))
            sky = self._skies.get(sky_key)
            if sky is None:
                sky = self._skies[sky_key] = CloudySky(seed=plant.seed,
                                                       latitude_deg=plant.latitude_deg)
        return pv_plant.SolarPvModel(
            latitude_deg=plant.latitude_deg, longitude_deg=plant.longitude_deg,
            altitude_m=plant.altitude_m, tz=site.timezone, peak_power_kw=plant.peak_power_kw,
            tilt_deg=plant.tilt_deg, azimuth_deg=plant.azimuth_deg,
            dc_ac_ratio=plant.dc_ac_ratio, losses_pct=plant.losses_pct,
            temperature_coefficient=pv.temperature_coefficient, albedo=pv.albedo,
            linke_turbidity=linke, air_temperature_c=pv.air_temperature_c,
            wind_speed_m_s=pv.wind_speed_m_s, sky=pv.sky, seed=plant.seed, cloudy_sky=sky)

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
                log.warning("%s: the site is %.0f km from the weather file's (%.3f, %.3f): "
                            "its weather is not the site's", where, distance_km,
                            data.site.latitude_deg, data.site.longitude_deg)
        source = self._sources[key] = pv_plant.weather_source(
            data, latitude_deg=latitude, longitude_deg=longitude, altitude_m=altitude,
            linke_turbidity=self.config.pv.linke_turbidity or pv_plant.DEFAULT_LINKE_TURBIDITY,
            air_temperature_c=self.config.pv.air_temperature_c)
        return source


def site_of(config: Config, member: FleetMember | None) -> Site | None:
    """One house's site (docs/site.md), its fleet row's battery over [battery]'s; None for a plain
    meter, one without battery, export limit and control, whose rows keep the five columns."""
    battery, pv = config.battery, config.pv
    row = member or FleetMember("")
    capacity_kwh = battery.capacity_kwh if row.battery_kwh is None else row.battery_kwh
    if capacity_kwh == 0.0 and config.site.export_limit_w is None and not config.control.enabled:
        return None
    peak_kw = pv.peak_power_kw if row.peak_power_kw is None else row.peak_power_kw
    dc_ac_ratio = pv.dc_ac_ratio if row.dc_ac_ratio is None else row.dc_ac_ratio
    half_capacity_kw = capacity_kwh / 2.0
    max_charge_kw = row.battery_kw or battery.max_charge_kw or half_capacity_kw
    max_discharge_kw = row.battery_kw or battery.max_discharge_kw or half_capacity_kw
    return Site(inverter_ac_kw=peak_kw / dc_ac_ratio, capacity_kwh=capacity_kwh,
                max_charge_kw=max_charge_kw, max_discharge_kw=max_discharge_kw,
                round_trip_efficiency=battery.round_trip_efficiency,
                soc_min_pct=battery.soc_min_pct, soc_max_pct=battery.soc_max_pct,
                initial_soc_pct=battery.initial_soc_pct, mode=battery.mode,
                export_limit_w=config.site.export_limit_w)


def build_sites(config: Config, meter_ids: Sequence[str] | None) -> tuple[Site | None,
                                                                         dict[str, Site | None]]:
    """The configuration's site, and each fleet meter's own (as :meth:`PvModels.for_meters`)."""
    default = site_of(config, None)
    fleet = load_fleet(config)
    if fleet is None:
        return default, {}
    rows = {member.meter_id: member for member in fleet}
    wanted = list(rows) if meter_ids is None else meter_ids
    return default, {meter_id: site_of(config, rows[meter_id]) for meter_id in wanted
                     if meter_id in rows}
