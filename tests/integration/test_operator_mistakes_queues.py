"""What a careless operator does to the queues, through the real CLIs (issue 25, items 1, 2, 5
and 6): a layout changed with readings queued, a meter started again at an earlier time, a
standby in the same output directory after a connection blip, a standby with --exit-when-idle."""

from __future__ import annotations

import json
from pathlib import Path

from pv_simulator.messaging.port import Layout
from tests.helpers import rows_of
from tests.integration.support import BrokerTestCase

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
