"""The services used the way users misuse them, through the real CLIs and the real broker.

Each case was a defect: a meter id with a trailing newline hung the PV service, two PV
services on one meter and directory lost acknowledged readings, a full disk ended in a
traceback, an accelerated run lost readings on a short broker restart, real-time readings
were dated back by the time the queues took to declare, and a blocked publisher was silent.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from tests.helpers import rows_of, wait_until
from tests.integration.support import rabbitmqctl
from tests.integration.test_faults import (
    DAWN,
    METER,
    READINGS,
    FaultTestCase,
    analyse,
    row_count,
    tick_keys,
)

HEADER_START = "meter_id,"


class IdTest(FaultTestCase):
    def test_an_id_with_a_trailing_newline_is_refused_at_once(self) -> None:
        """It passed the check, and the broker never answered the declare of its queue."""
        conf = self.config()
        began = time.monotonic()
        result = self.run_cli("demo_pv_service.py", "-conf", str(conf), "-ids", "Meter_0\n",
                              "--exit-when-idle", "1", timeout=30)
        self.assert_one_line_error(result.returncode, result.stderr, 2, "not a valid meter id")
        self.assertLess(time.monotonic() - began, 10)
        queues = rabbitmqctl("list_queues", "-p", self.vhost, "name")
        self.assertNotIn("Meter_0.dlq", queues)


class TwoServicesTest(FaultTestCase):
    def test_two_services_on_one_meter_and_directory_lose_nothing_through_a_kill(self) -> None:
        """The second waits as the queue's standby consumer and takes over from the first."""
        self.reference(DAWN)
        conf = self.config()
        first = self.start_pv(conf, "--stats-interval", "0")
        wait_until(lambda: "PV service consuming" in first.err, 60, "the first to consume")
        second = self.start_pv(conf, "--stats-interval", "0")
        wait_until(lambda: "PV service consuming" in second.err, 60, "the second to consume")
        meter = self.start_meter(conf, DAWN, speed=2000)
        self.wait_rows(READINGS // 3, 60, alive=[first, second])
        # One reading of the file while both run: every line parses as a row (read_csv checks
        # each), and the times only go up, so no second writer interleaved with the first.
        times = [float(row["time_s"]) for row in rows_of(self.out, METER)]
        self.assertGreaterEqual(len(times), READINGS // 3)
        self.assertEqual(times, sorted(set(times)))
        first.kill9()
        self.published(meter)
        self.wait_rows(READINGS, 60, alive=[second])
        self.stop_pv(second)
        path = next(self.out.glob("Meter_0-*.csv"))
        headers = [line for line in path.read_text().splitlines() if line.startswith(HEADER_START)]
        self.assertEqual(len(headers), 1)
        verdict = analyse(rows_of(self.out, METER), tick_keys(DAWN, READINGS), self.reference(DAWN))
        print(f"\nMISUSE two_services: {verdict.figures()}", flush=True)
        self.assertEqual({k: v for k, v in verdict.faults.items() if v}, {}, verdict.figures())

    def test_a_writer_from_another_virtual_host_is_refused_by_the_file_lock(self) -> None:
        conf = self.config()
        other_vhost = f"{self.vhost}-other"
        rabbitmqctl("add_vhost", other_vhost)
        self.addCleanup(rabbitmqctl, "delete_vhost", other_vhost)
        rabbitmqctl("set_permissions", "-p", other_vhost, "guest", ".*", ".*", ".*")
        other_conf = self.write_config("other.ini", broker={"virtual_host": other_vhost})
        first = self.start_pv(conf, "--stats-interval", "0")
        meter = self.start_meter(conf, DAWN, readings=200)
        self.published(meter)
        self.wait_rows(200, 60, alive=[first])
        other_meter = self.start("demo_meter.py", "-conf", str(other_conf), "-nb", "1", "--speed", "0",
                                 "--duration", "10", "--start", DAWN)
        self.assertEqual(self.finish(other_meter)[0], 0)
        result = self.run_cli("demo_pv_service.py", "-conf", str(other_conf), "-ids", METER,
                              "--output-dir", str(self.out), timeout=60)
        # It first hands the queue back as a standby would, but nobody else consumes it here.
        self.assert_one_line_error(result.returncode, result.stderr, 2,
                                   f"another process (pid {first.popen.pid})", "a second writer")
        self.assertEqual(row_count(self.out), 200)
        self.stop_pv(first)


class FullDiskTest(FaultTestCase):
    """A small tmpfs as output directory: fill it, free it, restart, every reading once."""

    def setUp(self) -> None:
        super().setUp()
        if os.geteuid() != 0 or shutil.which("mount") is None:
            if os.environ.get("CI"):
                self.fail("the full-disk test mounts a tmpfs: it needs root and mount(8)")
            self.skipTest("needs root to mount a tmpfs")
        self.mount = Path(tempfile.mkdtemp(prefix="pv-full-"))
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(self.mount)],
                       check=True)
        self.addCleanup(self.mount.rmdir)
        self.addCleanup(subprocess.run, ["umount", "-l", str(self.mount)], check=False)

    def test_a_full_disk_is_one_line_and_nothing_is_lost_after_freeing_it(self) -> None:
        reference = self.reference(DAWN)
        conf = self.config()
        out = self.mount / "out"
        filler = self.mount / "filler"
        # 12,000 rows take about 560 KiB; the filler leaves room for about a thousand of them.
        filler.write_bytes(b"x" * (1024 - 48) * 1024)
        meter = self.start_meter(conf, DAWN)
        pv = self.start_pv(conf, out=out)
        code = pv.wait(60)
        self.assertEqual(code, 1, pv.tail)
        self.assertNotIn("Traceback", pv.err)
        errors = [line for line in pv.err.splitlines() if "error:" in line]
        self.assertEqual(len(errors), 1, pv.err)
        self.assertIn("No space left on device", errors[0])
        self.published(meter)
        filler.unlink()
        drained, _ = self.drain(conf, out=out)
        self.assertGreater(drained, 0)
        verdict = analyse(rows_of(out, METER), tick_keys(DAWN, READINGS), reference)
        print(f"\nMISUSE full_disk: {verdict.figures()} first_error={errors[0]!r}", flush=True)
        self.assertEqual({k: v for k, v in verdict.faults.items() if v}, {}, verdict.figures())


class AcceleratedRestartTest(FaultTestCase):
    """At 500x a 15 s broker restart lost half the readings: the simulated clock now waits."""

    def test_accelerated_meter_pauses_through_a_broker_restart(self) -> None:
        conf = self.write_config("accelerated.ini", meter={"buffer_s": 60})  # 0.12 s of wall time at 500x
        pv = self.start_pv(conf)
        meter = self.start_meter(conf, DAWN, readings=6000, speed=500)
        self.wait_rows(1000, 60, alive=[pv, meter])
        try:
            rabbitmqctl("stop_app")
            outage_began = time.monotonic()
            wait_until(lambda: time.monotonic() - outage_began > 3, 10, "a 3 s outage", 0.2)
        finally:
            rabbitmqctl("start_app")
            rabbitmqctl("await_startup")
        published, _ = self.published(meter, timeout_s=180)
        self.assertEqual(published, 6000)
        self.wait_rows(6000, 120, alive=[pv])
        self.stop_pv(pv)
        verdict = analyse(rows_of(self.out, METER), tick_keys(DAWN, 6000), {})
        summary = meter.summary()
        print(f"\nMISUSE accelerated_restart: {verdict.figures()} dropped={summary['dropped']} "
              f"reconnects={summary['reconnects']}", flush=True)
        self.assertEqual((verdict.lost, verdict.duplicated), (0, 0))
        self.assertEqual(summary["dropped"], 0)
        self.assertGreaterEqual(summary["reconnects"], 1)


class RealTimeStampTest(FaultTestCase):
    def test_first_real_time_reading_is_stamped_when_it_is_taken(self) -> None:
        """With 1,000 meters the declares take seconds; the stamps used to lag by that much.

        The lag measured here includes publishing the first tick of 1,000 readings and
        polling for it; the stamp itself is the wall time at which the tick is taken.
        """
        conf = self.config()
        meter = self.launch("demo_meter.py", "-conf", str(conf), "-nb", "1000", "--stats-interval", "0")
        first: dict[str, float] = {}

        def first_reading() -> bool:
            channel = self.connection().channel()
            try:
                method, _, body = channel.basic_get("Meter_0", auto_ack=False)
            except Exception:  # the queue is not declared yet
                return False
            if method is None:
                return False
            first["seen_s"] = time.time()
            first["time_s"] = json.loads(body)["time_s"]
            return True

        began = time.time()
        wait_until(first_reading, 120, "the first reading of Meter_0", interval_s=0.02)
        meter.send(signal.SIGINT)
        self.assertEqual(meter.wait(60), 0, meter.tail)
        lag_s = first["seen_s"] - first["time_s"]
        print(f"\nMISUSE real_time_stamp: declares took {first['seen_s'] - began:.1f} s, "
              f"first reading seen {lag_s:.3f} s after its time_s", flush=True)
        self.assertGreater(first["time_s"], began)
        self.assertLess(lag_s, 2.5)
        self.assertGreater(lag_s, -0.01)


class BlockedPublisherTest(FaultTestCase):
    """A broker memory alarm blocks publishers: the meter says so, and a stop still stops it."""

    def test_blocked_publisher_warns_and_stops_on_request(self) -> None:
        conf = self.config()
        meter = self.launch("demo_meter.py", "-conf", str(conf), "--interval", "0.05",
                            "--stats-interval", "0.3")
        wait_until(lambda: "blocked no" in meter.err, 60, "a stats line while unblocked")
        try:
            rabbitmqctl("set_vm_memory_high_watermark", "0")
            wait_until(lambda: "blocks publishing" in meter.err, 60, "the blocked warning", 0.05)
            rabbitmqctl("set_vm_memory_high_watermark", "0.4")
            wait_until(lambda: "unblocked publishing" in meter.err, 60, "the unblocked line", 0.05)
            rabbitmqctl("set_vm_memory_high_watermark", "0")
            wait_until(lambda: meter.err.count("blocks publishing") >= 2, 60, "blocked again", 0.05)
            began = time.monotonic()
            meter.send(signal.SIGTERM)
            code = meter.wait(15)
            stopped_s = time.monotonic() - began
        finally:
            rabbitmqctl("set_vm_memory_high_watermark", "0.4")
        print(f"\nMISUSE blocked_publisher: stopped {stopped_s:.2f} s after SIGTERM while blocked",
              flush=True)
        self.assertEqual(code, 0, meter.tail)
        self.assertNotIn("Traceback", meter.err)
        self.assertLess(stopped_s, 5)

