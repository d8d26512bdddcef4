"""Both CLIs end to end against the real broker, as a user runs them."""

from __future__ import annotations

import signal
from datetime import datetime
from zoneinfo import ZoneInfo

from parameterized import parameterized

from pv_simulator.storage.csv_format import HEADER
from tests.helpers import read_csv, rows_of, wait_until
from tests.integration.support import BrokerTestCase, check_rows

VIENNA = ZoneInfo("Europe/Vienna")


class CliTest(BrokerTestCase):
    @parameterized.expand([("demo_meter.py", "--nb-meter"), ("demo_pv_service.py", "--meter-ids")])
    def test_help_lists_options_and_exit_codes(self, script: str, option: str) -> None:
        result = self.run_cli(script, "--help")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn(option, result.stdout)
        self.assertIn("-conf", result.stdout)
        self.assertIn("exit codes", result.stdout)

    def test_real_time_two_of_three_meters(self) -> None:
        conf = self.write_config()
        out = self.tmp / "out"
        meter = self.start("demo_meter.py", "-conf", str(conf), "-nb", "3", "--interval", "0.2")
        service = self.start("demo_pv_service.py", "-conf", str(conf), "-ids", "Meter_0", "Meter_2",
                             "--output-dir", str(out))
        wait_until(lambda: all(len(rows_of(out, m)) >= 5 for m in ("Meter_0", "Meter_2")),
                   60, "five rows of Meter_0 and Meter_2")
        code, _, err = self.interrupt(meter)
        self.assert_clean_exit(code, err)
        self.assertIn("Meter created: ['Meter_0', 'Meter_1', 'Meter_2']", err)
        code, _, err = self.interrupt(service)
        self.assert_clean_exit(code, err)
        files = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
        self.assertEqual(len(files), 2, files)
        self.assertEqual(sorted(p.name for p in out.glob(".*")), [".Meter_0.lock", ".Meter_2.lock"])
        self.assertTrue(files[0].startswith("Meter_0-") and files[1].startswith("Meter_2-"), files)
        for path in (out / name for name in files):
            self.assertEqual(path.read_text().splitlines()[0], HEADER)
            rows = read_csv(path)
            check_rows(self, rows)
            today = datetime.now(VIENNA).date()
            first = datetime.fromtimestamp(float(rows[0]["time_s"]), VIENNA).date()
            self.assertIn((first - today).days, (-1, 0))
        self.assertGreater(self.queue_depth("Meter_1"), 0)

    def test_service_started_later_writes_earlier_readings(self) -> None:
        conf = self.write_config()
        result = self.run_cli("demo_meter.py", "-conf", str(conf), "--speed", "0", "--interval",
                              "10", "--duration", "3600", "--start", "2026-06-21T10:00",
                              "--seed", "4")
        self.assertEqual(result.returncode, 0, result.stderr)
        result = self.run_cli("demo_pv_service.py", "-conf", str(conf), "-ids", "Meter_0",
                              "--output-dir", "out", "--exit-when-idle", "1")
        self.assertEqual(result.returncode, 0, result.stderr)
        rows = read_csv(self.tmp / "out" / "Meter_0-2026-06-21.csv")
        self.assertEqual(len(rows), 360)
        start = datetime(2026, 6, 21, 10, tzinfo=VIENNA).timestamp()
        self.assertEqual([float(r["time_s"]) for r in rows], [start + 10 * k for k in range(360)])
        check_rows(self, rows)
        self.assertTrue(all(float(r["pv_power_value_kw"]) > 0 for r in rows))

    def test_day_rollover_goes_to_the_next_days_file(self) -> None:
        conf = self.write_config()
        meter = self.start("demo_meter.py", "-conf", str(conf), "--speed", "0", "--duration",
                           "120", "--start", "2026-06-21T23:59:00")
        result = self.run_cli("demo_pv_service.py", "-conf", str(conf), "-ids", "Meter_0",
                              "--output-dir", "out", "--exit-when-idle", "2")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assert_clean_exit(*self.finish(meter)[::2])
        self.assertEqual(len(read_csv(self.tmp / "out" / "Meter_0-2026-06-21.csv")), 60)
        self.assertEqual(len(read_csv(self.tmp / "out" / "Meter_0-2026-06-22.csv")), 60)

    def test_same_seed_gives_the_same_readings(self) -> None:
        outputs = []
        for run in range(2):
            conf = self.write_config(f"run{run}.ini")
            args = ("--speed", "0", "--duration", "300", "--start", "2026-06-21T12:00",
                    "--seed", "9", "-nb", "2")
            self.assertEqual(self.run_cli("demo_meter.py", "-conf", str(conf), *args).returncode, 0)
            result = self.run_cli("demo_pv_service.py", "-conf", str(conf), "-ids", "Meter_0",
                                  "Meter_1", "--output-dir", f"out{run}", "--exit-when-idle", "1")
            self.assertEqual(result.returncode, 0, result.stderr)
            outputs.append([[r["meter_power_value_w"] for r in rows_of(self.tmp / f"out{run}", m)]
                            for m in ("Meter_0", "Meter_1")])
        self.assertEqual(len(outputs[0][0]), 300)
        self.assertEqual(outputs[0], outputs[1])
        self.assertNotEqual(outputs[0][0], outputs[0][1])

    def test_nb_meter_zero_falls_back_to_one(self) -> None:
        conf = self.write_config()
        result = self.run_cli("demo_meter.py", "-conf", str(conf), "-nb", "0", "--speed", "0",
                              "--duration", "5")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("using 1 meter", result.stderr)
        self.assertIn("Meter created: ['Meter_0']", result.stderr)
        self.assertEqual(self.queue_depth("Meter_0"), 5)

    def test_other_header_is_refused_before_consuming(self) -> None:
        conf = self.write_config()
        self.assertEqual(self.run_cli("demo_meter.py", "-conf", str(conf), "--speed", "0",
                                      "--duration", "50", "--start",
                                      "2026-06-21T12:00").returncode, 0)
        out = self.tmp / "out"
        out.mkdir()
        foreign = out / "Meter_0-2026-06-21.csv"
        foreign.write_text("time,value\n1,2\n")
        result = self.run_cli("demo_pv_service.py", "-conf", str(conf), "-ids", "Meter_0",
                              "--output-dir", str(out), "--exit-when-idle", "1")
        self.assert_one_line_error(result.returncode, result.stderr, 2, str(foreign), "header")
        self.assertEqual(foreign.read_text(), "time,value\n1,2\n")
        self.assertEqual(self.queue_depth("Meter_0"), 50)

    def test_sigterm_stops_both_cleanly(self) -> None:
        conf = self.write_config()
        meter = self.start("demo_meter.py", "-conf", str(conf), "--interval", "0.1")
        service = self.start("demo_pv_service.py", "-conf", str(conf), "-ids", "Meter_0",
                             "--output-dir", "out")
        wait_until(lambda: len(rows_of(self.tmp / "out", "Meter_0")) >= 3, 60, "three rows")
        for process in (meter, service):
            code, _, err = self.interrupt(process, signal.SIGTERM)
            self.assert_clean_exit(code, err)

    def test_default_config_file_in_working_directory(self) -> None:
        conf = self.write_config()
        workdir = self.tmp / "work"
        workdir.mkdir()
        (workdir / "broker.ini").write_text(conf.read_text())
        result = self.run_cli("demo_meter.py", "--speed", "0", "--duration", "7", cwd=workdir)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertNotIn("not found", result.stderr)
        self.assertEqual(self.queue_depth("Meter_0"), 7)

    def test_stats_lines_and_file_mode(self) -> None:
        conf = self.write_config()
        meter = self.start("demo_meter.py", "-conf", str(conf), "--interval", "0.05",
                           "--stats-interval", "0.5")
        service = self.start("demo_pv_service.py", "-conf", str(conf), "-ids", "Meter_0",
                             "--output-dir", "out", "--stats-interval", "0.5")
        wait_until(lambda: len(rows_of(self.tmp / "out", "Meter_0")) >= 30, 60, "30 rows")
        _, _, meter_err = self.interrupt(meter)
        _, _, service_err = self.interrupt(service)
        self.assertRegex(meter_err, r"stats: published \d+ \(\d+/s\), buffered \d+, dropped 0, "
                                    r"reconnects 0")
        self.assertRegex(service_err, r"stats: written \d+ \(\d+/s\), duplicates 0, out of order 0, "
                                      r"rejected 0, "
                                      r"backlog \d+, reconnects 0")
        for path in (self.tmp / "out").iterdir():
            self.assertEqual(path.stat().st_mode & 0o777, 0o644)

    def test_debug_logs_each_reading_info_does_not(self) -> None:
        conf = self.write_config()
        args = ("-conf", str(conf), "--speed", "0", "--duration", "5", "--start", "2026-06-21T12:00")
        quiet = self.run_cli("demo_meter.py", *args)
        self.assertNotIn("took Meter_0", quiet.stderr)
        verbose = self.run_cli("demo_meter.py", *args, "--log-level", "DEBUG")
        self.assertEqual(verbose.stderr.count("took Meter_0"), 5)
        result = self.run_cli("demo_pv_service.py", "-conf", str(conf), "-ids", "Meter_0",
                              "--output-dir", "out", "--exit-when-idle", "1", "--log-level", "DEBUG")
        self.assertEqual(result.stderr.count("wrote Meter_0"), 5)
        self.assertEqual(result.stderr.count("skipped Meter_0"), 5)

    @parameterized.expand([("demo_meter.py", ()), ("demo_pv_service.py", ("-ids", "Meter_0"))])
    def test_unknown_option_is_a_one_line_error(self, script: str, args: tuple[str, ...]) -> None:
        result = self.run_cli(script, *args, "--no-such-option")
        self.assert_one_line_error(result.returncode, result.stderr, 2, "--no-such-option")
