"""Home Assistant discovery payloads and the retained states, recorded without a broker."""

from __future__ import annotations

import dataclasses
import json
import re
import unittest
from typing import Any

from pv_simulator.models.site import MODES, SELF_CONSUMPTION, Site
from pv_simulator.services.control import ControlBoard, command_topic, parse_command
from pv_simulator.services.energy import EnergyCounters
from pv_simulator.services.home_assistant import (
    SENSORS,
    HomeAssistantOutput,
    availability_topic,
    discovery_configs,
    node_id,
    state_topic,
)
from pv_simulator.services.results import limits

BATTERY_SITE = Site(inverter_ac_kw=4.0, capacity_kwh=10.0, max_charge_kw=5.0, max_discharge_kw=3.0,
                    round_trip_efficiency=0.9, soc_min_pct=5.0, soc_max_pct=100.0,
                    initial_soc_pct=50.0, mode=SELF_CONSUMPTION, export_limit_w=None)
PV_ONLY_SITE = dataclasses.replace(BATTERY_SITE, capacity_kwh=0.0, max_charge_kw=0.0,
                                   max_discharge_kw=0.0, export_limit_w=0.0)


def by_entity(configs: list[tuple[str, dict[str, Any]]]) -> dict[str, tuple[str, dict[str, Any]]]:
    """Configs by ``<component>.<key>``, the component read from the topic."""
    return {f"{topic.split('/')[1]}.{payload['unique_id'].rsplit('-', 1)[1]}": (topic, payload)
            for topic, payload in configs}


def command_of(template: str, value: float | str) -> bytes:
    """What HA sends for ``value`` with one of our command templates, ``{{ {'KEY': value} | to_json }}``
    (the real rendering is the end-to-end test's; this one checks the key and the JSON)."""
    match = re.fullmatch(r"\{\{ \{'(\w+)': value\} \| to_json \}\}", template)
    assert match is not None, template
    return json.dumps({match.group(1): value}).encode()


class Recorder:
    def __init__(self) -> None:
        self.messages: list[tuple[str, str | bytes, bool]] = []

    def publish(self, topic: str, payload: bytes | str, retain: bool = True) -> None:
        self.messages.append((topic, payload, retain))


class DiscoveryTest(unittest.TestCase):
    def test_one_device_with_power_and_energy_sensors(self) -> None:
        configs = discovery_configs("Meter_0", "svc", "5 kWp", prefix="ha", expire_after_s=60)
        self.assertEqual(len(configs), len(SENSORS))
        devices = {json.dumps(payload["device"], sort_keys=True) for _, payload in configs}
        self.assertEqual(len(devices), 1)
        device = configs[0][1]["device"]
        self.assertEqual((device["manufacturer"], device["model"], device["serial_number"]),
                         ("pv-simulator", "5 kWp", "Meter_0"))
        by_key = {payload["unique_id"].rsplit("-", 1)[1]: (topic, payload) for topic, payload in configs}
        topic, energy = by_key["grid_import_kwh"]
        self.assertEqual(topic, "ha/sensor/Meter_0/grid_import_kwh/config")
        self.assertEqual((energy["unit_of_measurement"], energy["device_class"], energy["state_class"]),
                         ("kWh", "energy", "total_increasing"))
        _, power = by_key["grid_power_w"]
        self.assertEqual((power["unit_of_measurement"], power["device_class"], power["state_class"]),
                         ("W", "power", "measurement"))
        for _, payload in configs:
            self.assertEqual(payload["state_topic"], state_topic("Meter_0"))
            self.assertEqual(payload["availability_topic"], availability_topic("svc"))
            self.assertEqual(payload["expire_after"], 60)
        self.assertEqual(len({payload["unique_id"] for _, payload in configs}), len(SENSORS))

    def test_an_id_with_dots_is_a_safe_node_id_but_keeps_its_serial(self) -> None:
        self.assertEqual(node_id("Site.A 1/x"), "Site_A_1_x")
        topic, payload = discovery_configs("Site.A", "svc", "m")[0]
        self.assertTrue(topic.startswith("homeassistant/sensor/Site_A/"), topic)
        self.assertEqual(payload["device"]["serial_number"], "Site.A")
        self.assertEqual(payload["state_topic"], "pv/state/Site.A")


class SiteDiscoveryTest(unittest.TestCase):
    def test_a_battery_site_with_control_has_its_sensors_and_command_entities(self) -> None:
        entities = by_entity(discovery_configs("Site.A", "svc", "m", prefix="ha", site=BATTERY_SITE,
                                               control=True))
        self.assertEqual(set(entities), {f"sensor.{s.key}" for s in SENSORS} | {
            "sensor.pv_available_w", "sensor.battery_soc_pct", "sensor.battery_power_w",
            "number.pv_limit_pct", "number.export_limit_w", "select.battery_mode",
            "number.battery_setpoint_w"})
        _, soc = entities["sensor.battery_soc_pct"]
        self.assertEqual((soc["unit_of_measurement"], soc["device_class"], soc["state_class"]),
                         ("%", "battery", "measurement"))
        for key in ("battery_power_w", "pv_available_w"):
            _, power = entities[f"sensor.{key}"]
            self.assertEqual((power["unit_of_measurement"], power["device_class"]), ("W", "power"))
        topic, mode = entities["select.battery_mode"]
        self.assertEqual(topic, "ha/select/Site_A/battery_mode/config")
        self.assertEqual(mode["options"], list(MODES))
        _, setpoint = entities["number.battery_setpoint_w"]
        self.assertEqual((setpoint["min"], setpoint["max"]), (-3000, 5000))
        _, pv_limit = entities["number.pv_limit_pct"]
        self.assertEqual((pv_limit["min"], pv_limit["max"], pv_limit["unit_of_measurement"]), (0, 100, "%"))
        for name, (_, payload) in entities.items():
            self.assertEqual(payload["state_topic"], "pv/state/Site.A", name)
            self.assertEqual(payload["availability_topic"], availability_topic("svc"), name)
            if not name.startswith("sensor."):
                self.assertEqual(payload["command_topic"], "pv/control/Site%2EA", name)
                self.assertNotIn("expire_after", payload)  # sensors only, in HA's schema

    def test_the_command_templates_make_commands_the_control_path_takes(self) -> None:
        entities = by_entity(discovery_configs("A", "svc", "m", site=BATTERY_SITE, control=True))
        board = ControlBoard(lambda meter_id: meter_id == "A", lambda meter_id: True)
        samples: dict[str, float | str] = {"number.pv_limit_pct": 30, "number.export_limit_w": 0,
                                           "select.battery_mode": "setpoint",
                                           "number.battery_setpoint_w": -2500}
        for name, value in samples.items():
            _, payload = entities[name]
            key = name.split(".")[1]
            self.assertEqual(payload["value_template"], f"{{{{ value_json.{key} }}}}")
            body = command_of(payload["command_template"], value)
            self.assertEqual(parse_command(body).settings, {key: value}, name)
            board.on_message("pv.control." + payload["command_topic"].split("/")[-1], body)
        self.assertEqual((board.applied, board.rejected), (len(samples), 0))

    def test_no_battery_entities_without_battery_and_no_commands_without_control(self) -> None:
        pv_only = set(by_entity(discovery_configs("A", "svc", "m", site=PV_ONLY_SITE, control=True)))
        self.assertIn("sensor.pv_available_w", pv_only)
        self.assertIn("number.export_limit_w", pv_only)
        self.assertFalse({"sensor.battery_soc_pct", "select.battery_mode",
                          "number.battery_setpoint_w"} & pv_only)
        uncontrolled = set(by_entity(discovery_configs("A", "svc", "m", site=BATTERY_SITE)))
        self.assertIn("sensor.battery_soc_pct", uncontrolled)
        self.assertFalse(any(name.startswith(("number.", "select.")) for name in uncontrolled))
        plain = set(by_entity(discovery_configs("A", "svc", "m", control=True)))
        self.assertEqual(plain, {f"sensor.{s.key}" for s in SENSORS})

    def test_the_command_topic_is_the_control_routing_key_as_mqtt_spells_it(self) -> None:
        self.assertEqual(command_topic("Meter_0"), "pv/control/Meter_0")
        self.assertEqual(command_topic("Site.A-1"), "pv/control/Site%2EA-1")


class OutputTest(unittest.TestCase):
    def test_a_site_state_has_its_row_and_the_settings_in_force(self) -> None:
        energy = EnergyCounters()
        recorder = Recorder()
        in_force = limits(30.0, None, "setpoint", -1500.0)
        output = HomeAssistantOutput(recorder, energy, ["A", "P"], "svc",
                                     site_of=lambda m: BATTERY_SITE if m == "A" else None,
                                     limits_of=lambda m: in_force if m == "A" else None, control=True)
        energy.add("A", 0.0, 500.0, 1.2, -700.0).site_row(0.0, 61.25, 1.5)
        energy.add("P", 0.0, 500.0, 1.2)
        output.rows_written(["A", "P"])
        states = {topic: json.loads(payload) for topic, payload, _ in recorder.messages}
        site = states["pv/state/A"]
        self.assertEqual((site["battery_soc_pct"], site["battery_power_w"], site["pv_available_w"],
                          site["grid_power_w"]), (61.25, 0.0, 1500.0, -700.0))
        self.assertEqual({key: site[key] for key in in_force}, in_force)
        self.assertFalse({"battery_soc_pct", "pv_limit_pct"} & set(states["pv/state/P"]))

    def test_discovery_has_the_command_entities_of_controlled_sites(self) -> None:
        recorder = Recorder()
        HomeAssistantOutput(recorder, EnergyCounters(), ["A"], "svc", site_of=lambda m: BATTERY_SITE,
                            control=True).publish_discovery()
        topics = {topic for topic, _, _ in recorder.messages}
        self.assertIn("homeassistant/select/A/battery_mode/config", topics)
        self.assertIn("homeassistant/number/A/pv_limit_pct/config", topics)

    def test_without_control_the_command_entities_of_an_earlier_run_are_removed(self) -> None:
        recorder = Recorder()
        HomeAssistantOutput(recorder, EnergyCounters(), ["A", "P"], "svc",
                            site_of=lambda m: BATTERY_SITE if m == "A" else None).publish_discovery()
        emptied = sorted(topic for topic, payload, retain in recorder.messages if payload == "" and retain)
        self.assertEqual(emptied, ["homeassistant/number/A/battery_setpoint_w/config",
                                   "homeassistant/number/A/export_limit_w/config",
                                   "homeassistant/number/A/pv_limit_pct/config",
                                   "homeassistant/select/A/battery_mode/config"])
        self.assertIn("homeassistant/sensor/A/battery_soc_pct/config", {t for t, _, _ in recorder.messages})


    def test_states_once_per_meter_and_batch_with_the_counters(self) -> None:
        energy = EnergyCounters()
        recorder = Recorder()
        output = HomeAssistantOutput(recorder, energy, ["A", "B"], "svc")
        for time_s in (0.0, 36.0):
            energy.add("A", time_s, 1000.0, 0.2)
        output.rows_written(["A", "A"])
        self.assertEqual(len(recorder.messages), 1)
        topic, payload, retain = recorder.messages[0]
        self.assertEqual((topic, retain), ("pv/state/A", True))
        state = json.loads(payload)
        self.assertEqual(state["time_s"], 36.0)
        self.assertAlmostEqual(state["consumption_kwh"], 0.01)
        self.assertAlmostEqual(state["grid_import_kwh"], 0.008)
        self.assertAlmostEqual(state["pv_power_w"], 200.0)

    def test_discovery_on_birth_includes_the_last_state_of_meters_that_have_one(self) -> None:
        energy = EnergyCounters()
        energy.add("A", 10.0, 500.0, 0.0)
        recorder = Recorder()
        HomeAssistantOutput(recorder, energy, ["A", "B"], "svc").publish_discovery()
        topics = [topic for topic, _, _ in recorder.messages]
        self.assertEqual(sum(topic.endswith("/config") for topic in topics), 2 * len(SENSORS))
        self.assertEqual([t for t in topics if t.startswith("pv/state/")], ["pv/state/A"])
        self.assertTrue(all(retain for _, _, retain in recorder.messages))


if __name__ == "__main__":
    unittest.main()
