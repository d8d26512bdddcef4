"""The broker port's pure parts: which queue holds a meter's readings, in each layout."""

from __future__ import annotations

import binascii
import unittest
from collections import Counter

from pv_simulator.messaging.port import QUEUE_PER_METER, Layout


class QueuePerMeterTest(unittest.TestCase):
    def test_a_meter_has_its_own_queue(self) -> None:
        self.assertFalse(QUEUE_PER_METER.partitioned)
        self.assertEqual(QUEUE_PER_METER.queue_of("Meter_7"), "Meter_7")
        self.assertEqual(QUEUE_PER_METER.queues_for(["A", "B"]), ["A", "B"])


class PartitionedTest(unittest.TestCase):
    layout = Layout(partitions=4)

    def test_the_partition_is_the_documented_crc32(self) -> None:
        # README: "CRC-32 of its id modulo N"; binascii's CRC-32 is an independent oracle,
        # so other tools can compute where a meter's readings are.
        for meter_id in ("Meter_0", "Meter_9999", "Site.A-1"):
            expected = binascii.crc32(meter_id.encode()) % 4
            self.assertEqual(self.layout.queue_of(meter_id), f"pv.readings.4p.{expected}")

    def test_meters_spread_evenly(self) -> None:
        counts = Counter(self.layout.partition_of(f"Meter_{i}") for i in range(10_000))
        self.assertEqual(sorted(counts), [0, 1, 2, 3])
        for count in counts.values():
            self.assertLess(abs(count - 2500), 150, counts)

    def test_a_meter_declares_every_partition(self) -> None:
        self.assertEqual(self.layout.queues_for(["Meter_0"]),
                         [f"pv.readings.4p.{i}" for i in range(4)])
        self.assertEqual(self.layout.partition_queues, self.layout.queues_for(["Meter_0"]))

    def test_the_count_is_in_the_queue_names(self) -> None:
        # Meters and services configured with different counts must not share queues.
        self.assertNotEqual(Layout(4).partition_queue(0), Layout(8).partition_queue(0))


if __name__ == "__main__":
    unittest.main()
