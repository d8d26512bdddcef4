"""The battery step: a full cycle loses exactly 1 - round trip, and no power passes a bound."""

from __future__ import annotations

import math
import unittest

from pv_simulator.models.battery import (
    charge_limit_w,
    discharge_limit_w,
    one_way_efficiency,
    soc_after_pct,
    stored_change_kwh,
)

CAPACITY_KWH = 10.0
HOUR_S = 3600.0


class BatteryTest(unittest.TestCase):
    def test_a_full_cycle_returns_the_round_trip_share(self) -> None:
        for round_trip in (0.8, 0.9, 0.95, 1.0):
            one_way = one_way_efficiency(round_trip)
            stored = stored_change_kwh(1000.0, one_way, HOUR_S)  # 1 kWh charged
            # Discharging what was stored: the AC energy out is stored x one_way.
            out_w = stored * 1000.0 * one_way
            self.assertAlmostEqual(-stored_change_kwh(-out_w, one_way, HOUR_S), stored)
            self.assertAlmostEqual(out_w / 1000.0, round_trip, msg=round_trip)

    def test_charge_limit_stops_exactly_at_soc_max(self) -> None:
        one_way = one_way_efficiency(0.9)
        limit = charge_limit_w(99.0, CAPACITY_KWH, 100.0, 5.0, one_way, HOUR_S)
        self.assertLess(limit, 5000.0)
        after = soc_after_pct(99.0, limit, CAPACITY_KWH, one_way, HOUR_S, 5.0, 100.0)
        self.assertAlmostEqual(after, 100.0, places=9)

    def test_discharge_limit_stops_exactly_at_soc_min(self) -> None:
        one_way = one_way_efficiency(0.9)
        limit = discharge_limit_w(6.0, CAPACITY_KWH, 5.0, 5.0, one_way, HOUR_S)
        self.assertLess(limit, 5000.0)
        after = soc_after_pct(6.0, -limit, CAPACITY_KWH, one_way, HOUR_S, 5.0, 100.0)
        self.assertAlmostEqual(after, 5.0, places=9)

    def test_power_limits_bind_when_the_soc_leaves_room(self) -> None:
        one_way = one_way_efficiency(0.9)
        self.assertEqual(charge_limit_w(50.0, CAPACITY_KWH, 100.0, 3.0, one_way, 60.0), 3000.0)
        self.assertEqual(discharge_limit_w(50.0, CAPACITY_KWH, 5.0, 2.0, one_way, 60.0), 2000.0)

    def test_full_and_empty_refuse_even_over_a_zero_interval(self) -> None:
        one_way = one_way_efficiency(0.9)
        self.assertEqual(charge_limit_w(100.0, CAPACITY_KWH, 100.0, 5.0, one_way, 0.0), 0.0)
        self.assertEqual(discharge_limit_w(5.0, CAPACITY_KWH, 5.0, 5.0, one_way, 0.0), 0.0)
        self.assertEqual(charge_limit_w(50.0, CAPACITY_KWH, 100.0, 5.0, one_way, 0.0), 5000.0)

    def test_soc_change_follows_efficiency_each_way(self) -> None:
        one_way = one_way_efficiency(0.81)
        self.assertAlmostEqual(soc_after_pct(50.0, 1000.0, CAPACITY_KWH, one_way, HOUR_S, 0, 100),
                               50.0 + 0.9 * 10.0)
        self.assertAlmostEqual(soc_after_pct(50.0, -900.0, CAPACITY_KWH, one_way, HOUR_S, 0, 100),
                               50.0 - 10.0)

    def test_a_state_outside_new_bounds_is_not_pulled_in(self) -> None:
        one_way = one_way_efficiency(0.9)
        after = soc_after_pct(2.0, 100.0, CAPACITY_KWH, one_way, 60.0, 5.0, 100.0)
        self.assertGreater(after, 2.0)
        self.assertLess(after, 5.0)
        self.assertTrue(math.isfinite(after))


if __name__ == "__main__":
    unittest.main()
