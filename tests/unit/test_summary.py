"""Tests for reading the PV service CSVs and summarising energy and PV peak.

Expected energies are worked out from how the synthetic files are built
(constant powers over known durations), not from the module's code.
"""

from __future__ import annotations

import io
import os
import tempfile
import unittest
from collections.abc import Iterable
from contextlib import redirect_stderr, redirect_stdout
from datetime import datetime
from pathlib import Path
from unittest import mock
from zoneinfo import ZoneInfo

from parameterized import parameterized

from pv_simulator.storage.csv_format import (
    HEADER,
    SITE_HEADER,
    CsvFormatError,
    Row,
    format_row,
    format_site_row,
)
from pv_simulator.summary import (
    MeterSummary,
    format_summary,
    main,
    read_rows,
    summarize,
)

VIENNA = ZoneInfo("Europe/Vienna")
# 2026-06-21 00:00 in Vienna (CEST, UTC+2).
DAY_START_S = datetime(2026, 6, 21, tzinfo=VIENNA).timestamp()


def csv_text(rows: Iterable[tuple[str, float, float, float]]) -> str:
    return HEADER + "\n" + "".join(format_row(*row) for row in rows)


class SummaryTestCase(unittest.TestCase):
    def setUp(self) -> None:
        self._tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self._tmp.cleanup)
        self.dir = Path(self._tmp.name)

    def write(self, name: str, text: str) -> Path:
        path = self.dir / name
        path.write_text(text, encoding="utf-8")
        return path


class ReadRowsTest(SummaryTestCase):
    def test_rows_are_typed_and_in_file_order(self) -> None:
        first = self.write(
            "M1-2026-06-21.csv", csv_text([("M1", DAY_START_S, 250.0, 0.0), ("M1", DAY_START_S + 1, 300.5, 0.25)])
        )
        second = self.write("M2-2026-06-21.csv", csv_text([("M2", DAY_START_S, 100.0, 1.5)]))
        rows = read_rows([first, second])
        self.assertEqual(
            rows,
            [
                Row("M1", DAY_START_S, 250.0, 0.0, 250.0),
                Row("M1", DAY_START_S + 1, 300.5, 0.25, 550.5),
                Row("M2", DAY_START_S, 100.0, 1.5, 1600.0),
            ],
        )
        self.assertIsInstance(rows[0].time_s, float)

    @parameterized.expand(
        [
            ("wrong_header", "meter,time,power\nM1,1,2\n", ":1:"),
            ("empty_file", "", "empty file"),
            ("not_a_number", HEADER + "\nM1,1.0,abc,0.0,0.0\nM1,2.0,1.0,0.0,1.0\n", ":2: meter_power_value_w"),
            ("too_few_fields", HEADER + "\nM1,1.0,5.0,0.0,5.0\nM1,2.0,5.0\n", ":3: 3 fields"),
            ("not_finite", HEADER + "\nM1,1.0,nan,0.0,0.0\n", ":2: meter_power_value_w"),
            ("bad_last_line_with_newline", HEADER + "\nM1,1.0,5.0,0.0,5.0\nM1,2.0,5\n", ":3:"),
        ]
    )
    def test_bad_csv_names_file_and_line(self, name: str, text: str, fragment: str) -> None:
        path = self.write(f"{name}.csv", text)
        with self.assertRaises(CsvFormatError) as caught:
            read_rows([path])
        self.assertIn(str(path), str(caught.exception))
        self.assertIn(fragment, str(caught.exception))

    def test_missing_file_raises_oserror_naming_it(self) -> None:
        missing = self.dir / "nope.csv"
        with self.assertRaises(OSError) as caught:
            read_rows([missing])
        self.assertEqual(Path(caught.exception.filename), missing)

    def test_torn_last_line_is_skipped(self) -> None:
        path = self.write("torn.csv", HEADER + "\nM1,1.0,5.0,0.0,5.0\nM1,2.0,5.")
        self.assertEqual(read_rows([path]), [Row("M1", 1.0, 5.0, 0.0, 5.0)])


class SummarizeTest(SummaryTestCase):
    def test_constant_power_energy(self) -> None:
        meter_w, pv_kw, step_s, count = 500.0, 2.0, 1.0, 3600
        rows = [Row("M1", DAY_START_S + i * step_s, meter_w, pv_kw, meter_w + pv_kw * 1000) for i in range(count)]
        summary = summarize(rows, VIENNA)["M1"]
        self.assertEqual(summary.rows, count)
        # One hour of readings, each holding one step: exactly 1 h.
        self.assertAlmostEqual(summary.meter_energy_kwh, 0.5, places=9)
        self.assertAlmostEqual(summary.pv_energy_kwh, 2.0, places=9)

    def test_gap_does_not_add_energy(self) -> None:
        meter_w, step_s = 1800.0, 10.0
        before = [DAY_START_S + i * step_s for i in range(101)]  # 0..1000 s
        after = [DAY_START_S + 5000.0 + i * step_s for i in range(101)]  # 5000..6000 s
        rows = [Row("M1", t, meter_w, 0.0, meter_w) for t in before + after]
        # 100 + 100 regular intervals, the gap capped at two intervals, the last reading one interval.
        held_s = 200 * step_s + 2 * step_s + step_s
        summary = summarize(rows, VIENNA)["M1"]
        self.assertAlmostEqual(summary.meter_energy_kwh, meter_w * held_s / 3.6e6, places=9)

    def test_step_changes_are_held_until_next_reading(self) -> None:
        # 30 min at 1 kW PV then 30 min at 3 kW, readings every 60 s: 2 kWh.
        rows = [Row("M1", DAY_START_S + i * 60.0, 0.0, 1.0 if i < 30 else 3.0, 0.0) for i in range(60)]
        self.assertAlmostEqual(summarize(rows, VIENNA)["M1"].pv_energy_kwh, 2.0, places=9)

    def test_meters_are_separated_and_unsorted_input_is_sorted(self) -> None:
        rows = [Row("B", DAY_START_S + i, 100.0, 0.0, 100.0) for i in range(7200)]
        rows += [Row("A", DAY_START_S + i * 2.0, 3600.0, 0.0, 3600.0) for i in range(1800)]
        rows.reverse()
        summaries = summarize(rows, VIENNA)
        self.assertEqual(list(summaries), ["A", "B"])
        self.assertAlmostEqual(summaries["A"].meter_energy_kwh, 3600.0 * 3600 / 3.6e6, places=9)
        self.assertAlmostEqual(summaries["B"].meter_energy_kwh, 100.0 * 7200 / 3.6e6, places=9)

    def test_pv_peak_and_local_time(self) -> None:
        peak_s = datetime(2026, 6, 21, 14, 5, tzinfo=VIENNA).timestamp()
        rows = [Row("M1", peak_s + d, 0.0, 3.25 - abs(d) / 10000, 0.0) for d in range(-3600, 3601, 60)]
        summary = summarize(rows, VIENNA)["M1"]
        self.assertAlmostEqual(summary.pv_peak_kw, 3.25)
        assert summary.pv_peak_time is not None
        self.assertEqual((summary.pv_peak_time.hour, summary.pv_peak_time.minute), (14, 5))
        self.assertEqual(summary.pv_peak_time.utcoffset().total_seconds(), 7200)  # type: ignore[union-attr]

    def test_a_plain_meter_draws_and_feeds_what_its_meter_minus_pv_says(self) -> None:
        # Half an hour drawing 300 W (PV 0.2 kW under 500 W), half an hour feeding 700 W in.
        rows = [Row("M1", DAY_START_S + 60.0 * i, 500.0, 0.2 if i < 30 else 1.2, 0.0) for i in range(60)]
        summary = summarize(rows, VIENNA)["M1"]
        self.assertAlmostEqual(summary.grid_import_kwh, 0.15)
        self.assertAlmostEqual(summary.grid_export_kwh, 0.35)
        self.assertIsNone(summary.site)
        self.assertEqual(format_summary([summary]).splitlines()[1].split()[-2:], ["0.150", "0.350"])

    def test_no_pv_has_no_peak_time(self) -> None:
        rows = [Row("M1", DAY_START_S + i, 200.0, 0.0, 200.0) for i in range(10)]
        self.assertIsNone(summarize(rows, VIENNA)["M1"].pv_peak_time)

    def test_single_row_has_no_duration(self) -> None:
        summary = summarize([Row("M1", DAY_START_S, 200.0, 1.0, 1200.0)], VIENNA)["M1"]
        self.assertEqual((summary.rows, summary.meter_energy_kwh, summary.pv_energy_kwh), (1, 0.0, 0.0))

    def test_no_rows_no_summaries(self) -> None:
        self.assertEqual(summarize([], VIENNA), {})


class FormatSummaryTest(unittest.TestCase):
    def test_one_line_per_meter_with_values(self) -> None:
        summaries = {
            "METER-LONG-ID": MeterSummary(
                "METER-LONG-ID", 86400, 11.2344, 21.5, 3.251, datetime(2026, 6, 21, 14, 7, tzinfo=VIENNA)
            ),
            "M2": MeterSummary("M2", 10, 0.5, 0.0, 0.0, None),
        }
        lines = format_summary(summaries).splitlines()
        self.assertEqual(len(lines), 3)
        self.assertIn("meter_id", lines[0])
        m2, long_id = lines[1].split(), lines[2].split()
        self.assertEqual(long_id, ["METER-LONG-ID", "86400", "11.234", "21.500", "3.251", "14:07",
                                   "0.000", "0.000"])
        self.assertEqual(m2, ["M2", "10", "0.500", "0.000", "0.000", "-", "0.000", "0.000"])

    def test_accepts_an_iterable(self) -> None:
        summary = MeterSummary("M1", 1, 0.0, 0.0, 0.0, None)
        self.assertEqual(format_summary([summary]), format_summary({"M1": summary}))


class SummaryCliTest(SummaryTestCase):
    def run_main(self, *argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            code = main(list(argv))
        return code, out.getvalue(), err.getvalue()

    def test_prints_table(self) -> None:
        path = self.write("M1-2026-06-21.csv", csv_text([("M1", DAY_START_S + i, 720.0, 0.0) for i in range(3600)]))
        code, out, err = self.run_main(str(path), "--timezone", "Europe/Vienna")
        self.assertEqual((code, err), (0, ""))
        self.assertEqual(out.splitlines()[1].split()[:3], ["M1", "3600", "0.720"])

    @parameterized.expand(
        [
            ("missing", None, "missing.csv"),
            ("bad_csv", "a,b\n1,2\n", "bad_csv.csv"),
            ("no_rows", HEADER + "\n", "no rows"),
        ]
    )
    def test_errors_are_one_line_exit_2(self, name: str, text: str | None, fragment: str) -> None:
        path = self.dir / f"{name}.csv"
        if text is not None:
            path.write_text(text, encoding="utf-8")
        code, out, err = self.run_main(str(path))
        self.assertEqual(code, 2)
        self.assertEqual(out, "")
        self.assertEqual(len(err.strip().splitlines()), 1)
        self.assertIn(fragment, err)

    def test_default_zone_is_the_services_and_timezone_overrides_it(self) -> None:
        noon_s = DAY_START_S + 12 * 3600  # 12:00 in Vienna is 19:00 in Tokyo
        path = self.write("M1-2026-06-21.csv", csv_text([("M1", noon_s, 1.0, 2.0), ("M1", noon_s + 60, 1.0, 1.0)]))
        with mock.patch.dict(os.environ, {"TZ": "Asia/Tokyo"}):
            _, by_default, _ = self.run_main(str(path))
            _, overridden, _ = self.run_main(str(path), "--timezone", "Europe/Vienna")
        self.assertEqual(by_default.splitlines()[1].split()[5], "19:00")
        self.assertEqual(overridden.splitlines()[1].split()[5], "12:00")

    def test_unknown_timezone_exit_2(self) -> None:
        path = self.write("M1.csv", csv_text([("M1", DAY_START_S, 1.0, 0.0)]))
        code, _, err = self.run_main(str(path), "--timezone", "Mars/Olympus")
        self.assertEqual(code, 2)
        self.assertIn("Mars/Olympus", err)


if __name__ == "__main__":
    unittest.main()


class SiteSummaryTest(unittest.TestCase):
    """A site file: two hours, one exporting 1 kW with the battery charging 1 kW, one drawing
    0.5 kW with the battery discharging 0.5 kW; household 1 kW throughout."""

    def test_grid_battery_and_shares(self) -> None:
        lines = [format_site_row("S", DAY_START_S + 60.0 * i, 1000.0, 3.0, -1000.0, 1000.0, 50.0, 3.0)
                 for i in range(60)]
        lines += [format_site_row("S", DAY_START_S + 3600.0 + 60.0 * i, 1000.0, 0.0, 500.0, -500.0,
                                  50.0, 0.0) for i in range(60)]
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "S-2026-06-21.csv"
            path.write_text(SITE_HEADER + "\n" + "".join(lines), encoding="utf-8")
            summary = summarize(read_rows([path]), VIENNA)["S"]
        site = summary.site
        assert site is not None
        self.assertAlmostEqual(summary.grid_export_kwh, 1.0)
        self.assertAlmostEqual(summary.grid_import_kwh, 0.5)
        self.assertAlmostEqual(site.battery_charged_kwh, 1.0)
        self.assertAlmostEqual(site.battery_discharged_kwh, 0.5)
        self.assertAlmostEqual(site.self_consumption_pct or 0.0, 100.0 * (3.0 - 1.0) / 3.0)
        self.assertAlmostEqual(site.autarky_pct or 0.0, 100.0 * (2.0 - 0.5) / 2.0)
        table = format_summary([summary])
        self.assertIn("autarky_%", table.splitlines()[0])
        self.assertIn("75.0", table.splitlines()[1])

    def test_plain_meters_have_no_site_part(self) -> None:
        self.assertIsNone(MeterSummary("M", 1, 0.0, 0.0, 0.0, None).site)
        self.assertNotIn("autarky", format_summary([MeterSummary("M", 1, 0.0, 0.0, 0.0, None)]))
