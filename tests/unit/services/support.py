"""What the PV service's unit tests share: a known PV plant, the fake broker's queues, a temp output."""

from __future__ import annotations

import shutil
import tempfile
import unittest
from pathlib import Path
from zoneinfo import ZoneInfo

from pv_simulator.messaging.connection import RetryPolicy
from pv_simulator.messaging.fake import FakeBroker
from pv_simulator.messaging.wire import ReadingEncoder

START_S = 1_782_000_000.0
UTC = ZoneInfo("UTC")
FAST_RETRY = RetryPolicy(connection_attempts=2, retry_delay_s=0.0, cap_s=0.05)


class LinearPv:
    """PV power rising 1 W per second from START_S: every row's value is known, and grid power
    takes both signs."""

    def power_kw(self, time_s: float) -> float:
        return (time_s - START_S) / 1000.0


class FakeQueuesTestCase(unittest.TestCase):
    """A fake broker with meter queues to fill, and an output directory per test."""

    def setUp(self) -> None:
        self.broker = FakeBroker()
        self.out_dir = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, self.out_dir, True)

    def publish(self, meter_id: str, count: int, first: int = 0) -> None:
        """``count`` readings of ``meter_id`` one second apart from ``START_S + first``."""
        self.broker.declare(meter_id)
        self.broker.declare(meter_id + ".dlq")
        encode = ReadingEncoder(meter_id)
        for i in range(first, first + count):
            self.broker.put(meter_id, encode(START_S + i, float(i % 9000)), START_S + i)
