"""Meter models (pure) and the meter service's buffer against the real broker."""

from __future__ import annotations

import itertools
import statistics
import unittest

from parameterized import parameterized

from pv_simulator.broker import Broker
from pv_simulator.clock import SimClock
from pv_simulator.config import BrokerConfig
from pv_simulator.meter import MeterService, RandomWalkModel, meter_seed
from tests.support import HOST, PORT, BrokerTestCase


def series(model: RandomWalkModel, steps: int, dt: float = 1.0) -> list[float]:
    return [model.power_w(1_782_000_000 + i * dt) for i in range(steps)]


class RandomWalkTest(unittest.TestCase):
    @parameterized.expand([(9000.0,), (500.0,)])
    def test_bounds_hold(self, max_w: float) -> None:
        values = series(RandomWalkModel(max_power_w=max_w, seed=3), 50_000, dt=5.0)
        self.assertGreaterEqual(min(values), 0.0)
        self.assertLessEqual(max(values), max_w)

    def test_covers_the_range_over_a_day(self) -> None:
        values = series(RandomWalkModel(seed=1), 86_400 // 10, dt=10.0)
        self.assertLess(min(values), 2500)
        self.assertGreater(max(values), 6500)

    def test_continuous_not_white_noise(self) -> None:
        values = series(RandomWalkModel(seed=2), 20_000)
        steps = [abs(b - a) for a, b in itertools.pairwise(values)]
        self.assertLess(statistics.fmean(steps), 0.02 * 9000)
        self.assertGreater(statistics.pstdev(values), 10 * statistics.fmean(steps))

    def test_same_seed_repeats_and_meters_differ(self) -> None:
        a = series(RandomWalkModel(seed=5, meter_index=0), 100)
        self.assertEqual(a, series(RandomWalkModel(seed=5, meter_index=0), 100))
        self.assertNotEqual(a, series(RandomWalkModel(seed=5, meter_index=1), 100))
        self.assertNotEqual(a, series(RandomWalkModel(seed=6, meter_index=0), 100))

    def test_meter_seed(self) -> None:
        self.assertIsNone(meter_seed(None, 3))
        self.assertNotEqual(meter_seed(1, 0), meter_seed(1, 1))
        self.assertEqual(meter_seed(1, 0), meter_seed(1, 0))


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
        with self.assertLogs("pv_simulator.meter", "WARNING") as logs:
            service._take(0)
            for tick in range(1, 300):
                service._take(tick)
        self.assertEqual(len(service.pending), 50)
        self.assertEqual(service.dropped, 250)
        self.assertEqual(service.pending[0][2], 1_782_000_250)
        self.assertTrue(any("dropped the oldest" in line for line in logs.output))


if __name__ == "__main__":
    unittest.main()
