"""An in-memory broker behind the port, so the service loops are tested without RabbitMQ.

:class:`FakeBroker` keeps durable queues and their dead-letter queues in memory and
behaves as RabbitMQ does where the services rely on it: per-consumer prefetch,
unacknowledged deliveries returned to the head of their queue (flagged
``redelivered``) when a session closes, rejected messages dead-lettered, unroutable
publishes refused, results recorded in the order the broker took them. Tests steer it:
take the broker down, drop every connection now or after some deliveries, refuse the
next publishes or results, take results but lose their confirms, drop the connection at
the next acknowledgement.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pv_simulator.messaging import port
from pv_simulator.messaging.port import BrokerRefused, ConnectionLost, Delivery

#: What an empty ``process_events`` sleeps at most, so a polling loop does not spin.
_IDLE_STEP_S = 0.002


@dataclass(slots=True)
class StoredMessage:
    body: bytes
    time_s: float
    redelivered: bool = False


class FakeBroker:
    """Queues in memory, and switches to make the broker misbehave.

    Attributes:
        available: False makes every new session fail as an unreachable node does.
        refuse_access: True makes every new session fail as a refused login does.
        blocked: True reports every session blocked, as a broker alarm does; a batch
            published meanwhile is not taken, and its connection drops, as RabbitMQ's
            does once ``blocked_connection_timeout`` runs out.
    """

    def __init__(self) -> None:
        self.queues: dict[str, deque[StoredMessage]] = {}
        self.available = True
        self.refuse_access = False
        self.blocked = False
        self.sessions_opened = 0
        self.published = 0
        #: Batches of readings the broker confirmed.
        self.publish_batches = 0
        self.acks = 0
        self.acked_messages = 0
        self._sessions: list[FakeSession] = []
        self._refused_publishes = 0
        self._drop_after_deliveries: int | None = None
        self._drop_on_ack = False
        #: Exchanges results may go to; a passive declare of any other is refused.
        self.exchanges = {"amq.topic"}
        #: The type of each exchange that is not a topic exchange.
        self.exchange_types: dict[str, str] = {}
        #: (exchange, result) for every result the broker took, repeats included.
        self.results: list[tuple[str, port.ResultMessage]] = []
        #: How many messages had been acknowledged when each result batch was taken.
        self.acked_at_results: list[int] = []
        self._refused_results = 0
        self._lost_result_confirms = 0

    def refuse_results(self, count: int = 1) -> None:
        """The next ``count`` result batches fail before the broker takes any (connection lost)."""
        self._refused_results = count

    def lose_result_confirms(self, count: int = 1) -> None:
        """The next ``count`` result batches reach the broker, but the connection drops before the confirms."""
        self._lost_result_confirms = count

    def connector(self, nodes: Sequence[str] = ("fake:5672",)) -> FakeConnector:
        return FakeConnector(self, tuple(nodes))

    def declare(self, queue: str) -> None:
        self.queues.setdefault(queue, deque())

    def put(self, queue: str, body: bytes, time_s: float = 0.0) -> None:
        """Enqueue a message as a publisher would (the queue must exist)."""
        if queue not in self.queues:
            raise BrokerRefused(f"no queue {queue!r}: unroutable")
        self.queues[queue].append(StoredMessage(body, time_s))
        self.published += 1

    def bodies(self, queue: str) -> list[bytes]:
        """The ready messages of ``queue``, in order."""
        return [message.body for message in self.queues.get(queue, ())]

    def depth(self, queue: str) -> int:
        return len(self.queues.get(queue, ()))

    def consumers(self, queue: str) -> int:
        """Consumers of ``queue`` on open sessions, standbys included (as a classic queue counts)."""
        return sum(1 for session in self._sessions if session._open
                   for consumer in session._consumers if consumer.queue == queue)

    @property
    def unacknowledged(self) -> int:
        """Messages delivered on open sessions and not yet settled."""
        return sum(len(session._unacked) for session in self._sessions)

    def publish_topic(self, exchange: str, routing_key: str, body: bytes) -> None:
        """Publish on a topic exchange as another client does: a copy to each matching subscription."""
        for session in self._sessions:
            session._route(exchange, [(routing_key, body)])

    def drop_connections(self) -> None:
        """Close every session, as a broker restart does; unacknowledged messages return."""
        for session in list(self._sessions):
            session.close()

    def refuse_publishes(self, count: int = 1) -> None:
        """The next ``count`` batches fail before the broker takes any of them (connection lost)."""
        self._refused_publishes = count

    def drop_after_deliveries(self, count: int) -> None:
        """Drop every connection once ``count`` more messages have been delivered."""
        self._drop_after_deliveries = count

    def drop_on_next_ack(self) -> None:
        """The next acknowledgement never arrives: the connection drops instead."""
        self._drop_on_ack = True

    def _open_session(self) -> FakeSession:
        if not self.available:
            raise ConnectionLost("cannot connect to fake broker: connection refused")
        if self.refuse_access:
            raise port.AccessRefused("fake broker refused the login")
        session = FakeSession(self)
        self._sessions.append(session)
        self.sessions_opened += 1
        return session

    def active_session(self, queue: str) -> FakeSession | None:
        """The one session that gets ``queue``'s deliveries: its earliest open consumer's, as
        ``x-single-active-consumer`` gives them."""
        for session in self._sessions:
            if session._open and queue in session._consumed:
                return session
        return None

    def _forget(self, session: FakeSession) -> None:
        if session in self._sessions:
            self._sessions.remove(session)

    def _take_publish_refusal(self) -> bool:
        if self._refused_publishes > 0:
            self._refused_publishes -= 1
            return True
        return False

    def _count_delivery(self) -> bool:
        """One more delivery; True when it is the one after which connections drop."""
        if self._drop_after_deliveries is None:
            return False
        self._drop_after_deliveries -= 1
        if self._drop_after_deliveries > 0:
            return False
        self._drop_after_deliveries = None
        return True

    def _take_result_fault(self) -> tuple[bool, bool]:
        """(refuse before taking, lose the confirms after taking) for the next result batch."""
        if self._refused_results > 0:
            self._refused_results -= 1
            return True, False
        if self._lost_result_confirms > 0:
            self._lost_result_confirms -= 1
            return False, True
        return False, False

    def _take_ack_drop(self) -> bool:
        drop, self._drop_on_ack = self._drop_on_ack, False
        return drop


class FakeConnector:
    """Opens :class:`FakeSession`s on a :class:`FakeBroker`; every node is the same broker."""

    def __init__(self, broker: FakeBroker, nodes: tuple[str, ...]) -> None:
        self.broker = broker
        self.nodes = nodes

    def open(self, node: int) -> FakeSession:
        return self.broker._open_session()


@dataclass
class _Consumer:
    queue: str
    callback: Callable[[Delivery], None]
    unacked: int = 0


class FakeSession:
    """One connection to the fake broker, with the port's semantics."""

    def __init__(self, broker: FakeBroker) -> None:
        self.broker = broker
        self._open = True
        self._consumers: list[_Consumer] = []
        #: The queues of ``_consumers``, so finding a queue's active session is no scan.
        self._consumed: set[str] = set()
        self._prefetch = 0
        self._unacked: dict[int, tuple[_Consumer, StoredMessage]] = {}
        self._next_tag = 1
        self._subscriptions: list[tuple[str, str, Callable[[str, bytes], None]]] = []
        self._subscribed: list[tuple[Callable[[str, bytes], None], str, bytes]] = []
        self._results_exchange: str | None = None

    @property
    def is_open(self) -> bool:
        return self._open

    @property
    def blocked(self) -> bool:
        return self.broker.blocked

    def _check(self, doing: str) -> None:
        if not self._open:
            raise ConnectionLost(f"connection to fake broker lost ({doing})")

    def _lose(self, doing: str) -> ConnectionLost:
        self.broker.drop_connections()
        return ConnectionLost(f"connection to fake broker lost ({doing})")

    def declare_meter_queues(self, queues: Sequence[str]) -> None:
        self._check("declaring queues")
        for queue in queues:
            self.broker.declare(queue + port.DLQ_SUFFIX)
            self.broker.declare(queue)

    def queue_depth(self, queue: str) -> int:
        self._check(f"checking queue {queue!r}")
        if queue not in self.broker.queues:
            raise BrokerRefused(f"fake broker refused: 404 NOT_FOUND - no queue {queue!r}")
        return self.broker.depth(queue)

    def queue_status(self, queues: Sequence[str]) -> dict[str, port.QueueStatus]:
        self._check("checking queues")
        return {queue: port.QueueStatus(self.broker.depth(queue), self.broker.consumers(queue))
                for queue in queues if queue in self.broker.queues}

    def publish_batch(self, messages: Sequence[port.Message]) -> None:
        self._check("publishing")
        if self.broker._take_publish_refusal():
            raise self._lose("publishing")
        if self.broker.blocked:
            self.close()
            raise ConnectionLost("fake broker blocked publishing past blocked_connection_timeout "
                                 "(publishing)")
        missing = [key for key, _, _ in messages if key not in self.broker.queues]
        if missing:
            raise BrokerRefused(f"fake broker could not route {len(missing)} reading(s): "
                                "its queue was deleted")
        queues = self.broker.queues
        for routing_key, body, time_s in messages:
            queues[routing_key].append(StoredMessage(body, time_s))  # routable: checked above
        self.broker.published += len(messages)
        self.broker.publish_batches += 1

    def consume(self, queues: Sequence[str], on_delivery: Callable[[Delivery], None],
                prefetch: int) -> None:
        self._check("starting consumers")
        for queue in queues:
            if queue not in self.broker.queues:
                raise BrokerRefused(f"fake broker refused: 404 NOT_FOUND - no queue {queue!r}")
        self._prefetch = prefetch
        self._consumers.extend(_Consumer(queue, on_delivery) for queue in queues)
        self._consumed.update(queues)

    def cancel_consumers(self) -> None:
        self._check("cancelling consumers")
        self._consumers = []
        self._consumed = set()

    def process_events(self, time_limit_s: float) -> None:
        """Deliver what prefetch allows, round robin over the consumers; sleep briefly if none."""
        self._check("waiting for deliveries")
        delivered = bool(self._subscribed)
        while self._subscribed:
            on_message, routing_key, body = self._subscribed.pop(0)
            on_message(routing_key, body)
        progress = True
        # Looked up once: the embedded dataset pipeline delivers every reading through here.
        broker = self.broker
        queues, unacked, active_session = broker.queues, self._unacked, broker.active_session
        while progress and self._open:
            progress = False
            for consumer in list(self._consumers):
                queue = queues[consumer.queue]
                if not queue or consumer.unacked >= self._prefetch:
                    continue
                if active_session(consumer.queue) is not self:
                    continue  # a standby: the queue's single active consumer is elsewhere
                message = queue.popleft()
                tag, self._next_tag = self._next_tag, self._next_tag + 1
                unacked[tag] = (consumer, message)
                consumer.unacked += 1
                consumer.callback(Delivery(consumer.queue, tag, message.redelivered, message.body))
                delivered = progress = True
                if broker._drop_after_deliveries is not None and broker._count_delivery():
                    raise self._lose("waiting for deliveries")
        if not delivered and time_limit_s > 0:
            time.sleep(min(time_limit_s, _IDLE_STEP_S))

    def _route(self, exchange: str, messages: Sequence[tuple[str, bytes]]) -> None:
        """Copies of (routing key, body) for this session's subscriptions, delivered at its next
        :meth:`process_events`."""
        for subscribed_exchange, pattern, on_message in self._subscriptions:
            if subscribed_exchange == exchange:
                self._subscribed.extend((on_message, key, body) for key, body in messages
                                        if _topic_matches(pattern, key))

    def ack(self, delivery_tag: int, multiple: bool = False) -> None:
        self._check("acknowledging")
        if self.broker._take_ack_drop():
            raise self._lose("acknowledging")
        tags = [t for t in self._unacked if t <= delivery_tag] if multiple else [delivery_tag]
        if delivery_tag not in self._unacked:
            raise BrokerRefused(f"fake broker refused: 406 PRECONDITION_FAILED - unknown "
                                f"delivery tag {delivery_tag}")
        for tag in tags:
            consumer, _ = self._unacked.pop(tag)
            consumer.unacked -= 1
        self.broker.acks += 1
        self.broker.acked_messages += len(tags)

    def reject(self, delivery_tag: int) -> None:
        self._check("rejecting")
        if delivery_tag not in self._unacked:
            raise BrokerRefused(f"fake broker refused: 406 PRECONDITION_FAILED - unknown "
                                f"delivery tag {delivery_tag}")
        consumer, message = self._unacked.pop(delivery_tag)
        consumer.unacked -= 1
        self.broker.declare(consumer.queue + port.DLQ_SUFFIX)
        self.broker.queues[consumer.queue + port.DLQ_SUFFIX].append(StoredMessage(message.body, message.time_s))

    def _check_topic_exchange(self, exchange: str, named: str) -> None:
        self._check(f"checking {named}")
        if exchange not in self.broker.exchanges:
            raise BrokerRefused(f"fake broker refused: 404 NOT_FOUND - no exchange {exchange!r} "
                                f"(checking {named})")
        current = self.broker.exchange_types.get(exchange, "topic")
        if current not in ("topic", "fanout"):
            raise BrokerRefused(f"{named} is a {current} exchange: results need a topic exchange "
                                "(routing key pv.results.<METER_ID>), such as amq.topic")

    def open_results(self, exchange: str) -> None:
        self._check_topic_exchange(exchange, f"[output] results_exchange {exchange!r}")
        self._results_exchange = exchange

    def publish_results(self, exchange: str, messages: Sequence[port.ResultMessage]) -> None:
        self._check("publishing results")
        if self._results_exchange != exchange:
            raise ConnectionLost(f"results channel for {exchange!r} is not open")
        refuse, lose_confirms = self.broker._take_result_fault()
        if refuse:
            raise self._lose("publishing results")
        self.broker.acked_at_results.append(self.broker.acked_messages)
        self.broker.results.extend((exchange, message) for message in messages)
        for session in self.broker._sessions:
            session._route(exchange, [(m.routing_key, m.body) for m in messages])
        if lose_confirms:
            raise self._lose("waiting for result confirms")

    def subscribe(self, exchange: str, routing_pattern: str,
                  on_message: Callable[[str, bytes], None]) -> None:
        """Topic patterns with ``*`` words and a final ``#``: what the live view and control bind."""
        self._check_topic_exchange(exchange, f"exchange {exchange!r}")
        self._subscriptions.append((exchange, routing_pattern, on_message))

    def close(self) -> None:
        """Return what was delivered but not acknowledged to the head of its queue, as redelivered."""
        if not self._open:
            return
        self._open = False
        for tag in sorted(self._unacked, reverse=True):
            consumer, message = self._unacked[tag]
            message.redelivered = True
            self.broker.queues[consumer.queue].appendleft(message)
        self._unacked.clear()
        self._consumers = []
        self._consumed = set()
        self.broker._forget(self)


def _topic_matches(pattern: str, routing_key: str) -> bool:
    """AMQP topic matching: ``*`` is one word, ``#`` (here only last) any number of words."""
    words = routing_key.split(".")
    parts = pattern.split(".")
    if parts[-1] == "#":
        parts = parts[:-1]
        if len(words) < len(parts):
            return False
        words = words[:len(parts)]
    return len(words) == len(parts) and all(p in ("*", w) for p, w in zip(parts, words, strict=True))
