"""The blocking RabbitMQ connection both services share.

One :class:`Broker` owns one pika ``BlockingConnection`` and one channel:
it connects with bounded, jittered retries, declares each meter's durable
queue with a dead-letter queue beside it, publishes batches inside AMQP
transactions (so a reading counts as published only once the broker has taken
responsibility for it) and consumes with manual acknowledgements.

pika's exceptions never leave this module: callers see
:class:`ConnectionLost` (worth a reconnect), :class:`BrokerUnavailable` (no
broker answered in the configured attempts) or :class:`FatalBrokerError`
(retrying cannot help: wrong credentials, unknown virtual host, a queue that
exists with other arguments).
"""

from __future__ import annotations

import logging
import random
import socket
import ssl
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import pika
import pika.exceptions as pex
from pika.adapters.blocking_connection import BlockingChannel
from pika.spec import Basic, BasicProperties

from pv_simulator.config import BrokerConfig

log = logging.getLogger(__name__)

#: Exit codes shared by both command-line tools.
EXIT_RUNTIME = 1
EXIT_USAGE = 2

DLQ_SUFFIX = ".dlq"


class BrokerError(Exception):
    """A broker problem, with the exit code a command-line tool should end with."""

    exit_code = EXIT_RUNTIME


class ConnectionLost(BrokerError):
    """The connection or channel went away; reconnecting may help."""


class BrokerUnavailable(BrokerError):
    """No broker answered within the configured connection attempts."""


class FatalBrokerError(BrokerError):
    """The broker refused something that retrying cannot fix."""

    def __init__(self, message: str, exit_code: int = EXIT_RUNTIME) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class Delivery:
    """One message taken from a meter's queue, not yet acknowledged."""

    queue: str
    delivery_tag: int
    redelivered: bool
    body: bytes


class Backoff:
    """Exponential backoff with full jitter, so reconnecting clients do not stampede.

    Args:
        base_s: the first delay's upper bound.
        cap_s: the largest delay.
    """

    def __init__(self, base_s: float, cap_s: float = 30.0) -> None:
        self.base_s = max(base_s, 0.05)
        self.cap_s = max(cap_s, self.base_s)
        self.failures = 0

    def next_delay_s(self) -> float:
        """The delay before the next attempt; each call counts one more failure."""
        ceiling = min(self.cap_s, self.base_s * 2 ** min(self.failures, 30))
        self.failures += 1
        return random.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self.failures = 0


#: Deliveries of one message before a quorum queue dead-letters it instead of requeueing
#: it again: a reading that crashes the consumer every time cannot block its queue forever.
QUORUM_DELIVERY_LIMIT = 20


def queue_arguments(meter_id: str, queue_type: str = "classic") -> dict[str, str | int]:
    """Arguments of a meter's work queue: rejected readings go to ``<meter_id>.dlq``.

    Both services declare the queue with exactly these, so either may start first.
    """
    arguments: dict[str, str | int] = {"x-dead-letter-exchange": "",
                                       "x-dead-letter-routing-key": meter_id + DLQ_SUFFIX}
    if queue_type == "quorum":
        arguments["x-queue-type"] = "quorum"
        arguments["x-delivery-limit"] = QUORUM_DELIVERY_LIMIT
    return arguments


def dead_letter_arguments(queue_type: str = "classic") -> dict[str, str]:
    return {"x-queue-type": "quorum"} if queue_type == "quorum" else {}


class Broker:
    """One blocking connection and channel to RabbitMQ, and its lifecycle.

    Args:
        config: where the broker is and how to log in.
        client_name: shown as the connection name in RabbitMQ's tools.
    """

    def __init__(self, config: BrokerConfig, client_name: str) -> None:
        self.config = config
        self.client_name = client_name
        self._connection: pika.BlockingConnection | None = None
        self._channel: BlockingChannel | None = None
        self._returned: list[bytes] = []
        self._transactional = False
        self.reconnects = 0

    @property
    def connected(self) -> bool:
        return (self._connection is not None and self._connection.is_open
                and self._channel is not None and self._channel.is_open)

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
                raise FatalBrokerError(f"[broker] cert_file {tls.cert_file} / key_file "
                                       f"{tls.key_file}: cannot load: {_describe(exc)}",
                                       EXIT_USAGE) from None
        return pika.SSLOptions(context, server_hostname=tls.server_hostname or host)

    def connect_once(self) -> None:
        """Open the connection and a channel, trying each configured node once, in turn.

        Raises:
            ConnectionLost: no node answered, or the attempt broke off.
            FatalBrokerError: the broker refused the credentials or the virtual host, or
                its TLS certificate does not verify.
        """
        self.close()
        failures = []
        connection = None
        for host, port in self.config.hosts:
            try:
                connection = self._open(host, port)
                break
            except ConnectionLost as exc:
                failures.append(str(exc))
        if connection is None:
            raise ConnectionLost("; ".join(failures))
        c = self.config
        try:
            channel = connection.channel()
            channel.add_on_return_callback(self._on_return)
        except (pex.AMQPError, OSError) as exc:
            _close_quietly(connection)
            raise ConnectionLost(f"connection to {c.url()} lost while opening: {_describe(exc)}") from None
        self._connection, self._channel = connection, channel
        self._transactional = False
        log.info("connected to %s", c.url(host, port))

    def _open(self, host: str, port: int) -> pika.BlockingConnection:
        c = self.config
        url = c.url(host, port)
        try:
            return pika.BlockingConnection(self._parameters(host, port))
        except (pex.ProbableAuthenticationError, pex.AuthenticationError):
            raise FatalBrokerError(
                f"broker at {url} refused the login of user {c.username!r}: "
                "check [broker] username and password", EXIT_USAGE) from None
        except pex.ProbableAccessDeniedError:
            raise FatalBrokerError(
                f"broker at {url} refused virtual host {c.virtual_host!r}: it does not "
                f"exist or user {c.username!r} may not use it (check [broker] virtual_host)",
                EXIT_USAGE) from None
        except pex.ConnectionClosedByBroker as exc:
            raise self._fatal_or_lost(exc.reply_code, exc.reply_text) from None
        except (pex.AMQPConnectionError, OSError) as exc:
            verify = _certificate_failure(exc)
            if verify:
                raise FatalBrokerError(f"TLS to {url}: the broker's certificate was refused: "
                                       f"{verify} (check [broker] ca_file and server_hostname)",
                                       EXIT_USAGE) from None
            text = _describe(exc)
            if "ALERT_BAD_CERTIFICATE" in text or "ALERT_UNKNOWN_CA" in text:
                # The broker refused our client certificate. Under TLS 1.3 the alert often
                # arrives only as an EOF, which stays a retried connection failure.
                raise FatalBrokerError(f"TLS to {url}: the broker refused the client "
                                       f"certificate: {text} (check [broker] cert_file and "
                                       "key_file)", EXIT_USAGE) from None
            raise ConnectionLost(f"cannot connect to {url}: {text}") from None

    def connect(self, should_stop: Callable[[], bool] = lambda: False) -> bool:
        """Connect, trying ``connection_attempts`` times with backoff.

        Returns:
            True once connected; False if ``should_stop`` turned true first.

        Raises:
            BrokerUnavailable: every attempt failed.
            FatalBrokerError: the broker refused the login or virtual host.
        """
        backoff = Backoff(self.config.retry_delay_s)
        attempts = self.config.connection_attempts
        for attempt in range(1, attempts + 1):
            try:
                self.connect_once()
                return True
            except ConnectionLost as exc:
                if attempt == attempts:
                    raise BrokerUnavailable(
                        f"no RabbitMQ broker answers at {self.config.host}:{self.config.port} "
                        f"after {attempts} attempt(s): {exc}") from None
                delay = backoff.next_delay_s()
                log.warning("%s; attempt %d of %d, retrying in %.1f s",
                            exc, attempt, attempts, delay)
                if _wait(delay, should_stop):
                    return False
        return False

    def reconnect(self, should_stop: Callable[[], bool]) -> bool:
        """Reconnect after a loss, retrying with backoff until it works or ``should_stop``.

        Returns:
            True once connected again; False when stopped first.

        Raises:
            FatalBrokerError: the broker now refuses the login or virtual host.
        """
        backoff = Backoff(self.config.retry_delay_s)
        while not should_stop():
            try:
                self.connect_once()
                self.reconnects += 1
                return True
            except ConnectionLost as exc:
                delay = backoff.next_delay_s()
                log.warning("%s; retrying in %.1f s", exc, delay)
                if _wait(delay, should_stop):
                    break
        return False

    def _fatal_or_lost(self, reply_code: int, reply_text: str) -> BrokerError:
        if reply_code in (403, 530):
            return FatalBrokerError(f"broker at {self.config.url()} refused access: "
                                    f"{reply_code} {reply_text}", EXIT_USAGE)
        if reply_code in (404, 405, 406):
            return FatalBrokerError(f"broker at {self.config.url()} refused: "
                                    f"{reply_code} {reply_text}")
        return ConnectionLost(f"broker at {self.config.url()} closed the connection: "
                              f"{reply_code} {reply_text}")

    @contextmanager
    def _guard(self, doing: str) -> Iterator[BlockingChannel]:
        """Run a channel operation, turning pika's errors into this module's."""
        if not self.connected:
            raise ConnectionLost(f"not connected to {self.config.url()} ({doing})")
        assert self._channel is not None
        try:
            yield self._channel
        except (pex.ChannelClosedByBroker, pex.ConnectionClosedByBroker) as exc:
            self._drop()
            raise self._fatal_or_lost(exc.reply_code, f"{exc.reply_text} ({doing})") from None
        except (pex.AMQPError, OSError, AssertionError) as exc:
            self._drop()
            raise ConnectionLost(f"connection to {self.config.url()} lost ({doing}): "
                                 f"{_describe(exc)}") from None

    def declare_meter_queue(self, meter_id: str) -> None:
        """Declare ``meter_id``'s durable queue and its dead-letter queue ``<meter_id>.dlq``.

        Raises:
            FatalBrokerError: a queue of that name exists with other arguments.
            ConnectionLost: the connection went away.
        """
        queue_type = self.config.queue_type
        with self._guard(f"declaring queue {meter_id!r}") as channel:
            channel.queue_declare(meter_id + DLQ_SUFFIX, durable=True,
                                  arguments=dead_letter_arguments(queue_type))
            channel.queue_declare(meter_id, durable=True,
                                  arguments=queue_arguments(meter_id, queue_type))

    def queue_depth(self, queue: str) -> int:
        """Messages ready in an existing queue.

        Raises:
            ConnectionLost: the connection went away.
            FatalBrokerError: the queue does not exist.
        """
        with self._guard(f"checking queue {queue!r}") as channel:
            return int(channel.queue_declare(queue, passive=True).method.message_count)

    def publish_batch(self, messages: Sequence[tuple[str, bytes, float]]) -> None:
        """Publish persistent JSON messages in one transaction; return once the broker holds them.

        Args:
            messages: (routing key, body, epoch seconds) per message, on the default exchange.

        Raises:
            ConnectionLost: the connection went away before the commit was confirmed;
                none of the batch counts as published (some may still arrive).
            FatalBrokerError: a message was unroutable (its queue is gone).
        """
        with self._guard("publishing") as channel:
            if not self._transactional:
                # Only publishers use transactions: on a consuming channel they would
                # hold back every acknowledgement until a commit.
                channel.tx_select()
                self._transactional = True
            self._returned.clear()
            for routing_key, body, time_s in messages:
                channel.basic_publish(
                    exchange="",
                    routing_key=routing_key,
                    body=body,
                    properties=BasicProperties(content_type="application/json",
                                               delivery_mode=pika.DeliveryMode.Persistent,
                                               timestamp=int(time_s)),
                    mandatory=True,
                )
            channel.tx_commit()
            assert self._connection is not None
            self._connection.process_data_events(0)
        if self._returned:
            raise FatalBrokerError(f"broker at {self.config.url()} could not route "
                                   f"{len(self._returned)} reading(s): its queue was deleted")

    def _on_return(self, _channel: BlockingChannel, _method: Basic.Return,
                   _properties: BasicProperties, body: bytes) -> None:
        self._returned.append(body)

    def consume(self, queues: Sequence[str], on_delivery: Callable[[Delivery], None],
                prefetch: int) -> None:
        """Start consuming ``queues`` with manual acknowledgement and bounded prefetch.

        Raises:
            ConnectionLost: the connection went away.
            FatalBrokerError: a queue is missing or refused.
        """
        def callback(queue: str) -> Callable[..., None]:
            def deliver(_ch: BlockingChannel, method: Basic.Deliver,
                        _props: BasicProperties, body: bytes) -> None:
                on_delivery(Delivery(queue, method.delivery_tag, bool(method.redelivered), body))
            return deliver

        with self._guard("starting consumers") as channel:
            channel.basic_qos(prefetch_count=prefetch)
            for queue in queues:
                channel.basic_consume(queue, callback(queue), auto_ack=False)

    def cancel_consumers(self) -> None:
        """Stop taking deliveries; what was delivered stays to be acknowledged."""
        with self._guard("cancelling consumers") as channel:
            for tag in list(channel.consumer_tags):
                channel.basic_cancel(tag)

    def process_events(self, time_limit_s: float) -> None:
        """Serve heartbeats and dispatch deliveries for at most about ``time_limit_s``.

        Raises:
            ConnectionLost: the connection went away.
        """
        with self._guard("waiting for deliveries"):
            assert self._connection is not None
            self._connection.process_data_events(time_limit=time_limit_s)

    def ack(self, delivery_tag: int, multiple: bool = False) -> None:
        with self._guard("acknowledging") as channel:
            channel.basic_ack(delivery_tag, multiple=multiple)

    def reject(self, delivery_tag: int) -> None:
        """Reject without requeue: the broker dead-letters the message."""
        with self._guard("rejecting") as channel:
            channel.basic_nack(delivery_tag, multiple=False, requeue=False)

    def _drop(self) -> None:
        """Forget a broken connection, closing what can still be closed."""
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None:
            _close_quietly(connection)

    def close(self) -> None:
        """Close the connection if open; unacknowledged deliveries go back to their queues."""
        self._drop()


def _close_quietly(connection: pika.BlockingConnection) -> None:
    try:
        if connection.is_open:
            connection.close()
    except (pex.AMQPError, OSError, AssertionError):
        pass


def _wait(delay_s: float, should_stop: Callable[[], bool]) -> bool:
    """Sleep up to ``delay_s`` in short steps; True if ``should_stop`` turned true."""
    deadline = time.monotonic() + delay_s
    while not should_stop():
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        time.sleep(min(left, 0.1))
    return True


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
    if isinstance(exc, pex.AMQPConnectionError) and exc.args:
        inner = exc.args[0]
        if isinstance(inner, BaseException):
            return _describe(inner)
    if isinstance(exc, socket.gaierror):
        return f"host name not resolved ({exc.strerror})"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
