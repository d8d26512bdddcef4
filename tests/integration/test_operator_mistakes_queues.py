"""What a careless operator does to the queues, through the real CLIs (issue 25, items 1, 2, 5
and 6): a layout changed with readings queued, a meter started again at an earlier time, a
standby in the same output directory after a connection blip, a standby with --exit-when-idle."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from pv_simulator.messaging.port import Layout
from tests.helpers import rows_of, wait_until
from tests.integration.support import PORT, BrokerTestCase, rabbitmqctl
from tests.integration.test_faults import (
    DAWN,
    METER,
    PACED_SPEED,
    READINGS,
    FaultTestCase,
    Proc,
    analyse,
    row_count,
    tick_keys,
)

START = "2026-06-21T10:00+00:00"
IDS = ("Meter_0", "Meter_1")
PARTITIONED = Layout(4)


class LayoutChangeTest(BrokerTestCase):
    """Readings queued under one layout are not stranded by a switch to the other."""

    def setUp(self) -> None:
        super().setUp()
        self.delete_queues(queues=PARTITIONED.partition_queues)
        self.per_meter = self.write_config("per-meter.ini")
        self.partitioned = self.write_config("partitioned.ini", broker={"layout": "partitioned",
                                                                        "partitions": 4})
        self.out = self.tmp / "out"

    def meter(self, conf: Path, start: str, seconds: int) -> None:
        result = self.run_cli("demo_meter.py", "-conf", str(conf), "-nb", "2", "--start", start,
                              "--duration", str(seconds), "--speed", "0")
        self.assert_clean_exit(result.returncode, result.stderr)

    def pv(self, conf: Path) -> tuple[int, str]:
        ids = ("-ids", *IDS) if conf == self.per_meter else ()
        result = self.run_cli("demo_pv_service.py", "-conf", str(conf), *ids, "--output-dir",
                              str(self.out), "--exit-when-idle", "2", "--stats-interval", "0")
        return result.returncode, result.stderr

    def refused(self, conf: Path, *fragments: str) -> None:
        """Both services refuse to start under ``conf``, naming ``fragments``."""
        pv_ids = ("-ids", *IDS) if conf == self.per_meter else ()
        for script, args in (("demo_meter.py", ("-nb", "2", "--duration", "5", "--speed", "0")),
                             ("demo_pv_service.py", (*pv_ids, "--output-dir", str(self.out),
                                                     "--exit-when-idle", "1"))):
            result = self.run_cli(script, "-conf", str(conf), *args)
            with self.subTest(script=script, conf=conf.name):
                self.assert_one_line_error(result.returncode, result.stderr, 2, *fragments)

    def test_both_services_refuse_a_switch_while_the_other_layouts_queues_hold_readings(self) -> None:
        self.meter(self.per_meter, "2026-06-21T10:00+00:00", 10)
        self.assertEqual(self.pv(self.per_meter)[0], 0)
        self.meter(self.per_meter, "2026-06-21T10:00:10+00:00", 20)  # queued, no PV service
        self.refused(self.partitioned, "layout = partitioned", "layout = queue_per_meter",
                     "40 reading(s)", "Meter_0 (20)", "Meter_1 (20)", "--exit-when-idle")
        self.assertEqual([self.queue_depth(meter_id) for meter_id in IDS], [20, 20])
        self.assertEqual(sum(self.queue_depth(q) for q in PARTITIONED.partition_queues), 0)

        code, err = self.pv(self.per_meter)  # drained as the refusal says
        self.assert_clean_exit(code, err)
        self.meter(self.partitioned, "2026-06-21T10:00:30+00:00", 10)
        code, err = self.pv(self.partitioned)
        self.assert_clean_exit(code, err)
        for meter_id in IDS:
            times = [float(row["time_s"]) for row in rows_of(self.out, meter_id)]
            self.assertEqual(len(times), 40)
            self.assertEqual(times, sorted(set(times)))

        self.meter(self.partitioned, "2026-06-21T10:00:40+00:00", 5)  # and back again
        queues = sorted({PARTITIONED.queue_of(meter_id) for meter_id in IDS})
        self.refused(self.per_meter, "layout = queue_per_meter",
                     "layout = partitioned, partitions = 4", "10 reading(s)", *queues)
        code, err = self.pv(self.partitioned)
        self.assert_clean_exit(code, err)
        code, err = self.pv(self.per_meter)
        self.assert_clean_exit(code, err)
        self.assertEqual([len(rows_of(self.out, meter_id)) for meter_id in IDS], [45, 45])


class OutOfOrderTest(BrokerTestCase):
    """A meter started again at an earlier time: not duplicates, and not silently dropped."""

    def test_older_readings_not_in_the_file_are_dead_lettered_and_counted(self) -> None:
        conf = self.write_config()
        for start, seconds in (("2026-06-21T10:01:40+00:00", 10),   # written first
                               ("2026-06-21T10:00:00+00:00", 10),   # older, never written
                               ("2026-06-21T10:01:45+00:00", 10)):  # 5 duplicates, 5 new
            meter = self.run_cli("demo_meter.py", "-conf", str(conf), "-nb", "1", "--start", start,
                                 "--duration", str(seconds), "--speed", "0")
            self.assert_clean_exit(meter.returncode, meter.stderr)
        summary = self.tmp / "pv.json"
        service = self.run_cli("demo_pv_service.py", "-conf", str(conf), "-ids", "Meter_0",
                               "--output-dir", "out", "--exit-when-idle", "2",
                               "--summary-file", str(summary))
        self.assert_clean_exit(service.returncode, service.stderr)
        counts = json.loads(summary.read_text())
        self.assertEqual((counts["written"], counts["duplicates_skipped"], counts["out_of_order"]),
                         (15, 5, 10))
        self.assertEqual((self.queue_depth("Meter_0"), self.queue_depth("Meter_0.dlq")), (0, 10))
        warnings = [line for line in service.stderr.splitlines() if "as out of order" in line]
        self.assertEqual(len(warnings), 1, service.stderr)
        self.assertIn("dead-lettered to Meter_0.dlq", warnings[0])
        self.assertIn("10 out of order (dead-lettered)", service.stderr)
        self.assertEqual(len(rows_of(self.tmp / "out", "Meter_0")), 15)


def close_connections_of(vhost: str, pid: int) -> int:
    """Close, from the broker's side, every AMQP connection of process ``pid`` in ``vhost``
    (a blip of that process alone); how many were closed."""
    sockets = subprocess.run(["ss", "-tnpH", "state", "established"], capture_output=True,
                             text=True, check=True).stdout
    ports = {int(fields[2].rsplit(":", 1)[1]) for fields in map(str.split, sockets.splitlines())
             if len(fields) >= 5 and f"pid={pid}," in fields[4] and fields[3].endswith(f":{PORT}")}
    closed = 0
    for line in rabbitmqctl("list_connections", "-p", vhost, "pid", "peer_port").splitlines():
        fields = line.split()
        if len(fields) == 2 and fields[1].isdigit() and int(fields[1]) in ports:
            rabbitmqctl("close_connection", fields[0], "test: a blip of one PV service")
            closed += 1
    return closed


class StandbyTest(FaultTestCase):
    """Two PV services of one meter in one output directory: the second is the standby."""

    def start_pair(self, conf: Path, *standby_args: str) -> tuple[Proc, Proc]:
        active = self.start_pv(conf, "--stats-interval", "0")
        wait_until(lambda: "PV service consuming" in active.err, 60, "the first to consume")
        standby = self.start_pv(conf, "--stats-interval", "0", *standby_args)
        wait_until(lambda: "PV service consuming" in standby.err, 60, "the second to consume")
        return active, standby

    def check_once(self, name: str, **figures: object) -> None:
        verdict = analyse(rows_of(self.out, METER), tick_keys(DAWN, READINGS), self.reference(DAWN))
        print(f"\nSTANDBY {name}: {verdict.figures()}"
              + "".join(f" {key}={value}" for key, value in figures.items()), flush=True)
        self.assertEqual({k: v for k, v in verdict.faults.items() if v}, {}, verdict.figures())
        self.assertEqual(verdict.rows, READINGS)

    def test_a_standby_given_the_queue_by_a_blip_gives_it_back_and_stays_standby(self) -> None:
        self.reference(DAWN)
        conf = self.config()
        active, standby = self.start_pair(conf)
        meter = self.start_meter(conf, DAWN, speed=PACED_SPEED)
        blips = []
        for moment in (READINGS // 5, READINGS // 2):
            self.wait_rows(moment, 60, alive=[active, standby])
            self.assertEqual(close_connections_of(self.vhost, active.popen.pid), 1)
            blips.append(row_count(self.out))
            wait_until(lambda: not standby.running or active.err.count("reconnected") >= len(blips),
                       60, "the active one to reconnect")
        self.published(meter)
        self.wait_rows(READINGS, 60, alive=[active, standby])
        self.assertTrue(standby.running, standby.tail)
        gave_back = standby.err.count("giving queue Meter_0 back")
        self.stop_pv(standby)
        self.stop_pv(active)
        self.assertEqual(standby.summary()["written"], 0)
        self.assertIn("waiting as standby of the PV service with pid", standby.err)
        self.check_once("blip", blips=blips, gave_back=gave_back,
                        standby_reconnects=standby.summary()["reconnects"])

    def test_a_standby_with_exit_when_idle_waits_while_the_active_one_writes(self) -> None:
        self.reference(DAWN)
        conf = self.config()
        active, standby = self.start_pair(conf, "--exit-when-idle", "1")
        meter = self.start_meter(conf, DAWN, speed=PACED_SPEED // 4)
        wait_until(lambda: "waiting as standby" in standby.err or not standby.running, 60,
                   "the standby to say it waits")
        began = time.monotonic()
        self.wait_rows(READINGS // 2, 120, alive=[active, standby])
        idle_s = time.monotonic() - began
        self.assertGreater(idle_s, 2, "the stream ended too soon to show the standby waiting")
        active.kill9()
        self.published(meter)
        self.assertEqual(standby.wait(90), 0, standby.tail)
        self.assertEqual(standby.err.count("waiting as standby"), 1, standby.tail)
        self.assertEqual(standby.err.count("took over from"), 1, standby.tail)
        self.assertEqual(self.queue_depth(self.queue), 0)
        self.check_once("exit_when_idle", standby_idle_s=round(idle_s, 1),
                        standby_written=standby.summary()["written"])


class OutputDirTest(BrokerTestCase):
    def test_an_output_dir_that_is_no_directory_is_one_line_said_before_the_weather_is_read(self) -> None:
        conf = self.write_config(pv={"model": "solar", "weather": "no-such-weather.csv"})
        result = self.run_cli("demo_pv_service.py", "-conf", str(conf), "-ids", METER,
                              "--output-dir", "/dev/null", "--exit-when-idle", "1")
        self.assert_one_line_error(result.returncode, result.stderr, 2,
                                   "/dev/null: --output-dir is not a directory (it is a character device)")
        self.assertNotIn("File exists", result.stderr)
