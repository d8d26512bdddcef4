"""The results stream end to end: real CLIs, real RabbitMQ, an AMQP queue and a real MQTT client.

MQTT reaches the class's own virtual host through the plugin's ``vhost:user`` username,
so nothing here touches the default virtual host.
"""

from __future__ import annotations

import json
import signal
import socket
import threading
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import pika
from paho.mqtt.enums import CallbackAPIVersion

from pv_simulator.messaging.port import dead_letter_arguments, queue_arguments
from pv_simulator.messaging.wire import ReadingEncoder
from pv_simulator.services.energy import MAX_INTERVAL_S
from tests.helpers import energy_integral, rows_of, wait_until
from tests.integration.support import HOST, BrokerTestCase

MQTT_PORT = 1883
RESULTS_QUEUE = "results-probe"
START = "2026-06-21T10:00"


def row_id(row: dict[str, str]) -> str:
    return f"{row['meter_id']}:{row['time_s']}"


def number_texts(body: bytes) -> dict[str, str]:
    """A result body with every number kept as the text it was sent as."""
    return json.loads(body, parse_float=str, parse_int=str)  # type: ignore[no-any-return]


class MqttSubscriber:
    """A paho client (v2 callback API) subscribed with QoS 1, collecting (topic, payload)."""

    def __init__(self, vhost: str, topic: str) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pvtest-{uuid.uuid4().hex[:8]}")
        self.client.username_pw_set(f"{vhost}:guest", "guest")
        self.client.on_connect = lambda client, _u, _f, code, _p: (
            client.subscribe(topic, qos=1) if not code.is_failure else None)
        self.client.on_subscribe = lambda _c, _u, _m, codes, _p: (
            subscribed.set() if all(c.value == 1 for c in codes) else None)
        self.client.on_message = self._on_message
        self.client.connect(HOST, MQTT_PORT)
        self.client.loop_start()
        wait_until(subscribed.is_set, 10, f"MQTT subscription to {topic} with QoS 1")

    def _on_message(self, _client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append((message.topic, bytes(message.payload)))

    def received(self) -> list[tuple[str, bytes]]:
        with self._lock:
            return list(self.messages)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class ResultsStreamTest(BrokerTestCase):
    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        with socket.socket() as probe:
            if probe.connect_ex((HOST, MQTT_PORT)) != 0:
                raise AssertionError(f"no MQTT listener at {HOST}:{MQTT_PORT}: run scripts/ensure_broker.sh")

    def setUp(self) -> None:
        super().setUp()
        channel = self.connection().channel()
        channel.queue_delete(RESULTS_QUEUE)
        channel.queue_declare(RESULTS_QUEUE)
        channel.queue_bind(RESULTS_QUEUE, "amq.topic", "pv.results.#")
        self.channel = channel

    def subscribe(self, topic: str = "pv/results/+") -> MqttSubscriber:
        subscriber = MqttSubscriber(self.vhost, topic)
        self.addCleanup(subscriber.close)
        return subscriber

    def drain_results(self) -> list[tuple[pika.spec.Basic.GetOk, pika.BasicProperties, bytes]]:
        messages: list[tuple[pika.spec.Basic.GetOk, pika.BasicProperties, bytes]] = []
        while True:
            method, properties, body = self.channel.basic_get(RESULTS_QUEUE, auto_ack=True)
            if method is None:
                return messages
            messages.append((method, properties, body))

    def run_meter(self, conf: Path, readings: int, meters: int = 1) -> None:
        meter = self.run_cli("demo_meter.py", "-conf", str(conf), "-nb", str(meters), "--speed", "0",
                             "--duration", str(readings), "--start", START, "--seed", "7")
        self.assert_clean_exit(meter.returncode, meter.stderr)

    def test_every_row_has_exactly_one_amqp_result_with_its_numbers(self) -> None:
        conf = self.write_config()
        self.run_meter(conf, 3000, meters=2)
        service = self.run_cli("demo_pv_service.py", "-conf", str(conf), "-ids", "Meter_0", "Meter_1",
                               "--output-dir", "out", "--exit-when-idle", "1", "--publish",
                               "--summary-file", "summary.json")
        self.assert_clean_exit(service.returncode, service.stderr)
        rows = {row_id(row): row for meter in ("Meter_0", "Meter_1")
                for row in rows_of(self.tmp / "out", meter)}
        self.assertEqual(len(rows), 6000)
        results = self.drain_results()
        ids = [properties.message_id for _, properties, _ in results]
        self.assertEqual(sorted(ids), sorted(rows))
        signs = set()
        for method, properties, body in results:
            row = rows[properties.message_id]
            self.assertEqual(method.routing_key, f"pv.results.{row['meter_id']}")
            self.assertEqual((properties.content_type, properties.delivery_mode), ("application/json", 2))
            fields = number_texts(body)
            self.assertEqual([fields[k] for k in ("meter_id", "time_s", "meter_power_w", "pv_power_kw",
                                                  "sum_meter_pv_w")], list(row.values()))
            grid_w = float(fields["grid_power_w"])
            expected = float(row["meter_power_value_w"]) - float(row["pv_power_value_kw"]) * 1000
            self.assertAlmostEqual(grid_w, expected, delta=0.0015)
            signs.add(grid_w > 0)
        self.assertEqual(signs, {True, False}, "a sunny morning has both import and export")
        summary = json.loads((self.tmp / "summary.json").read_text())
        self.assertEqual(summary["published_results"], 6000)
        self.assertIn("published results 6000", service.stderr)
        bodies = {properties.message_id: json.loads(body) for _, properties, body in results}
        for meter_id in ("Meter_0", "Meter_1"):
            meter_rows = rows_of(self.tmp / "out", meter_id)
            for count in (1, 2, 1500, len(meter_rows)):  # each result: its meter's counters with its row
                result = bodies[row_id(meter_rows[count - 1])]
                for name, kwh in energy_integral(meter_rows[:count], MAX_INTERVAL_S).items():
                    self.assertAlmostEqual(result[f"{name}_kwh"], kwh, delta=2e-6, msg=(meter_id, count, name))
                    if count == len(meter_rows):
                        self.assertEqual(summary["energy_kwh"][meter_id][name], result[f"{name}_kwh"])

    def test_mqtt_sees_every_row_across_a_killed_service(self) -> None:
        subscriber = self.subscribe()
        conf = self.write_config()
        self.run_meter(conf, 40000)
        args = ("-conf", str(conf), "-ids", "Meter_0", "--output-dir", "out", "--publish")
        first = self.start("demo_pv_service.py", *args)
        out_file = self.tmp / "out" / "Meter_0-2026-06-21.csv"
        wait_until(lambda: out_file.exists() and out_file.read_bytes().count(b"\n") > 3000, 60,
                   "the first PV service to write 3,000 rows")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        second = self.run_cli("demo_pv_service.py", *args, "--exit-when-idle", "1")
        self.assert_clean_exit(second.returncode, second.stderr)
        rows = {row_id(row): row for row in rows_of(self.tmp / "out", "Meter_0")}
        self.assertEqual(len(rows), 40000)
        wait_until(lambda: {f"{b['meter_id']}:{b['time_s']}" for b in
                            (number_texts(p) for _, p in subscriber.received())} >= set(rows),
                   60, "every row's result over MQTT")
        received = subscriber.received()
        self.assertEqual({topic for topic, _ in received}, {"pv/results/Meter_0"})
        seen: dict[str, bytes] = {}
        for _, payload in received:
            fields = number_texts(payload)
            key = f"{fields['meter_id']}:{fields['time_s']}"
            self.assertIn(key, rows)
            self.assertEqual(seen.setdefault(key, payload), payload, f"a repeat of {key} differs")
        print(f"\nMQTT across a SIGKILL: {len(received)} messages for {len(rows)} rows "
              f"({len(received) - len(rows)} repeats)")

    def test_a_dotted_id_arrives_under_one_mqtt_topic_level(self) -> None:
        subscriber = self.subscribe()
        meter_id = "Site.A-1"
        self.channel.queue_delete(meter_id)
        self.channel.queue_delete(meter_id + ".dlq")
        self.channel.queue_declare(meter_id + ".dlq", durable=True, arguments=dead_letter_arguments())
        self.channel.queue_declare(meter_id, durable=True, arguments=queue_arguments(meter_id))
        encode = ReadingEncoder(meter_id)
        for i in range(5):
            self.channel.basic_publish("", meter_id, encode(1782036000.0 + i, 100.0 + i))
        conf = self.write_config()
        service = self.run_cli("demo_pv_service.py", "-conf", str(conf), "-ids", meter_id,
                               "--output-dir", "out", "--exit-when-idle", "1", "--publish")
        self.assert_clean_exit(service.returncode, service.stderr)
        wait_until(lambda: len(subscriber.received()) >= 5, 10, "five results over MQTT")
        received = subscriber.received()
        self.assertEqual({topic for topic, _ in received}, {"pv/results/Site%2EA-1"})
        self.assertEqual({json.loads(payload)["meter_id"] for _, payload in received}, {meter_id})
        self.assertEqual({m.routing_key for m, _, _ in self.drain_results()}, {"pv.results.Site%2EA-1"})

    def test_a_refused_results_exchange_is_a_one_line_error_before_consuming(self) -> None:
        conf = self.write_config(output={"publish": "true", "results_exchange": "nonexistent"})
        self.run_meter(conf, 10)
        service = self.run_cli("demo_pv_service.py", "-conf", str(conf), "-ids", "Meter_0",
                               "--output-dir", "out", "--exit-when-idle", "1")
        self.assert_one_line_error(service.returncode, service.stderr, 1, "404", "'nonexistent'",
                                   "[output] results_exchange")
        self.assertEqual(self.queue_depth("Meter_0"), 10)
        self.assertEqual(rows_of(self.tmp / "out", "Meter_0"), [])
