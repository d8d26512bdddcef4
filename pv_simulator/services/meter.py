"""Meter models and the meter service that publishes their readings.

The service takes each tick's readings into a bounded buffer and publishes the
buffer in transactions: a reading leaves the buffer only once the broker has
committed it. While the broker is away the buffer keeps what the clock goes on
producing (in real time the oldest are dropped past the bound; in fast-forward
the simulation waits instead, since its clock owes nothing to the wall's).
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Protocol

from pv_simulator.messaging.rabbitmq import Backoff, Broker, ConnectionLost
from pv_simulator.messaging.wire import ReadingEncoder
from pv_simulator.models.seeds import derive_seed
from pv_simulator.services.clock import SimClock
from pv_simulator.services.stats import StatsLog

log = logging.getLogger(__name__)


class MeterModel(Protocol):
    """A household's consumption over time."""

    def power_w(self, time_s: float) -> float:
        """Consumption in W at epoch seconds ``time_s``; called with non-decreasing times."""
        ...


class RandomWalkModel:
    """Bounded, continuous random consumption over the whole 0..max range.

    An Ornstein-Uhlenbeck process (Uhlenbeck and Ornstein 1930) around the middle of
    the range, reflected at both bounds: each step moves by a normal increment scaled
    with the square root of the elapsed time, so the series has no white-noise jumps
    and its spread over an hour covers the range.

    Args:
        max_power_w: upper bound of the readings.
        seed: same seed and index, same series; None for a fresh one.
        meter_index: which meter of the run, so meters differ.
        reversion_s: time constant of the pull back to the middle.
    """

    def __init__(self, *, max_power_w: float = 9000.0, seed: int | None = None,
                 meter_index: int = 0, reversion_s: float = 1800.0) -> None:
        if not max_power_w > 0:
            raise ValueError(f"max_power_w must be positive, not {max_power_w}")
        self.max_power_w = max_power_w
        self._rng = random.Random(derive_seed(seed, meter_index))
        self._mean_w = max_power_w / 2
        self._theta = 1.0 / reversion_s
        self._sigma = (max_power_w / 4) * math.sqrt(2 * self._theta)
        self._power_w = self._rng.uniform(0.1, 0.9) * max_power_w
        self._time_s: float | None = None

    def power_w(self, time_s: float) -> float:
        if self._time_s is not None:
            dt = max(0.0, time_s - self._time_s)
            step = (self._theta * (self._mean_w - self._power_w) * dt
                    + self._sigma * math.sqrt(dt) * self._rng.gauss(0.0, 1.0))
            self._power_w = _reflect(self._power_w + step, self.max_power_w)
        self._time_s = time_s
        return self._power_w


def _reflect(value: float, high: float) -> float:
    """Fold ``value`` back into 0..high, as a reflecting barrier does."""
    period = 2 * high
    value = math.fmod(value, period)
    if value < 0:
        value += period
    return period - value if value > high else value


class MeterService:
    """Publishes the readings of several meters on their queues, tick by tick.

    Args:
        broker: the connection to publish on (connected by the caller).
        meter_ids: queue names, one per model.
        models: each meter's consumption model.
        clock: when readings are taken.
        buffer_per_meter: readings per meter kept while they cannot be published.
        batch_size: readings per transaction in fast-forward.
        should_stop: polled between steps; True ends the run cleanly.
    """

    def __init__(self, broker: Broker, meter_ids: Sequence[str], models: Sequence[MeterModel],
                 clock: SimClock, buffer_per_meter: int, should_stop: Callable[[], bool],
                 batch_size: int = 2000, stats_interval_s: float = 10.0) -> None:
        self.broker = broker
        self.meters = list(zip(meter_ids, models, [ReadingEncoder(m) for m in meter_ids], strict=True))
        self.clock = clock
        self.capacity = max(1, buffer_per_meter) * len(self.meters)
        self.should_stop = should_stop
        self.batch_size = batch_size
        self.pending: deque[tuple[str, bytes, float]] = deque()
        self.published = 0
        self.dropped = 0
        self._backoff = Backoff(broker.config.retry_delay_s)
        self._retry_at = 0.0
        self._last_drop_log = -math.inf
        self._stats = StatsLog("published", stats_interval_s)

    def declare(self) -> None:
        """Declare every meter's queue (both services do, so either may start first)."""
        for meter_id, _, _ in self.meters:
            self.broker.declare_meter_queue(meter_id)

    def run(self) -> None:
        """Declare the queues, publish until the clock's duration is over or ``should_stop``.

        What is taken but not yet published at the end is published before returning.
        A connection lost at any point, the first declares included, is reconnected.

        Raises:
            FatalBrokerError: the broker refused something retrying cannot fix.
        """
        try:
            self.declare()
        except ConnectionLost as exc:
            self._lost(exc)
        self.clock.begin()
        log.info("clock started: first reading at time_s %.3f, every %g s, speed %s",
                 self.clock.sim_time(0), self.clock.interval_s,
                 self.clock.speed or "as fast as possible")
        tick = 0
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
                if fast and len(self.pending) + len(self.meters) > self.capacity:
                    self._publish()
                    self._wait_for_broker()
                    continue
                self._take(tick)
                tick += 1
            if finished or not fast or len(self.pending) >= self.batch_size:
                self._publish()
            if finished and not self.broker.connected:
                self._wait_for_broker()
            if self._stats.due():
                self._stats.report(self.published, f"buffered {len(self.pending)}, dropped "
                                   f"{self.dropped}, reconnects {self.broker.reconnects}")
        self._publish()
        if self.pending:
            log.warning("stopped with %d reading(s) not yet published", len(self.pending))

    def _take(self, tick: int) -> None:
        time_s = self.clock.sim_time(tick)
        append = self.pending.append
        debug = log.isEnabledFor(logging.DEBUG)
        for meter_id, model, encode in self.meters:
            body = encode(time_s, model.power_w(time_s))
            append((meter_id, body, time_s))
            if debug:
                log.debug("took %s: %s", meter_id, body.decode())
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
        """Publish the buffer in transactions; keep whatever is not committed."""
        if not self.pending or not self._ensure_connected():
            return
        while self.pending:
            count = min(self.batch_size, len(self.pending))
            batch = [self.pending[i] for i in range(count)]
            try:
                self.broker.publish_batch(batch)
            except ConnectionLost as exc:
                self._lost(exc)
                return
            for _ in range(count):
                self.pending.popleft()
            self.published += count

    def _ensure_connected(self) -> bool:
        """Connected, or one reconnect attempt if its backoff delay has passed."""
        if self.broker.connected:
            return True
        if time.monotonic() < self._retry_at:
            return False
        try:
            self.broker.connect_once()
            self.declare()
        except ConnectionLost as exc:
            self._lost(exc)
            return False
        self.broker.reconnects += 1
        self._backoff.reset()
        log.info("reconnected; publishing %d buffered reading(s)", len(self.pending))
        return True

    def _lost(self, exc: ConnectionLost) -> None:
        delay = self._backoff.next_delay_s()
        self._retry_at = time.monotonic() + delay
        log.warning("%s; %d reading(s) buffered, reconnecting in %.1f s",
                    exc, len(self.pending), delay)

    def _idle(self, wait_s: float) -> None:
        """Wait for the next tick, serving heartbeats; reconnect meanwhile if needed."""
        step = min(wait_s, 0.2)
        if self.broker.connected:
            try:
                self.broker.process_events(step)
            except ConnectionLost as exc:
                self._lost(exc)
        else:
            if self.pending:
                self._publish()
            time.sleep(max(0.0, min(step, self._retry_at - time.monotonic(), wait_s)) or 0.01)

    def _wait_for_broker(self) -> None:
        """Fast-forward with a full buffer or at the end: wait until the broker is back."""
        if self.broker.connected:
            return
        time.sleep(max(0.0, min(0.2, self._retry_at - time.monotonic())))
        self._publish()
