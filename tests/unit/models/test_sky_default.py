"""The default variable sky: a monthly K by latitude and hemisphere against typical years, the
southern seasons six months shifted, reproducibility."""

from __future__ import annotations

import random
import unittest
from datetime import date

from pv_simulator.models.pv_plant import weather_source
from pv_simulator.models.sky_climate import (
    DEFAULT_FIT_LATITUDES_DEG,
    clear_sky_samples,
    daily_clearness_of_weather,
    default_sky,
    latitude_monthly_clearness,
    monthly_clearness_of_days,
    sky_daily_clearness,
)
from pv_simulator.models.weather_files import read_weather_file
from tests.paths import ROOT

WEATHER = ROOT / "tests" / "data" / "weather"
SEEDS = (0, 1, 2)
YEAR = 2026

MONTH_TOLERANCE = 0.25
"""Every month of every typical year below within this of the default sky at its latitude. The
default knows latitude only: Sand Point's foggy Aleutian August (0.44) is 0.22 below it, PVGIS
45 N 8 E's June (0.88) 0.19 above."""

ANNUAL_TOLERANCE = 0.12
"""The mean of the 12 monthly K within this (PVGIS 45 N 8 E is 0.11 brighter than 45 deg's)."""

GENERATED_TOLERANCE = 0.03
"""The generated sky's monthly K (3 seeds pooled) within this of the climatology it is given."""

AMSTERDAM_ISSUE_K = {1: 0.57, 4: 0.61, 6: 0.66, 9: 0.62, 12: 0.56}
"""Amsterdam's typical year as quoted in issue 22 (52 N), January, April, June, September,
December."""


def month_days(year: int, month: int) -> range:
    return range(date(year, month, 1).toordinal(),
                 date(year + month // 12, month % 12 + 1, 1).toordinal())


class TypicalYearTest(unittest.TestCase):
    """The generated default sky's months at each file's latitude against the file's months."""

    def check_file(self, name: str) -> None:
        data = read_weather_file(WEATHER / name)
        site = weather_source(data).site
        file_k = monthly_clearness_of_days(daily_clearness_of_weather(data, site))
        offset_s = data.utc_offset_s or round(site.longitude_deg / 15.0) * 3600.0
        samples = clear_sky_samples(site, YEAR, offset_s, step_minutes=20)
        sky_k = monthly_clearness_of_days([day for seed in SEEDS for day in sky_daily_clearness(
            default_sky(seed=seed, latitude_deg=site.latitude_deg), samples)])
        target = latitude_monthly_clearness(round(site.latitude_deg))
        for month in range(12):
            self.assertAlmostEqual(sky_k[month], target[month], delta=GENERATED_TOLERANCE,
                                   msg=f"{name} month {month + 1}: generated vs climatology")
            self.assertAlmostEqual(sky_k[month], file_k[month], delta=MONTH_TOLERANCE,
                                   msg=f"{name} month {month + 1}: sky vs file")
        self.assertAlmostEqual(sum(sky_k) / 12, sum(file_k) / 12, delta=ANNUAL_TOLERANCE, msg=name)

    def test_pvgis_45n_8e(self) -> None:
        self.check_file("pvgis_tmy_45N_8E.csv")

    def test_greensboro_36n(self) -> None:
        self.check_file("greensboro_tmy3.csv")

    def test_amsterdam_52n(self) -> None:
        self.check_file("amsterdam_iwec.epw")

    def test_sand_point_55n(self) -> None:
        self.check_file("sand_point_tmy3.csv")

    def test_amsterdam_as_quoted_in_the_issue(self) -> None:
        default = latitude_monthly_clearness(52.3)
        for month, value in AMSTERDAM_ISSUE_K.items():
            self.assertAlmostEqual(default[month - 1], value, delta=MONTH_TOLERANCE, msg=month)

    def test_winters_are_brighter_towards_the_subtropics(self) -> None:
        """The issue's complaint: one winter everywhere. Now 36 N's January is the brighter."""
        self.assertGreater(latitude_monthly_clearness(36.1)[0],
                           latitude_monthly_clearness(52.3)[0] + 0.1)


class HemisphereTest(unittest.TestCase):
    def test_the_south_has_the_north_s_months_shifted_by_six(self) -> None:
        for latitude in (10.0, 33.87, 45.0, 60.0):
            north = latitude_monthly_clearness(latitude)
            self.assertEqual(latitude_monthly_clearness(-latitude), north[6:] + north[:6])

    def test_sydney_s_june_is_its_winter(self) -> None:
        sydney = latitude_monthly_clearness(-33.87)
        self.assertEqual(min(sydney), sydney[6])
        self.assertLess(sydney[5], sydney[11])
        self.assertEqual(sydney[5], latitude_monthly_clearness(33.87)[11])

    def test_generated_southern_winter_is_darker_than_its_summer(self) -> None:
        for latitude, winter, summer in ((-45.0, 7, 1), (45.0, 1, 7)):
            sky = default_sky(seed=3, latitude_deg=latitude)
            means = {month: sum(sky.daily_clearness(day) for day in month_days(YEAR, month))
                     / len(month_days(YEAR, month)) for month in (winter, summer)}
            self.assertGreater(means[summer] - means[winter], 0.05, latitude)

    def test_seasons_fade_towards_the_equator_without_a_jump(self) -> None:
        for north, south in ((0.5, -0.5), (0.0, -0.01)):
            for a, b in zip(latitude_monthly_clearness(north), latitude_monthly_clearness(south),
                            strict=True):
                self.assertAlmostEqual(a, b, delta=0.002)

    def test_outside_the_fitted_latitudes_the_nearest_end_holds(self) -> None:
        low, high = DEFAULT_FIT_LATITUDES_DEG
        self.assertEqual(latitude_monthly_clearness(70.0), latitude_monthly_clearness(high))
        self.assertEqual(latitude_monthly_clearness(-80.0), latitude_monthly_clearness(-high))
        self.assertNotEqual(latitude_monthly_clearness(low - 5.0), latitude_monthly_clearness(low))
        for value in latitude_monthly_clearness(15.0):
            self.assertAlmostEqual(value, sum(latitude_monthly_clearness(low)) / 12, delta=0.02)


class ReproducibilityTest(unittest.TestCase):
    days = range(date(2026, 1, 20).toordinal(), date(2026, 3, 10).toordinal())

    def test_same_seed_same_sky_in_any_order_and_cache(self) -> None:
        forward = default_sky(seed=7, latitude_deg=48.2)
        expected = {day: forward.day_series(day) for day in self.days}
        shuffled = list(self.days)
        random.Random(5).shuffle(shuffled)
        restarted = default_sky(seed=7, latitude_deg=48.2, cache_days=1)
        for day in shuffled:
            self.assertEqual(restarted.day_series(day), expected[day])

    def test_different_seeds_differ(self) -> None:
        first, second = default_sky(seed=7, latitude_deg=48.2), default_sky(seed=8, latitude_deg=48.2)
        self.assertNotEqual([first.daily_clearness(d) for d in self.days],
                            [second.daily_clearness(d) for d in self.days])

    def test_unseeded_sky_is_reproducible_and_neighbours_share_it(self) -> None:
        day = self.days[0]
        self.assertEqual(default_sky(seed=None, latitude_deg=48.2).day_series(day),
                         default_sky(seed=None, latitude_deg=47.9).day_series(day))


if __name__ == "__main__":
    unittest.main()
