"""The CSV format module: rows and file names round trip, bad input names what is wrong."""

from __future__ import annotations

import tempfile
import unittest
from datetime import date
from pathlib import Path

from parameterized import parameterized

from pv_simulator.storage import csv_format


class RowTest(unittest.TestCase):
    def test_row_bytes_are_the_services(self) -> None:
        self.assertEqual(csv_format.format_row("Meter_0", 1781992800.5, 161.4789, 0.6183474),
                         "Meter_0,1781992800.5,161.479,0.618347,779.826\n")
        self.assertEqual(csv_format.format_row("M", 1781992800.0, 0.0, 0.0), "M,1781992800,0.000,0.000000,0.000\n")

    @parameterized.expand([(1781992800.5, 161.4789, 0.6183474), (1781992800.0, 0.0, 0.0),
                           (1781992800.125, 9000.0, 12.5), (0.001, 0.0004, 0.0000004)])
    def test_a_rows_numbers_are_its_fields(self, time_s: float, meter_w: float, pv_kw: float) -> None:
        fields = csv_format.format_row("Meter_0", time_s, meter_w, pv_kw).rstrip("\n").split(",")
        self.assertEqual(list(csv_format.row_numbers(time_s, meter_w, pv_kw)), fields[1:])
        self.assertEqual(float(fields[4]), round(meter_w + pv_kw * 1000.0, 3))

    def test_header_is_the_columns(self) -> None:
        self.assertEqual(csv_format.HEADER, "meter_id,time_s,meter_power_value_w,pv_power_value_kw,sum_meter_pv_w")
        self.assertEqual(csv_format.Row._fields, csv_format.SITE_COLUMNS)
        self.assertEqual(csv_format.SITE_COLUMNS[:len(csv_format.COLUMNS)], csv_format.COLUMNS)

    def test_site_row_keeps_the_five_columns_first(self) -> None:
        line = csv_format.format_site_row("M", 1781992800.0, 161.479, 0.6, -38.521, 400.0, 61.25, 0.75)
        self.assertEqual(line, "M,1781992800,161.479,0.600000,761.479,-38.521,400.000,"
                               "61.250000,0.750000\n")
        row = csv_format.parse_row(line, "f.csv", 2, columns=csv_format.SITE_COLUMNS)
        self.assertEqual((row.grid_power_w, row.battery_power_w, row.battery_soc_pct,
                          row.pv_available_kw), (-38.521, 400.0, 61.25, 0.75))

    def test_check_header_tells_the_columns(self) -> None:
        self.assertEqual(csv_format.check_header(csv_format.HEADER + "\n", "f.csv"), csv_format.COLUMNS)
        self.assertEqual(csv_format.check_header(csv_format.SITE_HEADER + "\n", "f.csv"), csv_format.SITE_COLUMNS)

    @parameterized.expand([("plain", "Meter_0"), ("dots_and_dashes", "site.a-b-2026-01-01")])
    def test_format_then_parse_round_trips(self, _: str, meter_id: str) -> None:
        row = csv_format.parse_row(csv_format.format_row(meter_id, 1781992800.125, 1234.5, 2.25), "f.csv", 2)
        self.assertEqual(row, csv_format.Row(meter_id, 1781992800.125, 1234.5, 2.25, 3484.5))

    @parameterized.expand([
        ("too_few_fields", "M,1,2,3", "f.csv:7: 4 fields, expected 5"),
        ("empty_id", " ,1,2,3,4", "f.csv:7: empty meter_id"),
        ("not_a_number", "M,1,x,3,4", "f.csv:7: meter_power_value_w is 'x', not a number"),
        ("not_finite", "M,1,2,inf,4", "f.csv:7: pv_power_value_kw is 'inf', not a finite number"),
    ])
    def test_bad_row_names_file_line_and_field(self, _: str, line: str, message: str) -> None:
        with self.assertRaises(csv_format.CsvFormatError) as caught:
            csv_format.parse_row(line, "f.csv", 7)
        self.assertEqual(str(caught.exception), message)

    def test_without_line_number_names_the_file(self) -> None:
        with self.assertRaises(csv_format.CsvFormatError) as caught:
            csv_format.parse_row("M,1", "f.csv")
        self.assertEqual(str(caught.exception), "f.csv: 2 fields, expected 5")

    def test_check_header(self) -> None:
        csv_format.check_header(csv_format.HEADER + "\r\n", "f.csv")
        with self.assertRaises(csv_format.CsvFormatError) as caught:
            csv_format.check_header("time,power", "f.csv")
        self.assertIn("f.csv:1: header is 'time,power'", str(caught.exception))


class FileNameTest(unittest.TestCase):
    @parameterized.expand([("Meter_0",), ("a.b.c",), ("east-wing-2",), ("x-2026-01-01",), ("-",)])
    def test_build_then_parse_round_trips(self, meter_id: str) -> None:
        day = date(2026, 3, 5)
        name = csv_format.file_name(meter_id, day)
        self.assertEqual(name, f"{meter_id}-2026-03-05.csv")
        self.assertEqual(csv_format.parse_file_name(name), (meter_id, day))
        self.assertEqual(csv_format.parse_file_name(csv_format.csv_path(Path("out"), meter_id, day)), (meter_id, day))

    @parameterized.expand([
        ("no_id", "-2026-03-05.csv", "not <METER_ID>-<YYYY>-<MM>-<DD>.csv"),
        ("short_date", "M-2026-3-05.csv", "not <METER_ID>-<YYYY>-<MM>-<DD>.csv"),
        ("other_suffix", "M-2026-03-05.txt", "not <METER_ID>-<YYYY>-<MM>-<DD>.csv"),
        ("impossible_date", "M-2026-02-30.csv", "no valid date"),
    ])
    def test_bad_name_says_why(self, _: str, name: str, fragment: str) -> None:
        with self.assertRaises(csv_format.CsvFormatError) as caught:
            csv_format.parse_file_name(name)
        self.assertIn(name, str(caught.exception))
        self.assertIn(fragment, str(caught.exception))

    def test_glob_finds_a_meters_files_only(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            directory = Path(tmp)
            names = ["M[1]-2026-06-21.csv", "M[1]-2026-06-22.csv", "M[1]0-2026-06-21.csv",
                     "M[1]-2026-06-21.csv.bak", "notes.csv"]
            for name in names:
                (directory / name).write_text("")
            found = sorted(path.name for path in directory.glob(csv_format.file_glob("M[1]")))
            every = sorted(path.name for path in directory.glob(csv_format.file_glob()))
        self.assertEqual(found, names[:2])
        self.assertEqual(every, sorted(names[:3]))


if __name__ == "__main__":
    unittest.main()
