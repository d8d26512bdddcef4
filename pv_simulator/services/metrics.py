"""Prometheus metrics of a service, served as text on ``/metrics`` (``--metrics-port``).

Each process builds its own :class:`Metrics` on a registry of its own (not the client
library's global one), so tests can build several side by side. Counters and most
gauges are read from the services' own counts when Prometheus scrapes, so the hot
path pays nothing for them; only the latency histogram and the PV backlog are
recorded as they happen, through the service's `MetricsSink` (which :class:`Metrics`
is). This module knows no service: the composition registers the counters that read
the services' counts (`pv_simulator.composition`).

The latency histogram observes ``time.time() - reading.time_s`` when a reading's row
is written: the end-to-end delay when the meter runs in real time (``--speed 1``, the
default). The PV service cannot know the meter's speed; in fast-forward or replayed
runs the readings carry simulated times and the histogram means nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Gauge, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from pv_simulator.messaging.wire import Reading

#: Seconds from a reading's time to its row: batching adds up to about 0.25 s, a broker outage minutes.
LATENCY_BUCKETS_S = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)

Read = Callable[[], float]


class _Counts(Collector):
    """Counters and gauges whose values are read from the service when scraped."""

    def __init__(self) -> None:
        self.counters: list[tuple[str, str, Read]] = []
        self.gauges: list[tuple[str, str, Read]] = []

    def collect(self) -> Iterable[Metric]:
        for name, documentation, read in self.counters:
            yield CounterMetricFamily(name, documentation, value=read())
        for name, documentation, read in self.gauges:
            yield GaugeMetricFamily(name, documentation, value=read())


class Metrics:
    """One process's metrics on a registry of its own; the PV service's `MetricsSink`.

    Args:
        prefix: the metric name prefix, e.g. ``pv_meter`` or ``pv_service``.
    """

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.registry = CollectorRegistry()
        self._counts = _Counts()
        self.registry.register(self._counts)
        self._latency: Histogram | None = None
        self._backlog: Gauge | None = None
        self._server: WSGIServer | None = None

    def counter(self, name: str, documentation: str, read: Read) -> None:
        """A counter ``<prefix>_<name>_total`` whose value ``read`` returns at each scrape."""
        self._counts.counters.append((f"{self.prefix}_{name}", documentation, read))

    def gauge(self, name: str, documentation: str, read: Read) -> None:
        """A gauge ``<prefix>_<name>`` whose value ``read`` returns at each scrape."""
        self._counts.gauges.append((f"{self.prefix}_{name}", documentation, read))

    def track_latency(self) -> None:
        """Record the reading-to-row latency histogram (the PV service)."""
        self._latency = Histogram(
            f"{self.prefix}_reading_latency_seconds",
            "wall-clock time minus the reading's time when its row was written; "
            "meaningful only while the meter runs in real time",
            buckets=LATENCY_BUCKETS_S, registry=self.registry)

    def track_backlog(self) -> None:
        """Publish the backlog gauge (the PV service), set whenever the stats line counts it."""
        self._backlog = Gauge(f"{self.prefix}_backlog_readings",
                              "readings ready in the served queues when last counted (stats line)",
                              registry=self.registry)

    def rows_written(self, readings: Sequence[Reading], now_s: float) -> None:
        if self._latency is not None:
            observe = self._latency.observe
            for reading in readings:
                observe(now_s - reading.time_s)

    def backlog(self, readings: int) -> None:
        if self._backlog is not None:
            self._backlog.set(readings)

    def serve(self, host: str, port: int) -> int:
        """Serve ``/metrics`` on ``host:port`` from a daemon thread; the port bound (for port 0).

        Raises:
            OSError: the address cannot be bound (port in use, host not local).
        """
        self._server, _ = start_http_server(port, addr=host, registry=self.registry)
        return int(self._server.server_port)

    def close(self) -> None:
        """Stop serving, if serving."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def pv_service_metrics() -> Metrics:
    """The PV service's metrics, with the latency and backlog it records; its counters are the
    composition's to add."""
    metrics = Metrics("pv_service")
    metrics.track_latency()
    metrics.track_backlog()
    return metrics
