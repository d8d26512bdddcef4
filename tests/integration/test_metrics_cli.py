"""Both CLIs with --metrics-port: /metrics scraped over HTTP while they run, checked against the run."""

from __future__ import annotations

import json
import socket
import unittest
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from pv_simulator.services.metrics import Metrics
from tests.helpers import rows_of, wait_until
from tests.integration.support import BrokerTestCase


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def scrape(port: int) -> dict[str, float]:
    """Every sample by name, a histogram bucket as ``<name>{le}``; empty while nothing listens."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
            text = response.read().decode()
    except OSError:
        return {}
    return {sample.name + (f"{{{sample.labels['le']}}}" if "le" in sample.labels else ""): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}



class MetricsServerTest(unittest.TestCase):
    """The endpoint itself, on a real loopback socket."""

    def test_serves_the_text_format_on_metrics(self) -> None:
        metrics = Metrics("pv_test")
        metrics.counter("rows_written", "rows", lambda: 12)
        port = metrics.serve("127.0.0.1", 0)
        self.addCleanup(metrics.close)
        self.assertEqual(scrape(port)["pv_test_rows_written_total"], 12)

    def test_a_port_in_use_is_an_os_error(self) -> None:
        taken = socket.socket()
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        self.addCleanup(taken.close)
        with self.assertRaises(OSError):
            Metrics("pv_test").serve("127.0.0.1", taken.getsockname()[1])


class MetricsEndpointTest(BrokerTestCase):
    def test_scraped_counts_match_the_run_in_real_time(self) -> None:
        conf = self.write_config()
        meter_port, pv_port = free_port(), free_port()
        meter = self.start("demo_meter.py", "-conf", str(conf), "-nb", "2", "--interval", "0.2",
                           "--metrics-port", str(meter_port), "--summary-file", "meter.json")
        pv = self.start("demo_pv_service.py", "-conf", str(conf), "-ids", "Meter_0", "Meter_1",
                        "--output-dir", "out", "--publish", "--stats-interval", "0.2",
                        "--metrics-port", str(pv_port))
        wait_until(lambda: scrape(pv_port).get("pv_service_rows_written_total", 0) >= 20, 30,
                   "20 rows written, as scraped")
        # The PV service keeps up in real time: at some scrape, all published is written.
        wait_until(lambda: scrape(meter_port)["pv_meter_readings_published_total"]
                   == scrape(pv_port)["pv_service_rows_written_total"], 10,
                   "the meter's published count to equal the rows written")
        meter_values = scrape(meter_port)
        self.assertEqual(meter_values["pv_meter_readings_dropped_total"], 0)
        self.assertEqual(meter_values["pv_meter_reconnects_total"], 0)
        self.assertLessEqual(meter_values["pv_meter_readings_buffered"], 2)
        code, _, err = self.interrupt(meter)
        self.assert_clean_exit(code, err)
        published = json.loads((self.tmp / "meter.json").read_text())["published"]
        wait_until(lambda: scrape(pv_port)["pv_service_rows_written_total"] == published, 10,
                   f"the PV service to write all {published} readings")
        wait_until(lambda: scrape(pv_port).get("pv_service_backlog_readings") == 0, 10,
                   "the backlog gauge to count 0")
        values = scrape(pv_port)
        code, _, err = self.interrupt(pv)
        self.assert_clean_exit(code, err)
        rows = rows_of(self.tmp / "out", "Meter_0") + rows_of(self.tmp / "out", "Meter_1")
        self.assertEqual(len(rows), published)
        self.assertEqual(values["pv_service_results_published_total"], published)
        self.assertEqual(values["pv_service_duplicates_skipped_total"], 0)
        self.assertEqual(values["pv_service_readings_rejected_total"], 0)
        self.assertEqual(values["pv_service_reconnects_total"], 0)
        self.assertEqual(values["pv_service_reading_latency_seconds_count"], published)
        # Real time: a reading reaches its file within a few batch waits of being taken.
        self.assertEqual(values["pv_service_reading_latency_seconds_bucket{2.5}"], published)

    def test_a_port_in_use_is_a_one_line_error(self) -> None:
        conf = self.write_config()
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = str(taken.getsockname()[1])
            for script, args in (("demo_pv_service.py", ("-ids", "Meter_0", "--output-dir", "out")),
                                 ("demo_meter.py", ("--duration", "1", "--speed", "0"))):
                result = self.run_cli(script, "-conf", str(conf), *args, "--metrics-port", port, timeout=30)
                self.assert_one_line_error(result.returncode, result.stderr, 2, "--metrics-port",
                                           f"127.0.0.1:{port}")


class MetricsOptionsTest(BrokerTestCase):
    def test_a_port_out_of_range_is_named_like_pv_live_names_it(self) -> None:
        conf = self.write_config()
        for port in ("70000", "-1"):
            result = self.run_cli("demo_meter.py", "-conf", str(conf), "--duration", "1", "--speed", "0",
                                  "--metrics-port", port, timeout=30)
            with self.subTest(port=port):
                self.assert_one_line_error(result.returncode, result.stderr, 2, "--metrics-port",
                                           f"{port} is not in 0..65535")

    def test_an_ipv6_metrics_url_has_brackets(self) -> None:
        result = self.run_cli("demo_meter.py", "-conf", str(self.write_config()), "--duration", "1",
                              "--speed", "0", "--metrics-host", "::1", "--metrics-port", "0", timeout=30)
        self.assert_clean_exit(result.returncode, result.stderr)
        self.assertRegex(result.stderr, r"metrics on http://\[::1\]:\d+/metrics")
