"""End to end with a real Home Assistant 2024.3: discovery, states, energy counters, availability.

Opt-in, since HA takes a venv of its own and half a minute to start: ``make test-ha``
(``PV_HA_TESTS=1``), which installs it first (scripts/ensure_home_assistant.sh).
"""

from __future__ import annotations

import json
import os
import signal
import unittest

from pv_simulator.services.energy import MAX_INTERVAL_S
from pv_simulator.services.home_assistant import SENSORS
from tests.helpers import energy_integral, rows_of, wait_until
from tests.integration.home_assistant import HASS, HomeAssistant
from tests.integration.support import HOST, BrokerTestCase

MQTT_PORT = 1883
METERS = ("Meter_0", "Meter_1")
READINGS = 3000


def entity(meter_id: str, key: str) -> str:
    return f"sensor.pv_simulator_{meter_id.lower()}_{key}"


@unittest.skipUnless(os.environ.get("PV_HA_TESTS") == "1",
                     "Home Assistant takes its own venv and a minute: run it with `make test-ha` (PV_HA_TESTS=1)")
class HomeAssistantEndToEndTest(BrokerTestCase):
    @classmethod
    def setUpClass(cls) -> None:
        if not HASS.exists():
            raise AssertionError(f"no {HASS}: run scripts/ensure_home_assistant.sh (make test-ha does)")
        super().setUpClass()

    def setUp(self) -> None:
        super().setUp()
        self.ha = HomeAssistant(self.tmp / "ha")
        self.addCleanup(self.ha.stop)
        self.ha.start()
        self.ha.add_mqtt(HOST, MQTT_PORT, f"{self.vhost}:guest", "guest")

    def states_of(self, meter_id: str) -> dict[str, str]:
        states = self.ha.states()
        return {sensor.key: states[entity(meter_id, sensor.key)]["state"]
                for sensor in SENSORS if entity(meter_id, sensor.key) in states}

    def test_devices_states_counters_and_availability(self) -> None:
        conf = self.write_config(output={"home_assistant": "true"})
        meter = self.run_cli("demo_meter.py", "-conf", str(conf), "-nb", str(len(METERS)), "--speed", "0",
                             "--duration", str(READINGS), "--start", "2026-06-21T10:00", "--seed", "7")
        self.assert_clean_exit(meter.returncode, meter.stderr)
        args = ("-conf", str(conf), "-ids", *METERS, "--output-dir", "out")
        service = self.start("demo_pv_service.py", *args, log=True)
        wait_until(lambda: all(len(rows_of(self.tmp / "out", m)) == READINGS for m in METERS), 60,
                   "every row written")

        def matches_rows() -> bool:
            for meter_id in METERS:
                state = self.states_of(meter_id)
                if len(state) != len(SENSORS) or "unavailable" in state.values() or "unknown" in state.values():
                    return False
                last = rows_of(self.tmp / "out", meter_id)[-1]
                if abs(float(state["meter_power_w"]) - float(last["meter_power_value_w"])) > 0.01:
                    return False
            return True

        wait_until(matches_rows, 60, f"HA's states of the last rows: {self.states_of(METERS[0])}")
        for meter_id in METERS:
            rows = rows_of(self.tmp / "out", meter_id)
            state = self.states_of(meter_id)
            last = rows[-1]
            self.assertAlmostEqual(float(state["pv_power_w"]), float(last["pv_power_value_kw"]) * 1000, delta=0.01)
            self.assertAlmostEqual(float(state["grid_power_w"]), float(last["meter_power_value_w"])
                                   - float(last["pv_power_value_kw"]) * 1000, delta=0.01)
            for name, kwh in energy_integral(rows, MAX_INTERVAL_S).items():
                self.assertAlmostEqual(float(state[f"{name}_kwh"]), kwh, delta=max(1e-3, kwh * 1e-3), msg=name)
            device = f"device_id('{entity(meter_id, 'grid_import_kwh')}')"
            self.assertEqual(self.ha.template(f"{{{{ device_attr({device}, 'serial_number') }}}}"), meter_id)
            self.assertEqual(self.ha.template(f"{{{{ device_attr({device}, 'manufacturer') }}}}"), "pv-simulator")
            entities = json.loads(self.ha.template(f"{{{{ device_entities({device}) | sort | to_json }}}}"))
            self.assertEqual(entities, sorted(entity(meter_id, s.key) for s in SENSORS))
            attributes = self.ha.states()[entity(meter_id, "grid_export_kwh")]["attributes"]
            self.assertEqual((attributes["state_class"], attributes["device_class"],
                              attributes["unit_of_measurement"]), ("total_increasing", "energy", "kWh"))

        service.send_signal(signal.SIGKILL)
        service.wait(timeout=10)
        wait_until(lambda: set(self.states_of(METERS[0]).values()) == {"unavailable"}, 5,
                   "unavailable within 5 s of the kill")
        self.start("demo_pv_service.py", *args, log=True)
        wait_until(lambda: "unavailable" not in self.states_of(METERS[0]).values(), 30,
                   "available again after the restart")
        self.assertAlmostEqual(
            float(self.states_of(METERS[0])["consumption_kwh"]),
            energy_integral(rows_of(self.tmp / "out", METERS[0]), MAX_INTERVAL_S)["consumption"], delta=1e-3)
