"""Households and the modelled sky through both CLIs against the real broker, with figures.

The unit tests check the household profile and the sky model in-process; these run the same
models the way a user does, meter CLI -> broker -> PV service CLI -> dated CSV files, and read
the figures back from the files: a neighbourhood's week against BDEW H25 with a public holiday,
and the seasons of the variable sky (January's PV yield against its clear-sky potential well
below July's at 48 N, above it at 46 S).
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
from tests.helpers import wait_until
from tests.integration.support import BrokerTestCase

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
    672,000 readings take 105-130 s on a busy 2-core machine (load 6-9). 100 households every 90 s are
    no faster (the same readings) and noisier: Monday's correlation fell to 0.931.
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


SKY_PLANT = {"peak_power_kw": 4.0, "tilt_deg": 30.0}
SKY_SITE = {"timezone": "Europe/Berlin", "latitude": 48.0, "longitude": 11.6, "altitude_m": 520.0}
SOUTH_SITE = {"timezone": "Pacific/Auckland", "latitude": -45.87, "longitude": 170.5,
              "altitude_m": 100.0}
SKY_MONTHS = {1: "2026-01-01T00:00", 7: "2026-07-01T00:00"}


class SeasonalSkyThroughClisTest(BrokerTestCase):
    """January at 48 N keeps far less of its clear-sky PV than July, and at 46 S (Dunedin) July,
    its winter, far less than January.

    The clear-sky index is not in the files, so the seasons show as a ratio: the month's PV energy
    under `sky = variable` over the same plant's under `sky = clear`. One meter run per month
    publishes two meters; one PV service with each sky serves one of them, so both see readings
    at the same instants. No `air_temperature_c`: the cell temperature follows the site climate.
    """

    INTERVAL_S = 300
    # The in-process model over [pv] seeds 0..39 gives, at 48 N, January 0.454 +- 0.006
    # (0.441 .. 0.465) and July 0.702 +- 0.003 (0.697 .. 0.710): July minus January 0.248 +-
    # 0.007, never below 0.234 (each generated month has its climatology's K, 0.57 in January
    # and 0.70 in July at 48 N). At 46 S, facing north: January 0.707 +- 0.005, July 0.477 +-
    # 0.005, January minus July 0.231 +- 0.006, never below 0.216. The margins therefore hold
    # for the seasons, not for one lucky seed, 7 (north) and 13 (south) standard deviations
    # below the mean difference.
    MARGIN = 0.2
    SOUTH_MARGIN = 0.15

    def month_ratios(self, site: dict[str, object], azimuth_deg: float, where: str
                     ) -> tuple[dict[str, dict[int, float]], dict[int, float]]:
        """Each month's PV energy per sky, and variable over clear, through both CLIs (printed)."""
        began = time.monotonic()
        conf = {sky: self.write_config(f"{sky}.ini", site=site, meter={"model": "household"},
                                       pv={"model": "solar", "sky": sky, "seed": 7, **SKY_PLANT,
                                           "azimuth_deg": azimuth_deg})
                for sky in ("clear", "variable")}
        readings = 0
        for month, start in SKY_MONTHS.items():
            meter = self.run_cli("demo_meter.py", "-conf", str(conf["clear"]), "-nb", "2",
                                 "--speed", "0", "--interval", str(self.INTERVAL_S),
                                 "--duration", str(31 * 86400), "--start", start, "--seed", "5",
                                 "--summary-file", f"meter-{month}.json", "--log-level", "WARNING")
            self.assert_clean_exit(meter.returncode, meter.stderr)
            readings += 31 * 86400 // self.INTERVAL_S
            self.assertEqual(json.loads((self.tmp / f"meter-{month}.json").read_text())["published"],
                             2 * 31 * 86400 // self.INTERVAL_S)
        services = {sky: self.start("demo_pv_service.py", "-conf", str(conf[sky]), "-ids", meter_id,
                                    "--output-dir", sky, "--exit-when-idle", "2",
                                    "--summary-file", f"{sky}.json", "--log-level", "WARNING")
                    for sky, meter_id in (("clear", "Meter_0"), ("variable", "Meter_1"))}
        energy_kwh: dict[str, dict[int, float]] = {}
        for sky, service in services.items():
            code, _, err = self.finish(service, timeout=300)
            self.assert_clean_exit(code, err)
            self.assertEqual(json.loads((self.tmp / f"{sky}.json").read_text())["written"], readings)
            months: dict[int, float] = defaultdict(float)
            for (_, day), rows in read_rows(self.tmp / sky).items():
                months[day.month] += sum(row.pv_power_value_kw for row in rows) * self.INTERVAL_S / 3600
            energy_kwh[sky] = dict(months)
            self.assertEqual(set(months), set(SKY_MONTHS), sky)
        ratio = {month: energy_kwh["variable"][month] / energy_kwh["clear"][month]
                 for month in SKY_MONTHS}
        print(f"\nsky through both CLIs, 4 kWp facing the equator at 30 deg, {where}, 5-minute "
              f"readings: January {energy_kwh['variable'][1]:.1f} of {energy_kwh['clear'][1]:.1f} "
              f"kWh clear ({ratio[1]:.3f}), July {energy_kwh['variable'][7]:.1f} of "
              f"{energy_kwh['clear'][7]:.1f} kWh ({ratio[7]:.3f}); {time.monotonic() - began:.0f} s")
        for month, value in ratio.items():
            self.assertGreater(value, 0.1, month)
            self.assertLess(value, 1.0, month)
        return energy_kwh, ratio

    def test_january_keeps_clearly_less_of_its_clear_sky_energy_than_july(self) -> None:
        energy_kwh, ratio = self.month_ratios(SKY_SITE, 180.0, "48 N")
        self.assertGreater(ratio[7] - ratio[1], self.MARGIN)
        # Clear skies alone already give January less than July (lower sun, shorter days).
        self.assertLess(energy_kwh["clear"][1], energy_kwh["clear"][7])

    def test_in_the_south_july_is_the_dark_winter(self) -> None:
        energy_kwh, ratio = self.month_ratios(SOUTH_SITE, 0.0, "46 S")
        self.assertGreater(ratio[1] - ratio[7], self.SOUTH_MARGIN)
        self.assertLess(energy_kwh["clear"][7], energy_kwh["clear"][1])
