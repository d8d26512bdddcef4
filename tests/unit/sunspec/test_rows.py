"""Rows as register values: the inverter's temperature follows its rows as a heat sink would."""

from __future__ import annotations

import math
import unittest

from pv_simulator.models.pv_chain import INVERTER_TIME_CONSTANT_S, inverter_temperature_c
from pv_simulator.sunspec.rows import InverterTemperatures

RATING_W = 4000.0


def air_c(time_s: float) -> float:
    return 15.0 + time_s / 3600.0


class InverterTemperaturesTest(unittest.TestCase):
    def setUp(self) -> None:
        self.temperatures = InverterTemperatures({"Meter_0": air_c, "house.2": lambda _t: None},
                                                 {"Meter_0": RATING_W, "house.2": RATING_W})

    def test_the_first_row_is_at_its_steady_state(self) -> None:
        self.assertEqual(self.temperatures.at("Meter_0", 0.0, RATING_W),
                         inverter_temperature_c(15.0, RATING_W, RATING_W))

    def test_a_step_in_power_is_followed_with_the_time_constant(self) -> None:
        hot_c = self.temperatures.at("Meter_0", 0.0, RATING_W)
        assert hot_c is not None
        after_c = self.temperatures.at("Meter_0", INVERTER_TIME_CONSTANT_S, 0.0)
        assert after_c is not None
        cold_c = air_c(INVERTER_TIME_CONSTANT_S)
        self.assertAlmostEqual((after_c - cold_c) / (hot_c - cold_c), math.exp(-1.0), places=4)
        later_c = self.temperatures.at("Meter_0", 20 * INVERTER_TIME_CONSTANT_S, 0.0)
        self.assertAlmostEqual(later_c or 0.0, air_c(20 * INVERTER_TIME_CONSTANT_S), places=5)

    def test_one_second_later_it_has_barely_moved(self) -> None:
        hot_c = self.temperatures.at("Meter_0", 0.0, RATING_W)
        next_c = self.temperatures.at("Meter_0", 1.0, 0.0)
        assert hot_c is not None and next_c is not None
        self.assertLess(hot_c - next_c, 0.1)
        self.assertGreater(hot_c - next_c, 0.0)

    def test_no_air_temperature_no_inverter_temperature(self) -> None:
        self.assertIsNone(self.temperatures.at("house.2", 0.0, 1000.0))
        self.assertIsNone(self.temperatures.at("unknown", 0.0, 1000.0))


if __name__ == "__main__":
    unittest.main()
