"""What the services need of a message broker, whatever broker it is.

A :class:`Session` is one open connection with its channel; a :class:`Connector`
opens sessions to the configured nodes. The RabbitMQ adapter
(:mod:`pv_simulator.messaging.rabbitmq`) and the in-memory fake
(:mod:`pv_simulator.messaging.fake`) both implement them, and
:class:`pv_simulator.messaging.connection.Connection` owns the lifecycle on top.

Every failure reaches a service as one of the errors below, never as a client
library's exception.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

#: A reading to publish: (routing key = meter id, JSON body, epoch seconds of the reading).
Message = tuple[str, bytes, float]

DLQ_SUFFIX = ".dlq"

_METER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
METER_ID_RULE = (f"letters, digits, '_', '.', '-'; 1-64 characters; first a letter or digit; "
                 f"not ending in {DLQ_SUFFIX}")


def is_meter_id(text: str) -> bool:
    """Whether ``text`` may name a meter: it becomes a queue name and a file name, so it is strict.

    The whole text must match (a trailing newline would pass ``re.match`` with ``$``, and the
    broker strips CR/LF from queue names, so the declare would never be answered).
    """
    return _METER_ID.fullmatch(text) is not None and not text.endswith(DLQ_SUFFIX)

#: The partitioned layout's queues are ``<prefix>.<count>p.<index>``.
PARTITION_PREFIX = "pv.readings"


@dataclass(frozen=True)
class Layout:
    """Which queue holds a meter's readings.

    ``partitions == 0`` is the default layout, a queue per meter named after it. Otherwise it is
    the opt-in layout for large fleets: ``partitions`` queues shared by all meters, each meter's
    readings all on ``pv.readings.<partitions>p.<CRC-32 of its id mod partitions>``, so its
    order is kept. The broker's cost per message grows with the queues a transaction touches,
    and creating 20,000 queues for 10,000 meters took ~15 s of two cores.

    The partition is computed here (CRC-32, the same in every process, version and broker
    restart) and the meter publishes to it on the default exchange, rather than through the
    consistent-hash exchange plugin: its ring is rebuilt from the bindings after a node restart
    and may then send a meter to another queue (rabbitmq-server#3386), which would let two PV
    services write one meter's file. The count is part of the queue names: a meter and a PV
    service configured with different counts use different queues and mix nothing.
    """

    partitions: int = 0

    @property
    def partitioned(self) -> bool:
        return self.partitions > 0

    def partition_of(self, meter_id: str) -> int:
        return zlib.crc32(meter_id.encode()) % self.partitions

    def partition_queue(self, index: int) -> str:
        return f"{PARTITION_PREFIX}.{self.partitions}p.{index}"

    @property
    def partition_queues(self) -> list[str]:
        """Every partition's queue, in partition order."""
        return [self.partition_queue(index) for index in range(self.partitions)]

    def queue_of(self, meter_id: str) -> str:
        """The queue a meter's readings are published to."""
        return self.partition_queue(self.partition_of(meter_id)) if self.partitioned else meter_id

    def queues_for(self, meter_ids: Sequence[str]) -> list[str]:
        """The queues a meter publishing these meters declares: every partition, so that a PV
        service of any partition finds its queue, or else each meter's own."""
        return self.partition_queues if self.partitioned else list(meter_ids)


#: The default layout.
QUEUE_PER_METER = Layout()


#: Deliveries of one message before a quorum queue dead-letters it instead of requeueing
#: it again: a reading that crashes the consumer every time cannot block its queue forever.
QUORUM_DELIVERY_LIMIT = 20


class BrokerError(Exception):
    """A broker problem a service cannot handle by itself."""


class ConnectionLost(BrokerError):
    """The connection or channel went away, or could not be opened; reconnecting may help."""


class BrokerUnavailable(BrokerError):
    """No broker answered within the configured connection attempts."""


class BrokerRefused(BrokerError):
    """The broker refused an operation that retrying cannot fix (a queue with other arguments)."""


class AccessRefused(BrokerRefused):
    """The broker refused the login, the virtual host or a certificate: the configuration is at fault."""


class Delivery(NamedTuple):
    """One message taken from a meter's queue, not yet acknowledged.

    A named tuple, not a frozen dataclass: one is made per reading, and a frozen dataclass's
    fields cost an ``object.__setattr__`` each.
    """

    queue: str
    delivery_tag: int
    redelivered: bool
    body: bytes


@dataclass(frozen=True)
class ResultMessage:
    """One PV result to publish: ``message_id`` is the same on every redelivery, so consumers can drop repeats."""

    routing_key: str
    body: bytes
    message_id: str


def queue_arguments(queue: str, queue_type: str = "classic") -> dict[str, str | int | bool]:
    """Arguments of a reading queue: rejected readings go to ``<queue>.dlq``, and only
    one consumer at a time gets deliveries (a second PV service waits as a standby and takes
    over when the first goes; two writers of one meter's file lost acknowledged readings).

    Both services declare the queue with exactly these, so either may start first.
    """
    arguments: dict[str, str | int | bool] = {"x-dead-letter-exchange": "",
                                              "x-dead-letter-routing-key": queue + DLQ_SUFFIX,
                                              "x-single-active-consumer": True}
    if queue_type == "quorum":
        arguments["x-queue-type"] = "quorum"
        arguments["x-delivery-limit"] = QUORUM_DELIVERY_LIMIT
    return arguments


def dead_letter_arguments(queue_type: str = "classic") -> dict[str, str]:
    return {"x-queue-type": "quorum"} if queue_type == "quorum" else {}


class Session(Protocol):
    """One open connection and channel. Every method raises :class:`ConnectionLost` when it breaks."""

    @property
    def is_open(self) -> bool: ...

    @property
    def blocked(self) -> bool:
        """The broker blocks this connection's publishes (a memory or disk alarm)."""
        ...

    def declare_meter_queues(self, queues: Sequence[str]) -> None:
        """Declare each durable reading queue (a meter's or a partition's) and its dead-letter
        queue ``<queue>.dlq``.

        All at once, so that an adapter can pipeline thousands of them.
        """
        ...

    def queue_depth(self, queue: str) -> int:
        """Messages ready in an existing queue."""
        ...

    def publish_batch(self, messages: Sequence[Message]) -> None:
        """Publish persistent messages on the default exchange; return once the broker holds all.

        Raises:
            ConnectionLost: before the broker confirmed the batch; none of it counts as published.
            BrokerRefused: a message was unroutable (its queue is gone).
        """
        ...

    def consume(self, queues: Sequence[str], on_delivery: Callable[[Delivery], None],
                prefetch: int) -> None:
        """Start consuming ``queues`` with manual acknowledgement and bounded prefetch."""
        ...

    def cancel_consumers(self) -> None:
        """Stop taking deliveries; what was delivered stays to be acknowledged."""
        ...

    def process_events(self, time_limit_s: float) -> None:
        """Serve heartbeats and dispatch deliveries for at most about ``time_limit_s``."""
        ...

    def ack(self, delivery_tag: int, multiple: bool = False) -> None: ...

    def reject(self, delivery_tag: int) -> None:
        """Reject without requeue: the broker dead-letters the message."""
        ...

    def subscribe(self, exchange: str, routing_pattern: str,
                  on_message: Callable[[str, bytes], None]) -> None:
        """Receive a copy of every message published to topic ``exchange`` under ``routing_pattern``,
        as ``on_message(routing_key, body)``.

        Through an exclusive, auto-deleted, server-named queue of this session's own, acknowledged
        on delivery: a watcher (the live view) takes nothing from other consumers and leaves
        nothing behind. Deliveries arrive in :meth:`process_events`.

        Raises:
            BrokerRefused: the exchange does not exist.
        """
        ...

    def close(self) -> None:
        """Close; unacknowledged deliveries go back to their queues. Never raises."""
        ...

    def open_results(self, exchange: str) -> None:
        """Check that ``exchange`` exists (it is never declared) and open the confirmed results channel.

        Raises:
            BrokerRefused: the broker has no such exchange.
        """
        ...

    def publish_results(self, exchange: str, messages: Sequence[ResultMessage]) -> None:
        """Publish persistent JSON results on ``exchange``; return once the broker confirmed all.

        Unroutable results (nobody bound) are dropped by the broker, which is no error.

        Raises:
            ConnectionLost: before every result was confirmed; some may have reached the
                broker, so publishing them again repeats them under the same message_id.
            BrokerRefused: the broker refused a result (negative confirm, exchange gone).
        """
        ...


class Connector(Protocol):
    """Opens sessions to the configured broker nodes, one node per call."""

    @property
    def nodes(self) -> Sequence[str]:
        """Each node's address for messages, password masked, in the order they are tried."""
        ...

    def open(self, node: int) -> Session:
        """Open a session to ``nodes[node]``.

        Raises:
            ConnectionLost: the node did not answer, or the attempt broke off.
            AccessRefused: the broker refused the login, virtual host or certificate.
        """
        ...
