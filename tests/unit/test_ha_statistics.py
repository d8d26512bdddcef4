"""The hourly statistics of a simulated period and the commands that import them, without HA
(the import into a real Home Assistant is tests/integration/test_home_assistant.py's)."""

from __future__ import annotations

import io
import os
import re
import socket
import tempfile
import unittest
from contextlib import redirect_stderr, redirect_stdout
from datetime import datetime, timezone
from pathlib import Path
from unittest import mock

from pv_simulator.ha_statistics import (
    ImportFailed,
    hourly_sums,
    import_commands,
    main,
    statistic_id,
    websocket_url,
)
from pv_simulator.services.energy import COUNTERS
from pv_simulator.storage.csv_format import HEADER, Row, format_row

#: 2026-06-21 10:00 UTC.
TEN_S = datetime(2026, 6, 21, 10, tzinfo=timezone.utc).timestamp()
#: HA's rule for an external statistic id (homeassistant.components.recorder.statistics).
VALID_STATISTIC_ID = re.compile(r"^(?!.+__)(?!_)[\da-z_]+(?<!_):(?!_)[\da-z_]+(?<!_)$")


def rows_every_10_min(meter_id: str = "M", hours: int = 2, meter_w: float = 1000.0,
                      pv_kw: float = 0.0) -> list[Row]:
    """From 10:00 to 10:00 + ``hours`` inclusive, constant powers."""
    return [Row(meter_id, TEN_S + 600.0 * i, meter_w, pv_kw, meter_w + pv_kw * 1000.0)
            for i in range(6 * hours + 1)]


class HourlySumsTest(unittest.TestCase):
    def test_each_hour_ends_with_the_counters_of_its_last_interval_after_an_hour_of_zeros(self) -> None:
        sums = hourly_sums(rows_every_10_min(meter_w=1000.0, pv_kw=0.25))["M"]
        consumption = COUNTERS.index("consumption_kwh")
        grid_import = COUNTERS.index("grid_import_kwh")
        # The 10:00 row closes the 09:00 hour (and adds nothing: it is the first).
        self.assertEqual([hour_s - TEN_S for hour_s, _ in sums], [-7200.0, -3600.0, 0.0, 3600.0])
        self.assertEqual([values[consumption] for _, values in sums[:2]], [0.0, 0.0])
        self.assertAlmostEqual(sums[2][1][consumption], 1.0)
        self.assertAlmostEqual(sums[3][1][consumption], 2.0)
        self.assertAlmostEqual(sums[3][1][grid_import], 1.5)

    def test_a_site_row_counts_its_own_grid_power_and_meters_stay_apart(self) -> None:
        site = [Row("S", TEN_S + 600.0 * i, 500.0, 0.0, 500.0, -1000.0, -1500.0, 50.0, 0.0)
                for i in range(7)]
        sums = hourly_sums([*site, *rows_every_10_min("P", hours=1)])
        self.assertEqual(sorted(sums), ["P", "S"])
        self.assertAlmostEqual(sums["S"][-1][1][COUNTERS.index("grid_export_kwh")], 1.0)
        self.assertAlmostEqual(sums["P"][-1][1][COUNTERS.index("grid_import_kwh")], 1.0)

    def test_one_command_per_meter_and_counter_with_whole_utc_hours(self) -> None:
        commands = import_commands(rows_every_10_min("Site.A-1"))
        self.assertEqual([c["metadata"]["statistic_id"] for c in commands],
                         [f"pv_simulator:site_a_1_{key.removesuffix('_kwh')}" for key in COUNTERS])
        for command in commands:
            self.assertEqual(command["type"], "recorder/import_statistics")
            self.assertRegex(command["metadata"]["statistic_id"], VALID_STATISTIC_ID)
            self.assertEqual((command["metadata"]["source"], command["metadata"]["unit_of_measurement"],
                              command["metadata"]["has_sum"]), ("pv_simulator", "kWh", True))
            starts = [datetime.fromisoformat(stat["start"]) for stat in command["stats"]]
            self.assertTrue(all(s.utcoffset() is not None and s.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
                                and (s.minute, s.second) == (0, 0) for s in starts), starts)
            self.assertEqual(starts, sorted(starts))
            sums = [stat["sum"] for stat in command["stats"]]
            self.assertEqual(sums, sorted(sums))

    def test_statistic_ids_keep_to_the_rule_of_ha_whatever_the_meter_id(self) -> None:
        for meter_id in ("Meter_0", "__x__", "Site.A--1", "ÄÖ"):
            self.assertRegex(statistic_id(meter_id, "pv_kwh"), VALID_STATISTIC_ID, meter_id)


class MainTest(unittest.TestCase):
    def run_main(self, *argv: str, token: str = "t") -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        with mock.patch.dict(os.environ, {"HA_TOKEN": token}), redirect_stdout(out), redirect_stderr(err):
            code = main(list(argv))
        return code, out.getvalue(), err.getvalue()

    def csv_file(self, folder: str) -> str:
        path = Path(folder) / "M-2026-06-21.csv"
        path.write_text(HEADER + "\n" + "".join(format_row(r.meter_id, r.time_s, r.meter_power_value_w,
                                                           r.pv_power_value_kw)
                                                for r in rows_every_10_min()), encoding="utf-8")
        return str(path)

    def test_no_token_is_one_line_exit_2(self) -> None:
        with tempfile.TemporaryDirectory() as folder:
            code, out, err = self.run_main(self.csv_file(folder), token="")
        self.assertEqual((code, out), (2, ""))
        self.assertEqual(len(err.strip().splitlines()), 1)
        self.assertIn("HA_TOKEN", err)

    def test_ha_not_answering_is_one_line_exit_1(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        with tempfile.TemporaryDirectory() as folder:
            code, out, err = self.run_main(self.csv_file(folder), "--url", f"http://127.0.0.1:{port}")
        self.assertEqual((code, out), (1, ""))
        self.assertEqual(len(err.strip().splitlines()), 1)
        self.assertIn(f"127.0.0.1:{port}", err)

    def test_a_missing_file_is_one_line_exit_2(self) -> None:
        code, _, err = self.run_main("/nonexistent/M-2026-06-21.csv")
        self.assertEqual(code, 2)
        self.assertIn("cannot read /nonexistent/M-2026-06-21.csv", err)

    def test_only_http_addresses(self) -> None:
        self.assertEqual(websocket_url("https://ha.local:8123/"), "wss://ha.local:8123/api/websocket")
        with self.assertRaisesRegex(ImportFailed, "ftp://x"):
            websocket_url("ftp://x")


if __name__ == "__main__":
    unittest.main()
