"""The PV service's metrics sink: the null one."""

from __future__ import annotations

import unittest

from pv_simulator.messaging.wire import Reading
from pv_simulator.services.metrics_sink import NoMetrics


class MetricsSinkTest(unittest.TestCase):
    def test_no_metrics_records_nothing_and_raises_nothing(self) -> None:
        off = NoMetrics()
        off.rows_written([Reading("M", 1.0, 1.0)], 2.0)
        off.backlog(3)
        self.assertFalse(hasattr(off, "registry"))


if __name__ == "__main__":
    unittest.main()
