"""The live view's source on the messaging layer, through the in-memory broker."""

from __future__ import annotations

import unittest

from pv_simulator.live.source import ResultsSource, SourceError
from pv_simulator.messaging.connection import Connection, RetryPolicy
from pv_simulator.messaging.fake import FakeBroker
from pv_simulator.messaging.port import ResultMessage
from tests.helpers import wait_until

FAST = RetryPolicy(connection_attempts=2, retry_delay_s=0.0, cap_s=0.05)


def result(meter_id: str, time_s: int) -> ResultMessage:
    return ResultMessage(f"pv.results.{meter_id}", f'{{"meter_id":"{meter_id}","time_s":{time_s}}}'.encode(),
                         f"{meter_id}:{time_s}")


class ResultsSourceTest(unittest.TestCase):
    def setUp(self) -> None:
        self.broker = FakeBroker()
        self.bodies: list[bytes] = []
        self.publisher = Connection(self.broker.connector(), FAST)
        self.publisher.connect()
        self.addCleanup(self.publisher.close)

    def source(self) -> ResultsSource:
        source = ResultsSource(self.broker.connector(), FAST, "amq.topic", self.bodies.append)
        self.addCleanup(source.stop)
        return source

    def publish(self, *messages: ResultMessage) -> None:
        session = self.publisher.session
        session.open_results("amq.topic")
        session.publish_results("amq.topic", messages)

    def test_results_reach_the_page_and_a_lost_connection_is_shown_then_healed(self) -> None:
        source = self.source()
        source.connect_first()
        source.start()
        self.assertEqual(source.status.state, "connected")
        self.publish(result("Meter_0", 1), result("Meter_1", 1))
        wait_until(lambda: len(self.bodies) == 2, 10, "two results")
        self.broker.available = False
        self.broker.drop_connections()
        wait_until(lambda: source.status.state == "away", 10, "the away state")
        self.assertIn("connection lost", source.status.reason)
        self.broker.available = True
        wait_until(lambda: source.status.state == "connected", 10, "connected again")
        self.publisher.ensure(lambda: False)
        self.publish(result("Meter_0", 2))
        wait_until(lambda: len(self.bodies) == 3, 10, "the result after the reconnect")

    def test_a_missing_exchange_fails_the_command_as_it_fails_the_pv_service(self) -> None:
        self.broker.exchanges.discard("amq.topic")
        with self.assertRaises(SourceError) as caught:
            self.source().connect_first()
        self.assertEqual(caught.exception.exit_code, 1)
        self.assertIn("no exchange 'amq.topic'", str(caught.exception))

    def test_an_exchange_gone_while_running_stops_the_source_with_its_reason(self) -> None:
        failed: list[bool] = []
        source = ResultsSource(self.broker.connector(), FAST, "amq.topic", self.bodies.append,
                               on_failure=lambda: failed.append(True))
        self.addCleanup(source.stop)
        source.connect_first()
        source.start()
        self.broker.exchanges.discard("amq.topic")
        self.broker.drop_connections()
        wait_until(lambda: failed == [True], 10, "the source to give up")
        self.assertIn("no exchange 'amq.topic'", source.failure or "")

    def test_no_broker_is_away_and_connects_once_it_answers(self) -> None:
        self.broker.available = False
        source = self.source()
        source.connect_first()
        self.assertEqual(source.status.state, "away")
        source.start()
        self.broker.available = True
        wait_until(lambda: source.status.state == "connected", 10, "connected once the broker answers")
        self.publish(result("Meter_0", 1))
        wait_until(lambda: len(self.bodies) == 1, 10, "the first result")

    def test_a_refused_login_fails_the_command(self) -> None:
        self.broker.refuse_access = True
        with self.assertRaises(SourceError) as caught:
            self.source().connect_first()
        self.assertEqual(caught.exception.exit_code, 2)

if __name__ == "__main__":
    unittest.main()
