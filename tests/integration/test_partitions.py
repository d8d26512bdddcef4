"""The partitioned layout through the real CLIs: either service first, several PV services, kills.

40 seeded meters share 4 partition queues. Each check is exactly once per meter: every tick's
row, once, in order, with the values a queue-per-meter run of the same seed gives (the layout
moves readings, it must not change them), and nothing left queued or dead-lettered.
"""

from __future__ import annotations

import json
import signal
import subprocess
from functools import partial
from pathlib import Path

from parameterized import parameterized

from pv_simulator.messaging.port import Layout
from tests.helpers import files_of, rows_of, wait_until
from tests.integration.support import BrokerTestCase, check_rows

LAYOUT = Layout(partitions=4)
METERS = [f"Meter_{i}" for i in range(40)]
TICKS = 300
START = "2026-06-21T04:00"
START_S = 1782007200.0  # 2026-06-21T04:00 in Europe/Vienna (the test config's zone)


class PartitionedLayoutTest(BrokerTestCase):

    def setUp(self) -> None:
        super().setUp()
        self.conf = self.write_config("partitioned.ini", broker={"layout": "partitioned",
                                                                 "partitions": LAYOUT.partitions})
        self.delete_queues(0, LAYOUT.partition_queues)  # the Meter_ ones went in setUp

    def meter(self, conf: Path, speed: int = 0) -> subprocess.Popen[str]:
        return self.start("demo_meter.py", "-conf", str(conf), "-nb", str(len(METERS)),
                          "--speed", str(speed), "--interval", "1", "--duration", str(TICKS),
                          "--start", START, "--seed", "7")

    def service(self, name: str, *args: str, conf: Path | None = None,
                out: Path | None = None) -> subprocess.Popen[str]:
        return self.start("demo_pv_service.py", "-conf", str(conf or self.conf), "--output-dir",
                          str(out or self.tmp / "out"), "--summary-file",
                          str(self.tmp / f"{name}.json"), *args, log=True)

    def summary(self, name: str) -> dict[str, int]:
        counts: dict[str, int] = json.loads((self.tmp / f"{name}.json").read_text())
        return counts

    def consuming(self, process: subprocess.Popen[str]) -> bool:
        if process.poll() is not None:
            raise AssertionError(f"PV service exited early:\n{self.log_tail(process)}")
        return "PV service consuming" in self.log_tail(process, 200)

    def total_rows(self, out: Path) -> int:
        return sum(len(rows_of(out, meter_id)) for meter_id in METERS)

    def reference(self) -> dict[str, list[tuple[str, ...]]]:
        """The same seed through the default layout: the values every layout must write."""
        conf = self.write_config("per-meter.ini")
        out = self.tmp / "reference"
        # The readings wait in their queues first: a service that is idle until a slow meter's
        # first reading would stop before it.
        self.assert_clean_exit(*self.finish(self.meter(conf))[::2])
        pv = self.service("reference", "-ids", *METERS, "--exit-when-idle", "2", conf=conf, out=out)
        self.assert_clean_exit(*self.finish(pv)[::2])
        return {m: [tuple(row.values()) for row in rows_of(out, m)] for m in METERS}

    def assert_exactly_once(self, out: Path, reference: dict[str, list[tuple[str, ...]]]) -> None:
        for meter_id in METERS:
            rows = rows_of(out, meter_id)
            self.assertEqual([float(row["time_s"]) for row in rows],
                             [START_S + i for i in range(TICKS)], meter_id)
            self.assertEqual([tuple(row.values()) for row in rows], reference[meter_id], meter_id)
            check_rows(self, rows)
        for queue in LAYOUT.partition_queues:
            self.assertEqual((self.queue_depth(queue), self.queue_depth(queue + ".dlq")), (0, 0),
                             queue)

    @parameterized.expand([("meter_first", True), ("services_first", False)])
    def test_two_services_split_the_partitions(self, _name: str, meter_first: bool) -> None:
        """Either side may start first; each service writes exactly its partitions' meters."""
        reference = self.reference()
        out = self.tmp / "out"
        if meter_first:
            self.assert_clean_exit(*self.finish(self.meter(self.conf))[::2])
            self.assertEqual(sum(self.queue_depth(q) for q in LAYOUT.partition_queues),
                             len(METERS) * TICKS)
        low = self.service("low", "--partition", "0", "1")
        high = self.service("high", "--partition", "2", "3")
        for pv in (low, high):
            wait_until(partial(self.consuming, pv), 60, "a PV service to consume")
        if not meter_first:
            self.assert_clean_exit(*self.finish(self.meter(self.conf))[::2])
        wait_until(lambda: self.total_rows(out) >= len(METERS) * TICKS, 60, "every row")
        for pv in (low, high):
            self.assert_clean_exit(*self.interrupt(pv)[::2])
        self.assert_exactly_once(out, reference)
        low_meters = [m for m in METERS if LAYOUT.partition_of(m) in (0, 1)]
        self.assertGreater(len(low_meters), 0)
        self.assertLess(len(low_meters), len(METERS))
        self.assertEqual(self.summary("low")["written"], len(low_meters) * TICKS)
        self.assertEqual(self.summary("high")["written"], (len(METERS) - len(low_meters)) * TICKS)

    @parameterized.expand([("a_message_each", 1), ("packed", 25)])
    def test_a_standby_takes_over_every_partition_after_a_kill(self, _name: str,
                                                               per_message: int) -> None:
        """Two services on every partition: one is active per queue; kill -9 it mid-stream.
        Packed ([broker] readings_per_message), the files are the same to the byte."""
        reference = self.reference()
        out = self.tmp / "out"
        if per_message > 1:
            self.conf = self.write_config("packed.ini", broker={
                "layout": "partitioned", "partitions": LAYOUT.partitions,
                "readings_per_message": per_message})
        first = self.service("first")
        wait_until(lambda: self.consuming(first), 60, "the first PV service to consume")
        second = self.service("second")
        wait_until(lambda: self.consuming(second), 60, "the standby to consume")
        meter = self.meter(self.conf, speed=30)  # 300 ticks in 10 s
        wait_until(lambda: self.total_rows(out) >= len(METERS) * TICKS // 3, 60, "a third of the rows")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        killed_at = self.total_rows(out)
        self.assertLess(killed_at, len(METERS) * TICKS, "the kill came after the last row")
        code, _, meter_log = self.finish(meter)
        self.assert_clean_exit(code, meter_log)
        wait_until(lambda: self.total_rows(out) >= len(METERS) * TICKS, 60, "every row")
        self.assert_clean_exit(*self.interrupt(second)[::2])
        self.assert_exactly_once(out, reference)
        self.assertGreater(self.summary("second")["written"], 0)
        if per_message > 1:
            self.assertIn(f"up to {per_message} readings of one queue packed", meter_log)
            written, expected = files_of(out), files_of(self.tmp / "reference")
            self.assertEqual(sorted(written), sorted(expected))
            for name, content in written.items():
                self.assertEqual(content, expected[name], name)
