"""The simulated clock: schedule, pacing and start parsing."""

from __future__ import annotations

import unittest
from zoneinfo import ZoneInfo

from parameterized import parameterized

from pv_simulator.services.clock import SimClock, parse_start


class FakeWall:
    """A wall clock the test moves by hand."""

    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s


class ClockTest(unittest.TestCase):
    def test_sim_time_is_start_plus_ticks(self) -> None:
        clock = SimClock(start_s=100.0, interval_s=2.0, speed=0)
        self.assertEqual([clock.sim_time(k) for k in range(4)], [100.0, 102.0, 104.0, 106.0])

    @parameterized.expand([(86400, 2, 43200), (10, 3, 4), (0, 1, 0), (1, 1, 1)])
    def test_tick_count_covers_the_duration(self, duration: float, interval: float,
                                            ticks: int) -> None:
        clock = SimClock(start_s=0, interval_s=interval, speed=0, duration_s=duration)
        self.assertEqual(clock.tick_count, ticks)
        self.assertFalse(clock.finished(ticks - 1) if ticks else False)
        self.assertTrue(clock.finished(ticks))

    def test_without_start_the_first_tick_is_the_wall_time_of_begin_not_of_construction(self) -> None:
        """Declaring 10,000 queues takes a minute: readings must not be dated back by it."""
        wall, monotonic = FakeWall(), FakeWall()
        wall.now_s = 1_796_174_222.356
        clock = SimClock(start_s=None, interval_s=1, speed=1, now=monotonic, wall_time=wall)
        wall.now_s += 16.4
        monotonic.now_s += 16.4
        clock.begin()
        self.assertEqual(clock.sim_time(0), 1_796_174_238.756)
        self.assertEqual(clock.wait_s(0), 0.0)
        self.assertEqual(clock.wait_s(3), 3.0)

    def test_a_given_start_is_kept_by_begin(self) -> None:
        clock = SimClock(start_s=100.0, interval_s=1, speed=0)
        clock.begin()
        self.assertEqual(clock.sim_time(0), 100.0)

    def test_delay_shifts_the_ticks_not_yet_due(self) -> None:
        monotonic = FakeWall()
        clock = SimClock(start_s=0.0, interval_s=10, speed=10, now=monotonic)
        clock.delay(5.0)
        self.assertEqual(clock.wait_s(2), 7.0)
        self.assertFalse(clock.real_time)
        self.assertTrue(SimClock(start_s=0.0, interval_s=1, speed=1).real_time)

    def test_no_duration_never_finishes(self) -> None:
        clock = SimClock(start_s=0, interval_s=1, speed=1)
        self.assertIsNone(clock.tick_count)
        self.assertFalse(clock.finished(10**9))

    def test_fast_forward_never_waits(self) -> None:
        clock = SimClock(start_s=0, interval_s=60, speed=0)
        self.assertEqual(clock.wait_s(1000), 0.0)

    def test_real_time_schedule_does_not_drift(self) -> None:
        wall = FakeWall()
        clock = SimClock(start_s=0, interval_s=1, speed=2, now=wall)
        self.assertAlmostEqual(clock.wait_s(1), 0.5)
        wall.now_s += 0.7  # served late: the next tick is due on schedule, not 0.5 s later
        self.assertAlmostEqual(clock.wait_s(2), 0.3)
        wall.now_s += 100
        self.assertAlmostEqual(clock.wait_s(10_000), 5000 - 100.7)

    @parameterized.expand([(0,), (-1,), (float("nan"),)])
    def test_bad_interval(self, interval: float) -> None:
        with self.assertRaises(ValueError):
            SimClock(start_s=0, interval_s=interval)

    def test_start_without_offset_is_local_time(self) -> None:
        tz = ZoneInfo("Europe/Vienna")
        self.assertEqual(parse_start("2026-06-21T00:00", tz),
                         parse_start("2026-06-20T22:00+00:00", tz))
        self.assertEqual(parse_start("2026-06-21", tz), parse_start("2026-06-21T00:00+02:00", tz))
        self.assertEqual(parse_start("2026-12-21T12:00", tz),
                         parse_start("2026-12-21T11:00Z", tz))

    def test_bad_start(self) -> None:
        with self.assertRaises(ValueError):
            parse_start("tomorrow", ZoneInfo("UTC"))


if __name__ == "__main__":
    unittest.main()


class LocalStartTest(unittest.TestCase):
    VIENNA = ZoneInfo("Europe/Vienna")

    def test_a_start_the_clocks_skip_is_warned_about_and_taken_an_hour_later(self) -> None:
        with self.assertLogs("pv_simulator.services.clock", "WARNING") as logs:
            time_s = parse_start("2026-03-29T02:30", self.VIENNA)
        self.assertEqual(time_s, parse_start("2026-03-29T03:30+02:00", self.VIENNA))
        self.assertIn("does not exist in Europe/Vienna", logs.output[0])
        self.assertIn("2026-03-29T03:30:00+02:00", logs.output[0])

    def test_a_start_that_occurs_twice_takes_the_first_and_says_how_to_get_the_second(self) -> None:
        with self.assertLogs("pv_simulator.services.clock", "WARNING") as logs:
            time_s = parse_start("2026-10-25T02:30", self.VIENNA)
        self.assertEqual(time_s, parse_start("2026-10-25T02:30+02:00", self.VIENNA))
        self.assertIn("occurs twice", logs.output[0])
        self.assertIn("2026-10-25T02:30:00+01:00", logs.output[0])

    def test_an_ordinary_local_start_is_silent(self) -> None:
        with self.assertNoLogs("pv_simulator.services.clock", "WARNING"):
            self.assertEqual(parse_start("2026-06-21T12:00", self.VIENNA),
                             parse_start("2026-06-21T10:00Z", self.VIENNA))
