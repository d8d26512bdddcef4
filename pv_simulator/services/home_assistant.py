"""Home Assistant MQTT discovery: the config payloads of a meter's device, and its state payload.

Each served meter is one HA device (manufacturer ``pv-simulator``, serial number = meter id)
whose entities read one retained JSON state topic, ``pv/state/<meter_id>``, written after each
of the meter's rows (:func:`state_payload`). Every entity names the PV service's availability
topic, which its last will turns ``offline`` when the service stops or dies, and
``expire_after``, so a stream that stops without a will (a broker cut) does not leave a stale
value either. The functions here are pure: the MQTT client is
:mod:`pv_simulator.messaging.mqtt`.

Topics follow HA's ``<discovery_prefix>/<component>/<node_id>/<object_id>/config``; node and
object ids allow only ``[A-Za-z0-9_-]``, so other characters of a meter id become ``_`` there
(the device's serial number and the state topic keep the id). On RabbitMQ's MQTT plugin a
``.`` in a topic is a level separator on the AMQP side only, and MQTT subscribers see it back.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pv_simulator.services.energy import EnergyCounters, MeterEnergy

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


def node_id(meter_id: str) -> str:
    """The meter id as an HA node id: characters other than ``[A-Za-z0-9_-]`` become ``_``."""
    return _UNSAFE.sub("_", meter_id)


def state_topic(meter_id: str) -> str:
    return STATE_PREFIX + meter_id


def availability_topic(service_id: str) -> str:
    return AVAILABILITY_PREFIX + service_id


def discovery_configs(meter_id: str, service_id: str, model: str, prefix: str = "homeassistant",
                      expire_after_s: int = 300) -> list[tuple[str, dict[str, Any]]]:
    """(topic, payload) of every entity of ``meter_id``'s device, to publish retained.

    Args:
        service_id: names the availability topic of the PV service serving the meter.
        model: the device's model line, e.g. the plant's peak power.
        prefix: HA's discovery prefix (``[output] discovery_prefix``).
        expire_after_s: seconds without a state after which HA shows the entities unavailable.
    """
    node = node_id(meter_id)
    device = {"identifiers": [f"pv-simulator-{node}"], "manufacturer": MANUFACTURER, "model": model,
              "serial_number": meter_id, "name": f"PV simulator {meter_id}"}
    configs: list[tuple[str, dict[str, Any]]] = []
    for sensor in SENSORS:
        payload: dict[str, Any] = {
            "name": sensor.name,
            "unique_id": f"pv-simulator-{node}-{sensor.key}",
            "object_id": f"pv_simulator_{node}_{sensor.key}",
            "device": device,
            "state_topic": state_topic(meter_id),
            "value_template": f"{{{{ value_json.{sensor.key} }}}}",
            "unit_of_measurement": sensor.unit,
            "device_class": sensor.device_class,
            "state_class": sensor.state_class,
            "availability_topic": availability_topic(service_id),
            "payload_available": ONLINE,
            "payload_not_available": OFFLINE,
            "expire_after": expire_after_s,
        }
        if sensor.unit == "kWh":
            payload["suggested_display_precision"] = 3
        configs.append((f"{prefix}/sensor/{node}/{sensor.key}/config", payload))
    return configs


def state_payload(time_s: float, energy: MeterEnergy) -> bytes:
    """The retained state of a meter after its row at ``time_s``: powers of the row, counters so far."""
    return json.dumps({
        "time_s": round(time_s, 3),
        "meter_power_w": round(energy.meter_power_w, 3),
        "pv_power_w": round(energy.pv_power_kw * 1000.0, 3),
        "grid_power_w": round(energy.grid_power_w, 3),
        "consumption_kwh": round(energy.consumption_kwh, 6),
        "pv_kwh": round(energy.pv_kwh, 6),
        "grid_import_kwh": round(energy.grid_import_kwh, 6),
        "grid_export_kwh": round(energy.grid_export_kwh, 6),
    }, separators=(",", ":")).encode()


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
    """

    def __init__(self, publisher: Publisher, energy: EnergyCounters, meter_ids: Sequence[str],
                 service_id: str, prefix: str = "homeassistant", expire_after_s: int = 300,
                 models: Mapping[str, str] | None = None, default_model: str = "household with PV") -> None:
        self.publisher = publisher
        self.energy = energy
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
                self.publisher.publish(state_topic(meter_id), state_payload(energy.last_time_s, energy))

    def _discover(self, meter_id: str) -> None:
        model = self.models.get(meter_id, self.default_model)
        for topic, payload in discovery_configs(meter_id, self.service_id, model, self.prefix,
                                                self.expire_after_s):
            self.publisher.publish(topic, json.dumps(payload, separators=(",", ":")))

    def rows_written(self, meter_ids: Iterable[str]) -> None:
        """Publish the state of each meter that has new rows, once, after the batch's last row.

        A meter not served by name (the partitioned layout) gets its discovery configs first.
        """
        for meter_id in dict.fromkeys(meter_ids):
            if meter_id not in self._known:
                self._known.add(meter_id)
                self.meter_ids.append(meter_id)
                self._discover(meter_id)
            energy = self.energy.meters[meter_id]
            self.publisher.publish(state_topic(meter_id), state_payload(energy.last_time_s, energy))
            self.states_published += 1
