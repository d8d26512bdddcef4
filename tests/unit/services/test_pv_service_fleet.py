"""The PV service with per-meter plants (a fleet) and weather files with a span."""

from __future__ import annotations

import csv
import shutil
import tempfile
import unittest
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from pv_simulator.messaging.connection import Connection
from pv_simulator.messaging.fake import FakeBroker
from pv_simulator.messaging.wire import ReadingEncoder
from pv_simulator.models.pv_plant import PvModel
from pv_simulator.services.pv_service import PvService
from pv_simulator.storage.csv_store import CsvOutput
from tests.unit.services.support import FAST_RETRY, START_S, UTC, LinearPv


class CountingPv:
    """A plant that counts its evaluations and has weather only until ``covered_until_s``
    (the first 100 s by default)."""

    weather_name = "span.csv"

    def __init__(self, kw: float, covered_until_s: float = START_S + 100) -> None:
        self.kw = kw
        self.calls = 0
        self.covered_until_s = covered_until_s

    def power_kw(self, time_s: float) -> float:
        self.calls += 1
        return self.kw

    def covers(self, time_s: float) -> bool:
        return time_s < self.covered_until_s


class FleetPvServiceTest(unittest.TestCase):
    def setUp(self) -> None:
        self.broker = FakeBroker()
        self.out_dir = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, self.out_dir, True)

    def run_service(self, meter_ids: list[str], models: dict[str, PvModel]) -> PvService:
        output = CsvOutput(self.out_dir, UTC, "never")
        self.addCleanup(output.close)
        connection = Connection(self.broker.connector(), FAST_RETRY)
        self.addCleanup(connection.close)
        service = PvService(connection, meter_ids, LinearPv(), output, 9000.0, lambda: False,
                            exit_when_idle_s=0.05, batch_max=1000, stats_interval_s=0,
                            pv_models=models)
        service.run()
        output.close()
        return service

    def publish(self, meter_ids: list[str], count: int) -> None:
        """Readings in time order across meters, as a real-time meter publishes a tick."""
        for meter_id in meter_ids:
            self.broker.declare(meter_id)
            self.broker.declare(meter_id + ".dlq")
        encoders = {meter_id: ReadingEncoder(meter_id) for meter_id in meter_ids}
        for i in range(count):
            for meter_id in meter_ids:
                self.broker.put(meter_id, encoders[meter_id](START_S + i, 100.0), START_S + i)

    def pv_values(self, meter_id: str) -> list[float]:
        with (self.out_dir / f"{meter_id}-2026-06-21.csv").open(newline="") as handle:
            return [float(row["pv_power_value_kw"]) for row in csv.DictReader(handle)]

    def test_each_meter_gets_its_plant_and_a_shared_plant_computes_once_a_timestamp(self) -> None:
        shared, own = CountingPv(1.0), CountingPv(2.0)
        self.publish(["M0", "M1", "M2", "M3"], 50)
        self.run_service(["M0", "M1", "M2", "M3"], {"M0": shared, "M1": shared, "M2": own})
        self.assertEqual(set(self.pv_values("M0")) | set(self.pv_values("M1")), {1.0})
        self.assertEqual(set(self.pv_values("M2")), {2.0})
        self.assertEqual(self.pv_values("M3"), [i / 1000.0 for i in range(50)])
        self.assertEqual(own.calls, 50)
        # The fake broker delivers round robin, so M0's and M1's readings of a time are adjacent.
        self.assertEqual(shared.calls, 50)

    def test_readings_outside_the_weather_are_zero_counted_and_logged_once_a_day(self) -> None:
        bounded = CountingPv(1.5)
        self.publish(["M0"], 300)
        with self.assertLogs("pv_simulator.services.pv_service", "WARNING") as logs:
            service = self.run_service(["M0"], {"M0": bounded})
        self.assertEqual(self.pv_values("M0"), [1.5] * 100 + [0.0] * 200)
        self.assertEqual(service.result().outside_weather, 200)
        self.assertEqual(len(logs.output), 1)
        self.assertIn("no weather in span.csv on 2026-06-2", logs.output[0])

    def test_the_outside_span_warning_names_the_local_date_of_the_file(self) -> None:
        late_utc = datetime(2026, 6, 21, 23, 30, tzinfo=timezone.utc).timestamp()
        self.broker.declare("M0")
        self.broker.declare("M0.dlq")
        self.broker.put("M0", ReadingEncoder("M0")(late_utc, 100.0), late_utc)
        output = CsvOutput(self.out_dir, ZoneInfo("Pacific/Auckland"), "never")  # UTC+12 in June
        self.addCleanup(output.close)
        connection = Connection(self.broker.connector(), FAST_RETRY)
        self.addCleanup(connection.close)
        service = PvService(connection, ["M0"], LinearPv(), output, 9000.0, lambda: False,
                            exit_when_idle_s=0.05, stats_interval_s=0,
                            pv_models={"M0": CountingPv(1.0, covered_until_s=0.0)})
        with self.assertLogs("pv_simulator.services.pv_service", "WARNING") as logs:
            service.run()
        output.close()
        self.assertEqual([path.name for path in self.out_dir.glob("*.csv")], ["M0-2026-06-22.csv"])
        self.assertIn("no weather in span.csv on 2026-06-22", logs.output[0])


if __name__ == "__main__":
    unittest.main()
