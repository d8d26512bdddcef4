"""The RabbitMQ adapter behind the broker port: pika's blocking connection.

:class:`RabbitConnector` opens one ``BlockingConnection`` and channel per
:class:`RabbitSession`. A session declares each meter's durable queue with a
dead-letter queue beside it, publishes batches with publisher confirms (so a
reading counts as published only once the broker has confirmed it) and consumes
with manual acknowledgements.

pika's exceptions never leave this module: callers see the errors of
:mod:`pv_simulator.messaging.port`. Retrying and reconnecting are not done here
but in :class:`pv_simulator.messaging.connection.Connection`.
"""

from __future__ import annotations

import logging
import re
import socket
import ssl
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import pika
import pika.exceptions as pex
from pika.adapters.blocking_connection import BlockingChannel
from pika.spec import Basic, BasicProperties

from pv_simulator.config import BrokerConfig
from pv_simulator.messaging import pika_internals
from pv_simulator.messaging.connection import RetryPolicy
from pv_simulator.messaging.deadlines import BROKER_ANSWER_TIMEOUT_S, TICK_S, NoAnswer, blocking_wait
from pv_simulator.messaging.port import (
    DLQ_SUFFIX,
    AccessRefused,
    BrokerError,
    BrokerRefused,
    ConnectionLost,
    Delivery,
    Message,
    QueueStatus,
    ResultMessage,
    dead_letter_arguments,
    queue_arguments,
)

log = logging.getLogger(__name__)


def retry_policy(config: BrokerConfig) -> RetryPolicy:
    """The retry settings of the ``[broker]`` section."""
    return RetryPolicy(connection_attempts=config.connection_attempts,
                       retry_delay_s=config.retry_delay_s)


#: Channels the queue declares are spread over: the broker creates queues in parallel across
#: channels (2,000 new meters: 14.7 s on one channel, 3.1 s on 16, on 2 cores).
DECLARE_CHANNELS = 16
#: Meters declared on each channel between two barriers (each barrier waits for all of them).
DECLARE_PER_CHANNEL = 128

_QUEUE_IN_REPLY = re.compile(r"for queue '([^']+)'")
_CURRENT_TYPE = re.compile(r"inequivalent arg 'type' .* current is '([^']+)'")


def declare_rounds(ids: Sequence[str], channels: int,
                   per_channel: int) -> list[list[list[str]]]:
    """``ids`` in rounds of at most ``channels`` consecutive parts of ``per_channel`` each."""
    parts = [list(ids[i:i + per_channel]) for i in range(0, len(ids), per_channel)]
    return [parts[i:i + channels] for i in range(0, len(parts), channels)]


class RabbitConnector:
    """Opens sessions to the configured RabbitMQ nodes.

    Args:
        config: where the broker is and how to log in.
        client_name: shown as the connection name in RabbitMQ's tools.
    """

    def __init__(self, config: BrokerConfig, client_name: str) -> None:
        self.config = config
        self.client_name = client_name
        self.nodes = tuple(f"{host}:{port}" for host, port in config.hosts)

    def open(self, node: int) -> RabbitSession:
        host, port = self.config.hosts[node]
        url = self.config.url(host, port)
        connection = self._connect(host, port, url)
        try:
            channel = connection.channel()
        except (pex.AMQPError, OSError) as exc:
            _close_quietly(connection)
            raise ConnectionLost(f"connection to {url} lost while opening: {_describe(exc)}") from None
        log.info("connected to %s", url)
        return RabbitSession(connection, channel, url, self.config.queue_type,
                             self.config.blocked_connection_timeout_s)

    def _parameters(self, host: str, port: int) -> pika.ConnectionParameters:
        c = self.config
        return pika.ConnectionParameters(
            host=host,
            port=port,
            virtual_host=c.virtual_host,
            credentials=pika.PlainCredentials(c.username, c.password),
            heartbeat=c.heartbeat_s,
            blocked_connection_timeout=c.blocked_connection_timeout_s,
            connection_attempts=1,
            socket_timeout=5,
            stack_timeout=15,
            ssl_options=self._ssl_options(host),
            client_properties={"connection_name": self.client_name},
        )

    def _ssl_options(self, host: str) -> pika.SSLOptions | None:
        tls = self.config.tls
        if tls is None:
            return None
        context = ssl.create_default_context(
            cafile=str(tls.ca_file) if tls.ca_file else None)
        if tls.cert_file and tls.key_file:
            try:
                context.load_cert_chain(str(tls.cert_file), str(tls.key_file))
            except (ssl.SSLError, OSError) as exc:
                raise AccessRefused(f"[broker] cert_file {tls.cert_file} / key_file "
                                    f"{tls.key_file}: cannot load: {_describe(exc)}") from None
        return pika.SSLOptions(context, server_hostname=tls.server_hostname or host)

    def _connect(self, host: str, port: int, url: str) -> pika.BlockingConnection:
        c = self.config
        try:
            with blocking_wait(f"connecting to {url}"):
                return pika.BlockingConnection(self._parameters(host, port))
        except NoAnswer:
            raise ConnectionLost(f"cannot connect to {url}: no answer within "
                                 f"{BROKER_ANSWER_TIMEOUT_S:g} s") from None
        except (pex.ProbableAuthenticationError, pex.AuthenticationError):
            raise AccessRefused(
                f"broker at {url} refused the login of user {c.username!r}: "
                "check [broker] username and password") from None
        except pex.ProbableAccessDeniedError:
            raise AccessRefused(
                f"broker at {url} refused virtual host {c.virtual_host!r}: it does not "
                f"exist or user {c.username!r} may not use it (check [broker] virtual_host)") from None
        except pex.ConnectionClosedByBroker as exc:
            raise _refused_or_lost(url, exc.reply_code, exc.reply_text) from None
        except (pex.AMQPConnectionError, OSError) as exc:
            verify = _certificate_failure(exc)
            if verify:
                raise AccessRefused(f"TLS to {url}: the broker's certificate was refused: "
                                    f"{verify} (check [broker] ca_file and server_hostname)") from None
            text = _describe(exc)
            if "ALERT_BAD_CERTIFICATE" in text or "ALERT_UNKNOWN_CA" in text:
                # The broker refused our client certificate. Under TLS 1.3 the alert often
                # arrives only as an EOF, which stays a retried connection failure.
                raise AccessRefused(f"TLS to {url}: the broker refused the client "
                                    f"certificate: {text} (check [broker] cert_file and "
                                    "key_file)") from None
            raise ConnectionLost(f"cannot connect to {url}: {text}") from None


def _refused_or_lost(url: str, reply_code: int, reply_text: str) -> BrokerError:
    if reply_code in (403, 530):
        return AccessRefused(f"broker at {url} refused access: {reply_code} {reply_text}")
    if reply_code in (404, 405, 406):
        return BrokerRefused(f"broker at {url} refused: {reply_code} {reply_text}")
    return ConnectionLost(f"broker at {url} closed the connection: {reply_code} {reply_text}")


class RabbitSession:
    """One blocking connection and channel to RabbitMQ.

    Args:
        connection: the open connection.
        channel: its open channel.
        url: the node's address for messages, password masked.
        queue_type: ``classic`` or ``quorum`` for the meter queues.
        blocked_timeout_s: how long a broker alarm may block the connection before pika drops it.
    """

    #: The confirm-mode channel results go on (see :meth:`open_results`), beside the consuming one.
    _results_channel: BlockingChannel | None = None
    _results_confirms: PublisherConfirms

    def __init__(self, connection: pika.BlockingConnection, channel: BlockingChannel,
                 url: str, queue_type: str, blocked_timeout_s: float = 60.0) -> None:
        self._connection: pika.BlockingConnection | None = connection
        self._channel: BlockingChannel | None = channel
        self.url = url
        self.queue_type = queue_type
        # A batch waits for its confirms as long as a broker alarm may block the connection,
        # and then some: pika's blocked_connection_timeout ends that wait first.
        self._publish_timeout_s = blocked_timeout_s + BROKER_ANSWER_TIMEOUT_S
        self._returned: list[bytes] = []
        self._confirms: PublisherConfirms | None = None
        self.blocked = False
        channel.add_on_return_callback(self._on_return)
        pika_internals.add_blocked_callbacks(connection, self._on_blocked, self._on_unblocked)

    def _on_blocked(self, _connection: object, frame: object) -> None:
        self.blocked = True
        reason = getattr(getattr(frame, "method", None), "reason", "") or "a resource alarm"
        log.warning("broker at %s blocks publishing (%s): readings wait in the buffer until it "
                    "lifts", self.url, reason)

    def _on_unblocked(self, _connection: object, _frame: object) -> None:
        self.blocked = False
        log.info("broker at %s unblocked publishing", self.url)

    @property
    def is_open(self) -> bool:
        return (self._connection is not None and self._connection.is_open
                and self._channel is not None and self._channel.is_open)

    @contextmanager
    def _guard(self, doing: str, waits: bool = True,
               timeout_s: float = BROKER_ANSWER_TIMEOUT_S) -> Iterator[BlockingChannel]:
        """Run a channel operation, turning pika's errors into the port's.

        Args:
            doing: what for messages.
            waits: the operation waits for the broker's answer (an RPC, a batch's confirms): it gets
                a deadline, and a stop request may interrupt it (:func:`blocking_wait`), checked
                on the connection's I/O loop in whatever thread waits.
            timeout_s: that deadline.
        """
        if not self.is_open:
            raise ConnectionLost(f"not connected to {self.url} ({doing})")
        assert self._channel is not None and self._connection is not None
        try:
            if waits:
                with blocking_wait(doing, timeout_s) as wait:
                    stop_ticking = pika_internals.every(self._connection, TICK_S, wait.check)
                    try:
                        yield self._channel
                    finally:
                        stop_ticking()
            else:
                yield self._channel
        except (pex.ChannelClosedByBroker, pex.ConnectionClosedByBroker) as exc:
            self.close()
            raise _refused_or_lost(self.url, exc.reply_code, f"{exc.reply_text} ({doing})") from None
        except (pex.AMQPError, OSError, AssertionError) as exc:
            self.close()
            raise ConnectionLost(f"connection to {self.url} lost ({doing}): "
                                 f"{_describe(exc)}") from None
        except NoAnswer:
            self._abandon()
            raise ConnectionLost(f"broker at {self.url} gave no answer within "
                                 f"{timeout_s:g} s ({doing})") from None
        except BaseException:
            # Interrupted mid-wait (a stop request): pika's state is unknown, so the
            # connection is not closed politely; the process is about to end anyway.
            self._abandon()
            raise

    def _abandon(self) -> None:
        """Forget the connection without talking to the broker; the socket closes with the process."""
        self._connection, self._channel = None, None

    def declare_meter_queues(self, queues: Sequence[str]) -> None:
        """Declare the queues pipelined, on several channels, with one round trip per round.

        One synchronous declare per queue cost a round trip each, and the broker creates a
        new queue on one channel at a time: 10,000 meters took a minute. The declares are sent
        without waiting (nowait), spread over :data:`DECLARE_CHANNELS` channels so the broker
        creates queues in parallel; a passive declare of each channel's last queue is the
        barrier that waits for them. A refused declare closes its channel, and the broker's
        reply (which names the queue) surfaces from that barrier.
        """
        ids = list(queues)
        if not ids:
            return
        try:
            with self._guard("opening channels for declaring queues") as channel:
                assert self._connection is not None
                channels = [channel, *(self._connection.channel() for _ in
                                       range(min(DECLARE_CHANNELS, len(ids)) - 1))]
            # A channel the broker closed is only seen here: its barrier could not be sent.
            refusals: list[BaseException] = []
            for declarer in channels:
                pika_internals.add_close_callback(declarer, lambda _channel, reason: refusals.append(reason))
            dlq_arguments = dead_letter_arguments(self.queue_type)
            for round_ids in declare_rounds(ids, len(channels), DECLARE_PER_CHANNEL):
                with self._guard(f"declaring queues {round_ids[0][0]!r} to "
                                 f"{round_ids[-1][-1]!r}"):
                    for declarer, part in zip(channels, round_ids, strict=False):
                        for meter_id in part:
                            pika_internals.declare_queue_nowait(declarer, meter_id + DLQ_SUFFIX,
                                                                dlq_arguments)
                            pika_internals.declare_queue_nowait(
                                declarer, meter_id, queue_arguments(meter_id, self.queue_type))
                    for declarer, part in zip(channels, round_ids, strict=False):
                        if refusals:
                            raise refusals[0]
                        declarer.queue_declare(part[-1], passive=True)
            with self._guard("closing the declaring channels"):
                for declarer in channels[1:]:
                    declarer.close()
        except BrokerRefused as exc:
            if "x-single-active-consumer" not in str(exc):
                raise
            match = _QUEUE_IN_REPLY.search(str(exc))
            queue = match.group(1) if match else "METER_ID"
            raise BrokerRefused(
                f"{exc}: queue {queue!r} was declared by an earlier pv-simulator, without "
                "single active consumer; let that version's PV service drain it, then delete it "
                f"(rabbitmqctl delete_queue {queue}) and start again (docs/clusters.md: Upgrading)") from None

    def queue_depth(self, queue: str) -> int:
        with self._guard(f"checking queue {queue!r}") as channel:
            return int(channel.queue_declare(queue, passive=True).method.message_count)

    def queue_status(self, queues: Sequence[str]) -> dict[str, QueueStatus]:
        """Passive declares pipelined over :data:`DECLARE_CHANNELS` channels of their own, each
        replaced when the broker closes it on a missing queue (pika_internals.passive_declares)."""
        with self._guard(f"checking {len(queues)} queue(s)"):
            assert self._connection is not None
            found, failures = pika_internals.passive_declares(self._connection, queues,
                                                              DECLARE_CHANNELS)
            if failures:
                raise failures[0]
        return {queue: QueueStatus(messages, consumers)
                for queue, (messages, consumers) in found.items()}

    def publish_batch(self, messages: Sequence[Message]) -> None:
        with self._guard("publishing", timeout_s=self._publish_timeout_s) as channel:
            if self._confirms is None:
                # Confirms rather than a transaction per batch: the same guarantee (the broker
                # holds every message it confirmed) for less CPU on both sides
                # (benchmarks/RESULTS.md, run F).
                self._confirms = PublisherConfirms.select(channel)
            self._returned.clear()
            # The frames wait and go out together when the wait for their confirms flushes them.
            publish = pika_internals.publish_nowait(channel)
            for routing_key, body, time_s in messages:
                publish(
                    exchange="",
                    routing_key=routing_key,
                    body=body,
                    properties=BasicProperties(content_type="application/json",
                                               delivery_mode=pika.DeliveryMode.Persistent,
                                               timestamp=int(time_s)),
                    mandatory=True,
                )
            nacked = self._confirms.wait(channel, len(messages))
            assert self._connection is not None
            # Returns come before their confirms, and are dispatched here.
            self._connection.process_data_events(0)
        if nacked:
            self.close()
            raise ConnectionLost(f"broker at {self.url} refused {nacked} reading(s) (negative "
                                 "confirm): publishing the batch again")
        if self._returned:
            raise BrokerRefused(f"broker at {self.url} could not route "
                                f"{len(self._returned)} reading(s): its queue was deleted")

    def _on_return(self, _channel: BlockingChannel, _method: Basic.Return,
                   _properties: BasicProperties, body: bytes) -> None:
        self._returned.append(body)

    def consume(self, queues: Sequence[str], on_delivery: Callable[[Delivery], None],
                prefetch: int) -> None:
        def callback(queue: str) -> Callable[..., None]:
            def deliver(_ch: BlockingChannel, method: Basic.Deliver,
                        _props: BasicProperties, body: bytes) -> None:
                on_delivery(Delivery(queue, method.delivery_tag, bool(method.redelivered), body))
            return deliver

        with self._guard("starting consumers") as channel:
            channel.basic_qos(prefetch_count=prefetch)
            for queue in queues:
                channel.basic_consume(queue, callback(queue), auto_ack=False)

    def subscribe(self, exchange: str, routing_pattern: str,
                  on_message: Callable[[str, bytes], None]) -> None:
        def deliver(_ch: BlockingChannel, method: Basic.Deliver, _props: BasicProperties,
                    body: bytes) -> None:
            on_message(method.routing_key or "", body)

        self._check_topic_exchange(exchange, f"exchange {exchange!r}")
        with self._guard(f"subscribing to {routing_pattern} on exchange {exchange!r}") as channel:
            queue = channel.queue_declare("", exclusive=True, auto_delete=True).method.queue
            channel.queue_bind(queue, exchange, routing_key=routing_pattern)
            channel.basic_consume(queue, deliver, auto_ack=True)

    def cancel_consumers(self) -> None:
        with self._guard("cancelling consumers") as channel:
            for tag in list(channel.consumer_tags):
                channel.basic_cancel(tag)

    def process_events(self, time_limit_s: float) -> None:
        with self._guard("waiting for deliveries", waits=False):
            assert self._connection is not None
            self._connection.process_data_events(time_limit=time_limit_s)

    def ack(self, delivery_tag: int, multiple: bool = False) -> None:
        with self._guard("acknowledging", waits=False) as channel:
            channel.basic_ack(delivery_tag, multiple=multiple)

    def reject(self, delivery_tag: int) -> None:
        with self._guard("rejecting", waits=False) as channel:
            channel.basic_nack(delivery_tag, multiple=False, requeue=False)

    def close(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None:
            _close_quietly(connection)


    def open_results(self, exchange: str) -> None:
        """A second channel, in confirm mode, after a passive declare of ``exchange``.

        A separate channel keeps a refused result from closing the consumers' channel.
        """
        named = f"[output] results_exchange {exchange!r}"
        self._check_topic_exchange(exchange, named)
        with self._guard(f"opening the results channel for {named}"):
            assert self._connection is not None
            channel = self._connection.channel()
            self._results_confirms = PublisherConfirms.select(channel)
            self._results_channel = channel

    def _check_topic_exchange(self, exchange: str, named: str) -> None:
        """Refuse a missing exchange, or one that is not a topic exchange (fanout: a warning).

        AMQP has no call that reports an exchange's type; a declare as a topic exchange on a
        channel of its own either matches, or is refused naming the type it has. A refusal
        for another reason (durability, permissions) says nothing about the type.
        """
        with self._guard(f"checking {named}"):
            assert self._connection is not None
            checker = self._connection.channel()
            checker.exchange_declare(exchange, passive=True)
            checker.close()
        current = self._exchange_type_other_than_topic(exchange)
        if current == "fanout":
            log.warning("%s is a fanout exchange: every queue bound to it gets every result, "
                        "whatever its routing key", named)
        elif current is not None:
            raise BrokerRefused(f"{named} is a {current} exchange: results need a "
                                "topic exchange (routing key pv.results.<METER_ID>), such as "
                                "amq.topic")

    def _exchange_type_other_than_topic(self, exchange: str) -> str | None:
        assert self._connection is not None
        try:
            with blocking_wait(f"checking the type of exchange {exchange!r}"):
                checker = self._connection.channel()
                checker.exchange_declare(exchange, exchange_type="topic", durable=True)
                checker.close()
        except pex.ChannelClosedByBroker as exc:
            match = _CURRENT_TYPE.search(exc.reply_text or "")
            return match.group(1) if match else None
        except (pex.AMQPError, OSError) as exc:
            raise ConnectionLost(f"connection to {self.url} lost (checking exchange "
                                 f"{exchange!r}): {_describe(exc)}") from None
        except NoAnswer:
            raise ConnectionLost(f"broker at {self.url} gave no answer (checking exchange "
                                 f"{exchange!r})") from None
        return None

    def publish_results(self, exchange: str, messages: Sequence[ResultMessage]) -> None:
        channel = self._results_channel
        if channel is None or not channel.is_open:
            raise ConnectionLost(f"results channel to {self.url} is not open")
        with self._guard("publishing results"):
            publish = pika_internals.publish_nowait(channel)
            for message in messages:
                publish(exchange, message.routing_key, message.body,
                        BasicProperties(content_type="application/json",
                                        delivery_mode=pika.DeliveryMode.Persistent,
                                        message_id=message.message_id))
            nacked = self._results_confirms.wait(channel, len(messages))
        if nacked:
            raise BrokerRefused(f"broker at {self.url} refused {nacked} result(s) on exchange "
                                f"{exchange!r} (negative confirm)")


class PublisherConfirms:
    """Publisher confirms of one channel, awaited a batch at a time.

    pika's BlockingChannel.confirm_delivery makes every basic_publish wait for its own
    confirm, a round trip per message. The channel beneath confirms asynchronously, so a
    batch is published at once and its confirms are awaited together. Delivery tags count
    the channel's publishes from 1; a multiple confirm covers every tag up to its own.
    """

    def __init__(self) -> None:
        self._published = 0
        self._confirmed_below = 1
        self._single: set[int] = set()
        self._nacked = 0

    @classmethod
    def select(cls, channel: BlockingChannel) -> PublisherConfirms:
        """Put ``channel`` in confirm mode, waiting for the broker's answer."""
        confirms = cls()
        pika_internals.select_confirms(channel, confirms.on_confirm)
        return confirms

    def published(self, count: int) -> None:
        """``count`` more messages went out on the channel."""
        self._published += count

    @property
    def outstanding(self) -> int:
        """Messages published and not yet confirmed either way."""
        return self._published - (self._confirmed_below - 1) - len(self._single)

    def take_nacked(self) -> int:
        """Negative confirms since the last call."""
        nacked, self._nacked = self._nacked, 0
        return nacked

    def wait(self, channel: BlockingChannel, count: int) -> int:
        """Flush the ``count`` messages just published and wait for their confirms.

        Returns:
            How many of them the broker refused (negative confirms).
        """
        self.published(count)
        pika_internals.coalesce_output(channel)
        pika_internals.flush_until(channel, lambda: self.outstanding == 0)
        return self.take_nacked()

    def on_confirm(self, frame: pika.frame.Method[Basic.Ack | Basic.Nack]) -> None:
        method = frame.method
        tag = method.delivery_tag
        outstanding = self.outstanding
        if method.multiple:
            self._single = {t for t in self._single if t > tag}
            self._confirmed_below = max(self._confirmed_below, tag + 1)
        else:
            self._single.add(tag)
        while self._confirmed_below in self._single:
            self._single.discard(self._confirmed_below)
            self._confirmed_below += 1
        if isinstance(method, Basic.Nack):
            self._nacked += outstanding - self.outstanding


def _close_quietly(connection: pika.BlockingConnection) -> None:
    try:
        if connection.is_open:
            connection.close()
    except (pex.AMQPError, OSError, AssertionError):
        pass


def _certificate_failure(exc: BaseException) -> str | None:
    """Why the broker's certificate failed verification, if that is what ``exc`` is."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError):
            return str(current.verify_message or current.reason or current).rstrip(".")
        inner = current.args[0] if current.args else None
        current = inner if isinstance(inner, BaseException) else current.__cause__
    return None


def _describe(exc: BaseException) -> str:
    """One readable line for a pika or socket error (pika often wraps an empty message)."""
    # pika wraps the socket error: in args (AMQPConnectionError) or .exception (its connector errors).
    inner = exc.args[0] if isinstance(exc, pex.AMQPConnectionError) and exc.args else None
    inner = inner if isinstance(inner, BaseException) else getattr(exc, "exception", None)
    if isinstance(inner, BaseException) and inner is not exc:
        return _describe(inner)
    if isinstance(exc, socket.gaierror):
        return f"host name not resolved ({exc.strerror})"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
