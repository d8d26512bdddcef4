"""The PV service with the physical model, end to end through both CLIs."""

from __future__ import annotations

import configparser
import csv
from pathlib import Path
from zoneinfo import ZoneInfo

from pv_simulator.summary import read_rows, summarize
from tests.integration.support import ROOT, BrokerTestCase, check_rows

VIENNA = ZoneInfo("Europe/Vienna")
REFERENCE = ROOT / "tests" / "data" / "vienna_2026-06-21_clearsky_10min.csv"


def reference_energy_kwh(path: Path) -> float:
    """Daily AC energy of a pvlib fixture: 10-minute instantaneous values, trapezoids."""
    with path.open(newline="") as handle:
        power_w = [float(row["ac_w"]) for row in csv.DictReader(handle)]
    return sum(power_w) * 600 / 3.6e6


class SolarDayThroughClisTest(BrokerTestCase):
    def test_clear_vienna_day_matches_the_pvlib_reference_energy(self) -> None:
        example = configparser.ConfigParser(interpolation=None)
        example.read(ROOT / "examples" / "vienna.ini")
        conf = self.write_config(site=dict(example["site"]), pv=dict(example["pv"]))
        meter = self.run_cli("demo_meter.py", "-conf", str(conf), "--speed", "0", "--interval", "60",
                             "--duration", "86400", "--start", "2026-06-21T00:00+00:00", "--seed", "1")
        self.assertEqual(meter.returncode, 0, meter.stderr)
        service = self.run_cli("demo_pv_service.py", "-conf", str(conf), "-ids", "Meter_0",
                               "--output-dir", "out", "--exit-when-idle", "1")
        self.assertEqual(service.returncode, 0, service.stderr)
        files = sorted((self.tmp / "out").glob("Meter_0-*.csv"))
        self.assertEqual([p.name for p in files], ["Meter_0-2026-06-21.csv", "Meter_0-2026-06-22.csv"])
        rows = read_rows(files)
        self.assertEqual(len(rows), 1440)
        for path in files:
            with path.open(newline="") as handle:
                check_rows(self, list(csv.DictReader(handle)))
        summary = summarize(rows, VIENNA)["Meter_0"]
        expected = reference_energy_kwh(REFERENCE)
        self.assertAlmostEqual(summary.pv_energy_kwh, expected, delta=0.03 * expected)
        print(f"\nVienna clear day through the CLIs: {summary.pv_energy_kwh:.3f} kWh, "
              f"pvlib reference {expected:.3f} kWh "
              f"({100 * (summary.pv_energy_kwh / expected - 1):+.2f} %)")
