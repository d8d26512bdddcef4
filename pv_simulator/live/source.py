"""Where the live view's results come from: a subscription on the messaging layer, in a thread.

The :class:`~pv_simulator.messaging.connection.Connection` owns connecting, failover and
reconnecting, as for the services; this module only says what the page shows about it.
The subscription is an exclusive, auto-deleted, server-named queue bound to
``pv.results.#`` (:meth:`Session.subscribe`): the view sees every result from the moment
it connects, takes nothing away from other consumers, and leaves nothing behind. A view
that misses results while reconnecting loses nothing that matters.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from pv_simulator.messaging.connection import Connection, RetryPolicy
from pv_simulator.messaging.port import (
    AccessRefused,
    BrokerError,
    BrokerRefused,
    BrokerUnavailable,
    ConnectionLost,
    Connector,
    Session,
)

log = logging.getLogger(__name__)

ROUTING_KEY = "pv.results.#"

#: The longest wait between two reconnection attempts once the broker went away (jittered).
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
    """Hand each published result's body to ``on_body``, reconnecting for as long as it runs.

    Args:
        connector: opens sessions to the broker's nodes.
        retry: the first connection's attempts and delays.
        exchange: the topic exchange the PV service publishes its results to.
        on_body: called in the source's thread for each message body.
        on_failure: called in the source's thread when it gives up (see :attr:`failure`).
    """

    def __init__(self, connector: Connector, retry: RetryPolicy, exchange: str,
                 on_body: Callable[[bytes], None],
                 on_failure: Callable[[], None] = lambda: None) -> None:
        self.exchange = exchange
        self.on_body = on_body
        self.on_failure = on_failure
        self._connection = Connection(connector, RetryPolicy(
            retry.connection_attempts, retry.retry_delay_s, cap_s=RETRY_MAX_S))
        self._connection.on_connect(self._subscribe)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._status = LinkStatus("connecting", "", time.time())
        self._failure: str | None = None
        self._node_answered = False

    @property
    def status(self) -> LinkStatus:
        with self._lock:
            return self._status

    def _set_status(self, state: str, reason: str = "") -> None:
        with self._lock:
            if (state, reason) != (self._status.state, self._status.reason):
                self._status = LinkStatus(state, reason, time.time())

    @property
    def failure(self) -> str | None:
        """Why the source gave up for good (the exchange is missing), if it did."""
        with self._lock:
            return self._failure

    def _subscribe(self, session: Session) -> None:
        self._node_answered = True
        try:
            session.subscribe(self.exchange, ROUTING_KEY, lambda _key, body: self.on_body(body))
        except AccessRefused:
            raise
        except BrokerRefused as exc:
            # The exchange is never declared, by the PV service or here: a missing one is a
            # configuration error, for the view as for the service.
            self._set_status("away", str(exc))
            raise
        self._set_status("connected", f"exchange {self.exchange}")
        log.info("consuming %s from exchange %s", ROUTING_KEY, self.exchange)

    def connect_first(self) -> None:
        """Connect in the caller's thread, so a wrong login or exchange fails the command at once.

        A broker that does not answer is no failure: the page is served with its "broker away"
        banner, and the source keeps trying in the background.

        Raises:
            SourceError: the broker refused the login or virtual host (exit 2), or has no such
                exchange (exit 1, as the PV service).
        """
        try:
            self._connection.connect(lambda: self._node_answered)
        except AccessRefused as exc:
            raise SourceError(str(exc), 2) from None
        except BrokerRefused as exc:
            raise SourceError(str(exc), 1) from None
        except BrokerUnavailable as exc:
            self._set_status("away", str(exc))
            log.warning("%s; serving the page and retrying", exc)

    def start(self) -> None:
        """Consume in a daemon thread until :meth:`stop`."""
        self._thread = threading.Thread(target=self._run, name="pv-live-source", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._connection.close()

    def _run(self) -> None:
        connection = self._connection
        while not self._stop.is_set():
            try:
                try:
                    connection.session.process_events(0.5)  # ConnectionLost when there is none
                except ConnectionLost as exc:
                    self._set_status("away", f"connection lost: {exc}")
                    connection.lost(exc)
                    connection.ensure(self._stop.is_set)
            except AccessRefused as exc:
                # Refused now (permissions taken away, say): the view waits for them back.
                self._set_status("away", str(exc))
                self._stop.wait(random.uniform(RETRY_MAX_S / 2, RETRY_MAX_S))
            except BrokerRefused as exc:
                with self._lock:
                    self._failure = str(exc)
                self._stop.set()
                self.on_failure()
            except BrokerError as exc:
                self._set_status("away", str(exc))
                self._stop.wait(random.uniform(RETRY_MAX_S / 2, RETRY_MAX_S))
