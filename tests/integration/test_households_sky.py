"""Households and the modelled sky through both CLIs against the real broker, with figures.

The unit tests check the household profile and the sky model in-process; these run the same
models the way a user does, meter CLI -> broker -> PV service CLI -> dated CSV files, and read
the figures back from the files: a neighbourhood's week against BDEW H25 with a public holiday,
and the seasons of the variable sky (January's PV yield against its clear-sky potential well
below July's).
"""

from __future__ import annotations

import json
import statistics
import time
from collections import defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from pv_simulator.models.household import (
    h25_day_type,
    h25_day_w_per_kwh,
    load_h25_profile,
    public_holidays,
)
from pv_simulator.storage.csv_format import Row, check_header, file_glob, parse_file_name, parse_row
from tests.integration.support import BrokerTestCase, wait_until

BERLIN = ZoneInfo("Europe/Berlin")
QUARTERS_PER_DAY = 96


def read_rows(directory: Path) -> dict[tuple[str, date], list[Row]]:
    """Every complete row of every file in ``directory``, keyed by the file name's (meter, day).

    The header and each row go through csv_format's checks, so a malformed file fails the test.
    """
    files: dict[tuple[str, date], list[Row]] = {}
    for path in sorted(directory.glob(file_glob())):
        lines = path.read_text(encoding="utf-8").split("\n")[:-1]
        check_header(lines[0], path)
        files[parse_file_name(path)] = [parse_row(line, path, number)
                                        for number, line in enumerate(lines[1:], start=2)]
    return files


class H25NeighbourhoodThroughClisTest(BrokerTestCase):
    """200 households over 11-17 May 2026 (Ascension on Thursday 14 May) follow each day's H25.

    The same week and seed as the unit test H25NeighbourhoodTest, but every reading crosses the
    broker and the PV service and is read back from the dated files, so a wrong local day, a
    lost or doubled reading or a holiday missed on the way would show in the quarter-hour means.
    """

    HOUSEHOLDS = 200
    INTERVAL_S = 180
    ANNUAL_KWH = 4000.0
    FIRST_DAY = date(2026, 5, 11)
    DAYS = 7
    HOLIDAY = date(2026, 5, 14)

    def test_a_week_of_200_households_follows_h25_with_the_holiday_as_a_sunday(self) -> None:
        self.assertIn(self.HOLIDAY, public_holidays("DE"), "the week must contain a holiday")
        conf = self.write_config(
            site={"timezone": "Europe/Berlin", "country": "DE", "latitude": 52.52,
                  "longitude": 13.40},
            meter={"model": "household", "profile": "h25", "annual_energy_kwh": self.ANNUAL_KWH})
        ids = [f"Meter_{i}" for i in range(self.HOUSEHOLDS)]
        duration_s = self.DAYS * 86400
        readings = duration_s // self.INTERVAL_S
        began = time.monotonic()
        meter = self.start("demo_meter.py", "-conf", str(conf), "-nb", str(self.HOUSEHOLDS),
                           "--speed", "0", "--interval", str(self.INTERVAL_S),
                           "--duration", str(duration_s), "--start", "2026-05-11T00:00",
                           "--seed", "31", "--log-level", "WARNING",
                           "--summary-file", "meter.json")
        # The service starts once the last queue holds readings, so its idle timer cannot run
        # out while the meter is still building its 200 households.
        wait_until(lambda: meter.poll() is not None or self.queue_depth(ids[-1]) > 0, 120,
                   f"readings in {ids[-1]}")
        service = self.start("demo_pv_service.py", "-conf", str(conf), "-ids", *ids,
                             "--output-dir", "out", "--exit-when-idle", "5",
                             "--summary-file", "pv.json", "--log-level", "WARNING")
        code, _, err = self.finish(meter, timeout=900)
        self.assert_clean_exit(code, err)
        code, _, err = self.finish(service, timeout=900)
        self.assert_clean_exit(code, err)
        runtime_s = time.monotonic() - began
        self.assertEqual(json.loads((self.tmp / "meter.json").read_text())["published"],
                         readings * self.HOUSEHOLDS)
        summary = json.loads((self.tmp / "pv.json").read_text())
        self.assertEqual(summary["written"], readings * self.HOUSEHOLDS)
        self.assertEqual(summary["rejected"], 0)

        files = read_rows(self.tmp / "out")
        days = [self.FIRST_DAY + timedelta(days=k) for k in range(self.DAYS)]
        self.assertEqual(set(files), {(meter_id, day) for meter_id in ids for day in days})
        per_quarter = 900 // self.INTERVAL_S
        totals: dict[date, list[float]] = {day: [0.0] * QUARTERS_PER_DAY for day in days}
        counts: dict[date, list[int]] = defaultdict(lambda: [0] * QUARTERS_PER_DAY)
        for (meter_id, day), rows in files.items():
            self.assertEqual(len(rows), 86400 // self.INTERVAL_S, f"{meter_id} {day}")
            for row in rows:
                local = datetime.fromtimestamp(row.time_s, BERLIN)
                self.assertEqual((row.meter_id, local.date()), (meter_id, day))
                quarter = local.hour * 4 + local.minute // 15
                totals[day][quarter] += row.meter_power_value_w
                counts[day][quarter] += 1
        mean_w = {day: [total / count for total, count in zip(totals[day], counts[day], strict=True)]
                  for day in days}
        for day in days:
            self.assertEqual(set(counts[day]), {per_quarter * self.HOUSEHOLDS}, day)

        def expected_w(day: date) -> list[float]:
            """The day's own H25 quarter hours, dynamised and normalised, in W for the energy."""
            return [w * self.ANNUAL_KWH for w in h25_day_w_per_kwh(day, "DE")]

        self.assertEqual([h25_day_type(day, "DE") for day in days],
                         ["WT", "WT", "WT", "FT", "WT", "SA", "FT"])
        correlations, energy_errors = [], []
        for day in days:
            correlation = statistics.correlation(mean_w[day], expected_w(day))
            energy_error = sum(mean_w[day]) / sum(expected_w(day)) - 1.0
            correlations.append(correlation)
            energy_errors.append(energy_error)
            self.assertGreaterEqual(correlation, 0.95, day)
            self.assertAlmostEqual(energy_error, 0.0, delta=0.05, msg=day)
        week_error = (sum(map(sum, mean_w.values()))
                      / sum(sum(expected_w(day)) for day in days) - 1.0)
        self.assertAlmostEqual(week_error, 0.0, delta=0.05)
        as_holiday = statistics.correlation(mean_w[self.HOLIDAY], expected_w(self.HOLIDAY))
        # A correlation ignores scale, so the raw WT column of May stands for a workday.
        as_workday = statistics.correlation(mean_w[self.HOLIDAY], load_h25_profile()[5, "WT"])
        # The unit test measures about 0.97 against FT and under 0.85 against WT.
        self.assertLess(as_workday, 0.85)
        self.assertGreater(as_holiday - as_workday, 0.1)
        print(f"\nH25 through both CLIs, {self.HOUSEHOLDS} households x {self.INTERVAL_S} s, "
              f"2026-05-11..17 (Ascension FT): correlation per day "
              f"{' '.join(f'{c:.3f}' for c in correlations)}, day energy "
              f"{100 * min(energy_errors):+.2f} .. {100 * max(energy_errors):+.2f} %, week "
              f"{100 * week_error:+.2f} %, holiday vs FT {as_holiday:.3f} / vs WT "
              f"{as_workday:.3f}; {readings * self.HOUSEHOLDS} readings in {runtime_s:.0f} s")
