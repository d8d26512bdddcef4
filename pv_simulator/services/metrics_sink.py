"""What the PV service records as it goes, for metrics to pick up: a sink it calls.

The service knows only this protocol, and the metrics module knows no service: the
composition connects the two (`pv_simulator.composition`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from pv_simulator.messaging.wire import Reading


class MetricsSink(Protocol):
    """Where the PV service reports what only it sees as it happens."""

    def rows_written(self, readings: Sequence[Reading], now_s: float) -> None:
        """Rows of ``readings`` were written at wall-clock ``now_s``."""

    def backlog(self, readings: int) -> None:
        """The broker holds ``readings`` ready in the served queues."""


class NoMetrics:
    """What a service records when metrics are off: nothing."""

    def rows_written(self, readings: Sequence[Reading], now_s: float) -> None:
        """Rows of ``readings`` were written at wall-clock ``now_s``."""

    def backlog(self, readings: int) -> None:
        """The broker holds ``readings`` ready in the served queues."""
