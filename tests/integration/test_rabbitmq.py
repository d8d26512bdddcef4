"""The RabbitMQ adapter's use of pika's internals, against the pika installed and the real broker."""

from __future__ import annotations

import unittest

import pika

from pv_simulator.messaging.rabbitmq import PublisherConfirms, coalesce_output
from tests.integration.support import BrokerTestCase

QUEUE = "coalesce-test"


class CoalesceOutputTest(BrokerTestCase):
    def test_a_batch_leaves_as_one_buffer_and_arrives_whole_in_order(self) -> None:
        channel = self.connection().channel()
        channel.queue_declare(QUEUE, durable=True)
        self.addCleanup(lambda: channel.is_open and channel.queue_delete(QUEUE))
        confirms = PublisherConfirms.select(channel)
        bodies = [b'{"n": %d}' % i for i in range(300)]
        for body in bodies:
            channel._impl.basic_publish("", QUEUE, body, pika.BasicProperties(delivery_mode=2))
        buffers = channel._impl.connection._transport._tx_buffers
        self.assertGreater(len(buffers), len(bodies), "pika no longer queues a frame per buffer")
        coalesce_output(channel)
        self.assertEqual(len(buffers), 1)

        self.assertEqual(confirms.wait(channel, len(bodies)), 0)
        self.assertEqual(confirms.outstanding, 0)
        received = []
        while (got := channel.basic_get(QUEUE, auto_ack=True))[0] is not None:
            received.append(got[2])
        self.assertEqual(received, bodies)


if __name__ == "__main__":
    unittest.main()
