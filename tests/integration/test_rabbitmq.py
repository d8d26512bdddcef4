"""The canary of pika's internals: every function of ``messaging/pika_internals.py`` against the
pika installed and the real broker, so a pika release that moves them fails here."""

from __future__ import annotations

import threading
import time
import unittest

import pika
import pika.exceptions

from pv_simulator.messaging import pika_internals
from pv_simulator.messaging.deadlines import NoAnswer, blocking_wait
from pv_simulator.messaging.rabbitmq import PublisherConfirms
from tests.integration.support import BrokerTestCase

QUEUE = "coalesce-test"


class PikaInternalsTest(BrokerTestCase):
    def test_a_batch_leaves_as_one_buffer_and_arrives_whole_in_order(self) -> None:
        channel = self.connection().channel()
        channel.queue_declare(QUEUE, durable=True)
        self.addCleanup(lambda: channel.is_open and channel.queue_delete(QUEUE))
        confirms = PublisherConfirms.select(channel)
        bodies = [b'{"n": %d}' % i for i in range(300)]
        publish = pika_internals.publish_nowait(channel)
        for body in bodies:
            publish("", QUEUE, body, pika.BasicProperties(delivery_mode=2))
        buffers = pika_internals.send_buffer(channel)
        assert buffers is not None, "pika no longer keeps its send buffer where it was"
        self.assertGreater(len(buffers), len(bodies), "pika no longer queues a frame per buffer")
        pika_internals.coalesce_output(channel)
        self.assertEqual(len(buffers), 1)

        self.assertEqual(confirms.wait(channel, len(bodies)), 0)
        self.assertEqual(confirms.outstanding, 0)
        received = []
        while (got := channel.basic_get(QUEUE, auto_ack=True))[0] is not None:
            received.append(got[2])
        self.assertEqual(received, bodies)

    def test_a_refused_pipelined_declare_closes_its_channel_and_says_why(self) -> None:
        connection = self.connection()
        setup = connection.channel()
        setup.queue_declare(QUEUE + "-args", durable=True)
        self.addCleanup(lambda: setup.is_open and setup.queue_delete(QUEUE + "-args"))
        channel = connection.channel()
        reasons: list[BaseException] = []
        pika_internals.add_close_callback(channel, lambda _channel, reason: reasons.append(reason))
        pika_internals.declare_queue_nowait(channel, QUEUE + "-args", {"x-single-active-consumer": True})
        with self.assertRaises(pika.exceptions.ChannelClosedByBroker):
            channel.queue_declare(QUEUE + "-args", passive=True)
        self.assertEqual(len(reasons), 1)
        self.assertIn("x-single-active-consumer", str(reasons[0]))

    def test_passive_declares_count_what_exists_past_missing_queues_on_every_channel(self) -> None:
        connection = self.connection()
        setup = connection.channel()
        setup.confirm_delivery()  # each publish returns once the queue holds it
        names = [f"{QUEUE}-passive-{i}" for i in range(3)]
        for count, name in enumerate(names):
            setup.queue_declare(name, durable=True)
            self.addCleanup(setup.queue_delete, name)
            for _ in range(count):
                setup.basic_publish("", name, b"{}")
        asked = [f"{QUEUE}-missing-{i}" for i in range(40)]
        asked[5:5], asked[30:30] = names[:2], names[2:]
        found, failures = pika_internals.passive_declares(connection, asked, 4)
        self.assertEqual((found, failures), ({names[0]: (0, 0), names[1]: (1, 0), names[2]: (2, 0)}, []))
        self.assertTrue(setup.is_open)  # the channels it closed were its own

    def test_the_blocked_callbacks_are_accepted(self) -> None:
        connection = self.connection()
        seen: list[str] = []
        pika_internals.add_blocked_callbacks(connection, lambda *_: seen.append("blocked"),
                                             lambda *_: seen.append("unblocked"))
        connection.process_data_events(0)
        self.assertEqual(seen, [])  # no alarm on this broker: nothing fires, nothing breaks

    def test_a_deadline_ends_a_wait_in_a_worker_thread(self) -> None:
        outcome: list[object] = []

        def wait_in_a_thread() -> None:
            connection = pika.BlockingConnection(pika.ConnectionParameters(
                host="localhost", virtual_host=self.vhost))
            try:
                with blocking_wait("waiting for nothing", timeout_s=0.3) as wait:
                    stop = pika_internals.every(connection, 0.05, wait.check)
                    try:
                        began = time.monotonic()
                        connection.process_data_events(time_limit=20)
                        outcome.append("the wait ran out by itself")
                    except NoAnswer:
                        outcome.append(time.monotonic() - began)
                    finally:
                        stop()
            finally:
                connection.close()

        worker = threading.Thread(target=wait_in_a_thread)
        worker.start()
        worker.join(timeout=30)
        self.assertEqual(len(outcome), 1, outcome)
        assert isinstance(outcome[0], float), outcome
        self.assertGreaterEqual(outcome[0], 0.25)
        self.assertLess(outcome[0], 5.0)


if __name__ == "__main__":
    unittest.main()
