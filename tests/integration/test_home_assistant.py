"""End to end with a real Home Assistant 2024.3: discovery, states, energy counters, availability,
and a site with a battery whose command entities reach the PV service.

Opt-in, since HA takes a venv of its own and half a minute to start: ``make test-ha``
(``PV_HA_TESTS=1``), which installs it first (scripts/ensure_home_assistant.sh).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pv_simulator.models.site import MODES
from pv_simulator.services.energy import MAX_INTERVAL_S
from pv_simulator.services.home_assistant import BATTERY_SENSORS, SENSORS, SITE_SENSORS
from tests.helpers import energy_integral, rows_of, wait_until
from tests.integration.home_assistant import HomeAssistant, opt_in, require_hass
from tests.integration.support import HOST, PYTHON, BrokerTestCase
from tests.paths import ROOT

MQTT_PORT = 1883
METERS = ("Meter_0", "Meter_1")
READINGS = 3000


def entity(meter_id: str, key: str, component: str = "sensor") -> str:
    return f"{component}.pv_simulator_{meter_id.lower()}_{key}"


@opt_in
class HomeAssistantTestCase(BrokerTestCase):
    """A Home Assistant of each test's own, with the MQTT integration on this class's virtual host."""

    @classmethod
    def setUpClass(cls) -> None:
        require_hass()
        super().setUpClass()

    #: Whether the test's HA runs its recorder (long-term statistics).
    recorder = False

    def setUp(self) -> None:
        super().setUp()
        self.ha = HomeAssistant(self.tmp / "ha", self.recorder)
        self.addCleanup(self.ha.stop)
        self.ha.start()
        self.ha.add_mqtt(HOST, MQTT_PORT, f"{self.vhost}:guest", "guest")

    def states_of(self, meter_id: str) -> dict[str, str]:
        states = self.ha.states()
        return {sensor.key: states[entity(meter_id, sensor.key)]["state"]
                for sensor in SENSORS if entity(meter_id, sensor.key) in states}


class HomeAssistantEndToEndTest(HomeAssistantTestCase):
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


#: A 10 kWp plant (8.33 kW AC) at a clear June noon and a 10 kWh / 5 kW battery, half full at start.
SITE: dict[str, dict[str, object]] = {
    "output": {"home_assistant": "true"},
    "pv": {"model": "solar", "sky": "clear", "peak_power_kw": 10},
    "meter": {"model": "household", "annual_energy_kwh": 4000},
    "battery": {"capacity_kwh": 10, "max_charge_kw": 5, "max_discharge_kw": 5}}
INVERTER_AC_KW = 10 / 1.2
#: The real-time run's interval: commands show in the rows within two of them.
INTERVAL_S = 2.0


class HomeAssistantSiteTest(HomeAssistantTestCase):
    def site_rows(self, out: Path) -> list[dict[str, str]]:
        return rows_of(out, "Meter_0")

    def call(self, domain: str, service: str, entity_id: str, **data: Any) -> None:
        self.ha.request("POST", f"/api/services/{domain}/{service}", {"entity_id": entity_id, **data})

    def test_a_battery_site_with_control_its_entities_states_and_commands_through_ha(self) -> None:
        conf = self.write_config("broker.ini", **SITE)
        out = self.tmp / "out"
        meter = self.run_cli("demo_meter.py", "-conf", str(conf), "--speed", "0", "--seed", "1",
                             "--start", "2026-06-21T11:00", "--interval", "10", "--duration", "1800")
        self.assert_clean_exit(meter.returncode, meter.stderr)
        args = ("-conf", str(conf), "-ids", "Meter_0", "--output-dir", str(out))
        service = self.start("demo_pv_service.py", *args, "--control", log=True)
        wait_until(lambda: len(self.site_rows(out)) == 180, 60, "the fast-forward half hour written")
        sensors = SENSORS + SITE_SENSORS + BATTERY_SENSORS
        commands = {entity("Meter_0", "pv_limit_pct", "number"), entity("Meter_0", "export_limit_w", "number"),
                    entity("Meter_0", "battery_mode", "select"),
                    entity("Meter_0", "battery_setpoint_w", "number")}
        last = self.site_rows(out)[-1]
        expected = {"battery_soc_pct": float(last["battery_soc_pct"]),
                    "battery_power_w": float(last["battery_power_w"]),
                    "pv_available_w": float(last["pv_available_kw"]) * 1000.0,
                    "grid_power_w": float(last["grid_power_w"]),
                    "pv_power_w": float(last["pv_power_value_kw"]) * 1000.0}

        def shows_the_last_row() -> bool:
            states = self.ha.states()
            try:
                return all(abs(float(states[entity("Meter_0", key)]["state"]) - value) < 0.01
                           for key, value in expected.items()) and commands <= set(states)
            except (KeyError, ValueError):
                return False

        wait_until(shows_the_last_row, 60, f"HA's states of the last row {last}")
        states = self.ha.states()
        for sensor in sensors:
            attributes = states[entity("Meter_0", sensor.key)]["attributes"]
            self.assertEqual((attributes.get("device_class"), attributes.get("unit_of_measurement")),
                             (sensor.device_class, sensor.unit), sensor.key)
        self.assertGreater(expected["battery_power_w"], 0.0)  # charging from the noon surplus
        for name, kwh in energy_integral(self.site_rows(out), MAX_INTERVAL_S).items():
            self.assertAlmostEqual(float(states[entity("Meter_0", f"{name}_kwh")]["state"]), kwh,
                                   delta=max(1e-3, kwh * 1e-3), msg=name)
        mode = states[entity("Meter_0", "battery_mode", "select")]
        self.assertEqual((mode["state"], mode["attributes"]["options"]), ("self_consumption", list(MODES)))
        pv_limit = states[entity("Meter_0", "pv_limit_pct", "number")]
        self.assertEqual((pv_limit["state"], pv_limit["attributes"]["min"], pv_limit["attributes"]["max"],
                          pv_limit["attributes"]["unit_of_measurement"]), ("unknown", 0, 100, "%"))
        setpoint = states[entity("Meter_0", "battery_setpoint_w", "number")]["attributes"]
        self.assertEqual((setpoint["min"], setpoint["max"], setpoint["unit_of_measurement"]), (-5000, 5000, "W"))
        entities = json.loads(self.ha.template(
            f"{{{{ device_entities(device_id('{entity('Meter_0', 'battery_soc_pct')}')) | to_json }}}}"))
        self.assertEqual(set(entities), {entity("Meter_0", s.key) for s in sensors} | commands)

        self.start("demo_meter.py", "-conf", str(conf), "--seed", "1", "--start", "2026-06-21T12:00",
                   "--interval", str(INTERVAL_S), "--duration", "90", log=True)
        wait_until(lambda: len(self.site_rows(out)) >= 183, 30, "the real-time rows")
        before_s = float(self.site_rows(out)[-1]["time_s"])
        self.call("number", "set_value", entity("Meter_0", "pv_limit_pct", "number"), value=30)
        limit_kw = 0.3 * INVERTER_AC_KW

        def capped() -> list[dict[str, str]]:
            return [row for row in self.site_rows(out) if float(row["time_s"]) > before_s
                    and abs(float(row["pv_power_value_kw"]) - limit_kw) < 1e-5]

        wait_until(lambda: bool(capped()), 30, "a row at 30 % of the AC rating")
        self.assertLessEqual(float(capped()[0]["time_s"]), before_s + 2 * INTERVAL_S)
        self.assertGreater(float(capped()[0]["pv_available_kw"]), limit_kw)
        wait_until(lambda: self.ha.states()[entity("Meter_0", "pv_limit_pct", "number")]["state"] == "30.0", 10,
                   "HA's PV limit from the state topic")

        before_s = float(self.site_rows(out)[-1]["time_s"])
        self.call("select", "select_option", entity("Meter_0", "battery_mode", "select"), option="idle")

        def idle() -> list[dict[str, str]]:
            return [row for row in self.site_rows(out) if float(row["time_s"]) > before_s
                    and float(row["battery_power_w"]) == 0.0]

        wait_until(lambda: bool(idle()), 30, "a row with the battery idle")
        self.assertLessEqual(float(idle()[0]["time_s"]), before_s + 2 * INTERVAL_S)
        wait_until(lambda: self.ha.states()[entity("Meter_0", "battery_mode", "select")]["state"] == "idle", 10,
                   "HA's battery mode from the state topic")

        service.send_signal(signal.SIGTERM)
        self.assert_clean_exit(*self.finish(service, timeout=60)[::2])
        self.start("demo_pv_service.py", *args, log=True)
        wait_until(lambda: not commands & set(self.ha.states()), 30,
                   "the command entities removed by a run without --control")
        self.assertLessEqual({entity("Meter_0", s.key) for s in sensors}, set(self.ha.states()))


class HomeAssistantStatisticsTest(HomeAssistantTestCase):
    recorder = True

    def test_a_fast_forward_period_imported_as_statistics_at_its_simulated_hours(self) -> None:
        conf = self.write_config("broker.ini", pv={"model": "solar", "sky": "clear", "peak_power_kw": 5},
                                 meter={"model": "household", "annual_energy_kwh": 4000})
        meter = self.run_cli("demo_meter.py", "-conf", str(conf), "--speed", "0", "--seed", "3",
                             "--start", "2026-06-21T09:00", "--interval", "60", "--duration", str(4 * 3600))
        self.assert_clean_exit(meter.returncode, meter.stderr)
        service = self.run_cli("demo_pv_service.py", "-conf", str(conf), "-ids", "Meter_0", "--output-dir",
                               "out", "--exit-when-idle", "1")
        self.assert_clean_exit(service.returncode, service.stderr)
        files = sorted(str(path) for path in (self.tmp / "out").glob("Meter_0-*.csv"))

        def import_with(token: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([PYTHON, "-m", "pv_simulator.ha_statistics", *files, "--url", self.ha.url],
                                  env={**os.environ, "HA_TOKEN": token}, cwd=ROOT,
                                  capture_output=True, text=True, timeout=60)

        refused = import_with("not-a-token")
        self.assertEqual(refused.returncode, 1, refused.stderr)
        self.assertEqual(len(refused.stderr.strip().splitlines()), 1, refused.stderr)
        self.assertIn("refused the token", refused.stderr)
        imported = import_with(self.ha.token)
        self.assert_clean_exit(imported.returncode, imported.stderr)
        ids = [f"pv_simulator:meter_0_{name}" for name in ("consumption", "pv", "grid_import", "grid_export")]
        query = {"type": "recorder/statistics_during_period", "start_time": "2026-06-20T00:00:00+00:00",
                 "end_time": "2026-06-22T00:00:00+00:00", "statistic_ids": ids, "period": "hour",
                 "types": ["sum"]}
        wait_until(lambda: len(self.ha.websocket(query).get(ids[0], [])) == 6, 30,
                   "six hours of statistics (the hour of zeros, 06:00 to 10:00 UTC)")
        statistics = self.ha.websocket(query)
        rows = rows_of(self.tmp / "out", "Meter_0")
        nine_utc_s = datetime(2026, 6, 21, 7, tzinfo=timezone.utc).timestamp()  # 09:00 in Vienna
        for statistic_id, name in zip(ids, ("consumption", "pv", "grid_import", "grid_export"), strict=True):
            hours = statistics[statistic_id]
            self.assertEqual([hour["start"] / 1000 - nine_utc_s for hour in hours],
                             [-7200.0, -3600.0, 0.0, 3600.0, 7200.0, 10800.0], statistic_id)
            for hour in hours:
                end_s = hour["start"] / 1000 + 3600.0
                expected = energy_integral([r for r in rows if float(r["time_s"]) <= end_s], MAX_INTERVAL_S)[name]
                self.assertAlmostEqual(hour["sum"], expected, delta=2e-6, msg=(statistic_id, hour))
        self.assertGreater(statistics[ids[1]][-1]["sum"], 1.0, "a June morning's PV")
