"""The connection lifecycle: first connect, failover, retries, hooks on every reconnection."""

from __future__ import annotations

import unittest

from pv_simulator.messaging.connection import Backoff, Connection, RetryPolicy
from pv_simulator.messaging.fake import FakeBroker, FakeSession
from pv_simulator.messaging.port import AccessRefused, BrokerUnavailable, ConnectionLost, Delivery, Session

FAST = RetryPolicy(connection_attempts=3, retry_delay_s=0.0, cap_s=0.05)


class FlakyConnector:
    """Nodes of which only those in ``up`` answer; every answer is a session on ``broker``."""

    def __init__(self, broker: FakeBroker, nodes: int, up: set[int]) -> None:
        self.broker = broker
        self.nodes = tuple(f"node{i}:5672" for i in range(nodes))
        self.up = up
        self.tried: list[int] = []

    def open(self, node: int) -> FakeSession:
        self.tried.append(node)
        if node not in self.up:
            raise ConnectionLost(f"cannot connect to node{node}: connection refused")
        return self.broker.connector().open(0)


class ConnectionTest(unittest.TestCase):
    def test_fails_over_to_the_next_node(self) -> None:
        broker = FakeBroker()
        connector = FlakyConnector(broker, 3, up={2})
        connection = Connection(connector, FAST)
        self.assertTrue(connection.connect())
        self.assertEqual(connector.tried, [0, 1, 2])
        self.assertTrue(connection.connected)
        self.assertEqual(connection.reconnects, 0)

    def test_gives_up_after_the_configured_attempts(self) -> None:
        connector = FlakyConnector(FakeBroker(), 2, up=set())
        with self.assertRaises(BrokerUnavailable) as caught:
            Connection(connector, FAST).connect()
        self.assertEqual(connector.tried, [0, 1] * 3)
        self.assertIn("node0:5672 after 3 attempt(s)", str(caught.exception))

    def test_stop_ends_the_first_connect(self) -> None:
        connector = FlakyConnector(FakeBroker(), 1, up=set())
        connection = Connection(connector, RetryPolicy(connection_attempts=100, retry_delay_s=5.0))
        self.assertFalse(connection.connect(lambda: bool(connector.tried)))
        self.assertEqual(connector.tried, [0])

    def test_refused_login_is_not_retried(self) -> None:
        broker = FakeBroker()
        broker.refuse_access = True
        with self.assertRaises(AccessRefused):
            Connection(broker.connector(), FAST).connect()
        self.assertEqual(broker.sessions_opened, 0)

    def test_hooks_run_on_every_session(self) -> None:
        broker = FakeBroker()
        connection = Connection(broker.connector(), FAST)
        seen: list[Session] = []
        connection.on_connect(seen.append)
        connection.on_connect(lambda session: session.declare_meter_queues(["M"]))
        connection.connect()
        broker.drop_connections()
        self.assertFalse(connection.connected)
        self.assertTrue(connection.ensure(lambda: False))
        self.assertEqual(len(seen), 2)
        self.assertIsNot(seen[0], seen[1])
        self.assertEqual(connection.reconnects, 1)
        self.assertIn("M.dlq", broker.queues)

    def test_loss_while_hooks_run_is_retried_as_a_reconnect(self) -> None:
        broker = FakeBroker()
        connection = Connection(broker.connector(), FAST)
        calls = []

        def hook(session: Session) -> None:
            calls.append(session)
            if len(calls) == 1:
                broker.drop_connections()
                session.declare_meter_queues(["M"])

        connection.on_connect(hook)
        self.assertTrue(connection.connect())
        self.assertEqual(len(calls), 2)
        self.assertTrue(connection.connected)
        self.assertEqual(connection.reconnects, 1)

    def test_try_connect_waits_for_the_backoff_delay(self) -> None:
        broker = FakeBroker()
        connection = Connection(broker.connector(), RetryPolicy(retry_delay_s=30.0, cap_s=60.0))
        connection.connect()
        opened = broker.sessions_opened
        connection.lost(ConnectionLost("gone"))
        self.assertGreaterEqual(connection.retry_in_s, 14.0)
        self.assertFalse(connection.try_connect())
        self.assertEqual(broker.sessions_opened, opened)
        with self.assertRaises(ConnectionLost):
            _ = connection.session

    def test_ensure_keeps_trying_until_the_broker_is_back(self) -> None:
        broker = FakeBroker()
        connection = Connection(broker.connector(), FAST)
        connection.connect()
        broker.available = False
        broker.drop_connections()
        polls = 0

        def bring_back_after_three_polls() -> bool:
            nonlocal polls
            polls += 1
            broker.available = polls >= 3
            return False

        self.assertTrue(connection.ensure(bring_back_after_three_polls))
        self.assertGreaterEqual(polls, 3)
        self.assertEqual(connection.reconnects, 1)

    def test_close_returns_unacknowledged_deliveries(self) -> None:
        broker = FakeBroker()
        connection = Connection(broker.connector(), FAST)
        connection.connect()
        session = connection.session
        session.declare_meter_queues(["M"])
        session.publish_batch([("M", b"1", 1.0), ("M", b"2", 2.0)])
        got: list[Delivery] = []
        session.consume(["M"], got.append, prefetch=10)
        session.process_events(0)
        self.assertEqual(len(got), 2)
        connection.close()
        self.assertEqual(broker.bodies("M"), [b"1", b"2"])
        self.assertTrue(all(m.redelivered for m in broker.queues["M"]))


class BackoffTest(unittest.TestCase):
    def test_grows_to_the_cap_with_jitter(self) -> None:
        backoff = Backoff(1.0, cap_s=8.0)
        delays = [backoff.next_delay_s() for _ in range(8)]
        self.assertTrue(0.5 <= delays[0] <= 1.0, delays)
        self.assertTrue(all(4.0 <= d <= 8.0 for d in delays[4:]), delays)
        backoff.reset()
        self.assertLessEqual(backoff.next_delay_s(), 1.0)


if __name__ == "__main__":
    unittest.main()
