"""Tests for the household meter model: annual energy, H0 shape, bounds, determinism.

The H0 reference is read from the JSON and classified here, independently of the
module's own season/day-type code, so a bug there cannot hide in both.
"""

from __future__ import annotations

import itertools
import json
import math
import statistics
import unittest
from collections import defaultdict
from datetime import date, datetime
from zoneinfo import ZoneInfo

from parameterized import parameterized

from pv_simulator.models.household import HouseholdModel
from tests.paths import ROOT

VIENNA = ZoneInfo("Europe/Vienna")
PROFILE_PATH = ROOT / "pv_simulator" / "models" / "data" / "h0_hourly_W_per_1000kWh.json"
YEAR_STEP_S = 300


def reference_season(day: date) -> str:
    if day.month in (11, 12, 1, 2) or (day.month == 3 and day.day <= 20):
        return "winter"
    if (day.month == 5 and day.day >= 15) or day.month in (6, 7, 8) or (day.month == 9 and day.day <= 14):
        return "summer"
    return "transition"


def reference_day_type(day: date) -> str:
    return {5: "saturday", 6: "sunday"}.get(day.weekday(), "workday")


def reference_h0_w(local: datetime, profile: dict[str, list[float]]) -> float:
    """Unnormalised H0 x dynamisation value; only its shape is compared."""
    t = local.timetuple().tm_yday
    factor = -3.92e-10 * t**4 + 3.2e-7 * t**3 - 7.02e-5 * t**2 + 2.1e-3 * t + 1.24
    key = f"{reference_season(local.date())}_{reference_day_type(local.date())}"
    return profile[key][local.hour] * factor


def year_bounds_s(year: int, tz: ZoneInfo) -> tuple[float, float]:
    return datetime(year, 1, 1, tzinfo=tz).timestamp(), datetime(year + 1, 1, 1, tzinfo=tz).timestamp()


def series(model: HouseholdModel, start_s: float, stop_s: float, step_s: float) -> list[float]:
    count = int((stop_s - start_s) // step_s)
    return [model.power_w(start_s + i * step_s) for i in range(count)]


class HouseholdParameterTest(unittest.TestCase):
    @parameterized.expand(
        [
            ("annual_zero", {"annual_energy_kwh": 0.0}, "annual_energy_kwh"),
            ("annual_negative", {"annual_energy_kwh": -100.0}, "annual_energy_kwh"),
            ("annual_nan", {"annual_energy_kwh": math.nan}, "annual_energy_kwh"),
            ("max_power_zero", {"max_power_w": 0.0}, "max_power_w"),
            ("max_power_negative", {"max_power_w": -1.0}, "max_power_w"),
        ]
    )
    def test_bad_value_raises_naming_parameter(self, _name: str, kwargs: dict[str, float], parameter: str) -> None:
        with self.assertRaisesRegex(ValueError, parameter):
            HouseholdModel(tz=VIENNA, **kwargs)  # type: ignore[arg-type]

    def test_decreasing_time_raises(self) -> None:
        model = HouseholdModel(tz=VIENNA, seed=1)
        model.power_w(1_700_000_000.0)
        with self.assertRaisesRegex(ValueError, "time_s"):
            model.power_w(1_699_999_999.0)


class HouseholdYearEnergyTest(unittest.TestCase):
    @parameterized.expand([(2000.0, 11), (4000.0, 12), (8000.0, 13)])
    def test_year_energy_within_3_percent(self, target_kwh: float, seed: int) -> None:
        model = HouseholdModel(tz=VIENNA, annual_energy_kwh=target_kwh, seed=seed)
        start_s, stop_s = year_bounds_s(2025, VIENNA)
        energy_kwh = sum(series(model, start_s, stop_s, YEAR_STEP_S)) * YEAR_STEP_S / 3.6e6
        self.assertAlmostEqual(energy_kwh / target_kwh, 1.0, delta=0.03)


class HouseholdShapeTest(unittest.TestCase):
    """One simulated year at 5-minute steps, bucketed by local season and hour."""

    model_w: dict[tuple[str, int], list[float]]
    reference_w: dict[tuple[str, int], list[float]]
    winter_workday_w: dict[int, list[float]]

    @classmethod
    def setUpClass(cls) -> None:
        profile = json.loads(PROFILE_PATH.read_text(encoding="utf-8"))
        model = HouseholdModel(tz=VIENNA, annual_energy_kwh=4000.0, seed=21)
        start_s, stop_s = year_bounds_s(2025, VIENNA)
        cls.model_w = defaultdict(list)
        cls.reference_w = defaultdict(list)
        cls.winter_workday_w = defaultdict(list)
        time_s = start_s
        while time_s < stop_s:
            power_w = model.power_w(time_s)
            local = datetime.fromtimestamp(time_s, VIENNA)
            key = (reference_season(local.date()), local.hour)
            cls.model_w[key].append(power_w)
            cls.reference_w[key].append(reference_h0_w(local, profile))
            if local.month in (12, 1) and reference_day_type(local.date()) == "workday":
                cls.winter_workday_w[local.hour].append(power_w)
            time_s += YEAR_STEP_S

    @parameterized.expand([("winter",), ("transition",), ("summer",)])
    def test_hourly_shape_correlates_with_h0(self, season: str) -> None:
        model_means = [statistics.fmean(self.model_w[season, hour]) for hour in range(24)]
        reference_means = [statistics.fmean(self.reference_w[season, hour]) for hour in range(24)]
        self.assertGreater(statistics.correlation(model_means, reference_means), 0.9)

    def test_winter_evening_at_least_three_times_night(self) -> None:
        evening_w = statistics.fmean(p for hour in range(17, 21) for p in self.winter_workday_w[hour])
        night_min_w = min(statistics.fmean(self.winter_workday_w[hour]) for hour in range(2, 6))
        self.assertGreaterEqual(evening_w, 3.0 * night_min_w)

    def test_follows_local_time_in_another_zone(self) -> None:
        new_york = ZoneInfo("America/New_York")
        profile = json.loads(PROFILE_PATH.read_text(encoding="utf-8"))
        model = HouseholdModel(tz=new_york, annual_energy_kwh=4000.0, seed=22)
        start_s = datetime(2025, 11, 1, tzinfo=new_york).timestamp()
        stop_s = datetime(2026, 2, 1, tzinfo=new_york).timestamp()
        model_w: dict[int, list[float]] = defaultdict(list)
        reference_w: dict[int, list[float]] = defaultdict(list)
        for index, power_w in enumerate(series(model, start_s, stop_s, YEAR_STEP_S)):
            local = datetime.fromtimestamp(start_s + index * YEAR_STEP_S, new_york)
            model_w[local.hour].append(power_w)
            reference_w[local.hour].append(reference_h0_w(local, profile))
        correlation = statistics.correlation(
            [statistics.fmean(model_w[hour]) for hour in range(24)],
            [statistics.fmean(reference_w[hour]) for hour in range(24)],
        )
        self.assertGreater(correlation, 0.9)


class HouseholdBehaviourTest(unittest.TestCase):
    START_S = datetime(2025, 1, 13, tzinfo=VIENNA).timestamp()

    @parameterized.expand([("default", 9000.0), ("small", 1500.0), ("tiny", 200.0)])
    def test_power_within_bounds(self, _name: str, max_power_w: float) -> None:
        model = HouseholdModel(tz=VIENNA, annual_energy_kwh=8000.0, max_power_w=max_power_w, seed=3)
        values = series(model, self.START_S, self.START_S + 3 * 86400, 10)
        self.assertGreaterEqual(min(values), 0.0)
        self.assertLessEqual(max(values), max_power_w)
        if max_power_w < 2000.0:
            self.assertIn(max_power_w, values, "a kettle or oven run should have been clipped")

    def test_same_seed_repeats(self) -> None:
        first = series(HouseholdModel(tz=VIENNA, seed=5, meter_index=2), self.START_S, self.START_S + 86400, 60)
        second = series(HouseholdModel(tz=VIENNA, seed=5, meter_index=2), self.START_S, self.START_S + 86400, 60)
        self.assertEqual(first, second)

    @parameterized.expand([("meter_index", {"meter_index": 1}), ("seed", {"seed": 6})])
    def test_different_identity_differs(self, _name: str, change: dict[str, int]) -> None:
        base = {"seed": 5, "meter_index": 0}
        first = series(HouseholdModel(tz=VIENNA, **base), self.START_S, self.START_S + 86400, 60)
        second = series(HouseholdModel(tz=VIENNA, **(base | change)), self.START_S, self.START_S + 86400, 60)
        differing = sum(abs(a - b) > 50.0 for a, b in zip(first, second, strict=False))
        self.assertGreater(differing, len(first) // 10)

    def test_no_seed_is_not_repeatable(self) -> None:
        first = series(HouseholdModel(tz=VIENNA), self.START_S, self.START_S + 86400, 60)
        second = series(HouseholdModel(tz=VIENNA), self.START_S, self.START_S + 86400, 60)
        self.assertNotEqual(first, second)

    @parameterized.expand([(600,), (3600,)])
    def test_large_steps_see_the_same_appliances(self, step_s: int) -> None:
        """Stepping by minutes or hours must land on the same underlying events
        as stepping by seconds: only the small noise may differ."""
        fine = HouseholdModel(tz=VIENNA, seed=8)
        coarse = HouseholdModel(tz=VIENNA, seed=8)
        fine_w = series(fine, self.START_S, self.START_S + 2 * 86400, 1)
        coarse_w = series(coarse, self.START_S, self.START_S + 2 * 86400, step_s)
        for index, power_w in enumerate(coarse_w):
            self.assertAlmostEqual(power_w, fine_w[index * step_s], delta=0.1 * power_w + 1.0)

    def test_not_flat(self) -> None:
        values = series(HouseholdModel(tz=VIENNA, seed=9), self.START_S, self.START_S + 3600, 1)
        changes = sum(a != b for a, b in itertools.pairwise(values))
        self.assertGreater(changes, 0.9 * (len(values) - 1))


if __name__ == "__main__":
    unittest.main()
