"""One reading's site balance: every limit at its edge, and the balance exact in milliwatts."""

from __future__ import annotations

import dataclasses
import unittest

from parameterized import parameterized

from pv_simulator.models.site import IDLE, SELF_CONSUMPTION, SETPOINT, Site, SiteStep, site_step

SITE = Site(inverter_ac_kw=5.0, capacity_kwh=10.0, max_charge_kw=5.0, max_discharge_kw=4.0,
            round_trip_efficiency=0.9, soc_min_pct=5.0, soc_max_pct=100.0, initial_soc_pct=50.0,
            mode=SELF_CONSUMPTION, export_limit_w=None)
NO_BATTERY = dataclasses.replace(SITE, capacity_kwh=0.0, max_charge_kw=0.0, max_discharge_kw=0.0)
DECIMALS = 6


def step(site: Site = SITE, household_w: float = 500.0, pv_kw: float = 3.0, interval_s: float = 60.0,
         soc: float = 50.0, mode: str = SELF_CONSUMPTION, setpoint_w: float = 0.0,
         pv_limit_pct: float | None = None, export_limit_w: float | None = None) -> SiteStep:
    return site_step(site, household_w, pv_kw, interval_s, soc, mode, setpoint_w, pv_limit_pct,
                     export_limit_w, DECIMALS)


class SiteStepTest(unittest.TestCase):
    def assert_balanced(self, result: SiteStep) -> None:
        grid_mw = round(result.household_w * 1000) - round(result.pv_power_kw * 1e6) \
            + round(result.battery_power_w * 1000)
        self.assertEqual(round(result.grid_power_w * 1000), grid_mw)

    def test_surplus_charges_the_battery_and_nothing_is_exported(self) -> None:
        result = step(household_w=500.0, pv_kw=3.0)
        self.assertEqual(result.battery_power_w, 2500.0)
        self.assertEqual(result.grid_power_w, 0.0)
        self.assertGreater(result.soc_pct, 50.0)
        self.assert_balanced(result)

    def test_surplus_beyond_the_charge_limit_is_exported(self) -> None:
        result = step(household_w=500.0, pv_kw=7.0)
        self.assertEqual(result.battery_power_w, 5000.0)
        self.assertEqual(result.grid_power_w, -1500.0)
        self.assert_balanced(result)

    def test_a_full_battery_exports_everything(self) -> None:
        result = step(household_w=500.0, pv_kw=3.0, soc=100.0)
        self.assertEqual(result.battery_power_w, 0.0)
        self.assertEqual(result.grid_power_w, -2500.0)
        self.assertEqual(result.soc_pct, 100.0)

    def test_deficit_discharges_up_to_its_limit(self) -> None:
        result = step(household_w=6000.0, pv_kw=1.0)
        self.assertEqual(result.battery_power_w, -4000.0)
        self.assertEqual(result.grid_power_w, 1000.0)
        self.assertLess(result.soc_pct, 50.0)
        self.assert_balanced(result)

    def test_discharge_ends_at_soc_min(self) -> None:
        result = step(household_w=2000.0, pv_kw=0.0, soc=5.01, interval_s=3600.0)
        self.assertLess(result.battery_power_w, 0.0)
        self.assertGreater(result.battery_power_w, -2000.0)
        self.assertGreaterEqual(result.soc_pct, 5.0)
        # Within the one milliwatt the power is rounded down by, held for the hour.
        self.assertLessEqual(result.soc_pct - 5.0, 2 * 1e-6 / 10.0 * 100.0)
        self.assertEqual(step(household_w=2000.0, pv_kw=0.0, soc=5.0).battery_power_w, 0.0)

    def test_charge_ends_at_soc_max(self) -> None:
        result = step(household_w=0.0, pv_kw=5.0, soc=99.99, interval_s=3600.0)
        self.assertLessEqual(result.soc_pct, 100.0)
        self.assertAlmostEqual(result.soc_pct, 100.0, places=5)
        self.assertLess(result.battery_power_w, 5000.0)

    def test_efficiency_counts_in_the_state_of_charge(self) -> None:
        charged = step(household_w=0.0, pv_kw=1.0, interval_s=3600.0)
        self.assertAlmostEqual(charged.soc_pct - 50.0, 10.0 * 0.9 ** 0.5, places=5)
        discharged = step(household_w=1000.0, pv_kw=0.0, interval_s=3600.0)
        self.assertAlmostEqual(50.0 - discharged.soc_pct, 10.0 / 0.9 ** 0.5, places=5)

    def test_idle_moves_nothing(self) -> None:
        result = step(mode=IDLE)
        self.assertEqual((result.battery_power_w, result.soc_pct), (0.0, 50.0))
        self.assertEqual(result.grid_power_w, -2500.0)

    @parameterized.expand([("charge", 3000.0, 3000.0), ("discharge", -2500.0, -2500.0),
                           ("charge_clipped", 9000.0, 5000.0), ("discharge_clipped", -9000.0, -4000.0)])
    def test_setpoint_is_followed_within_the_limits(self, _: str, setpoint_w: float,
                                                    expected_w: float) -> None:
        result = step(mode=SETPOINT, setpoint_w=setpoint_w, household_w=500.0, pv_kw=1.0)
        self.assertEqual(result.battery_power_w, expected_w)
        self.assert_balanced(result)

    def test_pv_limit_is_a_share_of_the_ac_rating(self) -> None:
        result = step(site=NO_BATTERY, household_w=0.0, pv_kw=4.0, pv_limit_pct=30.0)
        self.assertEqual(result.pv_power_kw, 1.5)  # 30 % of 5 kW AC, not of the 4 kW available
        self.assertEqual(step(site=NO_BATTERY, pv_kw=1.0, pv_limit_pct=30.0).pv_power_kw, 1.0)
        self.assertEqual(step(site=NO_BATTERY, pv_kw=1.0, pv_limit_pct=0.0).pv_power_kw, 0.0)

    def test_zero_feed_in_without_battery_curtails_to_the_household(self) -> None:
        result = step(site=NO_BATTERY, household_w=432.1234, pv_kw=3.0, export_limit_w=0.0)
        self.assertEqual(result.grid_power_w, 0.0)
        self.assertEqual(result.pv_power_kw, 0.432123)
        self.assert_balanced(result)

    def test_export_limit_binds_only_beyond_it(self) -> None:
        at_edge = step(site=NO_BATTERY, household_w=500.0, pv_kw=1.5, export_limit_w=1000.0)
        self.assertEqual((at_edge.pv_power_kw, at_edge.grid_power_w), (1.5, -1000.0))
        beyond = step(site=NO_BATTERY, household_w=500.0, pv_kw=2.0, export_limit_w=1000.0)
        self.assertEqual((beyond.pv_power_kw, beyond.grid_power_w), (1.5, -1000.0))

    def test_export_limit_applies_after_the_battery_took_what_it_can(self) -> None:
        result = step(household_w=500.0, pv_kw=8.0, export_limit_w=0.0)
        self.assertEqual(result.battery_power_w, 5000.0)
        self.assertEqual(result.pv_power_kw, 5.5)
        self.assertEqual(result.grid_power_w, 0.0)

    def test_export_limit_also_holds_a_discharge_setpoint(self) -> None:
        result = step(mode=SETPOINT, setpoint_w=-4000.0, household_w=500.0, pv_kw=0.0,
                      export_limit_w=200.0)
        self.assertEqual(result.battery_power_w, -700.0)
        self.assertEqual(result.grid_power_w, -200.0)

    def test_first_reading_moves_no_energy(self) -> None:
        result = step(interval_s=0.0)
        self.assertEqual(result.soc_pct, 50.0)

    def test_rounded_values_are_whole_milliwatts(self) -> None:
        result = step(household_w=123.45678, pv_kw=0.3333333, interval_s=1.0)
        for value in (result.household_w * 1000, result.pv_power_kw * 1e6,
                      result.battery_power_w * 1000, result.grid_power_w * 1000):
            self.assertAlmostEqual(value, round(value), places=6)
        self.assert_balanced(result)
        self.assertEqual(result.soc_pct, round(result.soc_pct, DECIMALS))


if __name__ == "__main__":
    unittest.main()
