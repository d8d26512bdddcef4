"""The results stream through the in-memory broker: written rows only, confirmed before ack, never missing."""

from __future__ import annotations

import json
import unittest
from collections import Counter

from pv_simulator.messaging.connection import Connection
from pv_simulator.messaging.port import BrokerRefused
from pv_simulator.services.energy import COUNTERS, MAX_INTERVAL_S, EnergyCounters, EnergyCsvOutput
from pv_simulator.services.pv_service import PvService
from pv_simulator.services.results import ResultStream, encode_result, routing_key
from pv_simulator.storage.csv_format import file_glob, parse_row
from pv_simulator.storage.csv_store import CsvOutput
from tests.helpers import energy_integral, rows_of
from tests.unit.services.support import FAST_RETRY, START_S, UTC, FakeQueuesTestCase, LinearPv


class EncodeResultTest(unittest.TestCase):
    def test_body_copies_the_rows_numbers_and_adds_the_grid_power(self) -> None:
        message = encode_result("Meter_0", 1782036000.0, 164.911, 0.618347)
        self.assertEqual(json.loads(message.body), {
            "meter_id": "Meter_0", "time_s": 1782036000, "meter_power_w": 164.911,
            "pv_power_kw": 0.618347, "sum_meter_pv_w": 783.258, "grid_power_w": -453.436})
        self.assertEqual(message.message_id, "Meter_0:1782036000")
        self.assertEqual(message.routing_key, "pv.results.Meter_0")

    def test_fractional_time_is_spelled_as_in_the_csv(self) -> None:
        message = encode_result("M", 1782036000.25, 1.0, 0.0)
        self.assertEqual(message.message_id, "M:1782036000.25")
        self.assertIn(b'"time_s":1782036000.25,', message.body)

    def test_a_dot_in_the_id_stays_one_topic_level(self) -> None:
        self.assertEqual(routing_key("Site.A-1"), "pv.results.Site%2EA-1")
        message = encode_result("Site.A-1", 1.0, 1.0, 0.0)
        self.assertEqual(json.loads(message.body)["meter_id"], "Site.A-1")


class ResultStreamTest(FakeQueuesTestCase):

    def run_service(self, meter_ids: list[str], exchange: str = "amq.topic",
                    batch_max: int = 100, energy: EnergyCounters | None = None) -> PvService:
        output = (CsvOutput(self.out_dir, UTC, "never") if energy is None
                  else EnergyCsvOutput(energy, self.out_dir, UTC, "never"))
        self.addCleanup(output.close)
        connection = Connection(self.broker.connector(), FAST_RETRY)
        self.addCleanup(connection.close)
        service = PvService(connection, meter_ids, LinearPv(), output, 9000.0, lambda: False,
                            exit_when_idle_s=0.05, batch_max=batch_max, stats_interval_s=0,
                            results=ResultStream(exchange, output, energy))
        service.run()
        output.close()
        return service

    def row_ids(self) -> list[str]:
        ids = []
        for path in sorted(self.out_dir.glob(file_glob())):
            for line in path.read_text().splitlines()[1:]:
                row = parse_row(line, path)
                ids.append(f"{row.meter_id}:{line.split(',')[1]}")
        return ids

    def result_ids(self) -> list[str]:
        return [message.message_id for _, message in self.broker.results]

    def assertEveryRowHasItsResult(self) -> None:
        rows = self.row_ids()
        self.assertTrue(rows)
        self.assertEqual(set(self.result_ids()), set(rows))

    def test_every_written_row_has_one_result_with_the_rows_numbers(self) -> None:
        self.publish("M0", 300)
        self.publish("M1", 200)
        service = self.run_service(["M0", "M1"])
        self.assertEqual(sorted(self.result_ids()), sorted(self.row_ids()))
        self.assertEqual(len(self.result_ids()), 500)
        self.assertEqual(service.result().published_results, 500)
        exchange, message = self.broker.results[-1]
        self.assertEqual(exchange, "amq.topic")
        rows = {f"{line.split(',')[0]}:{line.split(',')[1]}": line
                for path in self.out_dir.glob(file_glob()) for line in path.read_text().splitlines()[1:]}
        _, time_text, meter_w, pv_kw, sum_w = rows[message.message_id].split(",")
        self.assertIn(f'"time_s":{time_text},"meter_power_w":{meter_w},"pv_power_kw":{pv_kw},'
                      f'"sum_meter_pv_w":{sum_w},'.encode(), message.body)

    def test_duplicates_skipped_get_no_result(self) -> None:
        self.publish("M0", 300)
        self.run_service(["M0"])
        self.broker.results.clear()
        self.publish("M0", 100, first=250)  # a publisher that re-sent readings, 50 new
        service = self.run_service(["M0"])
        self.assertEqual(service.result().duplicates_skipped, 50)
        self.assertEqual(self.result_ids(), [f"M0:{int(START_S) + i}" for i in range(300, 350)])

    def test_a_batch_repeating_its_own_reading_publishes_it_once(self) -> None:
        self.publish("M0", 10)
        self.publish("M0", 10)  # the same ten again, in the same batch
        self.run_service(["M0"], batch_max=100)
        self.assertEqual(Counter(self.result_ids()).most_common(1)[0][1], 1)
        self.assertEqual(len(self.result_ids()), 10)

    def test_results_are_confirmed_before_the_batch_is_acknowledged(self) -> None:
        self.publish("M0", 1000)
        self.run_service(["M0"], batch_max=100)
        # Before each result batch, only the readings of earlier batches were acknowledged.
        self.assertEqual(self.broker.acked_at_results[0], 0)
        published_before = 0
        for acked, (start, end) in zip(self.broker.acked_at_results, self._batches(), strict=True):
            self.assertLessEqual(acked, published_before)
            published_before = end
            self.assertLess(start, end)
        self.assertEqual(self.broker.acked_messages, 1000)

    def _batches(self) -> list[tuple[int, int]]:
        """(first, end) index of each result batch in broker.results."""
        bounds = [*self.broker.acked_at_results[1:], len(self.broker.results)]
        return list(zip([0, *bounds[:-1]], bounds, strict=True))

    def test_confirms_lost_repeat_results_under_the_same_id_and_none_is_missing(self) -> None:
        self.publish("M0", 500)
        self.broker.lose_result_confirms(1)
        service = self.run_service(["M0"], batch_max=100)
        self.assertEveryRowHasItsResult()
        counts = Counter(self.result_ids())
        repeated = [message_id for message_id, count in counts.items() if count > 1]
        self.assertTrue(repeated)
        self.assertEqual(max(counts.values()), 2)
        self.assertEqual(len(self.row_ids()), 500)
        self.assertEqual(service.result().reconnects, 1)

    def test_results_refused_before_the_broker_took_them_are_published_on_reconnect(self) -> None:
        self.publish("M0", 500)
        self.broker.refuse_results(2)
        self.run_service(["M0"], batch_max=100)
        self.assertEqual(sorted(self.result_ids()), sorted(self.row_ids()))
        self.assertEqual(len(self.row_ids()), 500)

    def test_a_lost_ack_leaves_no_row_without_its_result(self) -> None:
        self.publish("M0", 500)
        self.broker.drop_on_next_ack()
        service = self.run_service(["M0"], batch_max=100)
        self.assertEveryRowHasItsResult()
        self.assertGreater(service.result().duplicates_skipped, 0)
        self.assertEqual(len(self.result_ids()), len(set(self.result_ids())))

    def test_a_connection_lost_mid_batch_leaves_no_row_without_its_result(self) -> None:
        self.publish("M0", 3000)
        self.broker.drop_after_deliveries(1234)
        self.run_service(["M0"], batch_max=500)
        self.assertEveryRowHasItsResult()
        self.assertEqual(len(self.row_ids()), 3000)

    def test_results_carry_the_counters_with_their_row_across_lost_confirms_and_a_restart(self) -> None:
        self.publish("M0", 300)
        self.publish("M1", 200)
        self.broker.lose_result_confirms(1)
        energy = EnergyCounters()
        self.run_service(["M0", "M1"], batch_max=64, energy=energy)
        self.publish("M0", 100, first=300)
        restarted = EnergyCounters()
        restarted.seed(self.out_dir)
        self.run_service(["M0"], batch_max=64, energy=restarted)
        bodies: dict[str, bytes] = {}
        for _, message in self.broker.results:
            # A result published again after a lost confirm is the same message, counters included.
            self.assertEqual(bodies.setdefault(message.message_id, message.body), message.body)
        for meter_id in ("M0", "M1"):
            rows = rows_of(self.out_dir, meter_id)
            self.assertEqual(len(rows), 400 if meter_id == "M0" else 200)
            for count in (1, 2, 150, len(rows)):  # after its first, second, a middle and its last row
                result = json.loads(bodies[f"{meter_id}:{rows[count - 1]['time_s']}"])
                integral = energy_integral(rows[:count], MAX_INTERVAL_S)
                for key in COUNTERS:
                    self.assertAlmostEqual(result[key], integral[key.removesuffix("_kwh")], places=6,
                                           msg=f"{meter_id} {key} after {count} row(s)")
        last_m0 = json.loads(bodies[f"M0:{rows_of(self.out_dir, 'M0')[-1]['time_s']}"])
        self.assertGreater(last_m0["consumption_kwh"], 0.0)
        self.assertEqual([last_m0[key] for key in COUNTERS],
                         [round(getattr(restarted.meters["M0"], key), 6) for key in COUNTERS])

    def test_a_missing_exchange_stops_the_start_before_consuming(self) -> None:
        self.publish("M0", 10)
        with self.assertRaisesRegex(BrokerRefused, "no exchange 'nonexistent'"):
            self.run_service(["M0"], exchange="nonexistent")
        self.assertEqual(self.broker.depth("M0"), 10)
        self.assertEqual(self.row_ids(), [])


if __name__ == "__main__":
    unittest.main()
