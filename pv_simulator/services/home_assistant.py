"""Home Assistant MQTT discovery: the config payloads of a meter's device, and its state payload.

Each served meter is one HA device (manufacturer ``pv-simulator``, serial number = meter id)
whose entities read one retained JSON state topic, ``pv/state/<meter_id>``, written after each
of the meter's rows (:func:`state_payload`). Every entity names the PV service's availability
topic, which its last will turns ``offline`` when the service stops or dies, and
``expire_after``, so a stream that stops without a will (a broker cut) does not leave a stale
value either. The functions here are pure: the MQTT client is
:mod:`pv_simulator.messaging.mqtt`.

A meter with a site (:mod:`pv_simulator.models.site`) adds a sensor of the PV available, and
with a battery its state of charge and power. With control on its device also has command
entities (``number``, ``select``) whose command topic is the meter's control topic
(:func:`pv_simulator.services.control.command_topic`) and whose command template makes the
JSON command :func:`~pv_simulator.services.control.parse_command` takes; they show the
settings in force at the last row, from the state topic (``None`` there: no setting, which HA
shows as unknown).

Topics follow HA's ``<discovery_prefix>/<component>/<node_id>/<object_id>/config``; node and
object ids allow only ``[A-Za-z0-9_-]``, so other characters of a meter id become ``_`` there
(the device's serial number and the state topic keep the id). On RabbitMQ's MQTT plugin a
``.`` in a topic is a level separator on the AMQP side only, and MQTT subscribers see it back.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pv_simulator.models.site import MODES, Site
from pv_simulator.services.control import MAX_POWER_W, command_topic
from pv_simulator.services.energy import COUNTERS, EnergyCounters, MeterEnergy
from pv_simulator.services.results import Limits

STATE_PREFIX = "pv/state/"
AVAILABILITY_PREFIX = "pv/availability/"
ONLINE, OFFLINE = "online", "offline"
MANUFACTURER = "pv-simulator"

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True)
class Sensor:
    """One sensor entity: its state field, unit and HA classes."""

    key: str
    name: str
    unit: str
    device_class: str
    state_class: str


#: Power in W as measurements; energy in kWh as ``total_increasing``, what HA's Energy dashboard takes.
SENSORS: tuple[Sensor, ...] = (
    Sensor("meter_power_w", "Consumption", "W", "power", "measurement"),
    Sensor("pv_power_w", "PV power", "W", "power", "measurement"),
    Sensor("grid_power_w", "Grid power", "W", "power", "measurement"),
    Sensor("consumption_kwh", "Energy consumed", "kWh", "energy", "total_increasing"),
    Sensor("pv_kwh", "PV energy produced", "kWh", "energy", "total_increasing"),
    Sensor("grid_import_kwh", "Grid import", "kWh", "energy", "total_increasing"),
    Sensor("grid_export_kwh", "Grid export", "kWh", "energy", "total_increasing"),
)
#: A site's sensors beyond those, and its battery's.
SITE_SENSORS = (Sensor("pv_available_w", "PV available", "W", "power", "measurement"),)
BATTERY_SENSORS = (
    Sensor("battery_soc_pct", "Battery state of charge", "%", "battery", "measurement"),
    Sensor("battery_power_w", "Battery power", "W", "power", "measurement"),
)


def sensors_of(site: Site | None) -> tuple[Sensor, ...]:
    """The sensors of a meter with ``site`` (None: a plain meter)."""
    if site is None:
        return SENSORS
    return SENSORS + SITE_SENSORS + (BATTERY_SENSORS if site.has_battery else ())


def commands_of(site: Site | None) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(component, setting, name, fields) of the command entities of a meter with ``site`` and
    control on; the ranges are :func:`~pv_simulator.services.control.parse_command`'s, the
    setpoint's the battery's own power limits."""
    if site is None:
        return []
    commands: list[tuple[str, str, str, dict[str, Any]]] = [
        ("number", "pv_limit_pct", "PV limit",
         {"min": 0, "max": 100, "step": 1, "unit_of_measurement": "%", "mode": "slider"}),
        ("number", "export_limit_w", "Export limit",
         {"min": 0, "max": MAX_POWER_W, "step": 1, "unit_of_measurement": "W",
          "device_class": "power", "mode": "box"}),
    ]
    if site.has_battery:
        commands += [
            ("select", "battery_mode", "Battery mode", {"options": list(MODES)}),
            ("number", "battery_setpoint_w", "Battery setpoint",
             {"min": -round(site.max_discharge_kw * 1000.0), "max": round(site.max_charge_kw * 1000.0),
              "step": 1, "unit_of_measurement": "W", "device_class": "power", "mode": "box"}),
        ]
    return commands


def node_id(meter_id: str) -> str:
    """The meter id as an HA node id: characters other than ``[A-Za-z0-9_-]`` become ``_``."""
    return _UNSAFE.sub("_", meter_id)


def state_topic(meter_id: str) -> str:
    return STATE_PREFIX + meter_id


def availability_topic(service_id: str) -> str:
    return AVAILABILITY_PREFIX + service_id


def config_topic(prefix: str, component: str, meter_id: str, key: str) -> str:
    """HA's ``<prefix>/<component>/<node_id>/<object_id>/config`` of one entity of the meter."""
    return f"{prefix}/{component}/{node_id(meter_id)}/{key}/config"


def discovery_configs(meter_id: str, service_id: str, model: str, prefix: str = "homeassistant",
                      expire_after_s: int = 300, site: Site | None = None,
                      control: bool = False) -> list[tuple[str, dict[str, Any]]]:
    """(topic, payload) of every entity of ``meter_id``'s device, to publish retained.

    Args:
        service_id: names the availability topic of the PV service serving the meter.
        model: the device's model line, e.g. the plant's peak power.
        prefix: HA's discovery prefix (``[output] discovery_prefix``).
        expire_after_s: seconds without a state after which HA shows the sensors unavailable.
        site: the meter's site; None for a plain meter.
        control: whether the service takes commands (the command entities).
    """
    node = node_id(meter_id)
    device = {"identifiers": [f"pv-simulator-{node}"], "manufacturer": MANUFACTURER, "model": model,
              "serial_number": meter_id, "name": f"PV simulator {meter_id}"}

    def entity(key: str, name: str) -> dict[str, Any]:
        return {"name": name, "unique_id": f"pv-simulator-{node}-{key}",
                "object_id": f"pv_simulator_{node}_{key}", "device": device,
                "state_topic": state_topic(meter_id), "value_template": f"{{{{ value_json.{key} }}}}",
                "availability_topic": availability_topic(service_id),
                "payload_available": ONLINE, "payload_not_available": OFFLINE}

    configs: list[tuple[str, dict[str, Any]]] = []
    for sensor in sensors_of(site):
        payload = entity(sensor.key, sensor.name)
        payload.update({"unit_of_measurement": sensor.unit, "device_class": sensor.device_class,
                        "state_class": sensor.state_class, "expire_after": expire_after_s})
        if sensor.unit == "kWh":
            payload["suggested_display_precision"] = 3
        configs.append((config_topic(prefix, "sensor", meter_id, sensor.key), payload))
    for component, key, name, fields in commands_of(site) if control else []:
        payload = entity(key, name)
        payload.update(fields)
        payload.update({"command_topic": command_topic(meter_id),
                        "command_template": f"{{{{ {{'{key}': value}} | to_json }}}}"})
        configs.append((config_topic(prefix, component, meter_id, key), payload))
    return configs


def state_payload(time_s: float, energy: MeterEnergy, limits: Limits | None = None) -> bytes:
    """The retained state of a meter after its row at ``time_s``: powers of the row, counters so
    far; a site's row adds its battery and PV available, and ``limits`` the settings in force."""
    state: dict[str, float | str | None] = {
        "time_s": round(time_s, 3),
        "meter_power_w": round(energy.meter_power_w, 3),
        "pv_power_w": round(energy.pv_power_kw * 1000.0, 3),
        "grid_power_w": round(energy.grid_power_w, 3),
    }
    state.update((key, round(getattr(energy, key), 6)) for key in COUNTERS)
    if energy.pv_available_kw is not None:
        state["pv_available_w"] = round(energy.pv_available_kw * 1000.0, 3)
        state["battery_power_w"] = energy.battery_power_w
        state["battery_soc_pct"] = energy.battery_soc_pct
    if limits is not None:
        state.update(limits)
    return json.dumps(state, separators=(",", ":")).encode()


class Publisher(Protocol):
    """Where the output publishes: :class:`pv_simulator.messaging.mqtt.MqttPublisher`, or a test's record."""

    def publish(self, topic: str, payload: bytes | str, retain: bool = True) -> None: ...


class HomeAssistantOutput:
    """Discovery configs and retained states of the served meters, from the energy counters.

    Args:
        publisher: retained MQTT publishing (its ``on_birth`` should call :meth:`publish_discovery`).
        energy: the counters the PV service keeps per written row.
        meter_ids: the served meters, one HA device each.
        service_id: names the availability topic.
        models: each meter's device model line; ``default_model`` for meters not in it.
        site_of: each meter's site (None: plain), for its entities.
        limits_of: the settings in force at a meter's last row (None: a plain meter).
        control: whether the service takes commands, so sites get command entities.
    """

    def __init__(self, publisher: Publisher, energy: EnergyCounters, meter_ids: Sequence[str],
                 service_id: str, prefix: str = "homeassistant", expire_after_s: int = 300,
                 models: Mapping[str, str] | None = None, default_model: str = "household with PV",
                 site_of: Callable[[str], Site | None] = lambda meter_id: None,
                 limits_of: Callable[[str], Limits | None] = lambda meter_id: None,
                 control: bool = False) -> None:
        self.publisher = publisher
        self.energy = energy
        self.site_of = site_of
        self.limits_of = limits_of
        self.control = control
        self.meter_ids = list(meter_ids)
        self.service_id = service_id
        self.prefix = prefix
        self.expire_after_s = expire_after_s
        self.models = dict(models or {})
        self.default_model = default_model
        self._known = set(self.meter_ids)
        #: States published, one per meter and batch at most.
        self.states_published = 0

    def publish_discovery(self) -> None:
        """Every meter's configs, and its last state where it has one (so HA shows it at once).

        Runs in the MQTT client's thread on HA's birth: it reads a copy of the meter list and
        single dictionary entries, which the service's thread only adds to.
        """
        for meter_id in list(self.meter_ids):
            self._discover(meter_id)
            energy = self.energy.meters.get(meter_id)
            if energy is not None and energy.last_time_s > float("-inf"):
                self._publish_state(meter_id, energy)

    def _discover(self, meter_id: str) -> None:
        """The meter's configs; with control off, an empty config for each command entity, which
        removes one a run with control on left (retained on the broker, and in a running HA)."""
        model = self.models.get(meter_id, self.default_model)
        site = self.site_of(meter_id)
        for topic, payload in discovery_configs(meter_id, self.service_id, model, self.prefix,
                                                self.expire_after_s, site, self.control):
            self.publisher.publish(topic, json.dumps(payload, separators=(",", ":")))
        if not self.control:
            for component, key, _, _ in commands_of(site):
                self.publisher.publish(config_topic(self.prefix, component, meter_id, key), "")

    def rows_written(self, meter_ids: Iterable[str]) -> None:
        """Publish the state of each meter that has new rows, once, after the batch's last row.

        A meter not served by name (the partitioned layout) gets its discovery configs first.
        """
        for meter_id in dict.fromkeys(meter_ids):
            if meter_id not in self._known:
                self._known.add(meter_id)
                self.meter_ids.append(meter_id)
                self._discover(meter_id)
            self._publish_state(meter_id, self.energy.meters[meter_id])
            self.states_published += 1

    def _publish_state(self, meter_id: str, energy: MeterEnergy) -> None:
        self.publisher.publish(state_topic(meter_id), state_payload(
            energy.last_time_s, energy, self.limits_of(meter_id)))
