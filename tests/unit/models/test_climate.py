"""The climate air temperature: annual mean by latitude, seasons mirrored south, afternoon peak."""

from __future__ import annotations

import unittest
from datetime import datetime, timezone

from pv_simulator.models.climate import (
    AirTemperatureClimate,
    latitude_annual_mean_c,
    seasonal_half_range_k,
)


def utc_s(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> float:
    return datetime(year, month, day, hour, minute, tzinfo=timezone.utc).timestamp()


class ClimateTest(unittest.TestCase):
    def test_annual_means_and_ranges_of_known_places(self) -> None:
        for latitude, normal in ((48.2, 11.4), (45.0, 13.0), (36.1, 15.0), (60.0, 6.0)):
            self.assertAlmostEqual(latitude_annual_mean_c(latitude), normal, delta=2.5)
        self.assertAlmostEqual(latitude_annual_mean_c(0.0), 27.0)
        self.assertLess(seasonal_half_range_k(5.0), 3.0)
        self.assertAlmostEqual(seasonal_half_range_k(48.2), 11.0)

    def test_july_afternoons_are_warm_and_january_nights_cold_in_vienna(self) -> None:
        vienna = AirTemperatureClimate(latitude_deg=48.2, longitude_deg=16.37)
        # 15:00 solar time is about 13:55 UTC at 16.37 E.
        july = vienna.at(utc_s(2026, 7, 20, 13, 55))
        january = vienna.at(utc_s(2026, 1, 19, 1, 55))
        mean = latitude_annual_mean_c(48.2)
        self.assertAlmostEqual(july, mean + 11.0 + 5.0, delta=0.2)
        self.assertAlmostEqual(january, mean - 11.0 - 5.0, delta=0.2)
        day = [vienna.at(utc_s(2026, 7, 20, hour)) for hour in range(24)]
        self.assertIn(day.index(max(day)), (13, 14))

    def test_the_south_has_its_summer_in_january(self) -> None:
        sydney = AirTemperatureClimate(latitude_deg=-33.9, longitude_deg=151.2)
        self.assertGreater(sydney.at(utc_s(2026, 1, 19, 4)), sydney.at(utc_s(2026, 7, 20, 4)) + 15)

    def test_the_year_mean_is_the_annual_mean(self) -> None:
        climate = AirTemperatureClimate(latitude_deg=45.0, longitude_deg=8.0)
        samples = [climate.at(utc_s(2026, 1, 1) + 3 * 3600.0 * k) for k in range(8 * 365)]
        self.assertAlmostEqual(sum(samples) / len(samples), climate.annual_mean_c, delta=0.05)


if __name__ == "__main__":
    unittest.main()
