"""The dataset command's progress: the line's count, share, rate and time left."""

from __future__ import annotations

import io
import unittest

from pv_simulator.dataset.progress import Progress, eta_text


class EtaTextTest(unittest.TestCase):
    def test_seconds_minutes_hours(self) -> None:
        self.assertEqual(eta_text(44.6), "45 s")
        self.assertEqual(eta_text(365), "6 min 05 s")
        self.assertEqual(eta_text(7380), "2 h 03 min")


class ProgressTest(unittest.TestCase):
    def setUp(self) -> None:
        self.clock = [100.0]

    def progress(self, total: int, interval_s: float = 10.0) -> Progress:
        # A StringIO is no terminal: log lines, no bar.
        return Progress(total, interval_s, io.StringIO(), now=lambda: self.clock[0])

    def test_rate_counts_only_this_runs_readings(self) -> None:
        progress = self.progress(1_000_000)
        progress.update(400_000)  # found written: a resumed run
        self.clock[0] += 10.0
        progress.update(500_000)
        self.assertAlmostEqual(progress.rate(), 10_000.0)
        self.assertEqual(progress.line(), "progress: 500,000 of 1,000,000 readings (50.0 %), "
                                          "10,000 readings/s, ETA 50 s")

    def test_a_line_every_interval(self) -> None:
        progress = self.progress(100, interval_s=5.0)
        progress.update(0)
        with self.assertLogs("pv_simulator.dataset.progress", "INFO") as logs:
            self.clock[0] += 2.0
            progress.update(10)
            self.clock[0] += 4.0
            progress.update(30)
        self.assertEqual(len(logs.output), 1)
        self.assertIn("30 of 100 readings (30.0 %)", logs.output[0])

    def test_no_rate_yet_no_eta(self) -> None:
        progress = self.progress(100)
        progress.update(0)
        self.assertIn("ETA unknown", progress.line())


if __name__ == "__main__":
    unittest.main()
