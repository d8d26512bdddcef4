"""Several PV services on one broker, and both CLIs across a node failure in a 3-node cluster.

Slow (the cluster alone takes ~20 s to form), so not part of ``make test``: run
``make test-cluster`` (``PV_CLUSTER_TESTS=1 python -m unittest tests.test_cluster -v``).
"""

from __future__ import annotations

import json
import os
import time
import unittest
from collections import Counter
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from pv_simulator.storage.csv_format import file_glob
from tests.helpers import rows_of, wait_until
from tests.integration import rabbit_nodes
from tests.integration.support import BrokerTestCase, check_rows, rabbitmqctl

cluster_tests = unittest.skipUnless(
    os.environ.get("PV_CLUSTER_TESTS") == "1",
    "cluster tests are slow: run them with `make test-cluster` (PV_CLUSTER_TESTS=1)")

VIENNA = ZoneInfo("Europe/Vienna")
START = "2026-06-21T00:00"
START_S = datetime(2026, 6, 21, tzinfo=VIENNA).timestamp()


def row_count(directory: Path) -> int:
    """Rows in every CSV file of ``directory``, counted cheaply (no parsing)."""
    return sum(path.read_bytes().count(b"\n") - 1 for path in directory.glob("*.csv"))


def count_readings(test: unittest.TestCase, directories: list[Path], meter_id: str,
                   readings: int) -> tuple[int, int, int]:
    """(lost, duplicated, unexpected) of one meter's 1 s readings over ``directories``.

    Each directory's rows must be in time order; the meter's rows may be in any one of them.
    """
    seen: Counter[float] = Counter()
    for directory in directories:
        rows = rows_of(directory, meter_id)
        check_rows(test, rows)
        seen.update(float(row["time_s"]) for row in rows)
    expected = {START_S + k for k in range(readings)}
    return (len(expected - seen.keys()), sum(n - 1 for n in seen.values()),
            len(seen.keys() - expected))


@cluster_tests
class SeveralServicesTest(BrokerTestCase):
    """Two PV service processes with two meter ids each share one meter's output."""

    def test_every_reading_exactly_once_across_processes(self) -> None:
        duration = 3000
        conf = self.write_config()
        groups = {"a": ["Meter_0", "Meter_1"], "b": ["Meter_2", "Meter_3"]}
        services = {name: self.start("demo_pv_service.py", "-conf", str(conf), "-ids", *ids,
                                     "--output-dir", name, "--summary-file", f"{name}.json")
                    for name, ids in groups.items()}
        meter = self.run_cli("demo_meter.py", "-conf", str(conf), "-nb", "4", "--speed", "0",
                             "--duration", str(duration), "--start", START,
                             "--summary-file", "meter.json")
        self.assert_clean_exit(meter.returncode, meter.stderr)
        self.assertEqual(json.loads((self.tmp / "meter.json").read_text())["published"], 4 * duration)
        outputs = [self.tmp / name for name in groups]
        wait_until(lambda: sum(row_count(d) for d in outputs if d.exists()) >= 4 * duration,
                   60, f"{4 * duration} rows")
        for name, service in services.items():
            code, _, err = self.interrupt(service)
            self.assert_clean_exit(code, err)
            summary = json.loads((self.tmp / f"{name}.json").read_text())
            self.assertEqual((summary["written"], summary["duplicates_skipped"]), (2 * duration, 0))
            self.assertEqual(sorted(p.name.split("-")[0] for p in (self.tmp / name).glob(file_glob())),
                             groups[name])
        for meter_id in (m for ids in groups.values() for m in ids):
            self.assertEqual(count_readings(self, outputs, meter_id, duration), (0, 0, 0), meter_id)
            self.assertEqual(self.queue_depth(meter_id), 0)


@cluster_tests
class ClusterFailoverTest(BrokerTestCase):
    """Both CLIs on the 3-node cluster with quorum queues; the node they use stops mid-stream."""

    meters = 2
    duration = 60_000
    ports: list[int]

    @classmethod
    def provision_broker(cls) -> str:
        """The class's own three-node cluster, in its virtual host "/"; torn down after."""
        # Registered first, so that a half-formed cluster is torn down too.
        cls.addClassCleanup(rabbit_nodes.stop_cluster)
        cls.ports = rabbit_nodes.ensure_cluster()
        cls.queue_ports = tuple(cls.ports)
        return "/"

    def backlog(self, queues: list[str]) -> int:
        """Messages in ``queues`` not yet acknowledged, asked of cluster node 2."""
        return sum(int(line.split()[1]) for line in rabbitmqctl(
            "-n", rabbit_nodes.node_name("pvc2"), "list_queues", "name", "messages").splitlines()[1:]
            if line.split()[0] in queues)

    def test_node_stop_mid_stream_loses_and_duplicates_nothing(self) -> None:
        conf = self.tmp / "cluster.ini"
        conf.write_text(
            "[broker]\n"
            f"hosts = {', '.join(f'localhost:{port}' for port in self.ports)}\n"
            "queue_type = quorum\nconnection_attempts = 3\nretry_delay = 0.2\n"
            "[site]\ntimezone = Europe/Vienna\n[pv]\nmodel = reference\n"
            "[meter]\nmodel = random-walk\n")
        ids = [f"Meter_{i}" for i in range(self.meters)]
        total = self.meters * self.duration
        out = self.tmp / "out"
        started = time.monotonic()
        service_summary, meter_summary = self.tmp / "service.json", self.tmp / "meter.json"
        service = self.start("demo_pv_service.py", "-conf", str(conf), "-ids", *ids,
                             "--output-dir", str(out), "--stats-interval", "1",
                             "--summary-file", str(service_summary), log=True)
        meter = self.start("demo_meter.py", "-conf", str(conf), "-nb", str(self.meters),
                           "--speed", "0", "--duration", str(self.duration), "--start", START,
                           "--stats-interval", "1", "--summary-file", str(meter_summary))
        # Both try the hosts in order, so both are on node 1: stop that one.
        wait_until(lambda: out.exists() and row_count(out) >= total // 10, 60,
                   "a tenth of the readings written", interval_s=0.2)
        rabbit_nodes.stop_cluster_node(1)
        rows_at_stop = row_count(out)
        self.assertIsNone(meter.poll(), "the meter finished before node 1 stopped")
        rabbit_nodes.start_cluster_node(1)
        code, _, meter_err = self.finish(meter, timeout=300)
        self.assert_clean_exit(code, meter_err)
        try:
            wait_until(lambda: row_count(out) >= total and self.backlog(ids) == 0, 300,
                       f"{total} rows and empty queues", interval_s=0.5)
        except AssertionError as exc:
            raise AssertionError(f"{exc}: {row_count(out)} rows, backlog {self.backlog(ids)}; "
                                 f"PV service:\n{self.log_tail(service)}") from None
        code, _, service_err = self.interrupt(service)
        self.assert_clean_exit(code, service_err)
        elapsed = time.monotonic() - started

        published = json.loads(meter_summary.read_text(encoding="utf-8"))
        wrote = json.loads(service_summary.read_text(encoding="utf-8"))
        counts = [count_readings(self, [out], meter_id, self.duration) for meter_id in ids]
        lost, duplicated, unexpected = (sum(column) for column in zip(*counts, strict=True))
        print(f"\nCLUSTER readings={total} rows={row_count(out)} node_stops=1 "
              f"rows_at_stop={rows_at_stop} meter_published={published['published']} "
              f"meter_dropped={published['dropped']} meter_reconnects={published['reconnects']} "
              f"service_duplicates_skipped={wrote['duplicates_skipped']} "
              f"service_reconnects={wrote['reconnects']} "
              f"lost={lost} duplicated={duplicated} unexpected={unexpected} "
              f"seconds={elapsed:.1f}")
        self.assertEqual((lost, duplicated, unexpected), (0, 0, 0))
        self.assertEqual(published["published"], total)
        # The stop landed mid-stream: both clients lost node 1 and went on on node 2.
        for err, reconnects in ((meter_err, published["reconnects"]), (service_err, wrote["reconnects"])):
            self.assertGreaterEqual(reconnects, 1, err)
            self.assertIn(f"connected to amqp://guest:***@localhost:{self.ports[0]}/", err)
            self.assertIn(f"connected to amqp://guest:***@localhost:{self.ports[1]}/", err)
        # Node 1 is back in the cluster and sees the quorum queues, drained.
        queues = rabbitmqctl("-n", rabbit_nodes.node_name("pvc1"), "list_queues", "name", "type",
                             "messages")
        for meter_id in ids:
            self.assertRegex(queues, rf"(?m)^{meter_id}\s+quorum\s+0$")
            self.assertRegex(queues, rf"(?m)^{meter_id}\.dlq\s+quorum\s+0$")
