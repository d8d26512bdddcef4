"""The meter service: publishes its meters' readings, tick by tick.

The service takes each tick's readings into a bounded buffer and publishes the
buffer in batches: a reading leaves the buffer only once the broker has
confirmed it. While the broker is away the buffer keeps what the clock goes on
producing. In real time (``--speed 1``) the oldest are dropped past the bound,
since the wall clock does not wait; at any other speed the simulated clock is
ours, so once the buffer is full it pauses until the broker is back and nothing
is dropped.
Reconnecting is the :class:`Connection`'s; the service only keeps its buffer.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import islice

from pv_simulator.messaging.connection import Connection
from pv_simulator.messaging.port import QUEUE_PER_METER, ConnectionLost, Layout, Message, Session
from pv_simulator.messaging.wire import ReadingEncoder, pack
from pv_simulator.models.random_walk import MeterModel
from pv_simulator.services.clock import SimClock
from pv_simulator.services.stats import StatsLog

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MeterResult:
    """What a meter run did, for the exit summary and for tests."""

    published: int
    dropped: int
    buffered: int
    reconnects: int


class MeterService:
    """Publishes the readings of several meters on their queues, tick by tick.

    Args:
        connection: the broker connection; the service connects it in :meth:`run`.
        meter_ids: the meters, one per model.
        models: each meter's consumption model.
        clock: when readings are taken.
        buffer_per_meter: readings per meter kept while they cannot be published.
        should_stop: polled between steps; True ends the run cleanly.
        batch_size: readings per batch in fast-forward.
        stats_interval_s: seconds between stats lines; 0 for none.
        layout: which queue each meter's readings go to.
        after_publish: called after each batch the broker took; the embedded pipeline
            (:mod:`pv_simulator.dataset`) writes the batch's rows there, so the broker holds one
            batch at most.
        readings_per_message: readings of one queue packed into one message (``[broker]
            readings_per_message``, :func:`wire.pack`); a batch's messages are confirmed together.
    """

    def __init__(self, connection: Connection, meter_ids: Sequence[str], models: Sequence[MeterModel],
                 clock: SimClock, buffer_per_meter: int, should_stop: Callable[[], bool],
                 batch_size: int = 2000, stats_interval_s: float = 10.0,
                 layout: Layout = QUEUE_PER_METER,
                 after_publish: Callable[[], None] | None = None,
                 readings_per_message: int = 1) -> None:
        self.connection = connection
        self.readings_per_message = readings_per_message
        self.after_publish = after_publish
        self.layout = layout
        self.meter_ids = list(meter_ids)
        self.meters = list(zip([layout.queue_of(m) for m in meter_ids], models,
                               [ReadingEncoder(m) for m in meter_ids], strict=True))
        self.clock = clock
        self.capacity = max(1, buffer_per_meter) * len(self.meters)
        if not clock.real_time:
            # Off real time a full buffer pauses the clock until it is published, so the
            # buffer must hold a whole batch: a year at 60 s (buffer_s 3,600: 60
            # readings) was published 60 readings at a time, 8,760 batches instead of 263.
            self.capacity = max(self.capacity, batch_size)
        self.should_stop = should_stop
        self.batch_size = batch_size
        self.pending: deque[Message] = deque()
        self.published = 0
        self.dropped = 0
        self._connected_before = False
        self._last_drop_log = -math.inf
        self._stats = StatsLog("published", stats_interval_s)
        connection.on_connect(self._declare)

    def result(self) -> MeterResult:
        return MeterResult(self.published, self.dropped, len(self.pending), self.connection.reconnects)

    def _declare(self, session: Session) -> None:
        """Declare the meters' queues (both services do, so either may start first)."""
        session.declare_meter_queues(self.layout.queues_for(self.meter_ids))
        if self._connected_before:
            log.info("reconnected; publishing %d buffered reading(s)", len(self.pending))
        self._connected_before = True

    def run(self, first_tick: int = 0) -> None:
        """Connect, publish until the clock's duration is over or ``should_stop``.

        What is taken but not yet published at the end is published before returning.
        ``first_tick``: publish from this tick on; the models still step through the ticks
        before it, so a resumed run's readings are those of an uninterrupted one.

        Raises:
            BrokerUnavailable: no broker answered the first connection attempts.
            BrokerRefused: the broker refused something retrying cannot fix.
        """
        if not self.connection.connect(self.should_stop):
            return
        first_s = self.clock.sim_time(0)
        for _, model, _ in self.meters:
            model.prepare(first_s)
        self._replay(first_tick)
        self.clock.begin()
        log.info("clock started: first reading at time_s %.3f, every %g s, speed %s",
                 self.clock.sim_time(0), self.clock.interval_s,
                 self.clock.speed or "as fast as possible")
        tick = first_tick
        fast = self.clock.speed == 0
        while not self.should_stop():
            finished = self.clock.finished(tick)
            if finished and not self.pending:
                break
            if not finished:
                wait_s = self.clock.wait_s(tick)
                if wait_s > 0:
                    self._idle(wait_s)
                    continue
                if not self.clock.real_time and len(self.pending) + len(self.meters) > self.capacity:
                    # The simulated clock is ours: pause it rather than drop a reading.
                    waited_s = self._wait_for_broker()
                    if not fast:
                        self.clock.delay(waited_s)
                    continue
                self.take(tick)
                tick += 1
            if finished or not fast or len(self.pending) >= self.batch_size:
                self._publish()
            if finished and not self.connection.connected:
                self._wait_for_broker()
            if self._stats.due():
                self._stats.report(self.published, f"buffered {len(self.pending)}, dropped "
                                   f"{self.dropped}, reconnects {self.connection.reconnects}, "
                                   f"blocked {'yes' if self.connection.blocked else 'no'}")
        self._publish()
        if self.pending:
            log.warning("stopped with %d reading(s) not yet published", len(self.pending))

    def _replay(self, ticks: int) -> None:
        """Step every model through the first ``ticks`` ticks without publishing them."""
        if ticks > 0:
            log.info("resuming at tick %d: stepping the models through the ticks before it", ticks)
        for tick in range(ticks):
            time_s = self.clock.sim_time(tick)
            for _, model, _ in self.meters:
                model.power_w(time_s)

    def take(self, tick: int) -> None:
        """Take every meter's reading of ``tick`` into the buffer, dropping the oldest past its bound."""
        time_s = self.clock.sim_time(tick)
        append = self.pending.append
        debug = log.isEnabledFor(logging.DEBUG)
        for queue, model, encode in self.meters:
            body = encode(time_s, model.power_w(time_s))
            append((queue, body, time_s))
            if debug:
                log.debug("took %s: %s", queue, body.decode())
        overflow = len(self.pending) - self.capacity
        if overflow > 0:
            for _ in range(overflow):
                self.pending.popleft()
            self.dropped += overflow
            now = time.monotonic()
            if now - self._last_drop_log >= 10:
                self._last_drop_log = now
                log.warning("buffer full while the broker is away: dropped the oldest readings "
                            "(%d so far)", self.dropped)

    def _publish(self) -> None:
        """Publish the buffer in batches; keep whatever the broker has not confirmed."""
        if not self.pending or not self.connection.try_connect():
            return
        while self.pending:
            count = min(self.batch_size, len(self.pending))
            batch = list(islice(self.pending, count))  # a deque's index walks its blocks
            try:
                self.connection.session.publish_batch(pack(batch, self.readings_per_message))
            except ConnectionLost as exc:
                self.connection.lost(exc, f"{len(self.pending)} reading(s) buffered, ")
                return
            for _ in range(count):
                self.pending.popleft()
            self.published += count
            if self.after_publish is not None:
                self.after_publish()

    def _idle(self, wait_s: float) -> None:
        """Wait for the next tick, serving heartbeats; reconnect meanwhile if needed."""
        step = min(wait_s, 0.2)
        if self.connection.connected:
            try:
                self.connection.session.process_events(step)
            except ConnectionLost as exc:
                self.connection.lost(exc, f"{len(self.pending)} reading(s) buffered, ")
        else:
            if self.pending:
                self._publish()
            time.sleep(max(0.0, min(step, self.connection.retry_in_s, wait_s)) or 0.01)

    def _wait_for_broker(self) -> float:
        """A full buffer off real time, or the end: publish, or wait a step for the broker.

        Returns:
            The wall seconds spent.
        """
        started = time.monotonic()
        self._publish()
        if not self.connection.connected:
            time.sleep(min(0.2, self.connection.retry_in_s))
            self._publish()
        return time.monotonic() - started
