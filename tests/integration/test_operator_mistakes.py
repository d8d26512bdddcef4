"""What a careless operator gets wrong, through the real CLIs (issue 25's items on fleets and
configuration): southern fleets, households named by their meter, one validation for both
services, the reference curve's limits, weather files that are physically inconsistent."""

from __future__ import annotations

import csv
import io
import os
import signal
import subprocess
import time
from datetime import datetime, timezone

from tests.helpers import rows_of
from tests.integration.support import PYTHON, BrokerTestCase
from tests.paths import ROOT

START = "2026-06-21T10:00+00:00"


class FleetGenerateCliTest(BrokerTestCase):
    def run_fleet(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([PYTHON, "-m", "pv_simulator.fleet", *args], cwd=self.tmp, text=True,
                              capture_output=True, timeout=60, env=dict(os.environ, PYTHONPATH=str(ROOT)))

    def test_a_southern_fleet_faces_north(self) -> None:
        result = self.run_fleet("generate", "200", "--seed", "1", "--latitude", "-33.9",
                                "--longitude", "151.2", "--pv-share", "1")
        self.assertEqual(result.returncode, 0, result.stderr)
        azimuths = [float(row["azimuth_deg"]) for row in csv.DictReader(io.StringIO(result.stdout))]
        self.assertEqual(len(azimuths), 200)
        north = sum(a >= 315 or a < 45 for a in azimuths) / len(azimuths)
        south = sum(135 <= a < 225 for a in azimuths) / len(azimuths)
        self.assertGreater(north, 0.4)
        self.assertLess(south, 0.02)

    def test_an_error_is_one_line_not_the_usage(self) -> None:
        result = self.run_fleet("generate", "0", "--seed", "1", "--latitude", "0", "--longitude", "0")
        self.assert_one_line_error(result.returncode, result.stderr, 2, "count")
        self.assertNotIn("usage:", result.stderr)


class FleetOrderThroughClisTest(BrokerTestCase):
    """A household's readings do not depend on where its row stands in the fleet file."""

    def run_fleet(self, rows: list[str], out: str) -> list[dict[str, str]]:
        (self.tmp / "fleet.csv").write_text("meter_id,annual_energy_kwh,peak_power_kw\n" + "\n".join(rows) + "\n")
        conf = self.write_config(pv={"model": "solar", "sky": "clear"}, meter={"model": "household"},
                                 fleet={"file": "fleet.csv"})
        ids = [row.split(",")[0] for row in rows]
        meter = self.run_cli("demo_meter.py", "-conf", str(conf), "--start", START, "--interval", "60",
                             "--duration", "1800", "--speed", "0", "--seed", "3")
        self.assert_clean_exit(meter.returncode, meter.stderr)
        service = self.run_cli("demo_pv_service.py", "-conf", str(conf), "-ids", *ids,
                               "--output-dir", out, "--exit-when-idle", "2")
        self.assert_clean_exit(service.returncode, service.stderr)
        return rows_of(self.tmp / out, "Meter_1")

    def test_reordered_rows_give_each_household_the_same_series(self) -> None:
        first = self.run_fleet(["Meter_0,3000,0", "Meter_1,5000,0"], "first")
        second = self.run_fleet(["Meter_1,5000,0", "Meter_0,3000,0"], "second")
        self.assertEqual(len(first), 30)
        self.assertEqual([row["meter_power_value_w"] for row in first],
                         [row["meter_power_value_w"] for row in second])


class OneValidationTest(BrokerTestCase):
    def test_both_services_refuse_a_subdivision_without_holidays(self) -> None:
        conf = self.write_config(site={"timezone": "Europe/Vienna", "country": "AT", "subdivision": "BY"})
        for script, args in (("demo_meter.py", ("-nb", "1", "--duration", "60", "--speed", "0")),
                             ("demo_pv_service.py", ("-ids", "Meter_0", "--exit-when-idle", "1"))):
            result = self.run_cli(script, "-conf", str(conf), *args)
            with self.subTest(script=script):
                self.assert_one_line_error(result.returncode, result.stderr, 2, "[site] subdivision", "BY")

    def test_the_reference_curve_refuses_a_fleet_in_both_services(self) -> None:
        (self.tmp / "fleet.csv").write_text("meter_id,peak_power_kw\nMeter_0,0\n")
        conf = self.write_config(pv={"model": "reference"}, fleet={"file": "fleet.csv"})
        for script, args in (("demo_meter.py", ("--duration", "60", "--speed", "0")),
                             ("demo_pv_service.py", ("-ids", "Meter_0", "--exit-when-idle", "1"))):
            result = self.run_cli(script, "-conf", str(conf), *args)
            with self.subTest(script=script):
                self.assert_one_line_error(result.returncode, result.stderr, 2,
                                           "[pv] model = reference", "[fleet] file")

    def test_more_meters_asked_than_the_fleet_holds_is_warned(self) -> None:
        (self.tmp / "fleet.csv").write_text("meter_id,peak_power_kw\nMeter_0,0\n")
        conf = self.write_config(pv={"model": "solar"}, fleet={"file": "fleet.csv"})
        result = self.run_cli("demo_meter.py", "-conf", str(conf), "-nb", "5", "--duration", "60",
                              "--speed", "0")
        self.assert_clean_exit(result.returncode, result.stderr)
        self.assertIn("--nb-meter 5: the fleet", result.stderr)
        self.assertIn("holds 1 meter(s)", result.stderr)


class InconsistentWeatherThroughClisTest(BrokerTestCase):
    def test_a_file_whose_columns_disagree_is_warned_once_with_a_count(self) -> None:
        rows = [f"2026-06-21T{hour:02d}:{minute:02d}:00Z,50,600,400"
                for hour in range(8, 16) for minute in range(0, 60, 10)]
        (self.tmp / "bad.csv").write_text("time,ghi_w_m2,dni_w_m2,dhi_w_m2\n" + "\n".join(rows) + "\n")
        conf = self.write_config(pv={"model": "solar", "weather": "bad.csv"},
                                 site={"timezone": "UTC", "latitude": 45.0, "longitude": 8.0})
        meter = self.run_cli("demo_meter.py", "-conf", str(conf), "--start", START, "--interval", "60",
                             "--duration", "600", "--speed", "0")
        self.assert_clean_exit(meter.returncode, meter.stderr)
        service = self.run_cli("demo_pv_service.py", "-conf", str(conf), "-ids", "Meter_0",
                               "--output-dir", "out", "--exit-when-idle", "2")
        self.assert_clean_exit(service.returncode, service.stderr)
        warnings = [line for line in service.stderr.splitlines() if "break GHI = DHI + DNI cos(z)" in line]
        self.assertEqual(len(warnings), 1, service.stderr)
        self.assertIn(f"{len(rows)} of {len(rows)} daytime rows checked", warnings[0])
        self.assertEqual(len(rows_of(self.tmp / "out", "Meter_0")), 10)


class StartUpStopTest(BrokerTestCase):
    """SIGTERM is honoured within a second at any stage of start-up, a big weather file's too."""

    def test_sigterm_while_a_big_weather_file_is_read(self) -> None:
        start_s = 1782000000 - 1782000000 % 86400
        with (self.tmp / "big.csv").open("w") as handle:
            handle.write("time,ghi_w_m2,dni_w_m2,dhi_w_m2\n")
            for k in range(0, 4 * 86400, 1):
                handle.write(f"{datetime.fromtimestamp(start_s + k, timezone.utc).isoformat()},0,0,0\n")
        conf = self.write_config(pv={"model": "solar", "weather": "big.csv"}, site={"timezone": "UTC"})
        service = self.start("demo_pv_service.py", "-conf", str(conf), "-ids", "Meter_0",
                             "--output-dir", "out")
        assert service.stderr is not None
        line = ""
        while "reading weather file" not in line:
            line = service.stderr.readline()
            self.assertNotEqual(line, "", "the service ended before reading the weather file")
        self.assertIn("MB)", line)
        stopped_at = time.monotonic()
        service.send_signal(signal.SIGTERM)
        code, _, err = self.finish(service, timeout=30)
        self.assertLess(time.monotonic() - stopped_at, 1.5)
        self.assert_clean_exit(code, err)
        self.assertIn("stopped during start-up", err)
        self.assertNotIn("connected to", err)


class ResultsExchangeTypeTest(BrokerTestCase):
    """Results need a topic exchange: anything else is refused at start by the service and the view."""

    def test_a_direct_exchange_is_refused_and_a_fanout_one_warned(self) -> None:
        conf = self.write_config(output={"publish": "true", "results_exchange": "amq.direct"})
        service = self.run_cli("demo_pv_service.py", "-conf", str(conf), "-ids", "Meter_0",
                               "--output-dir", "out", "--exit-when-idle", "1")
        self.assert_one_line_error(service.returncode, service.stderr, 1, "[output] results_exchange",
                                   "'amq.direct' is a direct exchange")
        live = subprocess.run([PYTHON, "-m", "pv_simulator.live", "-conf", str(conf), "--port", "0"],
                              cwd=self.tmp, text=True, capture_output=True, timeout=60,
                              env=dict(os.environ, PYTHONPATH=str(ROOT)))
        self.assert_one_line_error(live.returncode, live.stderr, 1, "'amq.direct' is a direct exchange")
        fanout = self.write_config("fanout.ini", output={"publish": "true", "results_exchange": "amq.fanout"})
        service = self.run_cli("demo_pv_service.py", "-conf", str(fanout), "-ids", "Meter_0",
                               "--output-dir", "out", "--exit-when-idle", "1")
        self.assert_clean_exit(service.returncode, service.stderr)
        self.assertIn("is a fanout exchange: every queue bound to it gets every result", service.stderr)
