"""Energy counters: the integral of the written rows, continued from the files after a restart."""

from __future__ import annotations

import random
import tempfile
import unittest
from pathlib import Path
from zoneinfo import ZoneInfo

from pv_simulator.services.energy import (
    MAX_INTERVAL_S,
    EnergyCounters,
    EnergyCsvOutput,
    MeterEnergy,
    energy_summary,
)
from pv_simulator.storage.csv_format import file_glob
from pv_simulator.storage.csv_store import CsvOutput
from tests.helpers import energy_integral, rows_of

START_S = 1_782_000_000.0


def counters(energy: MeterEnergy) -> tuple[float, float, float, float]:
    return energy.consumption_kwh, energy.pv_kwh, energy.grid_import_kwh, energy.grid_export_kwh


def integral(rows: list[dict[str, str]]) -> tuple[float, float, float, float]:
    totals = energy_integral(rows, MAX_INTERVAL_S)
    return totals["consumption"], totals["pv"], totals["grid_import"], totals["grid_export"]


class MeterEnergyTest(unittest.TestCase):
    def test_one_hour_at_1_kw_is_1_kwh(self) -> None:
        energy = MeterEnergy()
        energy.add(0.0, 1000.0, 0.0)
        for i in range(1, 3601):
            energy.add(float(i), 1000.0, 0.0)
        self.assertAlmostEqual(energy.consumption_kwh, 1.0)
        self.assertAlmostEqual(energy.grid_import_kwh, 1.0)
        self.assertEqual(energy.grid_export_kwh, 0.0)

    def test_export_when_pv_exceeds_consumption(self) -> None:
        energy = MeterEnergy()
        for quarter in range(5):
            energy.add(900.0 * quarter, 200.0, 1.0)
        self.assertAlmostEqual(energy.pv_kwh, 1.0)
        self.assertAlmostEqual(energy.grid_export_kwh, 0.8)
        self.assertEqual(energy.grid_import_kwh, 0.0)
        self.assertAlmostEqual(energy.grid_power_w, -800.0)

    def test_a_gap_or_an_earlier_time_adds_nothing(self) -> None:
        energy = MeterEnergy()
        energy.add(0.0, 1000.0, 0.0)
        energy.add(MAX_INTERVAL_S + 1.0, 1000.0, 0.0)
        self.assertEqual(energy.consumption_kwh, 0.0)
        energy.add(10.0, 1000.0, 0.0)
        self.assertEqual(energy.consumption_kwh, 0.0)
        energy.add(20.0, 360.0, 0.0)
        self.assertAlmostEqual(energy.consumption_kwh, 0.001)


class EnergyCountersTest(unittest.TestCase):
    def setUp(self) -> None:
        self.out = Path(tempfile.mkdtemp())

    def write(self, output: CsvOutput, counters_: EnergyCounters, meter_id: str,
              rows: list[tuple[float, float, float]]) -> None:
        for time_s, meter_w, pv_kw in rows:
            if output.write(meter_id, time_s, meter_w, pv_kw):
                counters_.add(meter_id, time_s, meter_w, pv_kw)
        output.flush()

    def test_a_restart_continues_from_the_written_rows_never_from_zero(self) -> None:
        rng = random.Random(7)
        # Two local days, a gap, and PV crossing consumption both ways.
        rows = [(START_S + 30.0 * i, rng.uniform(0, 3000), rng.uniform(0, 4)) for i in range(4000)]
        rows = rows[:1500] + [(t + 5000.0, w, kw) for t, w, kw in rows[1500:]]
        first = EnergyCounters()
        output = CsvOutput(self.out, ZoneInfo("Europe/Berlin"))
        self.write(output, first, "M", rows[:2500])
        output.close()
        before = counters(first.meters["M"])

        second = EnergyCounters()
        self.assertEqual(second.seed(self.out, ["M"]), 2500)
        for mine, seeded in zip(before, counters(second.meters["M"]), strict=True):
            self.assertAlmostEqual(mine, seeded, places=6)
        output = CsvOutput(self.out, ZoneInfo("Europe/Berlin"))
        # Redelivered rows are skipped by the writer, so the counters do not count them twice.
        self.write(output, second, "M", rows[2400:])
        output.close()
        after = counters(second.meters["M"])
        expected = integral(rows_of(self.out, "M"))
        for got, want, was in zip(after, expected, before, strict=True):
            self.assertGreaterEqual(got, was)
            self.assertAlmostEqual(got, want, delta=want * 1e-3)
        self.assertGreater(min(expected), 0.0)

    def test_seed_reads_only_the_meters_asked_and_skips_a_torn_line(self) -> None:
        output = CsvOutput(self.out, ZoneInfo("UTC"))
        counters_ = EnergyCounters()
        self.write(output, counters_, "A", [(START_S, 1000.0, 0.0), (START_S + 3.6, 1000.0, 0.0)])
        self.write(output, counters_, "B", [(START_S, 500.0, 0.0), (START_S + 3.6, 500.0, 0.0)])
        output.close()
        path = next(self.out.glob(file_glob("A")))
        with path.open("a") as handle:
            handle.write("A,1782000010,99999")
        seeded = EnergyCounters()
        self.assertEqual(seeded.seed(self.out, ["A"]), 2)
        self.assertEqual(set(seeded.meters), {"A"})
        self.assertAlmostEqual(seeded.meters["A"].consumption_kwh, 0.001)

    def test_fleet_sums_the_meters(self) -> None:
        counters_ = EnergyCounters()
        for meter_id, watts in (("A", 1000.0), ("B", 3000.0)):
            counters_.add(meter_id, 0.0, watts, 0.5)
            counters_.add(meter_id, 36.0, watts, 0.5)
        fleet = counters_.fleet()
        self.assertAlmostEqual(fleet.consumption_kwh, 0.04)
        self.assertAlmostEqual(fleet.pv_kwh, 0.01)
        self.assertAlmostEqual(fleet.meter_power_w, 4000.0)
        self.assertAlmostEqual(fleet.grid_power_w, 3000.0)


class EnergyCsvOutputTest(unittest.TestCase):
    def test_counts_written_rows_only_and_names_their_meters_after_the_flush(self) -> None:
        counters_ = EnergyCounters()
        output = EnergyCsvOutput(counters_, Path(tempfile.mkdtemp()), ZoneInfo("UTC"))
        flushed: list[list[str]] = []
        output.on_flushed = flushed.append
        self.assertTrue(output.write("A", START_S, 1000.0, 0.0))
        self.assertTrue(output.write("A", START_S + 36.0, 1000.0, 0.0))
        self.assertFalse(output.write("A", START_S + 36.0, 9999.0, 0.0))
        self.assertEqual(flushed, [])
        output.flush()
        output.flush()
        output.close()
        self.assertEqual(flushed, [["A"]])
        self.assertAlmostEqual(counters_.meters["A"].consumption_kwh, 0.01)
        self.assertEqual(energy_summary(counters_)["energy_kwh"]["A"]["consumption"], 0.01)
        self.assertEqual(energy_summary(None), {})


if __name__ == "__main__":
    unittest.main()
