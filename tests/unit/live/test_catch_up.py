"""The live view's catch-up from the CSV files already written."""

from __future__ import annotations

import shutil
import tempfile
import unittest
from pathlib import Path
from zoneinfo import ZoneInfo

from pv_simulator.live.aggregate import Aggregator
from pv_simulator.live.catch_up import catch_up
from pv_simulator.storage.csv_store import CsvOutput

T0 = 1782000000.0


class CatchUpTest(unittest.TestCase):
    def setUp(self) -> None:
        self.out = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, self.out, True)

    def write(self, meter_id: str, times: range, meter_w: float) -> None:
        output = CsvOutput(self.out, ZoneInfo("UTC"))
        for i in times:
            output.write(meter_id, T0 + i, meter_w + i, 0.5)
        output.close()

    def test_the_window_of_every_meter_is_fed_from_the_files(self) -> None:
        # Three days of rows, so older files must be left unread or dropped.
        self.write("Meter_0", range(0, 3 * 86400, 60), 100.0)
        self.write("Meter_1", range(0, 3 * 86400, 300), 200.0)
        aggregator = Aggregator(window_s=6 * 3600)
        fed = catch_up(aggregator, self.out)
        latest = T0 + 3 * 86400 - 60
        self.assertEqual(aggregator.latest_s, latest)
        self.assertEqual(aggregator.meter_ids(), ["Meter_0", "Meter_1"])
        self.assertEqual(fed, 6 * 3600 // 60 + 1 + 6 * 3600 // 300)
        self.assertEqual(aggregator.stale, 0)
        totals = aggregator.latest_totals()
        self.assertAlmostEqual(totals["meter_w"], 100.0 + 3 * 86400 - 60 + 200.0 + 3 * 86400 - 300)
        self.assertAlmostEqual(totals["grid_w"], totals["meter_w"] - 1000.0)

    def test_a_torn_last_line_and_other_files_are_left_out(self) -> None:
        self.write("Meter_0", range(0, 600, 60), 100.0)
        path = next(self.out.glob("Meter_0-*.csv"))
        with path.open("a") as handle:
            handle.write("Meter_0,1782009999,12")
        (self.out / "notes.csv").write_text("not a PV file\n")
        aggregator = Aggregator(window_s=3600)
        self.assertEqual(catch_up(aggregator, self.out), 10)
        self.assertEqual(aggregator.latest_s, T0 + 540)

    def test_an_empty_folder_feeds_nothing(self) -> None:
        aggregator = Aggregator(window_s=3600)
        self.assertEqual(catch_up(aggregator, self.out), 0)
        self.assertEqual(aggregator.meter_ids(), [])


if __name__ == "__main__":
    unittest.main()
