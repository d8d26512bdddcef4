"""The PV service: consumes meter readings, adds the PV plant's power, writes rows.

Deliveries are gathered into a batch; the batch's rows are written and flushed
(fsynced, by default) and only then acknowledged, with one ``multiple`` ack.
A crash anywhere before that ack returns the readings to their queues, and the
writer skips on redelivery what it had already written, so every reading ends
up exactly once in its file. With a results stream
(:mod:`pv_simulator.services.results`), the batch's results are confirmed before its rows
are written, so no row is ever without its result. Readings that fail :func:`wire.decode` are
rejected without requeue, which dead-letters them to ``<queue>.dlq``.
Reconnecting is the :class:`Connection`'s; on a loss the service only drops the
batch it had not acknowledged.

A meter with a site (battery, export limit or control, :mod:`pv_simulator.models.site`)
gets its row from the site's balance instead; the site's state advances only with rows
the writer will write, so a redelivered reading changes nothing, and after a restart it
continues from the meter's last written row. With control on, the service also takes
commands (:mod:`pv_simulator.services.control`) on every (re)connection.
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pv_simulator.messaging.connection import Connection
from pv_simulator.messaging.port import QUEUE_PER_METER, ConnectionLost, Delivery, Layout, Session
from pv_simulator.messaging.wire import BadReading, Reading, decode_all
from pv_simulator.models.site import Site, site_step
from pv_simulator.services.control import EXCHANGE, ROUTING_PATTERN, CommandInbox, Control, ControlBoard
from pv_simulator.services.metrics_sink import MetricsSink, NoMetrics
from pv_simulator.services.results import Accepted, Limits, ResultStream, SiteResult, limits
from pv_simulator.services.stats import StatsLog
from pv_simulator.storage.csv_format import SOC_DECIMALS
from pv_simulator.storage.csv_store import CsvOutput, MeterLocked, OutputError

if TYPE_CHECKING:
    from pv_simulator.models.pv_plant import PvModel

log = logging.getLogger(__name__)


#: Above this many meters the stats line does not ask the broker for every queue's depth.
STATS_BACKLOG_QUEUES = 100

#: How long a service that met another's lock waits for that one to consume the queue again (it
#: reconnects within the 5 s backoff cap): past it, the other is a second writer by mistake.
STANDBY_GRACE_S = 15.0
#: How often a service that gave a queue back looks again.
STANDBY_POLL_S = 0.5


def prefetch_for(queue_count: int) -> int:
    """Per-consumer prefetch: deep for a few busy queues, shallow for thousands of meters."""
    return max(10, min(2000, 50_000 // max(1, queue_count)))


class RejectLog:
    """Logs rejected readings with their reason, at most one line per interval after the first few."""

    def __init__(self, first: int = 10, interval_s: float = 10.0) -> None:
        self.first = first
        self.interval_s = interval_s
        self.counts: Counter[str] = Counter()
        #: The sum of ``counts``, kept as one int so the metrics thread reads it safely.
        self.total = 0
        self._since_log = 0
        self._last_log = -float("inf")

    def rejected(self, queue: str, reason: str) -> None:
        self.counts[queue] += 1
        self.total += 1
        total = self.total
        now = time.monotonic()
        if total <= self.first or now - self._last_log >= self.interval_s:
            suppressed = f" ({self._since_log} more since the last line)" if self._since_log else ""
            log.warning("rejected a message on %s, dead-lettered to %s.dlq: %s%s",
                        queue, queue, reason, suppressed)
            self._last_log = now
            self._since_log = 0
        else:
            self._since_log += 1


@dataclass(frozen=True)
class PvResult:
    """What a PV service run did, for the exit summary (``--summary-file``) and for tests."""

    #: Rows appended to the CSV files.
    written: int
    #: Readings whose time_s the meter's file already holds (redelivered): skipped.
    duplicates_skipped: int
    #: Messages that are no reading (malformed, another meter's): dead-lettered.
    rejected: int
    #: Readings taken from the broker, and messages refused unread, all of the above included.
    received: int
    #: Connections the service had to make again after losing one.
    reconnects: int
    #: Readings outside their generic weather file's span, written with PV 0.
    outside_weather: int = 0
    #: Results published on the results exchange (``--publish``).
    published_results: int = 0
    #: Commands (AMQP, MQTT or Modbus writes) that changed a site, and those refused.
    commands_applied: int = 0
    commands_rejected: int = 0
    #: Readings older than their file's last row and not in it: dead-lettered, not written.
    out_of_order: int = 0



class _Plant:
    """One PV model's value at the last timestamp asked: meters sharing a plant compute it once
    per timestamp (in real time every meter's reading of a tick has the same time).

    A model with ``covers(time_s)`` (a replayed weather file, `WeatherPvModel`) can say it has no
    weather at an instant; the value is then 0 and ``outside`` is set for the service to count.
    """

    __slots__ = ("_covers", "_power_kw", "kw", "name", "outside", "time_s")

    def __init__(self, model: PvModel) -> None:
        self._power_kw = model.power_kw
        self._covers: Callable[[float], bool] | None = getattr(model, "covers", None)
        self.name: str = getattr(model, "weather_name", "")
        self.time_s = math.nan
        self.kw = 0.0
        self.outside = False

    @property
    def bounded(self) -> bool:
        return self._covers is not None

    def at(self, time_s: float) -> None:
        self.time_s = time_s
        self.outside = self._covers is not None and not self._covers(time_s)
        self.kw = 0.0 if self.outside else self._power_kw(time_s)


class _SiteState:
    """A site's state between readings: the state of charge and time of its last row.

    ``horizon_s`` is the latest row time of the meter known to be written (or planned), so
    a reading after it is certainly new and needs no question to the writer.
    """

    __slots__ = ("control", "horizon_s", "site", "soc_pct", "started", "time_s")

    def __init__(self, site: Site, control: Control | None) -> None:
        self.site = site
        self.control = control
        self.soc_pct = site.initial_soc_pct
        self.time_s: float | None = None
        self.horizon_s = -math.inf
        self.started = False


class PvService:
    """Consumes reading queues and appends ``meter + PV`` rows to each meter's dated CSV.

    Args:
        connection: the broker connection; the service connects it in :meth:`run`.
        queues: the queues to serve: a meter's each, or partitions of the partitioned layout.
        pv_model: the PV plant's power at a reading's time, for meters without their own.
        pv_models: meters with a plant of their own (a fleet); meters sharing a model object
            share its computation.
        output: the CSV writer.
        max_power_w: readings above this are rejected.
        should_stop: polled between batches; True starts a graceful stop.
        exit_when_idle_s: stop once no reading arrived for this long; None to run until stopped.
        batch_max: deliveries handled per write-flush-ack cycle at most.
        batch_wait_s: how long a partial batch may wait for more deliveries.
        stats_interval_s: seconds between stats lines; 0 for none.
        results: publishes each written row's result; None for no results stream.
        metrics: records the latency and backlog; :class:`NoMetrics` when off.
        layout: which queue holds which meter's readings; a reading on another is rejected.
        site: the site of meters without their own; None: a plain meter.
        sites: fleet meters' own sites (None: plain).
        control: take commands for the served meters on AMQP (``amq.topic``).
        inbox: commands from another thread (the Modbus server), drained before each batch;
            a site takes them whether or not ``control`` is on.
        on_rows: called after each flush with the rows just written (not the skipped ones).
        readings_per_message: readings the meters pack into a message (``[broker]
            readings_per_message``): the prefetch and a batch's deliveries are that many times
            fewer, so the readings in hand stay as many. Any message is read whatever it holds.
    """

    def __init__(self, connection: Connection, queues: Sequence[str], pv_model: PvModel,
                 output: CsvOutput, max_power_w: float, should_stop: Callable[[], bool],
                 exit_when_idle_s: float | None = None, batch_max: int = 1000,
                 batch_wait_s: float = 0.05, stats_interval_s: float = 10.0,
                 pv_models: Mapping[str, PvModel] | None = None,
                 results: ResultStream | None = None, metrics: MetricsSink | None = None,
                 layout: Layout = QUEUE_PER_METER, site: Site | None = None,
                 sites: Mapping[str, Site | None] | None = None, control: bool = False,
                 inbox: CommandInbox | None = None,
                 on_rows: Callable[[list[Accepted]], None] | None = None,
                 readings_per_message: int = 1) -> None:
        self.connection = connection
        self.queues = list(queues)
        self.layout = layout
        self.pv_model = pv_model
        plants: dict[int, _Plant] = {}
        for model in (pv_model, *(pv_models or {}).values()):
            plants.setdefault(id(model), _Plant(model))
        self._default_plant = plants[id(pv_model)]
        self._plants = {meter_id: plants[id(model)]
                        for meter_id, model in (pv_models or {}).items()}
        self._weather_bounded = any(plant.bounded for plant in plants.values())
        self.outside_weather = 0
        self._outside_logged: set[tuple[str, date]] = set()
        self._out_of_order_logged: set[str] = set()
        self.output = output
        self.max_power_w = max_power_w
        self.should_stop = should_stop
        self.exit_when_idle_s = exit_when_idle_s
        packed = max(1, readings_per_message)
        self.prefetch = max(10, prefetch_for(len(self.queues)) // packed)
        # Not bounded by the per-queue prefetch: with thousands of queues each holds a
        # few deliveries, and a batch gathers them across queues until full or
        # batch_wait_s has passed.
        self.batch_max = max(1, batch_max // packed)
        self.batch_wait_s = batch_wait_s
        self.rejects = RejectLog()
        self.received = 0
        self._batch: list[Delivery] = []
        #: A standby that gave its queues back declares, but does not consume, on reconnecting.
        self._paused = False
        #: Whom this service waits behind as standby ("the PV service with pid 4242"), once it
        #: said so; else None.
        self._standby_of: str | None = None
        #: With --exit-when-idle: another consumer had the queues when this one began consuming,
        #: so it is that one's standby (single active consumer) until it gets a reading.
        self._others_first = False
        self._connected_before = False
        self._last_delivery = time.monotonic()
        self._stats = StatsLog("written", stats_interval_s)
        self.results = results
        self.metrics: MetricsSink = metrics or NoMetrics()
        #: Without metrics no list of the batch's readings is made for them (a dataset's 35
        #: million rows).
        self._latency_wanted = metrics is not None
        self._default_site = site
        self._sites = dict(sites or {})
        self._any_site = site is not None or any(s is not None for s in self._sites.values())
        self._site_states: dict[str, _SiteState | None] = {}
        self._planned: dict[Path, float] = {}
        #: Each site meter's last row written by this run, whose settings are the ones in force.
        self._in_force: dict[str, SiteResult] = {}
        served = set(self.queues)
        self.control = (ControlBoard(lambda meter_id: layout.queue_of(meter_id) in served,
                                     self._has_battery) if control or inbox is not None else None)
        self._amqp_control = control
        self.inbox = inbox
        self.on_rows = on_rows
        if results is not None:
            # First, so a refused results exchange stops the start before any consuming.
            connection.on_connect(results.open)
        connection.on_connect(self._start)

    def result(self) -> PvResult:
        return PvResult(self.output.rows_written, self.output.duplicates_skipped,
                        self.rejects.total, self.received, self.connection.reconnects,
                        self.outside_weather, self.results.published if self.results else 0,
                        self.control.applied if self.control else 0,
                        self.control.rejected if self.control else 0, self.output.out_of_order)

    def _start(self, session: Session) -> None:
        """Declare the queues and start consuming them, on every (re)connection.

        Deliveries of an earlier session are void: they come again, redelivered.
        """
        self._batch.clear()
        session.declare_meter_queues(self.queues)
        if self.control is not None and self._amqp_control:
            # Again on every connection; commands sent while there was none are lost (docs/site.md).
            session.subscribe(EXCHANGE, ROUTING_PATTERN, self.control.on_message)
            log.info("taking commands on exchange %s, routing key %s", EXCHANGE, ROUTING_PATTERN)
        if not self._paused:
            if self.exit_when_idle_s is not None:
                found = session.queue_status(self.queues)
                self._others_first = any(status.consumers > 0 for status in found.values())
            session.consume(self.queues, self._batch.append, self.prefetch)
        self._last_delivery = time.monotonic()
        if self._connected_before and not self._paused:
            log.info("reconnected; consuming %d queue(s) again", len(self.queues))
        self._connected_before = True

    def run(self) -> None:
        """Connect and serve until stopped or idle; on stop, finish the deliveries in hand.

        Raises:
            BrokerUnavailable: no broker answered the first connection attempts.
            BrokerRefused: the broker refused something retrying cannot fix.
            OutputError: a file cannot be written as asked.
        """
        if not self.connection.connect(self.should_stop):
            return
        log.info("PV service consuming %d queue(s); writing to %s", len(self.queues),
                 self.output.output_dir.resolve())
        while not self.should_stop():
            try:
                self._serve_batch(self.connection.session)
            except ConnectionLost as exc:
                # Unacknowledged deliveries return to their queues; the writer skips
                # the ones already written when they come back.
                self._batch.clear()
                self.output.flush()
                self.connection.lost(exc)
                if not self.connection.ensure(self.should_stop):
                    break
                continue
            except MeterLocked as locked:
                if not self._give_back(locked):
                    break
                continue
            if self._stats.due():
                self._report_stats()
            if self._idle_for_too_long():
                log.info("no reading for %.1f s: stopping", self.exit_when_idle_s)
                break
        self._stop()

    def serve_ready(self) -> None:
        """Write and acknowledge every reading the broker holds now, on the connected session.

        The embedded pipeline's step (:mod:`pv_simulator.dataset`): the meter hands over a batch
        and the batch's rows are written before it takes the next.
        """
        session = self.connection.session
        while True:
            session.process_events(0)
            if not self._batch:
                return
            self._handle(session, self._batch)
            self._batch.clear()

    def _give_back(self, locked: MeterLocked) -> bool:
        """Another live process writes a meter of the batch here: hand the queues back and wait.

        The broker gave this service the queue because the other's connection dropped for a
        moment; it is the active writer still, and reconnects. So this one lets go of everything
        (files, locks, what it knew of the files), closes its connection (the batch's deliveries
        return), and consumes again only once the other consumes the queue (it then lines up
        behind it, a standby again) or is gone (it takes over). A holder that consumes no such
        queue of this broker within :data:`STANDBY_GRACE_S` is a second writer started by
        mistake (another virtual host or broker): that is the configuration error it was.

        Returns:
            False when a stop was asked meanwhile.

        Raises:
            OutputError: the holder is a second writer (or the system does not tell who holds it).
        """
        if locked.holder is None:
            raise locked
        queue = self.layout.queue_of(locked.meter_id)
        log.warning("%s: pid %d writes its files in %s: giving queue %s back to it and waiting",
                    locked.meter_id, locked.holder, self.output.output_dir, queue)
        self._batch.clear()
        self._site_states.clear()
        self.output.release()
        self._paused = True
        self.connection.close()
        deadline = time.monotonic() + STANDBY_GRACE_S
        while not self.should_stop():
            if not self.connection.ensure(self.should_stop):
                return False
            try:
                if self.output.lock_holder(locked.meter_id) is None:
                    break  # the other is gone: take over
                found = self.connection.session.queue_status([queue]).get(queue)
                if found is not None and found.consumers > 0:
                    self._others_first = True
                    self._waiting_as_standby(f"the PV service with pid {locked.holder}")
                    break
            except ConnectionLost as exc:
                self.connection.lost(exc)
                continue
            if time.monotonic() > deadline:
                raise OutputError(f"{locked} (pid {locked.holder} holds the lock but no consumer "
                                  f"took queue {queue} from this broker within "
                                  f"{STANDBY_GRACE_S:g} s: a second writer, of another virtual "
                                  "host or broker?)")
            time.sleep(STANDBY_POLL_S)
        if self.should_stop():
            return False
        self._paused = False
        try:
            self.connection.session.consume(self.queues, self._batch.append, self.prefetch)
        except ConnectionLost as exc:
            self.connection.lost(exc)  # the next ensure() consumes on its new session
        self._last_delivery = time.monotonic()
        return True

    def _waiting_as_standby(self, active: str) -> None:
        """Say once that this service waits behind ``active``; idle time starts anew."""
        if self._standby_of is None:
            log.info("waiting as standby of %s (output %s); taking over when it goes (idle time "
                     "counts from then)", active, self.output.output_dir)
        self._standby_of = active
        self._last_delivery = time.monotonic()

    def _took_over(self) -> None:
        log.info("took over from %s: now the active PV service of %d queue(s)",
                 self._standby_of, len(self.queues))
        self._standby_of = None
        self._others_first = False
        self._last_delivery = time.monotonic()

    def _serve_batch(self, session: Session) -> None:
        session.process_events(0.2)
        if not self._batch:
            return
        deadline = time.monotonic() + self.batch_wait_s
        while len(self._batch) < self.batch_max and time.monotonic() < deadline:
            before = len(self._batch)
            session.process_events(max(0.0, deadline - time.monotonic()))
            if len(self._batch) == before:
                break
        self._handle(session, self._batch)
        self._batch.clear()

    def _handle(self, session: Session, batch: list[Delivery]) -> None:
        """Publish the batch's results (if asked), write its rows, flush, then settle every delivery."""
        rejected: list[int] = []
        accepted: list[Accepted] = []
        tags: list[int] = []
        plants = self._plants
        default_plant = self._default_plant
        any_site = self._any_site
        max_power_w, layout = self.max_power_w, self.layout
        self._planned.clear()
        if self.inbox is not None and self.control is not None:
            self.inbox.drain(self.control)
        for delivery in batch:
            try:
                readings = decode_all(delivery.body, delivery.queue, max_power_w, layout)
            except BadReading as exc:
                self.rejects.rejected(delivery.queue, str(exc))
                rejected.append(delivery.delivery_tag)
                continue
            for reading in readings:
                plant = plants.get(reading.meter_id, default_plant)
                if reading.time_s != plant.time_s:
                    plant.at(reading.time_s)
                if plant.outside:
                    self._outside(plant, reading.time_s)
                tags.append(delivery.delivery_tag)
                if any_site:
                    states = self._site_states
                    state = (states[reading.meter_id] if reading.meter_id in states
                             else self._site_state(reading.meter_id))
                    if state is not None:
                        accepted.append(self._site_row(state, reading, plant.kw))
                        continue
                accepted.append((reading, plant.kw, None))
        if self.results is not None:
            self.results.publish(session, accepted)
        written, out_of_order = self._write(accepted)
        self.output.flush()
        if self._latency_wanted:
            self.metrics.rows_written([entry[0] for entry in written], time.time())
        if self.on_rows is not None and written:
            self.on_rows(written)
        for index in out_of_order:
            self._out_of_order(batch, tags[index], accepted[index][0])
        # A message with a reading out of order is dead-lettered whole, once; its other
        # readings are written, and would be skipped as duplicates if it came back.
        late = dict.fromkeys(tags[index] for index in out_of_order)
        received = len(tags) + len(rejected)  # readings, and messages refused unread
        rejected.extend(late)
        for tag in rejected:
            session.reject(tag)
        last_accepted = max((tag for tag in tags if tag not in late) if late else tags,
                            default=0)
        if last_accepted:
            # Rejected tags are settled already, so one multiple ack covers the rest.
            session.ack(last_accepted, multiple=True)
        self.received += received
        self._last_delivery = time.monotonic()
        self._others_first = False
        if self._standby_of is not None:
            self._took_over()

    def _outside(self, plant: _Plant, time_s: float) -> None:
        """Count a reading outside its weather file's span; log it once per weather file and
        local day, the date of the file the row goes to."""
        self.outside_weather += 1
        day = datetime.fromtimestamp(time_s, self.output.tz).date()
        if (plant.name, day) not in self._outside_logged:
            self._outside_logged.add((plant.name, day))
            log.warning("no weather in %s on %s (outside its span): PV written as 0 there",
                        plant.name, day)

    def site_of(self, meter_id: str) -> Site | None:
        """The meter's site; None for a plain meter."""
        return self._sites.get(meter_id, self._default_site)

    def _has_battery(self, meter_id: str) -> bool:
        site = self.site_of(meter_id)
        return site is not None and site.has_battery

    def limits_in_force(self, meter_id: str) -> Limits | None:
        """The settings in force at the meter's last row written by this run (before it: the
        configured ones, since commands do not outlive a run); None for a plain meter."""
        row = self._in_force.get(meter_id)
        if row is not None:
            return row.limits()
        site = self.site_of(meter_id)
        if site is None:
            return None
        return limits(None, site.export_limit_w, site.mode if site.has_battery else None, None)

    def _site_state(self, meter_id: str) -> _SiteState | None:
        """A meter's site state on its first reading, continuing from its last written row."""
        site = self.site_of(meter_id)
        state = None
        if site is not None:
            state = _SiteState(site, self.control.control(meter_id) if self.control else None)
            row = self.output.last_row(meter_id)
            if row is not None:
                state.time_s = state.horizon_s = round(row.time_s, 3)
                if row.battery_soc_pct is not None and site.has_battery:
                    state.soc_pct = row.battery_soc_pct
                    log.info("%s: the battery continues at %.3f %% from the row at time_s %.3f",
                             meter_id, state.soc_pct, row.time_s)
        self._site_states[meter_id] = state
        return state

    def _site_row(self, state: _SiteState, reading: Reading, available_kw: float) -> Accepted:
        """The reading's row values from its site's balance; the state advances if it will be written."""
        time_s = round(reading.time_s, 3)
        if time_s <= state.horizon_s:
            path, last_s = self.output.written_up_to(reading.meter_id, time_s)
            if time_s <= self._planned.get(path, last_s):
                return reading, available_kw, None  # a duplicate the writer skips
            self._planned[path] = time_s
        site = state.site
        mode, setpoint_w, pv_limit_pct, export_limit_w = site.mode, 0.0, None, site.export_limit_w
        control = state.control
        if control is not None:
            control.at(time_s)
            mode = control.battery_mode or mode
            setpoint_w = control.battery_setpoint_w or 0.0
            pv_limit_pct = control.pv_limit_pct
            if control.export_limit_set:
                export_limit_w = control.export_limit_w
        interval_s = 0.0 if state.time_s is None else max(0.0, time_s - state.time_s)
        step = site_step(site, reading.power_w, available_kw, interval_s, state.soc_pct, mode,
                         setpoint_w, pv_limit_pct, export_limit_w, SOC_DECIMALS)
        state.soc_pct = step.soc_pct
        state.time_s = time_s
        state.horizon_s = max(state.horizon_s, time_s)
        return reading, step.pv_power_kw, SiteResult(
            available_kw, step.battery_power_w, step.grid_power_w, step.soc_pct, pv_limit_pct,
            export_limit_w, mode if site.has_battery else None, step.household_w,
            control.battery_setpoint_w if control is not None and site.has_battery else None)

    def _write(self, accepted: list[Accepted]) -> tuple[list[Accepted], list[int]]:
        """Write the rows of the accepted readings: those written (not skipped), and the indices
        of those out of order (neither written nor duplicates)."""
        output = self.output
        write = output.write
        write_site = output.write_site
        debug = log.isEnabledFor(logging.DEBUG)
        written: list[Accepted] = []
        out_of_order: list[int] = []
        for index, entry in enumerate(accepted):
            reading, pv_kw, site = entry
            before = output.out_of_order
            if site is None:
                is_new = write(reading.meter_id, reading.time_s, reading.power_w, pv_kw)
            else:
                is_new = write_site(reading.meter_id, reading.time_s, site.household_w, pv_kw,
                                    site.grid_power_w, site.battery_power_w, site.soc_pct,
                                    site.pv_available_kw)
                if is_new:
                    self._in_force[reading.meter_id] = site
            if is_new:
                written.append(entry)
            elif output.out_of_order != before:
                out_of_order.append(index)
            if debug:
                log.debug("%s %s at %.3f: %.3f W + %.6f kW", "wrote" if is_new else "skipped",
                          reading.meter_id, reading.time_s, reading.power_w, pv_kw)
        return written, out_of_order

    def _out_of_order(self, batch: Sequence[Delivery], tag: int, reading: Reading) -> None:
        """Log the first out-of-order reading of each meter; the count says the rest."""
        if reading.meter_id in self._out_of_order_logged:
            return
        self._out_of_order_logged.add(reading.meter_id)
        queue = next(delivery.queue for delivery in batch if delivery.delivery_tag == tag)
        path, last_s = self.output.written_up_to(reading.meter_id, reading.time_s)
        log.warning("%s: reading at time_s %.3f is older than the last row of %s (time_s %.3f) "
                    "and not in it: dead-lettered to %s.dlq as out of order, not written (a meter "
                    "started again at an earlier time, or readings left in queues of another "
                    "layout); the rest of this meter's are only counted (out_of_order)",
                    reading.meter_id, reading.time_s, path, last_s, queue)

    def _report_stats(self) -> None:
        """Log the stats line; the backlog is asked of the broker only for a few queues."""
        if len(self.queues) <= STATS_BACKLOG_QUEUES:
            try:
                session = self.connection.session
                depth = sum(session.queue_depth(q) for q in self.queues)
                self.metrics.backlog(depth)
                backlog = str(depth)
            except ConnectionLost:
                backlog = "unknown"
        else:
            backlog = "not counted"
        published = f", published results {self.results.published}" if self.results else ""
        self._stats.report(self.output.rows_written,
                           f"duplicates {self.output.duplicates_skipped}, out of order "
                           f"{self.output.out_of_order}, rejected "
                           f"{self.rejects.total}, backlog {backlog}, "
                           f"reconnects {self.connection.reconnects}{published}"
                           + (f", outside weather {self.outside_weather}"
                              if self._weather_bounded else ""))

    def _idle_for_too_long(self) -> bool:
        """No reading for ``exit_when_idle_s`` while this service is the active one.

        A standby gets nothing while the active service runs, so idle time does not count while
        another live process holds the lock of a served meter in the output directory, nor while
        the consumer that had the queues before this one (single active consumer) is still there.
        """
        if (self.exit_when_idle_s is None
                or time.monotonic() - self._last_delivery < self.exit_when_idle_s):
            return False
        served = set(self.queues)
        writer = self.output.other_writer(
            None if self.layout.partitioned else self.queues,
            lambda meter_id: self.layout.queue_of(meter_id) in served)
        if writer is not None:
            self._waiting_as_standby(f"the PV service with pid {writer[1]}")
            return False
        if self._others_first and self._another_consumer():
            self._waiting_as_standby("the consumer that had its queues first")
            return False
        if self._standby_of is not None:
            self._took_over()
            return False
        return True

    def _another_consumer(self) -> bool:
        """A served queue counts a consumer besides this one's (classic queues count standbys too;
        quorum queues only the active one, so there the answer is no)."""
        try:
            found = self.connection.session.queue_status(self.queues)
        except ConnectionLost:
            return True  # asked again once connected; a lost connection is no idleness
        return any(status.consumers > 1 for status in found.values())

    def _stop(self) -> None:
        """Stop taking deliveries, then write and acknowledge what was received."""
        try:
            if self.connection.connected:
                session = self.connection.session
                session.cancel_consumers()
                session.process_events(0)
                if self._batch:
                    self._handle(session, self._batch)
        except (ConnectionLost, MeterLocked) as exc:
            log.warning("%s while stopping; unacknowledged readings stay queued", exc)
        finally:
            self._batch.clear()
