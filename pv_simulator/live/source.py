"""Where the live view's readings come from: a pika consumer in a thread of its own.

Kept to this one module so it can later move onto the project's messaging
layer. The consumer has its own exclusive, auto-deleted, server-named queue
bound to ``pv.results.#``: the view sees every result from the moment it
connects, takes nothing away from other consumers, and leaves nothing behind.
Deliveries are auto-acknowledged, since a live view that misses a reading while
reconnecting loses nothing that matters.
"""

from __future__ import annotations

import logging
import random
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import pika
import pika.exceptions as pex
from pika.adapters.blocking_connection import BlockingChannel
from pika.spec import Basic, BasicProperties

from pv_simulator.config import BrokerConfig

log = logging.getLogger(__name__)

ROUTING_KEY = "pv.results.#"

#: Seconds between reconnection attempts once the broker went away (jittered).
RETRY_MIN_S = 1.0
RETRY_MAX_S = 5.0


class SourceError(Exception):
    """The first connection failed; ``exit_code`` 2 when retrying cannot help (login, vhost)."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class LinkStatus:
    """What the page shows about the broker: connected, or away and why, since when (epoch s)."""

    state: str
    reason: str
    since: float


class ResultsSource:
    """Consume PV results and hand each body to ``on_body``, reconnecting for as long as it runs.

    Args:
        config: the broker to reach.
        exchange: the topic exchange the PV service publishes its results to.
        on_body: called in the consumer thread for each message body.
    """

    def __init__(self, config: BrokerConfig, exchange: str, on_body: Callable[[bytes], None]) -> None:
        self.config = config
        self.exchange = exchange
        self.on_body = on_body
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._connection: pika.BlockingConnection | None = None
        self._lock = threading.Lock()
        self._status = LinkStatus("connecting", "", time.time())

    @property
    def status(self) -> LinkStatus:
        with self._lock:
            return self._status

    def _set_status(self, state: str, reason: str = "") -> None:
        with self._lock:
            if (state, reason) != (self._status.state, self._status.reason):
                self._status = LinkStatus(state, reason, time.time())

    def connect_first(self) -> None:
        """Connect in the caller's thread, so a wrong address or login fails the command at once.

        Tries every configured node ``connection_attempts`` times, ``retry_delay`` apart.

        Raises:
            SourceError: no node took the connection.
        """
        attempts = self.config.connection_attempts
        for attempt in range(1, attempts + 1):
            try:
                self._open()
                return
            except _Refused as exc:
                raise SourceError(str(exc), 2) from None
            except _Away as exc:
                if exc.reachable:
                    # The broker took the login but not the binding (an exchange the PV
                    # service has not declared yet): keep retrying in the background.
                    log.warning("%s; retrying", exc)
                    self._set_status("away", str(exc))
                    return
                if attempt == attempts:
                    raise SourceError(str(exc), 1) from None
                log.warning("%s; retrying in %g s", exc, self.config.retry_delay_s)
                time.sleep(self.config.retry_delay_s)

    def start(self) -> None:
        """Consume in a daemon thread until :meth:`stop`."""
        self._thread = threading.Thread(target=self._run, name="pv-live-source", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _open(self) -> None:
        """Connect to the first node that answers, declare and bind the queue, start consuming."""
        failures = []
        reachable = False
        for host, port in self.config.hosts:
            parameters = self._parameters(host, port)
            try:
                connection = pika.BlockingConnection(parameters)
            except (pex.ProbableAuthenticationError, pex.ProbableAccessDeniedError) as exc:
                raise _Refused(f"{self.config.url(host, port)}: {_describe(exc)}") from None
            except (pex.AMQPError, OSError) as exc:
                failures.append(f"{self.config.url(host, port)}: {_describe(exc)}")
                continue
            try:
                channel = connection.channel()
                queue = channel.queue_declare("", exclusive=True, auto_delete=True).method.queue
                channel.queue_bind(queue, self.exchange, routing_key=ROUTING_KEY)
                channel.basic_consume(queue, self._deliver, auto_ack=True)
            except (pex.AMQPError, OSError) as exc:
                _close_quietly(connection)
                failures.append(f"{self.config.url(host, port)}: {_describe(exc)}")
                reachable = True
                continue
            self._connection = connection
            self._set_status("connected", f"{self.config.url(host, port)}, exchange {self.exchange}")
            log.info("consuming %s from exchange %s at %s", ROUTING_KEY, self.exchange,
                     self.config.url(host, port))
            return
        raise _Away("; ".join(failures), reachable)

    def _parameters(self, host: str, port: int) -> pika.ConnectionParameters:
        c = self.config
        ssl_options = None
        if c.tls is not None:
            context = ssl.create_default_context(cafile=str(c.tls.ca_file) if c.tls.ca_file else None)
            if c.tls.cert_file and c.tls.key_file:
                try:
                    context.load_cert_chain(str(c.tls.cert_file), str(c.tls.key_file))
                except (ssl.SSLError, OSError) as exc:
                    raise _Refused(f"[broker] cert_file {c.tls.cert_file} / key_file {c.tls.key_file}: "
                                   f"cannot load: {_describe(exc)}") from None
            ssl_options = pika.SSLOptions(context, server_hostname=c.tls.server_hostname or host)
        return pika.ConnectionParameters(
            host=host, port=port, virtual_host=c.virtual_host,
            credentials=pika.PlainCredentials(c.username, c.password),
            heartbeat=c.heartbeat_s, connection_attempts=1, socket_timeout=5, stack_timeout=15,
            ssl_options=ssl_options, client_properties={"connection_name": "pv-live"})

    def _deliver(self, _channel: BlockingChannel, _method: Basic.Deliver,
                 _properties: BasicProperties, body: bytes) -> None:
        self.on_body(body)

    def _run(self) -> None:
        while not self._stop.is_set():
            if self._connection is None:
                try:
                    self._open()
                except (_Away, _Refused) as exc:
                    self._set_status("away", str(exc))
                    self._stop.wait(random.uniform(RETRY_MIN_S, RETRY_MAX_S))
                    continue
            try:
                assert self._connection is not None
                self._connection.process_data_events(time_limit=0.5)
            except (pex.AMQPError, OSError) as exc:
                reason = f"connection lost: {_describe(exc)}"
                log.warning("%s; reconnecting", reason)
                self._set_status("away", reason)
                self._drop()
                self._stop.wait(random.uniform(RETRY_MIN_S, RETRY_MAX_S))
        self._drop()

    def _drop(self) -> None:
        if self._connection is not None:
            _close_quietly(self._connection)
            self._connection = None


class _Away(Exception):
    """No node took the connection now; a later attempt may succeed.

    ``reachable``: a node took the login but refused the queue or its binding.
    """

    def __init__(self, message: str, reachable: bool = False) -> None:
        super().__init__(message)
        self.reachable = reachable


class _Refused(Exception):
    """The broker refused the login or the virtual host."""


def _close_quietly(connection: pika.BlockingConnection) -> None:
    try:
        if connection.is_open:
            connection.close()
    except (pex.AMQPError, OSError, AssertionError):
        pass


def _describe(exc: BaseException) -> str:
    """One readable line for a pika or socket error (pika often wraps an empty message)."""
    if isinstance(exc, pex.ConnectionClosedByBroker | pex.ChannelClosedByBroker):
        return f"closed by the broker: {exc.reply_code} {exc.reply_text}"
    if isinstance(exc, pex.ProbableAuthenticationError):
        return "login refused (check username and password)"
    if isinstance(exc, pex.ProbableAccessDeniedError):
        return "access to the virtual host refused (does it exist, may the user use it?)"
    if isinstance(exc, socket.gaierror):
        return f"host name not resolved ({exc.strerror})"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    # pika wraps the socket error: in args (AMQPConnectionError) or .exception (its connector errors).
    inner = exc.args[0] if exc.args else getattr(exc, "exception", None)
    if isinstance(inner, BaseException):
        return _describe(inner)
    return (str(exc).strip() or type(exc).__name__).splitlines()[0]
