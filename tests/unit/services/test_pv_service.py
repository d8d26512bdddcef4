"""The PV service's loop through the in-memory broker: batches, acks after writing, redelivery, DLQ."""

from __future__ import annotations

import csv
import unittest
from collections.abc import Callable, Iterable

from pv_simulator.messaging.connection import Connection
from pv_simulator.messaging.port import Layout
from pv_simulator.messaging.wire import ReadingEncoder, pack
from pv_simulator.services.pv_service import PvService
from pv_simulator.storage.csv_store import CsvOutput
from tests.unit.services.support import FAST_RETRY, START_S, UTC, FakeQueuesTestCase, LinearPv


class PvServiceTest(FakeQueuesTestCase):

    def service(self, queues: list[str], *, should_stop: Callable[[], bool] = lambda: False,
                batch_max: int = 100, idle_s: float | None = 0.05,
                layout: Layout | None = None) -> tuple[PvService, CsvOutput]:
        output = CsvOutput(self.out_dir, UTC, "never")
        self.addCleanup(output.close)
        connection = Connection(self.broker.connector(), FAST_RETRY)
        self.addCleanup(connection.close)
        service = PvService(connection, queues, LinearPv(), output, 9000.0, should_stop,
                            exit_when_idle_s=idle_s, batch_max=batch_max, stats_interval_s=0,
                            layout=layout or Layout())
        return service, output

    def rows(self, meter_id: str) -> list[dict[str, str]]:
        rows: list[dict[str, str]] = []
        for path in sorted(self.out_dir.glob(f"{meter_id}-*.csv")):
            with path.open(newline="") as handle:
                rows.extend(csv.DictReader(handle))
        return rows

    def assertExactlyOnce(self, meter_id: str, count: int) -> None:
        times = [float(row["time_s"]) for row in self.rows(meter_id)]
        self.assertEqual(times, [START_S + i for i in range(count)])

    def test_every_reading_becomes_one_row_and_is_acknowledged(self) -> None:
        self.publish("M0", 1000)
        self.publish("M1", 700)
        service, output = self.service(["M0", "M1"])
        service.run()
        output.close()
        self.assertExactlyOnce("M0", 1000)
        self.assertExactlyOnce("M1", 700)
        row = self.rows("M1")[500]
        self.assertAlmostEqual(float(row["pv_power_value_kw"]), 0.5)
        self.assertAlmostEqual(float(row["sum_meter_pv_w"]), 500.0 + 500.0)
        self.assertEqual((self.broker.depth("M0"), self.broker.unacknowledged), (0, 0))
        self.assertEqual(service.result().written, 1700)

    def test_an_older_reading_not_in_the_file_is_dead_lettered_as_out_of_order(self) -> None:
        self.publish("M0", 10, first=100)
        self.publish("M0", 5, first=102)  # 102..104 were written: duplicates
        self.publish("M0", 5, first=50)   # never written, older than the last row
        self.publish("M0", 3, first=110)
        service, output = self.service(["M0"], batch_max=10)  # a batch ends on the older ones
        with self.assertLogs("pv_simulator.services.pv_service", "WARNING") as logs:
            service.run()
        output.close()
        times = [float(row["time_s"]) - START_S for row in self.rows("M0")]
        self.assertEqual(times, [*range(100, 113)])
        result = service.result()
        self.assertEqual((result.written, result.duplicates_skipped, result.out_of_order), (13, 5, 5))
        self.assertEqual((self.broker.depth("M0"), self.broker.depth("M0.dlq"),
                          self.broker.unacknowledged), (0, 5, 0))
        out_of_order = [line for line in logs.output if "out of order" in line]
        self.assertEqual(len(out_of_order), 1, logs.output)
        self.assertIn("dead-lettered to M0.dlq", out_of_order[0])

    def test_batches_are_acknowledged_with_one_multiple_ack_each(self) -> None:
        self.publish("M0", 6000)
        service, _ = self.service(["M0"], batch_max=100)
        service.run()
        self.assertEqual(self.broker.acked_messages, 6000)
        # Prefetch (2,000 for one queue) bounds what one batch holds; one ack settles each.
        self.assertGreaterEqual(self.broker.acks, 3)
        self.assertLessEqual(self.broker.acks, 60)

    def test_a_lost_ack_redelivers_the_batch_and_the_rows_are_not_written_twice(self) -> None:
        self.publish("M0", 500)
        self.broker.drop_on_next_ack()
        service, output = self.service(["M0"], batch_max=100)
        service.run()
        output.close()
        self.assertExactlyOnce("M0", 500)
        result = service.result()
        self.assertGreater(result.duplicates_skipped, 0)
        self.assertEqual(result.reconnects, 1)
        self.assertEqual(self.broker.acked_messages, 500)

    def test_a_connection_lost_mid_batch_drops_the_batch_and_resumes(self) -> None:
        self.publish("M0", 3000)
        self.broker.drop_after_deliveries(1234)
        service, output = self.service(["M0"], batch_max=500)
        service.run()
        output.close()
        self.assertExactlyOnce("M0", 3000)
        self.assertEqual(service.result().reconnects, 1)

    def test_bad_readings_are_dead_lettered_and_the_rest_written(self) -> None:
        self.publish("M0", 10)
        bad = [b"not json", b'{"meter_id":"M1","time_s":1.0,"power_w":1.0}',
               b'{"meter_id":"M0","time_s":1.0,"power_w":99999.0}']
        for body in bad:
            self.broker.put("M0", body)
        self.publish("M0", 10, first=10)
        service, output = self.service(["M0"])
        service.run()
        output.close()
        self.assertExactlyOnce("M0", 20)
        self.assertEqual(self.broker.bodies("M0.dlq"), bad)
        self.assertEqual(service.result().rejected, 3)

    def test_partitioned_layout_serves_its_partitions_and_rejects_misrouted_readings(self) -> None:
        layout = Layout(partitions=4)
        meters = [f"M{i}" for i in range(20)]
        for index in range(4):
            self.broker.declare(layout.partition_queue(index))
            self.broker.declare(layout.partition_queue(index) + ".dlq")
        for i in range(300):
            for meter_id in meters:
                body = ReadingEncoder(meter_id)(START_S + i, float(i))
                self.broker.put(layout.queue_of(meter_id), body, START_S + i)
        served = [layout.partition_queue(0), layout.partition_queue(1)]
        stray = next(m for m in meters if layout.queue_of(m) not in served)
        misrouted = ReadingEncoder(stray)(START_S + 999, 1.0)
        self.broker.put(served[0], misrouted)
        service, output = self.service(served, layout=layout)
        service.run()
        output.close()
        for meter_id in meters:
            if layout.queue_of(meter_id) in served:
                self.assertExactlyOnce(meter_id, 300)
            else:
                self.assertEqual(self.rows(meter_id), [])
                self.assertEqual(self.broker.depth(layout.queue_of(meter_id)) % 300, 0)
        self.assertEqual(self.broker.bodies(served[0] + ".dlq"), [misrouted])
        self.assertEqual([self.broker.depth(q) for q in served], [0, 0])
        self.assertEqual(service.result().rejected, 1)

    def put_packed(self, layout: Layout, meters: list[str], ticks: Iterable[int], per_message: int) -> None:
        """The meters' readings of ``ticks`` as the meter publishes them, ``per_message`` a message."""
        encoders = {meter_id: ReadingEncoder(meter_id) for meter_id in meters}
        taken = [(layout.queue_of(m), encoders[m](START_S + i, float(i)), START_S + i)
                 for i in ticks for m in meters]
        for queue, body, time_s in pack(taken, per_message):
            self.broker.put(queue, body, time_s)

    def test_packed_messages_become_one_row_per_reading_and_one_ack_per_batch(self) -> None:
        layout = Layout(partitions=4)
        meters = [f"M{i}" for i in range(30)]
        self.declare_partitions(layout)
        self.put_packed(layout, meters, range(200), 25)
        service, output = self.service(layout.partition_queues, layout=layout, batch_max=1000)
        service.run()
        output.close()
        for meter_id in meters:
            self.assertExactlyOnce(meter_id, 200)
        result = service.result()
        self.assertEqual((result.written, result.received, result.rejected), (6000, 6000, 0))
        self.assertEqual([self.broker.depth(q) for q in layout.partition_queues], [0] * 4)
        self.assertEqual(self.broker.unacknowledged, 0)

    def test_a_packed_message_with_a_bad_line_is_dead_lettered_whole(self) -> None:
        layout = Layout(partitions=4)
        meters = [f"M{i}" for i in range(8)]
        self.declare_partitions(layout)
        self.put_packed(layout, meters, range(10), 50)
        queue = layout.queue_of("M0")
        bad = ReadingEncoder("M0")(START_S + 10, 1.0) + b'\n{"meter_id": "M0", "time_s": 17'
        self.broker.put(queue, bad)
        self.put_packed(layout, meters, range(10, 20), 50)
        service, output = self.service(layout.partition_queues, layout=layout)
        with self.assertLogs("pv_simulator.services.pv_service", "WARNING") as logs:
            service.run()
        output.close()
        for meter_id in meters:
            self.assertExactlyOnce(meter_id, 20)
        self.assertEqual(self.broker.bodies(queue + ".dlq"), [bad])
        self.assertIn("line 2 of 2: body is not JSON", "\n".join(logs.output))
        self.assertEqual(service.result().rejected, 1)

    def test_a_packed_message_with_a_reading_out_of_order_is_dead_lettered_once(self) -> None:
        layout = Layout(partitions=4)
        self.declare_partitions(layout)
        queue = layout.queue_of("M0")
        self.put_packed(layout, ["M0"], range(100, 110), 5)
        # 110 is new, 50 and 51 are older than the last row and not in the file.
        self.put_packed(layout, ["M0"], [110, 50, 51], 3)
        self.put_packed(layout, ["M0"], range(111, 115), 5)
        service, output = self.service(layout.partition_queues, layout=layout, batch_max=1000)
        with self.assertLogs("pv_simulator.services.pv_service", "WARNING"):
            service.run()
        output.close()
        times = [float(row["time_s"]) - START_S for row in self.rows("M0")]
        self.assertEqual(times, [*range(100, 115)])
        self.assertEqual(service.result().out_of_order, 2)
        self.assertEqual(len(self.broker.bodies(queue + ".dlq")), 1)
        self.assertEqual((self.broker.depth(queue), self.broker.unacknowledged), (0, 0))

    def declare_partitions(self, layout: Layout) -> None:
        for queue in layout.partition_queues:
            self.broker.declare(queue)
            self.broker.declare(queue + ".dlq")

    def test_stop_settles_what_it_took_and_leaves_the_rest_queued(self) -> None:
        self.publish("M0", 20000)
        polls = 0

        def stop_soon() -> bool:
            nonlocal polls
            polls += 1
            return polls > 3

        service, output = self.service(["M0"], should_stop=stop_soon, batch_max=100, idle_s=None)
        service.run()
        output.close()
        written = len(self.rows("M0"))
        self.assertGreater(written, 0)
        self.assertLess(written, 20000)
        self.assertEqual(self.broker.acked_messages, written)
        service.connection.close()
        self.assertEqual(self.broker.depth("M0"), 20000 - written)
        self.assertEqual(self.broker.unacknowledged, 0)

    def test_redelivered_readings_already_written_are_skipped(self) -> None:
        self.publish("M0", 300)
        first, output = self.service(["M0"])
        first.run()
        output.close()
        first.connection.close()
        self.publish("M0", 100, first=200)  # a publisher that retried a batch it had sent
        self.publish("M0", 50, first=300)
        second, output = self.service(["M0"])
        second.run()
        output.close()
        self.assertExactlyOnce("M0", 350)
        self.assertEqual(second.result().duplicates_skipped, 100)


if __name__ == "__main__":
    unittest.main()
