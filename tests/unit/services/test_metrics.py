"""The metrics module: values read from the services at scrape time, a registry per instance."""

from __future__ import annotations

import ast
import unittest
from pathlib import Path

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from pv_simulator.messaging.wire import Reading
from pv_simulator.services.metrics import Metrics
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
        self.assertEqual(values["pv_service_reading_latency_seconds_bucket{1.0}"], 1)
        self.assertEqual(values["pv_service_reading_latency_seconds_bucket{2.5}"], 2)

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
