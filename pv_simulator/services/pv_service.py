"""The PV service: consumes meter readings, adds the PV plant's power, writes rows.

Deliveries are gathered into a batch; the batch's rows are written and flushed
(fsynced, by default) and only then acknowledged, with one ``multiple`` ack.
A crash anywhere before that ack returns the readings to their queues, and the
writer skips on redelivery what it had already written, so every reading ends
up exactly once in its file. Readings that fail :func:`reading.decode` are
rejected without requeue, which dead-letters them to ``<METER_ID>.dlq``.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from pv_simulator.messaging.rabbitmq import Broker, ConnectionLost, Delivery
from pv_simulator.messaging.wire import BadReading, decode
from pv_simulator.services.stats import StatsLog
from pv_simulator.storage.csv_store import CsvOutput

if TYPE_CHECKING:
    from pv_simulator.models.pv_plant import PvModel

log = logging.getLogger(__name__)


#: Above this many meters the stats line does not ask the broker for every queue's depth.
STATS_BACKLOG_QUEUES = 100


def prefetch_for(queue_count: int) -> int:
    """Per-consumer prefetch: deep for a few busy queues, shallow for thousands of meters."""
    return max(10, min(2000, 50_000 // max(1, queue_count)))


class RejectLog:
    """Logs rejected readings with their reason, at most one line per interval after the first few."""

    def __init__(self, first: int = 10, interval_s: float = 10.0) -> None:
        self.first = first
        self.interval_s = interval_s
        self.counts: Counter[str] = Counter()
        self._since_log = 0
        self._last_log = -float("inf")

    def rejected(self, queue: str, reason: str) -> None:
        self.counts[queue] += 1
        total = sum(self.counts.values())
        now = time.monotonic()
        if total <= self.first or now - self._last_log >= self.interval_s:
            suppressed = f" ({self._since_log} more since the last line)" if self._since_log else ""
            log.warning("rejected a message on %s, dead-lettered to %s.dlq: %s%s",
                        queue, queue, reason, suppressed)
            self._last_log = now
            self._since_log = 0
        else:
            self._since_log += 1


class PvService:
    """Consumes each meter's queue and appends ``meter + PV`` rows to its dated CSV.

    Args:
        broker: the connection (connected by the caller).
        meter_ids: the meters to serve, one queue each.
        pv_model: the PV plant's power at a reading's time.
        output: the CSV writer.
        max_power_w: readings above this are rejected.
        should_stop: polled between batches; True starts a graceful stop.
        exit_when_idle_s: stop once no reading arrived for this long; None to run until stopped.
        batch_max: deliveries handled per write-flush-ack cycle at most.
        batch_wait_s: how long a partial batch may wait for more deliveries.
    """

    def __init__(self, broker: Broker, meter_ids: Sequence[str], pv_model: PvModel,
                 output: CsvOutput, max_power_w: float, should_stop: Callable[[], bool],
                 exit_when_idle_s: float | None = None, batch_max: int = 1000,
                 batch_wait_s: float = 0.05, stats_interval_s: float = 10.0) -> None:
        self.broker = broker
        self.meter_ids = list(meter_ids)
        self.pv_model = pv_model
        self.output = output
        self.max_power_w = max_power_w
        self.should_stop = should_stop
        self.exit_when_idle_s = exit_when_idle_s
        self.prefetch = prefetch_for(len(self.meter_ids))
        # Not bounded by the per-queue prefetch: with thousands of queues each holds a
        # few deliveries, and a batch gathers them across queues until full or
        # batch_wait_s has passed.
        self.batch_max = max(1, batch_max)
        self.batch_wait_s = batch_wait_s
        self.rejects = RejectLog()
        self.received = 0
        self._batch: list[Delivery] = []
        self._last_delivery = time.monotonic()
        self._stats = StatsLog("written", stats_interval_s)

    def _start(self) -> None:
        """Declare the meters' queues and start consuming them."""
        for meter_id in self.meter_ids:
            self.broker.declare_meter_queue(meter_id)
        self.broker.consume(self.meter_ids, self._batch.append, self.prefetch)
        self._last_delivery = time.monotonic()

    def _consume(self) -> bool:
        """Start consuming, reconnecting as often as the connection is lost meanwhile.

        Declaring thousands of queues takes seconds, long enough for a broker restart
        to interrupt it, at start as after a reconnect.

        Returns:
            True once consuming; False when stopped first.

        Raises:
            FatalBrokerError: the broker refused something retrying cannot fix.
        """
        while not self.should_stop():
            try:
                self._start()
                return True
            except ConnectionLost as exc:
                self._batch.clear()  # deliveries of the lost channel come again
                log.warning("%s; reconnecting", exc)
            if not self.broker.reconnect(self.should_stop):
                break
        return False

    def run(self) -> None:
        """Consume and serve until stopped or idle; on stop, finish the deliveries in hand.

        Raises:
            FatalBrokerError: the broker refused something retrying cannot fix.
            OutputError: a file cannot be written as asked.
        """
        consuming = self._consume()
        if consuming:
            log.info("PV service consuming %d queue(s); writing to %s", len(self.meter_ids),
                     self.output.output_dir.resolve())
        while consuming and not self.should_stop():
            try:
                self._serve_batch()
            except ConnectionLost as exc:
                # Unacknowledged deliveries return to their queues; the writer skips
                # the ones already written when they come back.
                self._batch.clear()
                self.output.flush()
                log.warning("%s; reconnecting", exc)
                if not (self.broker.reconnect(self.should_stop) and self._consume()):
                    break
                log.info("reconnected; consuming %d queue(s) again", len(self.meter_ids))
                continue
            if self._stats.due():
                self._report_stats()
            if self._idle_for_too_long():
                log.info("no reading for %.1f s: stopping", self.exit_when_idle_s)
                break
        self._stop()

    def _serve_batch(self) -> None:
        self.broker.process_events(0.2)
        if not self._batch:
            return
        deadline = time.monotonic() + self.batch_wait_s
        while len(self._batch) < self.batch_max and time.monotonic() < deadline:
            before = len(self._batch)
            self.broker.process_events(max(0.0, deadline - time.monotonic()))
            if len(self._batch) == before:
                break
        self._handle(self._batch)
        self._batch.clear()

    def _handle(self, batch: list[Delivery]) -> None:
        """Write the batch's rows, flush, then settle every delivery of it."""
        rejected: list[int] = []
        last_accepted = 0
        power_kw = self.pv_model.power_kw
        write = self.output.write
        debug = log.isEnabledFor(logging.DEBUG)
        # In real time every meter's reading of a tick has the same time: one PV value serves.
        pv_time_s, pv_kw = float("nan"), 0.0
        for delivery in batch:
            try:
                reading = decode(delivery.body, delivery.queue, self.max_power_w)
            except BadReading as exc:
                self.rejects.rejected(delivery.queue, str(exc))
                rejected.append(delivery.delivery_tag)
                continue
            if reading.time_s != pv_time_s:
                pv_time_s, pv_kw = reading.time_s, power_kw(reading.time_s)
            written = write(reading.meter_id, reading.time_s, reading.power_w, pv_kw)
            if debug:
                log.debug("%s %s at %.3f: %.3f W + %.6f kW", "wrote" if written else "skipped",
                          reading.meter_id, reading.time_s, reading.power_w, pv_kw)
            last_accepted = delivery.delivery_tag
        self.output.flush()
        for tag in rejected:
            self.broker.reject(tag)
        if last_accepted:
            # Rejected tags are settled already, so one multiple ack covers the rest.
            self.broker.ack(last_accepted, multiple=True)
        self.received += len(batch)
        self._last_delivery = time.monotonic()

    def _report_stats(self) -> None:
        """Log the stats line; the backlog is asked of the broker only for a few queues."""
        if len(self.meter_ids) <= STATS_BACKLOG_QUEUES:
            try:
                backlog = str(sum(self.broker.queue_depth(q) for q in self.meter_ids))
            except ConnectionLost:
                backlog = "unknown"
        else:
            backlog = "not counted"
        self._stats.report(self.output.rows_written,
                           f"duplicates {self.output.duplicates_skipped}, rejected "
                           f"{sum(self.rejects.counts.values())}, backlog {backlog}, "
                           f"reconnects {self.broker.reconnects}")

    def _idle_for_too_long(self) -> bool:
        return (self.exit_when_idle_s is not None
                and time.monotonic() - self._last_delivery >= self.exit_when_idle_s)

    def _stop(self) -> None:
        """Stop taking deliveries, write and acknowledge what was received, close."""
        try:
            if self.broker.connected:
                self.broker.cancel_consumers()
                self.broker.process_events(0)
                if self._batch:
                    self._handle(self._batch)
        except ConnectionLost as exc:
            log.warning("%s while stopping; unacknowledged readings stay queued", exc)
        finally:
            self._batch.clear()
            self.output.close()
            self.broker.close()
