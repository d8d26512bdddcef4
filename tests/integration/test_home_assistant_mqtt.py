"""The Home Assistant output over the real broker's MQTT plugin, read with a plain paho client:
retained states and configs, availability by last will, energy counters across a kill -9."""

from __future__ import annotations

import hashlib
import json
import signal
import threading
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from pv_simulator.services.energy import MAX_INTERVAL_S
from tests.helpers import energy_integral, rows_of, wait_until
from tests.integration.support import HOST, BrokerTestCase

MQTT_PORT = 1883
START = "2026-06-21T10:00"
AVAILABILITY = "pv/availability/" + hashlib.sha1(b"Meter_0").hexdigest()[:12]


class Retained:
    """A paho client subscribed to exact topics, keeping every payload per topic in order."""

    def __init__(self, vhost: str, *topics: str) -> None:
        self.payloads: dict[str, list[bytes]] = {}
        self._lock = threading.Lock()
        subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pvtest-{uuid.uuid4().hex[:8]}")
        self.client.username_pw_set(f"{vhost}:guest", "guest")
        self.client.on_connect = lambda client, _u, _f, code, _p: (
            client.subscribe([(topic, 1) for topic in topics]) if not code.is_failure else None)
        self.client.on_subscribe = lambda _c, _u, _m, _codes, _p: subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect(HOST, MQTT_PORT)
        self.client.loop_start()
        wait_until(subscribed.is_set, 10, f"MQTT subscription to {topics}")

    def _on_message(self, _client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.payloads.setdefault(message.topic, []).append(bytes(message.payload))

    def of(self, topic: str) -> list[bytes]:
        with self._lock:
            return list(self.payloads.get(topic, []))

    def last(self, topic: str) -> bytes | None:
        payloads = self.of(topic)
        return payloads[-1] if payloads else None

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class HomeAssistantMqttTest(BrokerTestCase):
    # Each test reads retained topics from the first message on: one test's last state must not
    # be the next test's first.
    vhost_per_test = True

    def subscribe(self, *topics: str) -> Retained:
        subscriber = Retained(self.vhost, *topics)
        self.addCleanup(subscriber.close)
        return subscriber

    def run_meter(self, readings: int) -> None:
        meter = self.run_cli("demo_meter.py", "-conf", str(self.conf), "--speed", "0",
                             "--duration", str(readings), "--start", START, "--seed", "7")
        self.assert_clean_exit(meter.returncode, meter.stderr)

    def setUp(self) -> None:
        super().setUp()
        self.conf = self.write_config(output={"home_assistant": "true", "expire_after": 120})
        self.args = ("-conf", str(self.conf), "-ids", "Meter_0", "--output-dir", "out",
                     "--summary-file", "summary.json")

    def assert_counters(self, state: dict[str, float]) -> None:
        expected = energy_integral(rows_of(self.tmp / "out", "Meter_0"), MAX_INTERVAL_S)
        for name, kwh in expected.items():
            self.assertAlmostEqual(state[f"{name}_kwh"], kwh, delta=max(1e-6, kwh * 1e-3), msg=name)
        self.assertGreater(expected["consumption"], 0.0)

    def test_a_new_subscriber_gets_the_last_state_config_and_availability_at_once(self) -> None:
        self.run_meter(600)
        service = self.run_cli("demo_pv_service.py", *self.args, "--exit-when-idle", "1")
        self.assert_clean_exit(service.returncode, service.stderr)
        config_topic = "homeassistant/sensor/Meter_0/grid_import_kwh/config"
        late = self.subscribe("pv/state/Meter_0", config_topic, AVAILABILITY)
        wait_until(lambda: all(late.of(t) for t in ("pv/state/Meter_0", config_topic, AVAILABILITY)),
                   10, "the retained state, config and availability")
        state = json.loads(late.last("pv/state/Meter_0") or b"{}")
        last = rows_of(self.tmp / "out", "Meter_0")[-1]
        self.assertEqual(state["time_s"], float(last["time_s"]))
        self.assertAlmostEqual(state["meter_power_w"], float(last["meter_power_value_w"]), delta=0.001)
        self.assertAlmostEqual(state["pv_power_w"], float(last["pv_power_value_kw"]) * 1000, delta=0.001)
        self.assert_counters(state)
        config = json.loads(late.last(config_topic) or b"{}")
        self.assertEqual((config["state_class"], config["availability_topic"]), ("total_increasing", AVAILABILITY))
        self.assertEqual(late.of(AVAILABILITY), [b"offline"], "a stopped service says offline")
        summary = json.loads((self.tmp / "summary.json").read_text())
        self.assertAlmostEqual(summary["energy_kwh"]["Meter_0"]["grid_import"], state["grid_import_kwh"],
                               delta=1e-6)

    def test_counters_continue_across_a_kill_9_and_the_will_says_offline(self) -> None:
        self.run_meter(40000)
        watcher = self.subscribe("pv/state/Meter_0", AVAILABILITY)
        first = self.start("demo_pv_service.py", *self.args, log=True)
        wait_until(lambda: watcher.last(AVAILABILITY) == b"online", 30, "the service online")
        wait_until(lambda: len(watcher.of("pv/state/Meter_0")) > 5, 60, "a few states")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        wait_until(lambda: watcher.last(AVAILABILITY) == b"offline", 5, "offline by the last will")
        killed_at = len(watcher.of("pv/state/Meter_0"))
        second = self.run_cli("demo_pv_service.py", *self.args, "--exit-when-idle", "1")
        self.assert_clean_exit(second.returncode, second.stderr)
        self.assertIn("energy counters continue from", second.stderr)
        wait_until(lambda: json.loads(watcher.last("pv/state/Meter_0") or b"{}").get("time_s")
                   == float(rows_of(self.tmp / "out", "Meter_0")[-1]["time_s"]), 10, "the last state")
        states = [json.loads(p) for p in watcher.of("pv/state/Meter_0")]
        self.assertGreater(len(states), killed_at)
        for name in ("consumption_kwh", "pv_kwh", "grid_import_kwh", "grid_export_kwh"):
            values = [s[name] for s in states]
            self.assertEqual(values, sorted(values), f"{name} decreased")
        self.assertEqual(len(rows_of(self.tmp / "out", "Meter_0")), 40000)
        self.assert_counters(states[-1])
        self.assertGreater(states[-1]["grid_export_kwh"], 0.0, "a June day exports")
