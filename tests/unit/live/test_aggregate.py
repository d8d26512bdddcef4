"""The live view's aggregator: simulated-time buckets, the window, fleet totals, duplicates, counters."""

from __future__ import annotations

import json
import sys
import time
import tracemalloc
import unittest

from parameterized import parameterized

from pv_simulator.live.aggregate import Aggregator, BadReading, Reading, natural_key, parse_reading

T0 = 1782000000.0


def reading(meter: str, time_s: float, meter_w: float = 500.0, pv_kw: float = 1.0) -> Reading:
    return Reading(meter, time_s, meter_w, pv_kw, meter_w - pv_kw * 1000)


class FakeWall:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now_s = 100.0

    def __call__(self) -> float:
        return self.now_s


class ParseTest(unittest.TestCase):
    def test_reads_the_published_body(self) -> None:
        body = json.dumps({"meter_id": "Meter_0", "time_s": T0, "meter_power_w": 812.3, "pv_power_kw": 2.104,
                           "sum_meter_pv_w": 2916.3, "grid_power_w": -1291.7}).encode()
        self.assertEqual(parse_reading(body), Reading("Meter_0", T0, 812.3, 2.104, -1291.7))

    @parameterized.expand([
        ("not json", b"{"),
        ("not an object", b"[1]"),
        ("no meter", b'{"time_s": 1, "meter_power_w": 1, "pv_power_kw": 1, "grid_power_w": 1}'),
        ("text number", b'{"meter_id": "M", "time_s": "1", "meter_power_w": 1, "pv_power_kw": 1, "grid_power_w": 1}'),
        ("boolean", b'{"meter_id": "M", "time_s": 1, "meter_power_w": true, "pv_power_kw": 1, "grid_power_w": 1}'),
        ("infinite", b'{"meter_id": "M", "time_s": 1, "meter_power_w": 1, "pv_power_kw": Infinity, "grid_power_w": 1}'),
        ("missing grid", b'{"meter_id": "M", "time_s": 1, "meter_power_w": 1, "pv_power_kw": 1}'),
        ("not utf-8", b'\xff\xfe'),
    ])
    def test_rejects(self, _name: str, body: bytes) -> None:
        with self.assertRaises(BadReading):
            parse_reading(body)

    def test_a_bad_body_is_counted_not_raised(self) -> None:
        aggregator = Aggregator(window_s=3600)
        self.assertFalse(aggregator.ingest_body(b"nonsense"))
        self.assertEqual(aggregator.rejected, 1)
        self.assertEqual(aggregator.meter_ids(), [])

    def test_meters_sort_naturally(self) -> None:
        self.assertEqual(sorted(["Meter_10", "Meter_2", "Meter_1"], key=natural_key),
                         ["Meter_1", "Meter_2", "Meter_10"])


class BucketTest(unittest.TestCase):
    def test_a_bucket_keeps_the_latest_reading(self) -> None:
        aggregator = Aggregator(window_s=3000, points=100, min_bucket_s=30)
        width = aggregator.bucket_s
        start = T0 - T0 % width
        aggregator.ingest(reading("M", start, meter_w=100))
        aggregator.ingest(reading("M", start + width * 0.8, meter_w=300))
        aggregator.ingest(reading("M", start + width * 0.4, meter_w=200))  # late, but older
        series = aggregator.meter_series("M")
        self.assertEqual(series["t"], [start])
        self.assertEqual(series["meter_w"], [300])

    def test_buckets_start_fine_and_widen_to_the_window_over_the_points(self) -> None:
        aggregator = Aggregator(window_s=6 * 3600, points=300)
        self.assertEqual(aggregator.bucket_s, 72 / 64)  # the coarsest width halved down to about 1 s
        for i in range(120):
            aggregator.ingest(reading("M", T0 + i))
        self.assertEqual(aggregator.bucket_s, 72 / 64)
        self.assertGreater(len(aggregator.meter_series("M")["t"]), 100)  # two minutes, drawn in detail
        for i in range(0, 12 * 3600, 10):
            aggregator.ingest(reading("M", T0 + 120 + i))
        self.assertEqual(aggregator.bucket_s, 72.0)
        series = aggregator.meter_series("M")
        self.assertLessEqual(len(series["t"]), 301)
        self.assertGreaterEqual(len(series["t"]), 299)
        self.assertEqual(series["t"], sorted(series["t"]))

    def test_widening_keeps_the_later_reading_of_each_merged_pair(self) -> None:
        aggregator = Aggregator(window_s=400, points=4, min_bucket_s=25)  # widths 25, 50, 100
        self.assertEqual(aggregator.bucket_s, 25)
        for i in range(4):
            aggregator.ingest(reading("M", 1000 + 25 * i, meter_w=i))
        self.assertEqual(aggregator.bucket_s, 25)
        aggregator.ingest(reading("M", 1125, meter_w=5))  # spans 125 s > 4 x 25: widen to 50
        self.assertEqual(aggregator.bucket_s, 50)
        series = aggregator.meter_series("M")
        self.assertEqual(series["t"], [1000, 1050, 1100])
        self.assertEqual(series["meter_w"], [1, 3, 5])
        self.assertEqual(aggregator.fleet_series()["meter_w"], [1, 3, 5])


class WindowTest(unittest.TestCase):
    def test_window_follows_the_latest_simulated_time(self) -> None:
        aggregator = Aggregator(window_s=3600, points=60)
        for i in range(0, 3 * 3600, 60):  # a fast-forward run: three simulated hours at once
            aggregator.ingest(reading("M", T0 + i))
        series = aggregator.meter_series("M")
        latest = T0 + 3 * 3600 - 60
        self.assertEqual(aggregator.latest_s, latest)
        self.assertGreaterEqual(series["t"][0], latest - 3600 - aggregator.bucket_s)
        self.assertLessEqual(len(series["t"]), 61)

    def test_readings_older_than_the_window_are_counted_stale(self) -> None:
        aggregator = Aggregator(window_s=3600)
        aggregator.ingest(reading("M", T0))
        self.assertFalse(aggregator.ingest(reading("M", T0 - 3601)))
        self.assertEqual(aggregator.stale, 1)
        self.assertEqual(aggregator.accepted, 1)

    def test_a_meter_gone_quiet_leaves_the_window(self) -> None:
        aggregator = Aggregator(window_s=3600, points=60)
        aggregator.ingest(reading("Quiet", T0))
        for i in range(0, 2 * 3600, 60):
            aggregator.ingest(reading("Busy", T0 + i))
        self.assertEqual(aggregator.meter_series("Quiet")["t"], [])
        self.assertEqual(aggregator.meter_ids(), ["Busy", "Quiet"])

    def test_an_empty_aggregator_has_an_empty_snapshot(self) -> None:
        snapshot = Aggregator(window_s=3600).snapshot(["Meter_0"])
        self.assertEqual(snapshot["meter_ids"], [])
        self.assertEqual(snapshot["fleet"]["t"], [])
        self.assertIsNone(snapshot["counters"]["last_time_s"])
        self.assertEqual(snapshot["meters"], {})
        json.dumps(snapshot, allow_nan=False)


class FleetTest(unittest.TestCase):
    def test_fleet_sums_each_meters_latest_value_per_bucket(self) -> None:
        aggregator = Aggregator(window_s=3000, points=100, min_bucket_s=30)
        start = T0 - T0 % aggregator.bucket_s
        aggregator.ingest(reading("A", start, meter_w=100, pv_kw=1.0))
        aggregator.ingest(reading("B", start + 1, meter_w=200, pv_kw=2.0))
        aggregator.ingest(reading("A", start + 2, meter_w=150, pv_kw=0.5))  # replaces A's value
        fleet = aggregator.fleet_series()
        self.assertEqual(fleet["t"], [start])
        self.assertEqual(fleet["meter_w"], [350])
        self.assertEqual(fleet["pv_kw"], [2.5])
        self.assertEqual(fleet["grid_w"], [350 - 2500])
        self.assertEqual(fleet["meters"], [2])
        self.assertEqual(aggregator.latest_totals(), {"meter_w": 350, "pv_kw": 2.5, "grid_w": -2150})

    def test_fleet_equals_the_sum_of_the_meter_series_after_widening(self) -> None:
        aggregator = Aggregator(window_s=7200, points=50)
        for i in range(0, 4 * 3600, 30):
            for m in range(5):
                aggregator.ingest(reading(f"M{m}", T0 + i + m, meter_w=100 * m + i % 700, pv_kw=(i % 900) / 300))
        fleet = aggregator.fleet_series()
        per_meter = [aggregator.meter_series(f"M{m}") for m in range(5)]
        for k, t in enumerate(fleet["t"]):
            values = [s["meter_w"][s["t"].index(t)] for s in per_meter if t in s["t"]]
            self.assertAlmostEqual(fleet["meter_w"][k], sum(values), delta=0.5)
            self.assertEqual(fleet["meters"][k], len(values))


class DuplicateTest(unittest.TestCase):
    def test_a_duplicate_counts_once(self) -> None:
        aggregator = Aggregator(window_s=3600)
        self.assertTrue(aggregator.ingest(reading("M", T0, meter_w=100)))
        self.assertFalse(aggregator.ingest(reading("M", T0, meter_w=100)))
        self.assertTrue(aggregator.ingest(reading("Other", T0, meter_w=100)))
        self.assertEqual((aggregator.accepted, aggregator.duplicates), (2, 1))
        self.assertEqual(aggregator.fleet_series()["meter_w"], [200])
        self.assertEqual(aggregator.fleet_series()["meters"], [2])

    def test_redelivered_batch_changes_nothing(self) -> None:
        aggregator = Aggregator(window_s=3600)
        batch = [reading("M", T0 + i, meter_w=i) for i in range(100)]
        for r in batch:
            aggregator.ingest(r)
        before = aggregator.snapshot(["M"])
        for r in batch:
            aggregator.ingest(r)
        after = aggregator.snapshot(["M"])
        self.assertEqual(aggregator.duplicates, 100)
        self.assertEqual(after["meters"], before["meters"])
        self.assertEqual(after["fleet"], before["fleet"])


class CounterTest(unittest.TestCase):
    def test_rate_is_over_the_last_complete_seconds(self) -> None:
        wall = FakeWall()
        aggregator = Aggregator(window_s=3600, clock=wall)
        for second in range(5):
            wall.now_s = 100.0 + second
            for i in range(10):
                aggregator.ingest(reading(f"M{i}", T0 + second))
        wall.now_s = 105.5
        self.assertEqual(aggregator.rate_per_s(), 10.0)
        wall.now_s = 108.0
        self.assertEqual(aggregator.rate_per_s(), 4.0)  # seconds 103 and 104 only
        wall.now_s = 200.0
        self.assertEqual(aggregator.rate_per_s(), 0.0)

    def test_snapshot_counters(self) -> None:
        aggregator = Aggregator(window_s=3600)
        aggregator.ingest(reading("Meter_10", T0 + 5))
        aggregator.ingest(reading("Meter_2", T0))
        aggregator.ingest(reading("Meter_2", T0))
        aggregator.ingest_body(b"{}")
        counters = aggregator.snapshot([])["counters"]
        self.assertEqual(counters["meters_seen"], 2)
        self.assertEqual(counters["last_time_s"], T0 + 5)
        self.assertEqual((counters["accepted"], counters["duplicates"], counters["rejected"]), (2, 1, 1))
        self.assertEqual(aggregator.meter_ids(), ["Meter_2", "Meter_10"])


class ScaleTest(unittest.TestCase):
    def test_a_thousand_meters_stay_within_the_point_budget(self) -> None:
        aggregator = Aggregator(window_s=6 * 3600, points=300)
        started = time.perf_counter()
        count = 0
        for i in range(0, 8 * 3600, 90):  # eight simulated hours, a reading every 90 s
            for m in range(1000):
                aggregator.ingest(Reading(f"Meter_{m}", T0 + i, 400.0 + m, 1.5, 400.0 + m - 1500))
                count += 1
        per_reading_us = (time.perf_counter() - started) / count * 1e6
        snapshot = aggregator.snapshot(aggregator.meter_ids()[:6])
        self.assertEqual(snapshot["counters"]["meters_seen"], 1000)
        self.assertLessEqual(len(snapshot["fleet"]["t"]), 301)
        self.assertEqual(snapshot["fleet"]["meters"][-1], 1000)
        self.assertAlmostEqual(snapshot["fleet"]["pv_kw"][-1], 1500, delta=0.01)
        for series in snapshot["meters"].values():
            self.assertLessEqual(len(series["t"]), 301)
        # The memory kept stays bounded by the points, not by the readings taken.
        kept = sum(len(m.kept()) for m in aggregator._meters.values())
        self.assertLessEqual(kept, 1000 * (300 + 2))
        # A loose bound, only to catch an ingest that is no longer O(1) (it is ~5 us here).
        self.assertLess(per_reading_us, 200, f"{per_reading_us:.1f} us per reading")
        started = time.perf_counter()
        json.dumps(snapshot)
        self.assertLess(time.perf_counter() - started, 0.5)

    def test_memory_is_bounded_by_the_window_and_the_meters_not_by_simulated_time(self) -> None:
        meters, step_s = 2000, 3600
        aggregator = Aggregator(window_s=6 * 3600, points=300)

        def feed(start_s: int, end_s: int) -> None:
            for t in range(start_s, end_s, step_s):
                for m in range(meters):
                    aggregator.ingest(Reading(f"Meter_{m}", T0 + t, 400.0 + m, 1.5, -1100.0 + m))

        feed(0, 6 * 3600)  # a full window
        tracemalloc.start()
        self.addCleanup(tracemalloc.stop)
        feed(6 * 3600, 12 * 3600)  # from here on, what is traced includes each meter's latest reading
        after_12_h, _ = tracemalloc.get_traced_memory()
        feed(12 * 3600, 24 * 3600)
        after_24_h, _ = tracemalloc.get_traced_memory()
        self.assertEqual(aggregator.accepted, meters * 24 * 3600 // step_s)
        self.assertLess(after_24_h - after_12_h, 16 * 1024,
                        f"{(after_24_h - after_12_h) / 1e6:.2f} MB more after 12 more simulated hours")
        meter = aggregator._meters["Meter_0"]
        per_meter_bytes = sum(sys.getsizeof(getattr(meter, name)) for name in meter.__slots__)
        self.assertLess(per_meter_bytes, 16_000)  # docs: about 15 kB per meter at 300 points


if __name__ == "__main__":
    unittest.main()
