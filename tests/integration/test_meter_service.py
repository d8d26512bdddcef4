"""The meter service against the real broker."""

from __future__ import annotations

import unittest

from pv_simulator.config import BrokerConfig
from pv_simulator.messaging.rabbitmq import Broker
from pv_simulator.services.clock import SimClock
from pv_simulator.services.meter import MeterService, RandomWalkModel
from tests.integration.support import HOST, PORT, BrokerTestCase


class MeterServiceTest(BrokerTestCase):
    def broker(self, port: int = PORT) -> Broker:
        broker = Broker(BrokerConfig(host=HOST, port=port, virtual_host=self.vhost,
                                     connection_attempts=1, retry_delay_s=0.05), "test")
        self.addCleanup(broker.close)
        return broker

    def test_publishes_every_reading_in_order(self) -> None:
        broker = self.broker()
        broker.connect()
        clock = SimClock(start_s=1_782_000_000, interval_s=1, speed=0, duration_s=2500)
        service = MeterService(broker, ["Mtest_0", "Mtest_1"],
                               [RandomWalkModel(seed=1), RandomWalkModel(seed=2)],
                               clock, 3600, lambda: False, batch_size=700)
        service.run()
        self.assertEqual(service.published, 5000)
        self.assertEqual(self.queue_depth("Mtest_0"), 2500)
        self.assertEqual(self.queue_depth("Mtest_1"), 2500)

    def test_real_time_buffer_drops_oldest_while_broker_is_away(self) -> None:
        broker = self.broker(port=1)  # nothing listens: every reconnect attempt fails
        clock = SimClock(start_s=1_782_000_000, interval_s=1, speed=1000, duration_s=300)
        service = MeterService(broker, ["Mtest_2"], [RandomWalkModel(seed=1)], clock, 50,
                               lambda: False)
        with self.assertLogs("pv_simulator.services.meter", "WARNING") as logs:
            service._take(0)
            for tick in range(1, 300):
                service._take(tick)
        self.assertEqual(len(service.pending), 50)
        self.assertEqual(service.dropped, 250)
        self.assertEqual(service.pending[0][2], 1_782_000_250)
        self.assertTrue(any("dropped the oldest" in line for line in logs.output))


if __name__ == "__main__":
    unittest.main()
