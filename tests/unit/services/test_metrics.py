"""The metrics module: values read from the services at scrape time, a registry per instance."""

from __future__ import annotations

import ast
import itertools
import threading
import unittest
from pathlib import Path

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from pv_simulator.messaging.wire import Reading
from pv_simulator.services.metrics import LATENCY_BUCKETS_S, Metrics
from tests.paths import ROOT


def samples(metrics: Metrics) -> dict[str, float]:
    """Every sample of a scrape by name; a histogram bucket as ``<name>{le}``."""
    text = generate_latest(metrics.registry).decode()
    return {sample.name + (f"{{{sample.labels['le']}}}" if "le" in sample.labels else ""): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def imports(path: Path) -> set[str]:
    """The modules a source file imports from, at any level (TYPE_CHECKING blocks included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


class MetricsTest(unittest.TestCase):
    def test_counters_and_gauges_read_their_source_at_each_scrape(self) -> None:
        count = [3]
        metrics = Metrics("pv_test")
        metrics.counter("rows_written", "rows", lambda: count[0])
        metrics.gauge("readings_buffered", "buffered", lambda: count[0] * 2)
        self.assertEqual(samples(metrics)["pv_test_rows_written_total"], 3)
        count[0] = 7
        values = samples(metrics)
        self.assertEqual(values["pv_test_rows_written_total"], 7)
        self.assertEqual(values["pv_test_readings_buffered"], 14)

    def test_each_instance_has_its_own_registry(self) -> None:
        first, second = Metrics("pv_service"), Metrics("pv_service")
        first.track_latency()
        second.track_latency()  # the same name twice: would clash on one registry
        first.rows_written([Reading("M", 100.0, 1.0)], now_s=100.5)
        self.assertEqual(samples(first)["pv_service_reading_latency_seconds_count"], 1)
        self.assertEqual(samples(second)["pv_service_reading_latency_seconds_count"], 0)

    def test_latency_is_wall_clock_minus_reading_time(self) -> None:
        metrics = Metrics("pv_service")
        metrics.track_latency()
        metrics.rows_written([Reading("M", 100.0, 1.0), Reading("M", 101.0, 1.0)], now_s=102.0)
        values = samples(metrics)
        self.assertAlmostEqual(values["pv_service_reading_latency_seconds_sum"], 3.0)
        above_one = min(b for b in LATENCY_BUCKETS_S if b >= 1.0)
        self.assertEqual(values["pv_service_reading_latency_seconds_bucket{0.5}"], 0)
        self.assertEqual(values[f"pv_service_reading_latency_seconds_bucket{{{above_one}}}"], 1)
        self.assertEqual(values["pv_service_reading_latency_seconds_bucket{5.0}"], 2)

    def test_buckets_resolve_5_ms_to_10_s(self) -> None:
        bounds = [b for b in LATENCY_BUCKETS_S if b <= 10.0]
        self.assertEqual((bounds[0], bounds[-1]), (0.005, 10.0))
        for low, high in itertools.pairwise(bounds):
            self.assertLess(high / low, 1.34, f"{low} to {high}")
        self.assertEqual(list(LATENCY_BUCKETS_S), sorted(set(LATENCY_BUCKETS_S)))

    def test_a_median_inside_one_old_bucket_is_resolved(self) -> None:
        """Latencies of 55 to 75 ms all fell in one old bucket (0.05-0.1 s); now the median's
        bucket is narrower than a third of its bound."""
        metrics = Metrics("pv_service")
        metrics.track_latency()
        latencies = [0.055 + 0.02 * i / 99 for i in range(100)]
        metrics.rows_written([Reading("M", 100.0 - lat, 1.0) for lat in latencies], now_s=100.0)
        values = samples(metrics)
        buckets = sorted((float(name[name.index("{") + 1:-1]), count) for name, count in values.items()
                         if name.startswith("pv_service_reading_latency_seconds_bucket{")
                         and not name.endswith("{+Inf}"))
        median = sorted(latencies)[50]
        below = max(b for b, count in buckets if count <= 50)
        above = min(b for b, count in buckets if count > 50)
        self.assertLessEqual(below, median)
        self.assertGreaterEqual(above, median)
        self.assertLess(above / below, 1.34)

    def test_wait_for_scrape_returns_at_the_next_scrape_or_gives_up(self) -> None:
        metrics = Metrics("pv_test")
        metrics.counter("n", "n", lambda: 1)
        self.assertFalse(metrics.wait_for_scrape(0.05, lambda: False))
        self.assertFalse(metrics.wait_for_scrape(60.0, lambda: True))
        scraper = threading.Timer(0.05, samples, args=(metrics,))
        scraper.start()
        self.addCleanup(scraper.join)
        self.assertTrue(metrics.wait_for_scrape(30.0, lambda: False))

    def test_backlog_gauge_holds_the_last_count(self) -> None:
        metrics = Metrics("pv_service")
        metrics.track_backlog()
        metrics.backlog(42)
        metrics.backlog(5)
        self.assertEqual(samples(metrics)["pv_service_backlog_readings"], 5)

    def test_the_metrics_module_and_the_services_do_not_import_each_other(self) -> None:
        # The composition connects them; an import either way would make a cycle again.
        services = ROOT / "pv_simulator" / "services"
        self.assertFalse(imports(services / "metrics.py") & {"pv_simulator.services.meter",
                                                             "pv_simulator.services.pv_service"})
        for name in ("meter.py", "pv_service.py"):
            self.assertNotIn("pv_simulator.services.metrics", imports(services / name))


if __name__ == "__main__":
    unittest.main()
