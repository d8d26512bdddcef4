"""The meter service's loop through the in-memory broker: buffering, dropping, reconnecting."""

from __future__ import annotations

import json
import unittest
from collections.abc import Callable, Mapping
from functools import partial

from pv_simulator.messaging.connection import Connection, RetryPolicy
from pv_simulator.messaging.fake import FakeBroker
from pv_simulator.messaging.port import BrokerRefused, BrokerUnavailable, Layout
from pv_simulator.models.random_walk import RandomWalkModel
from pv_simulator.services.clock import SimClock
from pv_simulator.services.meter import MeterService

START_S = 1_782_000_000.0
FAST_RETRY = RetryPolicy(connection_attempts=2, retry_delay_s=0.0, cap_s=0.05)


class ScriptedModel(RandomWalkModel):
    """A random walk that runs ``events[time_s]`` when the reading of that time is taken."""

    def __init__(self, events: Mapping[float, Callable[[], object]], seed: int = 1) -> None:
        super().__init__(seed=seed)
        self.events = dict(events)

    def power_w(self, time_s: float) -> float:
        event = self.events.pop(time_s, None)
        if event is not None:
            event()
        return super().power_w(time_s)


def times_in(broker: FakeBroker, queue: str) -> list[float]:
    return [json.loads(body)["time_s"] for body in broker.bodies(queue)]


class MeterServiceTest(unittest.TestCase):
    def service(self, broker: FakeBroker, *, speed: float, duration_s: float | None, meters: int = 2,
                interval_s: float = 1.0,
                buffer_per_meter: int = 3600, events: Mapping[float, Callable[[], object]] | None = None,
                should_stop: Callable[[], bool] = lambda: False, batch_size: int = 700,
                layout: Layout | None = None, readings_per_message: int = 1) -> MeterService:
        connection = Connection(broker.connector(), FAST_RETRY)
        self.addCleanup(connection.close)
        models = [ScriptedModel(events if i == 0 and events else {}, seed=i) for i in range(meters)]
        clock = SimClock(start_s=START_S, interval_s=interval_s, speed=speed, duration_s=duration_s)
        return MeterService(connection, [f"M{i}" for i in range(meters)], models, clock,
                            buffer_per_meter, should_stop, batch_size=batch_size, stats_interval_s=0,
                            layout=layout or Layout(), readings_per_message=readings_per_message)

    def test_fast_forward_publishes_every_reading_in_order(self) -> None:
        broker = FakeBroker()
        service = self.service(broker, speed=0, duration_s=2500)
        service.run()
        expected = [START_S + i for i in range(2500)]
        self.assertEqual(times_in(broker, "M0"), expected)
        self.assertEqual(times_in(broker, "M1"), expected)
        self.assertEqual(service.result().published, 5000)
        self.assertIn("M0.dlq", broker.queues)

    def partitioned_run(self, per_message: int) -> tuple[FakeBroker, Layout, list[int]]:
        """20 meters, 50 ticks fast-forward on 4 partitions; each meter's times checked, in
        order and on its own partition; the readings in each message."""
        broker = FakeBroker()
        layout = Layout(partitions=4)
        service = self.service(broker, speed=0, duration_s=50, meters=20, layout=layout,
                               readings_per_message=per_message)
        service.run()
        per_meter: dict[str, list[float]] = {}
        sizes: list[int] = []
        for queue in layout.partition_queues:
            self.assertIn(queue + ".dlq", broker.queues)
            for body in broker.bodies(queue):
                lines = body.split(b"\n")
                sizes.append(len(lines))
                for line in lines:
                    reading = json.loads(line)
                    self.assertEqual(layout.queue_of(reading["meter_id"]), queue)
                    per_meter.setdefault(reading["meter_id"], []).append(reading["time_s"])
        self.assertEqual(sorted(per_meter), sorted(f"M{i}" for i in range(20)))
        for times in per_meter.values():
            self.assertEqual(times, [START_S + i for i in range(50)])
        self.assertEqual(service.result().published, 1000)
        return broker, layout, sizes

    def test_partitioned_layout_puts_each_meters_readings_in_order_on_its_partition(self) -> None:
        broker, _layout, sizes = self.partitioned_run(1)
        self.assertNotIn("M0", broker.queues)
        self.assertEqual(sizes, [1] * 1000)

    def test_packed_readings_reach_their_partitions_in_order_in_fewer_messages(self) -> None:
        _broker, _layout, sizes = self.partitioned_run(30)
        self.assertLessEqual(max(sizes), 30)
        # Batches of 700 readings: each queue's share of a batch in messages of 30.
        self.assertLess(len(sizes), 1000 // 30 + 4 * 2)

    def test_fast_forward_commits_whole_batches_whatever_the_buffer(self) -> None:
        # buffer_s 3,600 at a 60 s interval keeps 60 readings a meter; the transactions
        # must still be batch_size long.
        broker = FakeBroker()
        service = self.service(broker, speed=0, interval_s=60, duration_s=6000 * 60, meters=1,
                               buffer_per_meter=60, batch_size=2000)
        service.run()
        self.assertEqual(times_in(broker, "M0"), [START_S + 60 * i for i in range(6000)])
        self.assertEqual(broker.publish_batches, 3)

    def test_fast_forward_loses_nothing_when_publishes_fail(self) -> None:
        broker = FakeBroker()
        broker_events = {START_S + 1000: lambda: broker.refuse_publishes(3)}
        service = self.service(broker, speed=0, duration_s=3000, events=broker_events, batch_size=500)
        service.run()
        self.assertEqual(times_in(broker, "M0"), [START_S + i for i in range(3000)])
        result = service.result()
        self.assertEqual((result.published, result.dropped, result.buffered), (6000, 0, 0))
        self.assertEqual(result.reconnects, 3)

    def test_fast_forward_waits_for_the_broker_instead_of_dropping(self) -> None:
        broker = FakeBroker()
        polls_while_down = 0

        def down() -> None:
            broker.available = False
            broker.drop_connections()

        def stop_never_but_come_back() -> bool:
            nonlocal polls_while_down
            if not broker.available:
                polls_while_down += 1
                broker.available = polls_while_down > 50
            return False

        service = self.service(broker, speed=0, duration_s=500, buffer_per_meter=20,
                               events={START_S + 100: down}, should_stop=stop_never_but_come_back,
                               batch_size=10)
        service.run()
        self.assertGreater(polls_while_down, 50)
        self.assertEqual(times_in(broker, "M0"), [START_S + i for i in range(500)])
        self.assertEqual(service.result().dropped, 0)

    def test_real_time_drops_the_oldest_past_the_bound_while_the_broker_is_away(self) -> None:
        """In real time the wall clock does not wait: past the buffer, the oldest readings go.

        Real time at 1 ms a reading: 600 readings in 0.6 s of wall time.
        """
        broker = FakeBroker()
        step = 0.001

        def down() -> None:
            broker.available = False
            broker.drop_connections()

        def back() -> None:
            broker.available = True

        service = self.service(broker, speed=1, interval_s=step, duration_s=600 * step, meters=1,
                               buffer_per_meter=50,
                               events={START_S + 100 * step: down, START_S + 400 * step: back})
        with self.assertLogs("pv_simulator.services.meter", "WARNING") as logs:
            service.run()
        ticks = [round((t - START_S) / step) for t in times_in(broker, "M0")]
        result = service.result()
        self.assertEqual(len(ticks), 600 - result.dropped)
        self.assertGreater(result.dropped, 200)
        self.assertEqual(ticks, sorted(set(ticks)))
        # What went is one block of the oldest readings taken while the broker was away.
        missing = sorted(set(range(600)) - set(ticks))
        self.assertEqual(missing[0], 100)
        self.assertEqual(missing, list(range(missing[0], missing[0] + len(missing))))
        self.assertEqual(ticks[-1], 599)
        self.assertTrue(any("dropped the oldest" in line for line in logs.output))

    def test_accelerated_run_pauses_its_clock_instead_of_dropping(self) -> None:
        """At 2,000x a 3 s outage used to lose 10,763 of 30,000 readings: the clock is ours."""
        broker = FakeBroker()
        polls_while_down = 0

        def down() -> None:
            broker.available = False
            broker.drop_connections()

        def come_back_after_a_while() -> bool:
            nonlocal polls_while_down
            if not broker.available:
                polls_while_down += 1
                broker.available = polls_while_down > 20
            return False

        service = self.service(broker, speed=2000, duration_s=600, meters=1, buffer_per_meter=50,
                               events={START_S + 100: down}, should_stop=come_back_after_a_while)
        service.run()
        self.assertGreater(polls_while_down, 20)
        self.assertEqual(times_in(broker, "M0"), [START_S + i for i in range(600)])
        self.assertEqual(service.result().dropped, 0)

    def test_stop_publishes_what_was_taken(self) -> None:
        broker = FakeBroker()
        ticks = 0

        def stop_after_some_polls() -> bool:
            nonlocal ticks
            ticks += 1
            return ticks > 40

        service = self.service(broker, speed=0, duration_s=None, meters=1, batch_size=1000,
                               should_stop=stop_after_some_polls)
        service.run()
        result = service.result()
        self.assertGreater(result.published, 0)
        self.assertEqual(result.buffered, 0)
        self.assertEqual(len(broker.bodies("M0")), result.published)

    def test_no_broker_at_start_is_unavailable(self) -> None:
        broker = FakeBroker()
        broker.available = False
        with self.assertRaises(BrokerUnavailable):
            self.service(broker, speed=0, duration_s=10).run()

    def test_a_deleted_queue_is_refused(self) -> None:
        broker = FakeBroker()
        service = self.service(broker, speed=0, duration_s=3000, meters=1,
                               events={START_S + 10: partial(broker.queues.pop, "M0")}, batch_size=100)
        with self.assertRaises(BrokerRefused):
            service.run()


if __name__ == "__main__":
    unittest.main()
