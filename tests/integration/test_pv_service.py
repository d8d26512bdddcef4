"""The PV service with the physical model, end to end through both CLIs."""

from __future__ import annotations

import configparser
import csv
from pathlib import Path
from zoneinfo import ZoneInfo

from pv_simulator.summary import read_rows, summarize
from tests.helpers import rows_of, wait_until
from tests.integration.support import BrokerTestCase, check_rows, rabbitmqctl
from tests.paths import ROOT

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


class ThousandsOfMetersTest(BrokerTestCase):
    """The pipelined declares (several channels, nowait) through the real broker."""

    METERS = 2000

    def ids(self) -> list[str]:
        return [f"Meter_{i}" for i in range(self.METERS)]

    def test_a_refused_declare_deep_in_the_pipeline_names_its_queue(self) -> None:
        """A queue with other arguments in a later round, on another channel than the first:
        exit 1, one line with the broker's 406 and the queue's name."""
        bad = "Meter_1500"
        channel = self.connection().channel()
        channel.queue_declare(bad, durable=True)
        self.addCleanup(lambda: self.connection().channel().queue_delete(bad))
        result = self.run_cli("demo_pv_service.py", "-conf", str(self.write_config()),
                              "-ids", *self.ids(), "--output-dir", "out", "--exit-when-idle", "1",
                              timeout=300)
        self.assert_one_line_error(result.returncode, result.stderr, 1, "406",
                                   "PRECONDITION_FAILED", f"'{bad}'")

    def test_every_queue_declared_consumed_and_written(self) -> None:
        """2,000 ids: every queue and dead-letter queue exists once the service says it consumes,
        and two ticks of 2,000 meters are all written."""
        conf = str(self.write_config())
        service = self.start("demo_pv_service.py", "-conf", conf, "--log-level", "INFO",
                             "-ids", *self.ids(), "--output-dir", "out")
        assert service.stderr is not None
        for line in service.stderr:
            if "PV service consuming" in line:
                break
        else:
            self.fail(f"service ended without consuming: {self.finish(service)}")
        self.assertIn(f"consuming {self.METERS} queue(s)", line)
        names = set(rabbitmqctl("list_queues", "-p", self.vhost, "--no-table-headers",
                                "name").split())
        self.assertEqual(names, {q for m in self.ids() for q in (m, m + ".dlq")})
        meter = self.run_cli("demo_meter.py", "-conf", conf, "-nb", str(self.METERS),
                             "--speed", "0", "--interval", "1", "--duration", "2",
                             "--start", "2026-06-21T12:00+00:00", "--seed", "1", timeout=300)
        self.assert_clean_exit(meter.returncode, meter.stderr)
        out = self.tmp / "out"
        wait_until(lambda: sum(1 for _ in out.glob("*.csv")) == self.METERS
                   and all(len(rows_of(out, m)) == 2 for m in self.ids()), 300, "two rows a meter")
        code, _, err = self.interrupt(service, timeout=60)
        self.assert_clean_exit(code, err)
        counts = {m: len(rows_of(out, m)) for m in self.ids()}
        self.assertEqual(set(counts.values()), {2})
