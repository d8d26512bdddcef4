"""Cloud model: reproducibility, bounds, regime statistics, autocorrelation and energy."""

from __future__ import annotations

import itertools
import random
import unittest
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from parameterized import parameterized

from pv_simulator.models.pv_plant import SolarPvModel
from pv_simulator.models.sky import (
    BROKEN,
    CLEAR,
    DEFAULT_TRANSITIONS,
    MAX_CLEAR_SKY_INDEX,
    MINUTES_PER_DAY,
    OVERCAST,
    REGIMES,
    CloudySky,
    monthly_transitions,
    stationary_distribution,
)

FIRST_DAY = date(2026, 1, 1).toordinal()
VIENNA = ZoneInfo("Europe/Vienna")


def lag1_autocorrelation(values: tuple[float, ...] | list[float]) -> float:
    mean = sum(values) / len(values)
    variance = sum((v - mean) ** 2 for v in values)
    return sum((a - mean) * (b - mean) for a, b in itertools.pairwise(values)) / variance


def daytime(series: tuple[float, ...]) -> tuple[float, ...]:
    return series[6 * 60:18 * 60]


class ReproducibilityTest(unittest.TestCase):
    def test_same_seed_gives_same_sky(self) -> None:
        first, second = CloudySky(seed=5), CloudySky(seed=5)
        for day in range(FIRST_DAY, FIRST_DAY + 10):
            self.assertEqual(first.regime(day), second.regime(day))
            self.assertEqual(first.day_series(day), second.day_series(day))

    def test_different_seeds_give_different_skies(self) -> None:
        days = range(FIRST_DAY, FIRST_DAY + 30)
        first, second = CloudySky(seed=5), CloudySky(seed=6)
        self.assertNotEqual([first.regime(d) for d in days], [second.regime(d) for d in days])
        for day in days:
            self.assertNotEqual(first.day_series(day), second.day_series(day))

    def test_unseeded_sky_is_reproducible(self) -> None:
        self.assertEqual(CloudySky().day_series(FIRST_DAY), CloudySky().day_series(FIRST_DAY))

    def test_query_order_and_cache_do_not_matter(self) -> None:
        days = list(range(FIRST_DAY, FIRST_DAY + 40))
        forward = CloudySky(seed=9)
        expected = {day: (forward.regime(day), forward.day_series(day)) for day in days}
        shuffled = days[:]
        random.Random(2).shuffle(shuffled)
        tiny_cache = CloudySky(seed=9, cache_days=1)
        for day in shuffled + shuffled[::-1]:
            self.assertEqual((tiny_cache.regime(day), tiny_cache.day_series(day)), expected[day])
        jump = CloudySky(seed=9)
        self.assertEqual(jump.day_series(days[-1]), expected[days[-1]][1])

    def test_index_is_linear_between_grid_minutes(self) -> None:
        sky = CloudySky(seed=1)
        series = sky.day_series(FIRST_DAY)
        self.assertEqual(len(series), MINUTES_PER_DAY + 1)
        self.assertEqual(sky.clear_sky_index(FIRST_DAY, 600.0), series[600])
        self.assertAlmostEqual(sky.clear_sky_index(FIRST_DAY, 600.5),
                               (series[600] + series[601]) / 2.0)
        self.assertEqual(sky.clear_sky_index(FIRST_DAY, 1440.0), series[1440])

    @parameterized.expand([
        ("not_square", ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0))),
        ("row_sum", ((0.5, 0.4, 0.0), (0.2, 0.5, 0.3), (0.1, 0.3, 0.6))),
        ("negative", ((1.1, -0.1, 0.0), (0.2, 0.5, 0.3), (0.1, 0.3, 0.6))),
    ])
    def test_rejects_bad_transition_matrix(self, _: str,
                                           transitions: tuple[tuple[float, ...], ...]) -> None:
        with self.assertRaisesRegex(ValueError, "transitions"):
            CloudySky(transitions=transitions)  # type: ignore[arg-type]


class StatisticsTest(unittest.TestCase):
    sky: CloudySky
    days: range
    regimes: list[str]

    @classmethod
    def setUpClass(cls) -> None:
        cls.sky = CloudySky(seed=21, cache_days=1)
        cls.days = range(FIRST_DAY, FIRST_DAY + 3000)
        cls.regimes = [cls.sky.regime(day) for day in cls.days]

    def test_regime_shares_match_stationary_distribution(self) -> None:
        expected = stationary_distribution(DEFAULT_TRANSITIONS)
        self.assertAlmostEqual(sum(expected), 1.0)
        for regime, share in zip(REGIMES, expected, strict=True):
            self.assertGreater(share, 0.15)
            self.assertAlmostEqual(self.regimes.count(regime) / len(self.regimes), share,
                                   delta=0.04, msg=regime)

    def test_day_to_day_transitions_follow_markov_chain(self) -> None:
        for i, regime in enumerate(REGIMES):
            followers = [after for before, after in itertools.pairwise(self.regimes)
                         if before == regime]
            for j, next_regime in enumerate(REGIMES):
                self.assertAlmostEqual(followers.count(next_regime) / len(followers),
                                       DEFAULT_TRANSITIONS[i][j], delta=0.06,
                                       msg=f"{regime}->{next_regime}")

    def test_index_bounds_and_regime_levels(self) -> None:
        means: dict[str, list[float]] = {regime: [] for regime in REGIMES}
        maxima: dict[str, float] = {regime: 0.0 for regime in REGIMES}
        for day in self.days[:300]:
            series = self.sky.day_series(day)
            regime = self.sky.regime(day)
            self.assertGreater(min(series), 0.0)
            self.assertLessEqual(max(series), MAX_CLEAR_SKY_INDEX)
            means[regime].append(sum(series) / len(series))
            maxima[regime] = max(maxima[regime], max(series))
        self.assertLessEqual(maxima[CLEAR], 1.0)
        self.assertGreater(maxima[BROKEN], 1.0, "cloud-edge enhancement in broken skies")
        self.assertLess(maxima[OVERCAST], 1.0)
        average = {regime: sum(values) / len(values) for regime, values in means.items()}
        self.assertGreater(average[CLEAR], 0.95)
        self.assertGreater(average[CLEAR], average[BROKEN])
        self.assertGreater(average[BROKEN], average[OVERCAST])
        self.assertLess(average[OVERCAST], 0.5)

    def test_minute_series_is_autocorrelated_not_white_noise(self) -> None:
        per_regime: dict[str, list[float]] = {regime: [] for regime in REGIMES}
        for day in self.days[:200]:
            per_regime[self.sky.regime(day)].append(
                lag1_autocorrelation(daytime(self.sky.day_series(day))))
        for regime, values in per_regime.items():
            self.assertGreater(len(values), 20, regime)
            self.assertGreater(sum(values) / len(values), 0.8, regime)
            self.assertGreater(min(values), 0.6, regime)

    def test_broken_sky_varies_within_the_day(self) -> None:
        broken_days = [day for day in self.days[:100] if self.sky.regime(day) == BROKEN]
        for day in broken_days:
            series = daytime(self.sky.day_series(day))
            self.assertGreater(max(series) - min(series), 0.3)


class VariableSkyEnergyTest(unittest.TestCase):
    def test_daily_energy_is_a_plausible_share_of_clear_sky(self) -> None:
        plant: dict[str, Any] = {"latitude_deg": 48.2, "longitude_deg": 16.37,
                                 "altitude_m": 194.0, "tz": VIENNA, "peak_power_kw": 4.0,
                                 "tilt_deg": 30.0, "azimuth_deg": 180.0}
        clear = SolarPvModel(**plant, sky="clear")
        variable = SolarPvModel(**plant, sky="variable", seed=4)
        ratios = []
        for offset in range(0, 365, 5):
            start_s = (datetime(2026, 1, 1, tzinfo=VIENNA) + timedelta(days=offset)).timestamp()
            times = [start_s + 600.0 * k for k in range(144)]
            clear_kw = [clear.power_kw(t) for t in times]
            variable_kw = [variable.power_kw(t) for t in times]
            self.assertTrue(all(v >= 0.0 for v in variable_kw))
            self.assertLessEqual(max(variable_kw), 4.0 / 1.2)
            ratios.append(sum(variable_kw) / sum(clear_kw))
        # A dark overcast winter day is nearly all diffuse light, which a tilted plane collects
        # poorly, so it may yield only a few percent of the clear-sky day.
        self.assertTrue(all(0.03 <= ratio <= 1.0 for ratio in ratios), ratios)
        self.assertGreater(sorted(ratios)[len(ratios) // 10], 0.1)
        self.assertLess(sum(ratios) / len(ratios), 0.85)
        self.assertGreater(sum(ratios) / len(ratios), 0.35)
        self.assertGreater(max(ratios), 0.95, "some clear days")

    def test_variable_model_is_deterministic_in_any_order(self) -> None:
        plant: dict[str, Any] = {"latitude_deg": -33.87, "longitude_deg": 151.21,
                                 "altitude_m": 40.0, "tz": ZoneInfo("Australia/Sydney"),
                                 "peak_power_kw": 5.0, "tilt_deg": 30.0, "azimuth_deg": 0.0,
                                 "sky": "variable", "seed": 17}
        start_s = datetime(2026, 1, 10, tzinfo=ZoneInfo("Australia/Sydney")).timestamp()
        times = [start_s + 97.0 * k for k in range(3000)]
        forward = SolarPvModel(**plant)
        expected = [forward.power_kw(t) for t in times]
        shuffled = list(zip(times, expected, strict=True))
        random.Random(8).shuffle(shuffled)
        restarted = SolarPvModel(**plant)
        for time_s, value in shuffled:
            self.assertEqual(restarted.power_kw(time_s), value)
        for time_s, value in shuffled[:20]:
            self.assertEqual(SolarPvModel(**plant).power_kw(time_s), value)
        self.assertGreater(max(expected), 0.5)


if __name__ == "__main__":
    unittest.main()


def month_days(year: int, month: int) -> range:
    first = date(year, month, 1).toordinal()
    return range(first, (date(year + month // 12, month % 12 + 1, 1)).toordinal())


class SeasonalSkyTest(unittest.TestCase):
    """The statistics sky.py's docstring promises, over simulated months (five of each)."""

    def regime_shares(self, latitude: float, month: int) -> dict[str, float]:
        sky = CloudySky(seed=11, latitude_deg=latitude, cache_days=1)
        regimes = [sky.regime(day) for year in range(2016, 2026) for day in month_days(year, month)]
        return {regime: regimes.count(regime) / len(regimes) for regime in REGIMES}

    def test_mid_latitude_winters_are_overcast_summers_bright_mirrored_south(self) -> None:
        for latitude, summer, winter in ((48.2, 7, 1), (-45.0, 1, 7)):
            july, january = self.regime_shares(latitude, summer), self.regime_shares(latitude, winter)
            self.assertAlmostEqual(july[CLEAR], 0.39, delta=0.1, msg=latitude)
            self.assertAlmostEqual(july[OVERCAST], 0.13, delta=0.08, msg=latitude)
            self.assertAlmostEqual(january[OVERCAST], 0.68, delta=0.1, msg=latitude)
            self.assertLess(january[CLEAR], 0.15, latitude)

    def test_monthly_matrices_are_stochastic_and_the_equator_has_no_seasons(self) -> None:
        for latitude in (-60.0, -20.0, 0.0, 30.0, 48.0, 70.0):
            for month in range(1, 13):
                for row in monthly_transitions(month, latitude):
                    self.assertAlmostEqual(sum(row), 1.0)
                    self.assertGreaterEqual(min(row), 0.0)
        self.assertEqual(monthly_transitions(1, 0.0), monthly_transitions(7, 0.0))

    def test_broken_skies_enhance_a_tenth_of_summer_daylight_minutes(self) -> None:
        sky = CloudySky(seed=5, latitude_deg=48.2, cache_days=1)
        minutes = [index for year in range(2022, 2027) for day in month_days(year, 7)
                   for index in daytime(sky.day_series(day))]
        above_104 = sum(index > 1.04 for index in minutes) / len(minutes)
        above_110 = sum(index > 1.1 for index in minutes) / len(minutes)
        self.assertAlmostEqual(above_104, 0.10, delta=0.035)
        self.assertGreater(above_110, 0.01)
        self.assertLess(above_110, 0.06)
