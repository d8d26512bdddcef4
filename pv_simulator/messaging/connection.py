"""The one owner of the broker connection's lifecycle: connect, fail over, retry, reconnect.

This is the place to read to know what happens when the broker goes away:

- :meth:`Connection.connect` opens the first session. Each attempt tries every
  configured node in turn; ``connection_attempts`` failed attempts, spaced by
  jittered exponential backoff, end in :class:`BrokerUnavailable`.
- Every time a session opens, the hooks registered with :meth:`Connection.on_connect`
  run on it (declare the meter queues, start consuming). A connection lost while
  they run is retried like any other loss.
- A service that sees :class:`ConnectionLost` calls :meth:`Connection.lost` and
  resets only its own in-flight state. It then either waits in
  :meth:`Connection.ensure` (the PV service; the meter in fast-forward) or calls
  :meth:`Connection.try_connect` between ticks (the meter in real time), which
  attempts a reconnect only once the backoff delay has passed, and never waits.
- Errors retrying cannot fix (:class:`AccessRefused`, :class:`BrokerRefused`) pass through.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from pv_simulator.messaging.port import BrokerUnavailable, ConnectionLost, Connector, Session

log = logging.getLogger(__name__)

StopCheck = Callable[[], bool]


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


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how fast to retry.

    Args:
        connection_attempts: attempts at the first connection before giving up.
        retry_delay_s: the first retry delay's upper bound; later ones grow to ``cap_s``.
        cap_s: the longest delay between two reconnect attempts: once the first retries have
            failed, a broker that is back is found within this (attempts every cap/2..cap s).
    """

    connection_attempts: int = 5
    retry_delay_s: float = 2.0
    cap_s: float = 5.0


class Connection:
    """A connection that stays connected: sessions opened through ``connector``, hooks run on each.

    Args:
        connector: opens a session to one node.
        retry: attempts and delays.
    """

    def __init__(self, connector: Connector, retry: RetryPolicy) -> None:
        self.connector = connector
        self.retry = retry
        #: Sessions opened after the first one, whether or not their hooks completed.
        self.reconnects = 0
        self._opened_before = False
        self._hooks: list[Callable[[Session], None]] = []
        self._session: Session | None = None
        self._backoff = Backoff(retry.retry_delay_s, retry.cap_s)
        self._retry_at = 0.0

    def on_connect(self, hook: Callable[[Session], None]) -> None:
        """Run ``hook`` on every session from now on, the first and each reconnection."""
        self._hooks.append(hook)

    @property
    def connected(self) -> bool:
        return self._session is not None and self._session.is_open

    @property
    def blocked(self) -> bool:
        """The broker blocks the connection (a resource alarm): publishes wait until it lifts."""
        return self._session is not None and self._session.blocked

    @property
    def session(self) -> Session:
        """The open session.

        Raises:
            ConnectionLost: there is none now.
        """
        if self._session is None or not self._session.is_open:
            raise ConnectionLost(f"not connected to {self.connector.nodes[0]}")
        return self._session

    @property
    def retry_in_s(self) -> float:
        """Seconds until :meth:`try_connect` makes its next attempt; 0 when due or connected."""
        return 0.0 if self.connected else max(0.0, self._retry_at - time.monotonic())

    def connect(self, should_stop: StopCheck = lambda: False) -> bool:
        """Open the first session, trying ``connection_attempts`` times with backoff.

        A loss after a node answered (while the hooks run) is retried as a reconnect.

        Returns:
            True once connected; False if ``should_stop`` turned true first.

        Raises:
            BrokerUnavailable: no node answered in any attempt.
            AccessRefused, BrokerRefused: the broker refused the login or a declaration.
        """
        backoff = Backoff(self.retry.retry_delay_s, self.retry.cap_s)
        attempts = self.retry.connection_attempts
        for attempt in range(1, attempts + 1):
            try:
                session = self._open_any_node()
            except ConnectionLost as exc:
                if attempt == attempts:
                    raise BrokerUnavailable(
                        f"no RabbitMQ broker answers at {self.connector.nodes[0]} "
                        f"after {attempts} attempt(s): {exc}") from None
                delay = backoff.next_delay_s()
                log.warning("%s; attempt %d of %d, retrying in %.1f s", exc, attempt, attempts, delay)
                if _wait(delay, should_stop):
                    return False
                continue
            try:
                self._run_hooks(session)
            except ConnectionLost as exc:
                self.lost(exc)
                return self.ensure(should_stop)
            return True
        return False

    def ensure(self, should_stop: StopCheck) -> bool:
        """Connected, reconnecting for as long as it takes.

        Returns:
            True once connected; False when ``should_stop`` turned true first.
        """
        while not self.try_connect():
            if _wait(self.retry_in_s, should_stop):
                return False
        return True

    def try_connect(self) -> bool:
        """Connected already, or one reconnect attempt if its backoff delay has passed; never waits."""
        if self.connected:
            return True
        if time.monotonic() < self._retry_at:
            return False
        try:
            session = self._open_any_node()
            self._run_hooks(session)
        except ConnectionLost as exc:
            self.lost(exc)
            return False
        self._backoff.reset()
        return True

    def lost(self, exc: ConnectionLost, detail: str = "") -> None:
        """The session broke: forget it and schedule the next attempt.

        Args:
            exc: what broke.
            detail: what the service keeps meanwhile, for the log line ("12 reading(s) buffered, ").
        """
        self._drop()
        delay = self._backoff.next_delay_s()
        self._retry_at = time.monotonic() + delay
        log.warning("%s; %sreconnecting in %.1f s", exc, detail, delay)

    def close(self) -> None:
        """Close the session if open; unacknowledged deliveries go back to their queues."""
        self._drop()

    def _open_any_node(self) -> Session:
        """One attempt: each configured node once, in turn, until one answers."""
        self._drop()
        failures = []
        for node in range(len(self.connector.nodes)):
            try:
                session = self.connector.open(node)
            except ConnectionLost as exc:
                failures.append(str(exc))
                continue
            self._session = session
            if self._opened_before:
                self.reconnects += 1
            self._opened_before = True
            return session
        raise ConnectionLost("; ".join(failures))

    def _run_hooks(self, session: Session) -> None:
        try:
            for hook in self._hooks:
                hook(session)
        except BaseException:
            self._drop()
            raise

    def _drop(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            session.close()


def _wait(delay_s: float, should_stop: StopCheck) -> bool:
    """Sleep up to ``delay_s`` in short steps; True if ``should_stop`` turned true."""
    deadline = time.monotonic() + delay_s
    while not should_stop():
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        time.sleep(min(left, 0.1))
    return True
