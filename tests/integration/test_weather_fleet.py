"""Weather files and fleets through both CLIs against the real broker.

A typical year of 5-minute readings of six plants (both references.json plants on the PVGIS csv
and the Greensboro TMY3, and the south plant on the PVGIS json and epw) runs as one fleet in one
meter and one PV service run: every meter its own weather file and plant. The other tests are
small: a neighbourhood of five houses, a bad weather file, a generic file's span, a bad country.
"""

from __future__ import annotations

import csv
import json
from datetime import datetime, timezone
from pathlib import Path

from tests.helpers import rows_of
from tests.integration.support import BrokerTestCase
from tests.paths import ROOT

WEATHER_DIR = ROOT / "tests" / "data" / "weather"
REFERENCES = json.loads((WEATHER_DIR / "references.json").read_text(encoding="utf-8"))
PLANT = REFERENCES["system"]
INTERVAL_S = 300
YEAR_S = 365 * 86400
START = "2025-01-01T00:00+00:00"

# meter id -> (weather file, references.json case prefix, system)
YEAR_METERS = {
    "pvgis_csv_south35": ("pvgis_tmy_45N_8E.csv", "pvgis", "south35"),
    "pvgis_csv_west20": ("pvgis_tmy_45N_8E.csv", "pvgis", "west20"),
    "greensboro_south35": ("greensboro_tmy3.csv", "greensboro", "south35"),
    "greensboro_west20": ("greensboro_tmy3.csv", "greensboro", "west20"),
    "pvgis_json_south35": ("pvgis_tmy_45N_8E.json", "pvgis", "south35"),
    "pvgis_epw_south35": ("pvgis_tmy_45N_8E.epw", "pvgis", "south35"),
}


def reference(case: str, system: str) -> dict[str, object]:
    return next(value["systems"][system] for name, value in REFERENCES["cases"].items()
                if name.startswith(case))


def monthly_pv_kwh(directory: Path, meter_id: str) -> list[float]:
    """PV energy by UTC month from a meter's files: each row's kW over its 5-minute interval."""
    months = [0.0] * 12
    for path in sorted(directory.glob(f"{meter_id}-*.csv")):
        with path.open(newline="") as handle:
            for row in csv.DictReader(handle):
                month = datetime.fromtimestamp(float(row["time_s"]), timezone.utc).month
                months[month - 1] += float(row["pv_power_value_kw"]) * INTERVAL_S / 3600.0
    return months


class TypicalYearThroughClisTest(BrokerTestCase):
    """Six plants x a year of 5-minute readings: annual within 2 %, months within 4 % of pvlib."""

    def test_a_year_of_each_plant_matches_pvlib_and_the_pvgis_formats_agree(self) -> None:
        fleet = self.tmp / "year.csv"
        with fleet.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["meter_id", "tilt_deg", "azimuth_deg", "weather"])
            for meter_id, (weather, _, system) in YEAR_METERS.items():
                tilt_deg, azimuth_deg = PLANT["systems"][system]
                writer.writerow([meter_id, tilt_deg, azimuth_deg, WEATHER_DIR / weather])
        conf = self.write_config(
            site={"timezone": "UTC"},
            pv={"model": "solar", "peak_power_kw": PLANT["peak_power_kw"],
                "dc_ac_ratio": PLANT["dc_ac_ratio"], "losses_pct": PLANT["losses_pct"],
                "temperature_coefficient": PLANT["temperature_coefficient"],
                "albedo": PLANT["albedo"]},
            fleet={"file": fleet.name})
        service = self.start("demo_pv_service.py", "-conf", str(conf), "-ids", *YEAR_METERS,
                             "--output-dir", "out", "--exit-when-idle", "5",
                             "--summary-file", "pv.json", "--log-level", "WARNING")
        meter = self.run_cli("demo_meter.py", "-conf", str(conf), "--start", START,
                             "--interval", str(INTERVAL_S), "--duration", str(YEAR_S),
                             "--speed", "0", "--seed", "1", "--log-level", "WARNING",
                             "--summary-file", "meter.json", timeout=600)
        self.assert_clean_exit(meter.returncode, meter.stderr)
        code, _, err = self.finish(service, timeout=600)
        self.assert_clean_exit(code, err)
        readings = YEAR_S // INTERVAL_S
        summary = json.loads((self.tmp / "pv.json").read_text())
        self.assertEqual(summary["written"], readings * len(YEAR_METERS))
        self.assertEqual(summary["outside_weather"], 0)

        out = self.tmp / "out"
        annual: dict[str, float] = {}
        lines = []
        for meter_id, (_, case, system) in YEAR_METERS.items():
            months = monthly_pv_kwh(out, meter_id)
            expected = reference(case, system)
            annual[meter_id] = sum(months)
            error = annual[meter_id] / float(expected["annual_kwh"]) - 1.0  # type: ignore[arg-type]
            month_errors = [value / want - 1.0 for value, want in
                            zip(months, expected["monthly_kwh"], strict=True)]  # type: ignore[call-overload]
            lines.append(f"  {meter_id:20s} {annual[meter_id]:8.1f} kWh, annual {100 * error:+.2f} %,"
                         f" months {100 * min(month_errors):+.2f} .. {100 * max(month_errors):+.2f} %")
            self.assertAlmostEqual(error, 0.0, delta=0.02, msg=meter_id)
            for month, month_error in enumerate(month_errors, start=1):
                self.assertAlmostEqual(month_error, 0.0, delta=0.04, msg=f"{meter_id} month {month}")
        for variant in ("pvgis_json_south35", "pvgis_epw_south35"):
            self.assertAlmostEqual(annual[variant] / annual["pvgis_csv_south35"], 1.0, delta=0.005,
                                   msg=variant)
        print("\ntypical years through both CLIs (5-minute readings, UTC months):\n"
              + "\n".join(lines))


class FleetThroughClisTest(BrokerTestCase):
    FLEET = ("meter_id,peak_power_kw,tilt_deg,azimuth_deg,annual_energy_kwh,meter_model\n"
             "Meter_0,4,30,180,2000,household\n"
             "Meter_1,8,30,180,3000,household\n"
             "Meter_2,0,,,4500,household\n"
             "Meter_3,6,45,95,,\n"
             "Meter_4,5.5,20,260,6000,household\n")

    def test_each_house_its_own_plant_and_consumption_under_one_sky(self) -> None:
        (self.tmp / "fleet.csv").write_text(self.FLEET)
        conf = self.write_config(pv={"model": "solar", "seed": 7}, fleet={"file": "fleet.csv"})
        meter = self.run_cli("demo_meter.py", "-conf", str(conf), "--start",
                             "2026-06-21T00:00", "--interval", "60", "--duration", "86400",
                             "--speed", "0", "--seed", "3", "--summary-file", "meter.json")
        self.assert_clean_exit(meter.returncode, meter.stderr)
        self.assertEqual(json.loads((self.tmp / "meter.json").read_text())["meters"], 5)
        ids = [f"Meter_{i}" for i in range(5)]
        service = self.run_cli("demo_pv_service.py", "-conf", str(conf), "-ids", *ids,
                               "--output-dir", "out", "--exit-when-idle", "1")
        self.assert_clean_exit(service.returncode, service.stderr)
        rows = {meter_id: rows_of(self.tmp / "out", meter_id) for meter_id in ids}
        pv = {meter_id: [float(row["pv_power_value_kw"]) for row in rows[meter_id]]
              for meter_id in ids}
        meter_kwh = {meter_id: sum(float(row["meter_power_value_w"]) for row in rows[meter_id])
                     * 60 / 3.6e6 for meter_id in ids}
        pv_kwh = {meter_id: sum(values) * 60 / 3600 for meter_id, values in pv.items()}
        for meter_id in ids:
            self.assertEqual(len(rows[meter_id]), 1440, meter_id)
        self.assertEqual(pv_kwh["Meter_2"], 0.0)
        self.assertEqual(len({round(value, 3) for value in meter_kwh.values()}), 5, meter_kwh)
        self.assertEqual(len({round(value, 3) for value in pv_kwh.values()}), 5, pv_kwh)
        # Same site, sky and orientation, twice the plant: twice the power at every minute.
        for small, large in zip(pv["Meter_0"], pv["Meter_1"], strict=True):
            self.assertAlmostEqual(large, 2.0 * small, delta=2e-6)
        self.assertGreater(pv_kwh["Meter_0"], 5.0)
        print(f"\nfleet of 5, 2026-06-21: PV kWh {({k: round(v, 2) for k, v in pv_kwh.items()})}, "
              f"meter kWh {({k: round(v, 2) for k, v in meter_kwh.items()})}")


class WeatherFileErrorsThroughClisTest(BrokerTestCase):
    GENERIC = ("time,ghi_w_m2,dni_w_m2,dhi_w_m2,air_temperature_c\n"
               + "".join(f"2026-06-21T{10 + k // 6:02d}:{10 * (k % 6):02d}:00Z,"
                         f"{700 + k},{600 + k},{150 + k},{22 + k / 10}\n" for k in range(7)))

    def test_a_bad_weather_file_is_one_line_exit_2_and_nothing_is_consumed(self) -> None:
        bad = self.GENERIC.replace("2026-06-21T10:30:00Z,703", "2026-06-21T10:30:00Z,abc")
        (self.tmp / "weather").mkdir()
        (self.tmp / "weather" / "bad.csv").write_text(bad)
        conf = self.write_config(pv={"model": "solar", "weather": "weather/bad.csv"})
        meter = self.run_cli("demo_meter.py", "-conf", str(conf), "--start", "2026-06-21T10:00Z",
                             "--interval", "60", "--duration", "600", "--speed", "0")
        self.assert_clean_exit(meter.returncode, meter.stderr)
        self.assertEqual(self.queue_depth("Meter_0"), 10)
        service = self.run_cli("demo_pv_service.py", "-conf", str(conf), "-ids", "Meter_0",
                               "--output-dir", "out", "--exit-when-idle", "1")
        self.assert_one_line_error(service.returncode, service.stderr, 2,
                                   str(self.tmp / "weather" / "bad.csv"), "line 5", "abc",
                                   "[pv] weather")
        self.assertEqual(self.queue_depth("Meter_0"), 10)
        self.assertFalse((self.tmp / "out").exists())

    def test_readings_outside_a_generic_files_span_are_zero_logged_once_and_counted(self) -> None:
        (self.tmp / "hour.csv").write_text(self.GENERIC)
        conf = self.write_config(pv={"model": "solar", "weather": "hour.csv"})
        meter = self.run_cli("demo_meter.py", "-conf", str(conf), "--start", "2026-06-21T09:00Z",
                             "--interval", "60", "--duration", "10800", "--speed", "0")
        self.assert_clean_exit(meter.returncode, meter.stderr)
        service = self.run_cli("demo_pv_service.py", "-conf", str(conf), "-ids", "Meter_0",
                               "--output-dir", "out", "--exit-when-idle", "1",
                               "--summary-file", "pv.json", "--stats-interval", "0.2")
        self.assert_clean_exit(service.returncode, service.stderr)
        rows = rows_of(self.tmp / "out", "Meter_0")
        self.assertEqual(len(rows), 180)
        span = [row for row in rows if 10 * 3600 <= float(row["time_s"]) % 86400 <= 11 * 3600]
        outside = [row for row in rows if row not in span]
        self.assertEqual(len(span), 61)
        self.assertTrue(all(float(row["pv_power_value_kw"]) == 0.0 for row in outside))
        self.assertTrue(all(float(row["pv_power_value_kw"]) > 0.5 for row in span))
        summary = json.loads((self.tmp / "pv.json").read_text())
        self.assertEqual(summary["outside_weather"], 119)
        warnings = [line for line in service.stderr.splitlines() if "no weather in" in line]
        self.assertEqual(len(warnings), 1, service.stderr)
        self.assertIn("hour.csv on 2026-06-21", warnings[0])
        self.assertIn("outside weather 119", service.stderr)

    def test_an_unknown_country_or_subdivision_is_exit_2_naming_the_key(self) -> None:
        for site, key in (({"country": "XX"}, "[site] country"),
                          ({"country": "DE", "subdivision": "ZZ"}, "[site] subdivision")):
            conf = self.write_config(site={"timezone": "Europe/Berlin", **site},
                                     meter={"model": "household"})
            meter = self.run_cli("demo_meter.py", "-conf", str(conf), "--speed", "0",
                                 "--duration", "60")
            self.assert_one_line_error(meter.returncode, meter.stderr, 2, str(conf), key)
