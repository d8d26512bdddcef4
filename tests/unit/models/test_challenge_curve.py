"""The one reader of the challenge curve format, shared by the reference model and the plot."""

from __future__ import annotations

import tempfile
import unittest
from datetime import time
from pathlib import Path

from parameterized import parameterized

from pv_simulator.models.challenge_curve import CurveFormatError, minute_of_day, read_curve


class ReadCurveTest(unittest.TestCase):
    def write(self, text: str) -> Path:
        directory = tempfile.TemporaryDirectory()
        self.addCleanup(directory.cleanup)
        path = Path(directory.name) / "curve.csv"
        path.write_text(text, encoding="utf-8")
        return path

    def test_packaged_curve_is_time_ordered_from_sunrise(self) -> None:
        points = read_curve()
        self.assertEqual(points[0], (time(5, 36), 0.0))
        self.assertEqual(list(points), sorted(points))

    def test_points_are_sorted_by_time(self) -> None:
        path = self.write("local_time,pv_power_kw\n12:00,3.0\n06:00,0.5\n")
        self.assertEqual(read_curve(path), ((time(6), 0.5), (time(12), 3.0)))

    @parameterized.expand([
        ("header", "time,kw\n06:00,1\n", ":1: expected header"),
        ("time", "local_time,pv_power_kw\n06:00,1\nnoon,2\n", ":3: expected HH:MM,kW"),
        ("negative", "local_time,pv_power_kw\n06:00,-1\n", ":2: power '-1' is not >= 0 kW"),
        ("empty", "local_time,pv_power_kw\n", ": no points"),
    ])
    def test_bad_file_names_file_and_line(self, _: str, text: str, fragment: str) -> None:
        path = self.write(text)
        with self.assertRaises(CurveFormatError) as caught:
            read_curve(path)
        self.assertIn(f"{path}{fragment}", str(caught.exception))

    def test_minute_of_day(self) -> None:
        self.assertEqual(minute_of_day(time(13, 5, 30)), 13 * 60 + 5.5)


if __name__ == "__main__":
    unittest.main()
