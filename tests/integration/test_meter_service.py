"""The meter service against the real broker, through the RabbitMQ adapter."""

from __future__ import annotations

import unittest

from pv_simulator.config import BrokerConfig
from pv_simulator.messaging.connection import Connection
from pv_simulator.messaging.rabbitmq import RabbitConnector, retry_policy
from pv_simulator.models.random_walk import RandomWalkModel
from pv_simulator.services.clock import SimClock
from pv_simulator.services.meter import MeterService
from tests.integration.support import HOST, PORT, BrokerTestCase


class MeterServiceTest(BrokerTestCase):
    def test_publishes_every_reading_in_order(self) -> None:
        config = BrokerConfig(host=HOST, port=PORT, virtual_host=self.vhost,
                              connection_attempts=1, retry_delay_s=0.05)
        connection = Connection(RabbitConnector(config, "test"), retry_policy(config))
        self.addCleanup(connection.close)
        clock = SimClock(start_s=1_782_000_000, interval_s=1, speed=0, duration_s=2500)
        service = MeterService(connection, ["Mtest_0", "Mtest_1"],
                               [RandomWalkModel(seed=1), RandomWalkModel(seed=2)],
                               clock, 3600, lambda: False, batch_size=700)
        service.run()
        self.assertEqual(service.result().published, 5000)
        self.assertEqual(self.queue_depth("Mtest_0"), 2500)
        self.assertEqual(self.queue_depth("Mtest_1"), 2500)


if __name__ == "__main__":
    unittest.main()
