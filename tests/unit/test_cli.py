"""The command line's own pure helpers: the id check and the abbreviated id list."""

from __future__ import annotations

import unittest

from parameterized import parameterized

from pv_simulator.cli import (
    UsageError,
    _checked_ids,
    _id_list,
    _served,
)
from pv_simulator.messaging.port import QUEUE_PER_METER, Layout, is_meter_id


class MeterIdTest(unittest.TestCase):
    @parameterized.expand([("newline", "Meter_0\n"), ("carriage_return", "Meter_0\r"),
                           ("space", "Meter 0"), ("dlq", "Meter_0.dlq"), ("empty", ""),
                           ("leading_dot", ".Meter"), ("too_long", "M" * 65), ("slash", "a/b")])
    def test_refused(self, _name: str, meter_id: str) -> None:
        self.assertFalse(is_meter_id(meter_id))
        with self.assertRaises(UsageError) as caught:
            _checked_ids([meter_id])
        self.assertIn(repr(meter_id), str(caught.exception))

    @parameterized.expand([("plain", "Meter_0"), ("dots", "Site.A-1"), ("longest", "M" * 64)])
    def test_accepted(self, _name: str, meter_id: str) -> None:
        self.assertTrue(is_meter_id(meter_id))

    def test_an_id_given_twice_is_served_once(self) -> None:
        with self.assertLogs("pv_simulator", "WARNING"):
            self.assertEqual(_checked_ids(["A", "B", "A"]), ["A", "B"])


class ServedQueuesTest(unittest.TestCase):
    partitioned = Layout(partitions=4)

    def test_queue_per_meter_needs_ids_and_serves_them(self) -> None:
        self.assertEqual(_served(["A", "B"], None, QUEUE_PER_METER), (["A", "B"], ["A", "B"]))
        with self.assertRaises(UsageError) as caught:
            _served(None, None, QUEUE_PER_METER)
        self.assertIn("-ids/--meter-ids", str(caught.exception))

    def test_partition_is_refused_without_the_partitioned_layout(self) -> None:
        with self.assertRaises(UsageError) as caught:
            _served(["A"], [0], QUEUE_PER_METER)
        self.assertIn("--partition: only with [broker] layout = partitioned", str(caught.exception))

    def test_partitioned_refuses_ids(self) -> None:
        with self.assertRaises(UsageError) as caught:
            _served(["A"], None, self.partitioned)
        self.assertIn("not used with [broker] layout = partitioned", str(caught.exception))
        self.assertIsNone(_served(None, None, self.partitioned)[0])

    def test_partitions_served_default_to_all_and_are_checked(self) -> None:
        self.assertEqual(_served(None, None, self.partitioned)[1],
                         [f"pv.readings.4p.{i}" for i in range(4)])
        self.assertEqual(_served(None, [2, 0, 2], self.partitioned)[1],
                         ["pv.readings.4p.2", "pv.readings.4p.0"])
        with self.assertRaises(UsageError) as caught:
            _served(None, [4], self.partitioned)
        self.assertIn("4 is not one of 0..3 ([broker] partitions = 4)", str(caught.exception))


class IdListTest(unittest.TestCase):
    def test_small_fleets_keep_the_seeds_format(self) -> None:
        self.assertEqual(_id_list(["Meter_0", "Meter_1"]), "['Meter_0', 'Meter_1']")

    def test_long_lists_are_abbreviated_with_the_count(self) -> None:
        text = _id_list([f"Meter_{i}" for i in range(10_000)])
        self.assertLess(len(text), 200)
        self.assertTrue(text.startswith("['Meter_0', 'Meter_1'"))
        self.assertTrue(text.endswith("'Meter_9998', 'Meter_9999'] (10000 meters)"))


if __name__ == "__main__":
    unittest.main()
