"""Home Assistant discovery payloads and the retained states, recorded without a broker."""

from __future__ import annotations

import json
import unittest

from pv_simulator.services.energy import EnergyCounters
from pv_simulator.services.home_assistant import (
    SENSORS,
    HomeAssistantOutput,
    availability_topic,
    discovery_configs,
    node_id,
    state_topic,
)


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


class OutputTest(unittest.TestCase):
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
