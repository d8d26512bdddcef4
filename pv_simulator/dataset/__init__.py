"""The embedded dataset pipeline: the meter and the PV service in one process over the in-memory
broker (:mod:`pv_simulator.messaging.fake`), for a year of a fleet without RabbitMQ.

The same services, models, wire format and CSV writer as a broker run, wired by the same
composition, so the files are byte for byte those of pv-meter and pv-service with the same
configuration and seed. The meter publishes a batch; the PV service writes, flushes and
acknowledges its rows before the meter takes the next (the meter's ``after_publish``), so the
broker never holds more than a batch and memory stays bounded whatever the span.

Meters are split over processes (:func:`split_meters`), each with a broker of its own and
writing its own meters' files. A restart continues each share from its meters' last written
rows (:func:`resume_tick`): the models step through the ticks before it without publishing, so
the readings after it are those of an uninterrupted run, and the writer skips the rows that a
meter further ahead already has.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pv_simulator.composition import (
    MeterOptions,
    PvServiceOptions,
    build_meter_service,
    build_pv_service,
    build_sites,
    layout_of,
)
from pv_simulator.config import BrokerConfig, Config
from pv_simulator.messaging.connection import Connection
from pv_simulator.messaging.fake import FakeBroker
from pv_simulator.messaging.rabbitmq import retry_policy
from pv_simulator.storage.csv_store import CsvOutput

#: Readings per batch the meter hands over: a batch is one write, flush and acknowledgement, so
#: at the default ``[output] fsync = batch`` one sync of the file system per this many rows.
BATCH_READINGS = 20_000
#: Readings of one queue packed into one message of the in-memory broker at least (``[broker]
#: readings_per_message``): the broker's cost, and the PV service's per delivery, is per message,
#: and the files are the same packed or not (the broker run's, byte for byte).
EMBEDDED_READINGS_PER_MESSAGE = 100


@dataclass(frozen=True)
class Span:
    """What to simulate: the meter's clock options, all given (a dataset has an end)."""

    count: int | None
    seed: int | None
    start_s: float
    interval_s: float
    duration_s: float

    @property
    def tick_count(self) -> int:
        """Readings per meter, as the meter's clock counts them."""
        return max(0, math.ceil(self.duration_s / self.interval_s - 1e-9))


@dataclass(frozen=True)
class ShareResult:
    """What one share's run did, for the summary."""

    meters: int
    first_tick: int
    published: int
    written: int
    duplicates_skipped: int
    outside_weather: int


def split_meters(meter_ids: Sequence[str], processes: int) -> list[list[str]]:
    """Meter ids dealt round robin to at most ``processes`` shares, none empty.

    Dealt rather than cut in blocks: neighbouring fleet rows (one street, one weather file,
    batteries together) are spread, so the shares cost alike.
    """
    count = max(1, min(processes, len(meter_ids)))
    return [list(meter_ids[index::count]) for index in range(count)]


def resume_tick(last_times: Mapping[str, float], meter_ids: Sequence[str], span: Span) -> int:
    """The first tick that some meter of ``meter_ids`` has not written yet.

    ``last_times`` holds each meter's last written row time. A meter's files reach the OS in
    time order (`CsvOutput` hands a day's file over before the next day's rows), so after a
    crash every tick up to its last row is written. A meter without rows, or whose last row
    lies before the start (another run's), starts at 0; every meter at or past the end gives
    ``span.tick_count``: nothing to do.
    """
    first = span.tick_count
    for meter_id in meter_ids:
        last_s = last_times.get(meter_id)
        if last_s is None or last_s < span.start_s:
            return 0
        # The writer rounds times to the millisecond: a tick rounded down resumes one early,
        # and the writer skips that reading as written.
        written = math.floor((last_s - span.start_s) / span.interval_s + 1e-6) + 1
        first = min(first, written)
    return max(0, first)


def check_output(config: Config, output_dir: Path, meter_ids: Sequence[str]) -> None:
    """What every share would refuse of the output, refused once before they start: a folder
    that cannot be made or written, a meter's file with another header.

    Raises:
        OutputError: naming the folder or file.
    """
    site, sites = build_sites(config, meter_ids)
    output = CsvOutput(output_dir, config.site.timezone,
                       site_meters=lambda meter_id: sites.get(meter_id, site) is not None)
    try:
        output.check_existing(list(meter_ids))
    finally:
        output.close()


def embedded_config(config: Config) -> Config:
    """``config`` with readings packed :data:`EMBEDDED_READINGS_PER_MESSAGE` a message at least.

    A batch of the meter holds tens of readings of each queue, which travelled one message
    each: 3-5 % of a share's CPU (benchmarks/RESULTS.md, run K).
    """
    packed = max(config.broker.readings_per_message, EMBEDDED_READINGS_PER_MESSAGE)
    return dataclasses.replace(config, broker=dataclasses.replace(
        config.broker, readings_per_message=packed))


#: The cycle collector's thresholds while a share runs: the youngest generation collected every
#: 20,000 allocations net rather than 700, the older ones at every tenth of the one below.
_COLLECTION_THRESHOLDS = (20_000, 10, 10)


def memory_connect(broker: FakeBroker) -> Callable[[BrokerConfig, str], Connection]:
    """The composition's ``connect`` for services that share ``broker``."""

    def connect(config: BrokerConfig, _client_name: str) -> Connection:
        return Connection(broker.connector(), retry_policy(config))

    return connect


@contextlib.contextmanager
def built_out_of_collection() -> Iterator[None]:
    """Run with what is built so far (the fleet's models, the services, the writer) out of the
    cycle collector's reach, given back to it after.

    A batch's readings, deliveries and rows live until the batch is written, so they age into
    the collector's oldest generation, whose full collections walked every household's objects
    again and again: 8-10 % of a share's CPU. What is built lives until the share ends anyway;
    the collections of what the run makes go on, less often: a batch's tens of thousands of
    young objects were walked every 700 allocations (3-4 % of a share's CPU, a third of that
    at :data:`_COLLECTION_THRESHOLDS`).
    """
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(*_COLLECTION_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def run_share(config: Config, span: Span, meter_ids: Sequence[str], output_dir: Path,
              should_stop: Callable[[], bool], progress: Callable[[int], None],
              batch_readings: int = BATCH_READINGS) -> ShareResult:
    """Simulate ``meter_ids`` over ``span`` into ``output_dir``, continuing what is written.

    ``progress`` gets the share's readings done so far (those resumed past included) after
    each batch of ``batch_readings``.

    Raises:
        ConfigError, OutputError, OutputFailed: as the services do.
    """
    config = embedded_config(config)
    broker = FakeBroker()
    connect = memory_connect(broker)
    ids = list(meter_ids)
    layout = layout_of(config.broker)
    pv = build_pv_service(config, PvServiceOptions(
        meter_ids=ids, queues=layout.queues_for(ids), output_dir=output_dir,
        exit_when_idle_s=None, stats_interval_s=0.0), should_stop, connect)
    try:
        last_times = {meter_id: row.time_s for meter_id, row in pv.output.last_rows(ids).items()}
        first_tick = resume_tick(last_times, ids, span)
        meter = build_meter_service(config, MeterOptions(
            count=span.count, seed=span.seed, start_s=span.start_s, interval_s=span.interval_s,
            speed=0.0, duration_s=span.duration_s, stats_interval_s=0.0,
            only=frozenset(ids), batch_size=batch_readings), should_stop, connect)
        service = meter.service
        resumed = first_tick * len(ids)

        def after_publish() -> None:
            pv.service.serve_ready()
            progress(resumed + service.published)

        service.after_publish = after_publish
        progress(resumed)
        if first_tick < span.tick_count and pv.connection.connect(should_stop):
            with built_out_of_collection():
                service.run(first_tick)
        result = pv.service.result()
        return ShareResult(len(ids), first_tick, service.published, result.written,
                           result.duplicates_skipped, result.outside_weather)
    finally:
        pv.output.close()
