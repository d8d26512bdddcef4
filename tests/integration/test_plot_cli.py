"""Tests for the optional day plot, run as the CLI the demo uses."""

from __future__ import annotations

import math
import struct
import subprocess
import sys
import tempfile
import unittest
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from parameterized import parameterized

from pv_simulator.models.challenge_curve import CHALLENGE_CURVE_PATH
from pv_simulator.storage.csv_format import HEADER, format_row
from tests.paths import ROOT

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
VIENNA = ZoneInfo("Europe/Vienna")


def day_csv(meter_id: str, day: datetime, step_s: float) -> str:
    """A synthetic day: PV half-sine 06-20 h peaking at 3 kW, meter 300 W with a 2 kW hour at 19 h."""
    start_s = day.timestamp()
    lines = [HEADER + "\n"]
    for index in range(int(86400 / step_s)):
        time_s = start_s + index * step_s
        hour = index * step_s / 3600
        pv_kw = 3.0 * math.sin(math.pi * (hour - 6) / 14) if 6 < hour < 20 else 0.0
        meter_w = 2000.0 if 19 <= hour < 20 else 300.0
        lines.append(format_row(meter_id, time_s, meter_w, pv_kw))
    return "".join(lines)


def run_plot(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pv_simulator.plot", *args],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


class PlotCliTest(unittest.TestCase):
    def setUp(self) -> None:
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.dir = Path(tmp.name)

    def write(self, name: str, text: str) -> Path:
        path = self.dir / name
        path.write_text(text, encoding="utf-8")
        return path

    def assertPng(self, path: Path) -> None:
        data = path.read_bytes()
        self.assertEqual(data[:8], PNG_SIGNATURE)
        self.assertGreater(len(data), 20_000, "a plot with curves, axes and text is not a few bytes")
        width, height = struct.unpack(">II", data[16:24])
        self.assertGreaterEqual(width, 1000)
        self.assertGreaterEqual(height, 500)

    def assertOneLineError(self, result: subprocess.CompletedProcess[str], fragment: str) -> None:
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertNotIn("Traceback", result.stderr)
        self.assertEqual(len(result.stderr.strip().splitlines()), 1, result.stderr)
        self.assertIn(fragment, result.stderr)

    @parameterized.expand(
        [
            ("one_meter_1s_with_reference", [("M1", 1.0)], True),
            ("one_meter_10min", [("M1", 600.0)], False),
            ("two_meters", [("M1", 60.0), ("M2", 60.0)], True),
        ]
    )
    def test_writes_png(self, _name: str, meters: list[tuple[str, float]], with_reference: bool) -> None:
        day = datetime(2026, 6, 21, tzinfo=VIENNA)
        csvs = [str(self.write(f"{m}-2026-06-21.csv", day_csv(m, day, step_s))) for m, step_s in meters]
        png = self.dir / "out" / "day.png"
        reference = ["--reference", str(CHALLENGE_CURVE_PATH)] if with_reference else []
        result = run_plot(*csvs, "-o", str(png), "--timezone", "Europe/Vienna", *reference)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertPng(png)

    def test_dst_day(self) -> None:
        day = datetime(2026, 10, 25, tzinfo=VIENNA)
        csv_path = self.write("M1-2026-10-25.csv", day_csv("M1", day, 300.0))
        png = self.dir / "dst.png"
        result = run_plot(str(csv_path), "-o", str(png))
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertPng(png)

    @parameterized.expand(
        [
            ("missing_file", None),
            ("bad_csv", "time,power\n1,2\n"),
            ("bad_value", HEADER + "\nM1,1.0,x,0.0,0.0\nM1,2.0,1.0,0.0,1.0\n"),
            ("no_rows", HEADER + "\n"),
        ]
    )
    def test_bad_input_is_one_line_exit_2(self, name: str, text: str | None) -> None:
        path = self.dir / f"{name}.csv"
        if text is not None:
            path.write_text(text, encoding="utf-8")
        png = self.dir / "never.png"
        result = run_plot(str(path), "-o", str(png))
        self.assertOneLineError(result, str(path))
        self.assertFalse(png.exists())

    def test_bad_reference_is_one_line_exit_2(self) -> None:
        csv_path = self.write("M1.csv", day_csv("M1", datetime(2026, 6, 21, tzinfo=VIENNA), 600.0))
        reference = self.write("curve.csv", "local_time,pv_power_kw\n05:36,0.0\nnoon,3.2\n")
        result = run_plot(str(csv_path), "-o", str(self.dir / "x.png"), "--reference", str(reference))
        self.assertOneLineError(result, f"{reference}:3")

    def test_unknown_timezone_is_one_line_exit_2(self) -> None:
        csv_path = self.write("M1.csv", day_csv("M1", datetime(2026, 6, 21, tzinfo=VIENNA), 600.0))
        result = run_plot(str(csv_path), "-o", str(self.dir / "x.png"), "--timezone", "Nowhere/Atlantis")
        self.assertOneLineError(result, "Nowhere/Atlantis")

    def test_missing_matplotlib_says_how_to_install(self) -> None:
        csv_path = self.write("M1.csv", day_csv("M1", datetime(2026, 6, 21, tzinfo=VIENNA), 600.0))
        # A None entry in sys.modules makes `import matplotlib` raise ImportError.
        code = (
            "import runpy, sys; sys.modules['matplotlib'] = None; "
            f"sys.argv = ['plot', {str(csv_path)!r}, '-o', {str(self.dir / 'x.png')!r}]; "
            "runpy.run_module('pv_simulator.plot', run_name='__main__', alter_sys=True)"
        )
        result = subprocess.run(
            [sys.executable, "-c", code], check=False, cwd=ROOT, capture_output=True, text=True, timeout=60
        )
        self.assertOneLineError(result, "pip install -r requirements-plot.txt")


class PlotImportTest(unittest.TestCase):
    def test_package_does_not_import_matplotlib(self) -> None:
        """Every module of the package, plot included, imports without pulling in matplotlib."""
        code = (
            "import importlib, pkgutil, sys, pv_simulator\n"
            "for module in pkgutil.walk_packages(pv_simulator.__path__, 'pv_simulator.'):\n"
            "    if not module.name.endswith('__main__'):\n"
            "        importlib.import_module(module.name)\n"
            "print('pv_simulator.plot' in sys.modules, 'matplotlib' in sys.modules)\n"
        )
        result = subprocess.run(
            [sys.executable, "-c", code], check=False, cwd=ROOT, capture_output=True, text=True, timeout=60
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout.split(), ["True", "False"])

    def test_plot_day_function(self) -> None:
        from pv_simulator.plot import plot_day

        with tempfile.TemporaryDirectory() as tmp:
            csv_path = Path(tmp) / "M1-2026-06-21.csv"
            csv_path.write_text(day_csv("M1", datetime(2026, 6, 21, tzinfo=VIENNA), 300.0), encoding="utf-8")
            png = Path(tmp) / "day.png"
            plot_day([csv_path], png, tz=VIENNA, title="custom title", reference_csv=CHALLENGE_CURVE_PATH)
            self.assertEqual(png.read_bytes()[:8], PNG_SIGNATURE)


if __name__ == "__main__":
    unittest.main()
