"""The start-up check that a layout change strands no queued readings, on the in-memory broker."""

from __future__ import annotations

import unittest

from pv_simulator.messaging.fake import FakeBroker
from pv_simulator.messaging.port import QUEUE_PER_METER, Layout
from pv_simulator.services.layouts import StrandedReadings, other_layout, queues_of, stranded_check

PARTITIONED = Layout(4)
IDS = [f"Meter_{i}" for i in range(8)]


class StrandedCheckTest(unittest.TestCase):
    def setUp(self) -> None:
        self.broker = FakeBroker()
        self.session = self.broker.connector().open(0)

    def test_the_other_layout_of_each(self) -> None:
        self.assertEqual(other_layout(QUEUE_PER_METER, 4), PARTITIONED)
        self.assertEqual(other_layout(PARTITIONED, 4), QUEUE_PER_METER)
        self.assertEqual(queues_of(PARTITIONED, IDS),
                         sorted({PARTITIONED.queue_of(meter_id) for meter_id in IDS}))
        self.assertEqual(queues_of(QUEUE_PER_METER, ["b", "a", "b"]), ["a", "b"])

    def test_queues_holding_readings_are_named_with_their_counts(self) -> None:
        for index, meter_id in enumerate(IDS):
            self.broker.declare(meter_id)
            for _ in range(index):
                self.broker.put(meter_id, b"{}")
        check = stranded_check(PARTITIONED, QUEUE_PER_METER, [*IDS, "Meter_missing"])
        with self.assertRaises(StrandedReadings) as caught:
            check(self.session)
        message = str(caught.exception)
        self.assertIn("[broker] layout = partitioned, partitions = 4, but 28 reading(s) wait in "
                      "queues of layout = queue_per_meter: Meter_1 (1), Meter_2 (2), Meter_3 (3), "
                      "Meter_4 (4), Meter_5 (5) and 2 more", message)
        self.assertNotIn("Meter_0 (", message)

    def test_empty_or_missing_queues_pass_and_only_the_first_connection_looks(self) -> None:
        self.broker.declare("Meter_0")
        check = stranded_check(QUEUE_PER_METER, PARTITIONED, ["Meter_0", "pv.readings.4p.1"])
        check(self.session)
        self.broker.put("Meter_0", b"{}")
        check(self.session)  # a reconnection: the service runs already


if __name__ == "__main__":
    unittest.main()
