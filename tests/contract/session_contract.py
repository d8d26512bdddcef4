"""What the services rely on of a broker session, written once and run against every broker.

As dramatiq runs its tests against each broker and kombu shares one functional suite across
transports: :class:`SessionContract` holds the behaviours, and each broker supplies a subclass
that opens its sessions and makes its failures (tests/unit/messaging/test_fake_contract.py for
the in-memory fake, tests/integration/test_rabbitmq_contract.py for RabbitMQ). A behaviour the
fake gets wrong fails in the unit suite as the real one would in the integration suite.
"""

from __future__ import annotations

import json
import time
import unittest
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import ClassVar

from pv_simulator.messaging.port import (
    DLQ_SUFFIX,
    BrokerRefused,
    ConnectionLost,
    Delivery,
    QueueStatus,
    ResultMessage,
    Session,
)

#: How long a behaviour may take to show, in process_events calls of a short time limit each.
DEADLINE_S = 10.0


class SessionContract(ABC, unittest.TestCase):
    """The port's behaviours; a subclass names a broker. Not collected by itself (an ABC)."""

    queue: ClassVar[str] = "contract.q"

    @abstractmethod
    def open_session(self) -> Session:
        """A new, open session to the broker under test."""

    @abstractmethod
    def lose_connections(self) -> None:
        """Break every session's connection from the broker's side, as a broker restart does."""

    @abstractmethod
    def declare_exchange(self, name: str, exchange_type: str) -> None:
        """An exchange of ``exchange_type`` on the broker, as an operator would make one."""

    @abstractmethod
    def set_blocked(self, blocked: bool) -> None:
        """Raise or lift the broker's resource alarm (publishers are blocked)."""

    # ---- helpers ---------------------------------------------------------------------------

    def session(self) -> Session:
        session = self.open_session()
        self.addCleanup(session.close)
        return session

    def publish(self, session: Session, count: int, queue: str | None = None) -> list[bytes]:
        queue = queue or self.queue
        bodies = [json.dumps({"n": n}).encode() for n in range(count)]
        session.publish_batch([(queue, body, 1782000000.0 + n) for n, body in enumerate(bodies)])
        return bodies

    def pump(self, session: Session, until: Callable[[], bool], deadline_s: float = DEADLINE_S) -> bool:
        """Process events until ``until()`` or the deadline; whether it came true."""
        end = time.monotonic() + deadline_s
        while not until():
            if time.monotonic() > end:
                return False
            session.process_events(0.05)
        return True

    def pump_for(self, session: Session, seconds: float) -> None:
        """Process events for ``seconds``: to show that nothing more arrives."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            session.process_events(0.05)

    def consumer(self, session: Session, prefetch: int = 100) -> list[Delivery]:
        received: list[Delivery] = []
        session.consume([self.queue], received.append, prefetch)
        return received

    def prepare(self) -> None:
        """Make the broker ready for a test, before its queue is declared."""

    def setUp(self) -> None:
        super().setUp()
        self.prepare()
        setup = self.session()
        setup.declare_meter_queues([self.queue])

    # ---- behaviours ------------------------------------------------------------------------

    def test_publish_returns_once_the_broker_holds_the_batch(self) -> None:
        session = self.session()
        self.publish(session, 25)
        self.assertEqual(session.queue_depth(self.queue), 25)

    def test_an_unroutable_reading_is_refused(self) -> None:
        session = self.session()
        with self.assertRaises(BrokerRefused):
            session.publish_batch([("contract.no-such-queue", b"{}", 0.0)])

    def test_deliveries_arrive_in_order_and_acked_ones_are_gone(self) -> None:
        session = self.session()
        bodies = self.publish(session, 10)
        received = self.consumer(session)
        self.assertTrue(self.pump(session, lambda: len(received) == 10))
        self.assertEqual([d.body for d in received], bodies)
        self.assertFalse(any(d.redelivered for d in received))
        session.ack(received[-1].delivery_tag, multiple=True)
        session.close()
        self.assertEqual(self.session().queue_depth(self.queue), 0)

    def test_what_was_not_acknowledged_comes_back_redelivered_after_a_close(self) -> None:
        session = self.session()
        bodies = self.publish(session, 6)
        received = self.consumer(session)
        self.assertTrue(self.pump(session, lambda: len(received) == 6))
        session.ack(received[1].delivery_tag, multiple=True)  # the first two are written
        session.close()
        again = self.session()
        redelivered = self.consumer(again)
        self.assertTrue(self.pump(again, lambda: len(redelivered) == 4))
        self.assertEqual([d.body for d in redelivered], bodies[2:])
        self.assertTrue(all(d.redelivered for d in redelivered))

    def test_a_lost_connection_raises_connection_lost_and_redelivers(self) -> None:
        session = self.session()
        bodies = self.publish(session, 3)
        received = self.consumer(session)
        self.assertTrue(self.pump(session, lambda: len(received) == 3))
        self.lose_connections()
        with self.assertRaises(ConnectionLost):
            self.pump(session, lambda: False, deadline_s=5)
            session.ack(received[-1].delivery_tag, multiple=True)
        again = self.session()
        redelivered = self.consumer(again)
        self.assertTrue(self.pump(again, lambda: len(redelivered) == 3))
        self.assertEqual([d.body for d in redelivered], bodies)
        self.assertTrue(all(d.redelivered for d in redelivered))

    def test_one_consumer_at_a_time_and_the_standby_takes_over(self) -> None:
        active, standby = self.session(), self.session()
        first = self.consumer(active)
        second = self.consumer(standby)
        bodies = self.publish(active, 8)
        self.assertTrue(self.pump(active, lambda: len(first) == 8))
        self.pump_for(standby, 0.5)
        self.assertEqual(second, [])
        active.ack(first[3].delivery_tag, multiple=True)
        active.close()
        self.assertTrue(self.pump(standby, lambda: len(second) == 4))
        self.assertEqual([d.body for d in second], bodies[4:])

    def test_prefetch_bounds_what_is_delivered_before_an_ack(self) -> None:
        session = self.session()
        self.publish(session, 10)
        received = self.consumer(session, prefetch=3)
        self.assertTrue(self.pump(session, lambda: len(received) == 3))
        self.pump_for(session, 0.3)
        self.assertEqual(len(received), 3)
        session.ack(received[-1].delivery_tag, multiple=True)
        self.assertTrue(self.pump(session, lambda: len(received) == 6))

    def test_a_rejected_reading_is_dead_lettered(self) -> None:
        session = self.session()
        bodies = self.publish(session, 2)
        received = self.consumer(session)
        self.assertTrue(self.pump(session, lambda: len(received) == 2))
        session.reject(received[0].delivery_tag)
        session.ack(received[1].delivery_tag)
        checker = self.session()
        self.assertTrue(self.pump(checker, lambda: checker.queue_depth(self.queue + DLQ_SUFFIX) == 1))
        self.assertEqual(checker.queue_depth(self.queue), 0)
        dead: list[Delivery] = []
        checker.consume([self.queue + DLQ_SUFFIX], dead.append, 10)
        self.assertTrue(self.pump(checker, lambda: len(dead) == 1))
        self.assertEqual(dead[0].body, bodies[0])

    def routed(self, pattern: str, messages: list[ResultMessage]) -> list[tuple[str, bytes]]:
        """What a subscriber to ``pattern`` on amq.topic sees of ``messages`` (two expected)."""
        watcher, publisher = self.session(), self.session()
        seen: list[tuple[str, bytes]] = []
        watcher.subscribe("amq.topic", pattern, lambda key, body: seen.append((key, body)))
        publisher.open_results("amq.topic")
        publisher.publish_results("amq.topic", messages)
        self.assertTrue(self.pump(watcher, lambda: len(seen) == 2))
        self.pump_for(watcher, 0.3)
        return seen

    def test_results_reach_a_subscriber_of_their_pattern_only(self) -> None:
        seen = self.routed("pv.results.#", [
            ResultMessage("pv.results.Meter_0", b'{"a": 1}', "Meter_0:1"),
            ResultMessage("other.results.Meter_0", b'{"b": 2}', "Meter_0:2"),
            ResultMessage("pv.results.Meter_1", b'{"c": 3}', "Meter_1:1")])
        self.assertEqual(seen, [("pv.results.Meter_0", b'{"a": 1}'), ("pv.results.Meter_1", b'{"c": 3}')])

    def test_a_star_pattern_matches_one_word_and_hands_the_routing_key(self) -> None:
        seen = self.routed("pv.control.*", [
            ResultMessage("pv.control.Meter_0", b"1", "a"),
            ResultMessage("pv.control.Meter_0.extra", b"2", "b"),
            ResultMessage("pv.control.Site%2EA", b"3", "c")])
        self.assertEqual(seen, [("pv.control.Meter_0", b"1"), ("pv.control.Site%2EA", b"3")])

    def test_a_missing_results_exchange_is_refused(self) -> None:
        with self.assertRaises(BrokerRefused):
            self.session().open_results("contract.no-such-exchange")

    def test_an_exchange_that_is_not_a_topic_exchange_is_refused_for_results(self) -> None:
        self.declare_exchange("contract.direct", "direct")
        def subscribe(session: Session) -> None:
            session.subscribe("contract.direct", "pv.results.#", lambda _key, _body: None)

        def open_results(session: Session) -> None:
            session.open_results("contract.direct")

        for use in (open_results, subscribe):
            with self.subTest(use=use), self.assertRaises(BrokerRefused) as caught:
                use(self.session())
            self.assertIn("is a direct exchange: results need a topic exchange", str(caught.exception))

    def test_a_missing_queue_is_refused(self) -> None:
        with self.assertRaises(BrokerRefused):
            self.session().queue_depth("contract.no-such-queue")

    def test_queue_status_counts_ready_messages_and_leaves_missing_queues_out(self) -> None:
        session = self.session()
        self.publish(session, 3)
        status = session.queue_status(["contract.no-such-queue", self.queue, "contract.none-either"])
        self.assertEqual(status, {self.queue: QueueStatus(messages=3, consumers=0)})
        self.publish(session, 2)  # a missing queue broke nothing
        self.assertEqual(session.queue_status([self.queue])[self.queue].messages, 5)

    def test_queue_status_sees_another_sessions_consumer(self) -> None:
        consumer, checker = self.session(), self.session()
        self.consumer(consumer)
        self.assertTrue(self.pump(consumer, lambda: checker.queue_status([self.queue])[self.queue].consumers == 1))
        consumer.cancel_consumers()
        self.assertTrue(self.pump(consumer, lambda: checker.queue_status([self.queue])[self.queue].consumers == 0))

    def test_a_blocked_broker_says_so_and_keeps_what_it_had(self) -> None:
        session = self.session()
        self.publish(session, 1)
        self.set_blocked(True)
        try:
            with self.assertRaises(ConnectionLost):
                self.publish(session, 5)
            self.assertTrue(session.blocked)
        finally:
            self.set_blocked(False)
        again = self.session()
        self.assertTrue(self.pump(again, lambda: not again.blocked))
        # Confirms, not a transaction: RabbitMQ may take the first messages of the unconfirmed
        # batch before it blocks the connection. The meter publishes the batch again and the
        # PV service's writer skips the repeats, so any part of it may be there, but not less
        # than what was confirmed before.
        self.assertIn(again.queue_depth(self.queue), range(1, 7))
