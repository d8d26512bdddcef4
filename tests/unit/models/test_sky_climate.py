"""The climate sky: monthly K and daily spread of the shared typical years, the 1-minute
distribution of BSRN Payerne June 2016, reproducibility."""

from __future__ import annotations

import csv
import random
import statistics
import unittest
from datetime import date, datetime, timezone

from pv_simulator.models.clear_sky import SiteClearSky
from pv_simulator.models.pv_plant import DEFAULT_LINKE_TURBIDITY, weather_source
from pv_simulator.models.sky_climate import (
    ClimateSky,
    SkyClimateError,
    clear_sky_samples,
    clearness_day_series,
    climate_from_monthly_clearness,
    climate_from_weather,
    daily_clearness_of_weather,
    daylight_weights,
    monthly_clearness_of_days,
    sky_daily_clearness,
)
from pv_simulator.models.weather_files import read_weather_file
from tests.paths import ROOT

DATA = ROOT / "tests" / "data"
SEEDS = (0, 1, 2)
YEAR = 2026


def daily_spread(days: list[tuple[int, float, float]], month: int) -> float:
    return statistics.pstdev([measured / clear for m, measured, clear in days if m == month])


class FileClimateTest(unittest.TestCase):
    """With sky_climate = a shared typical year, the sky's months are the file's (3 seeds)."""

    def check_file(self, name: str) -> None:
        data = read_weather_file(DATA / "weather" / name)
        site = weather_source(data).site
        climate = climate_from_weather(data, site)
        file_days = daily_clearness_of_weather(data, site)
        offset_s = data.utc_offset_s or round(site.longitude_deg / 15.0) * 3600.0
        samples = clear_sky_samples(site, YEAR, offset_s)
        sky_days = [day for seed in SEEDS for day in sky_daily_clearness(
            ClimateSky(climate, seed=seed, latitude_deg=site.latitude_deg), samples)]
        file_k = monthly_clearness_of_days(file_days)
        sky_k = monthly_clearness_of_days(sky_days)
        for month in range(1, 13):
            self.assertAlmostEqual(sky_k[month - 1], file_k[month - 1], delta=0.03,
                                   msg=f"{name} month {month}")
            file_sd = daily_spread(file_days, month)
            self.assertAlmostEqual(daily_spread(sky_days, month) / file_sd, 1.0, delta=0.35,
                                   msg=f"{name} month {month}")

    def test_pvgis_45n_8e(self) -> None:
        self.check_file("pvgis_tmy_45N_8E.csv")

    def test_greensboro_tmy3(self) -> None:
        self.check_file("greensboro_tmy3.csv")

    def test_a_file_without_every_month_is_refused_naming_it(self) -> None:
        data = read_weather_file(DATA / "weather" / "greensboro_tmy3.csv")
        site = weather_source(data).site
        half = type(data)(data.path, data.format, data.site, data.typical_year, data.hourly_means,
                          data.utc_offset_s, data.time_s[:4000], data.ghi_w_m2[:4000],
                          data.dni_w_m2[:4000], data.dhi_w_m2[:4000], None, None)
        with self.assertRaisesRegex(SkyClimateError, r"greensboro_tmy3\.csv: .*month\(s\) 7"):
            climate_from_weather(half, site)


PAYERNE = {"latitude_deg": 46.815, "longitude_deg": 6.944, "altitude_m": 491.0}
PAYERNE_UTC_OFFSET_MIN = 120  # Europe/Zurich in June: the sky's minutes are local wall time
DAYLIGHT_ZENITH_DEG = 80.0


def one_minute_statistics(indices: dict[tuple[int, int], float]) -> dict[str, float]:
    values = sorted(indices.values())
    ramps = sorted(abs(indices[(day, minute + 1)] - value)
                   for (day, minute), value in indices.items() if (day, minute + 1) in indices)
    return {"median": statistics.median(values),
            "below_0.3": sum(v < 0.3 for v in values) / len(values),
            "above_0.9": sum(v > 0.9 for v in values) / len(values),
            "p90": values[int(0.9 * len(values))],
            "ramp_p90": ramps[int(0.9 * len(ramps))]}


class OneMinuteDistributionTest(unittest.TestCase):
    """A June at Payerne with the measured month's K against BSRN Payerne's June 2016."""

    clear: dict[tuple[int, int], float]
    measured: dict[tuple[int, int], float]
    month_k: float

    @classmethod
    def setUpClass(cls) -> None:
        site = SiteClearSky(**PAYERNE, linke_turbidity=DEFAULT_LINKE_TURBIDITY,
                            air_temperature_c=15.0)
        cls.clear = {}
        for day in range(1, 31):
            start_s = datetime(2016, 6, day, tzinfo=timezone.utc).timestamp()
            for minute in range(1440):
                sun = site.at(start_s + minute * 60.0 + 30.0)
                if sun is not None and sun.apparent_zenith_deg < DAYLIGHT_ZENITH_DEG:
                    cls.clear[(day, minute)] = sun.clear.ghi_w_m2
        measured_ghi: dict[tuple[int, int], float] = {}
        with (DATA / "sky" / "bsrn_payerne_2016-06_1min.csv").open() as handle:
            for row in csv.DictReader(handle):
                measured_ghi[(int(row["day"]), int(row["minute_utc"]))] = float(row["ghi_w_m2"])
        cls.measured = {key: measured_ghi.get(key, 0.0) / clear
                        for key, clear in cls.clear.items()}
        cls.month_k = (sum([measured_ghi.get(key, 0.0) for key in cls.clear])
                       / sum(cls.clear.values()))

    def test_sky_with_the_month_k_matches_the_measured_minutes(self) -> None:
        climate = climate_from_monthly_clearness((self.month_k,) * 12)
        simulated: dict[tuple[int, int], float] = {}
        for seed in SEEDS:
            sky = ClimateSky(climate, seed=seed, latitude_deg=PAYERNE["latitude_deg"])
            for (day, minute) in self.clear:
                local = minute + PAYERNE_UTC_OFFSET_MIN
                simulated[(seed * 100 + day, minute)] = sky.clear_sky_index(
                    date(2016, 6, day).toordinal(), float(local))
        sky_stats = one_minute_statistics(simulated)
        measured = one_minute_statistics(self.measured)
        self.assertAlmostEqual(sky_stats["median"], measured["median"], delta=0.1)
        self.assertAlmostEqual(sky_stats["below_0.3"], measured["below_0.3"], delta=0.08)
        self.assertAlmostEqual(sky_stats["above_0.9"], measured["above_0.9"], delta=0.08)
        self.assertGreaterEqual(sky_stats["p90"], 1.02)
        self.assertGreaterEqual(measured["p90"], 1.02, "the measured month has enhancement")
        ratio = sky_stats["ramp_p90"] / measured["ramp_p90"]
        self.assertTrue(1 / 1.5 <= ratio <= 1.5, (sky_stats, measured))


class DaySeriesTest(unittest.TestCase):
    def test_day_mean_is_the_daily_clearness_and_bounds_hold(self) -> None:
        weights = daylight_weights(172, 46.8)
        for daily_k in (0.1, 0.35, 0.6, 0.85, 1.02):
            for seed in range(5):
                series = clearness_day_series(daily_k, random.Random(seed), weights)
                mean = sum(s * w for s, w in zip(series, weights, strict=True)) / sum(weights)
                self.assertAlmostEqual(mean, daily_k, delta=0.02, msg=(daily_k, seed))
                self.assertGreater(min(series), 0.0)
                self.assertLessEqual(max(series), 1.3)

    def test_broken_days_enhance_above_clear_sky(self) -> None:
        series = clearness_day_series(0.7, random.Random(3), daylight_weights(172, 46.8))
        self.assertGreater(max(series), 1.1)
        self.assertLess(min(series[420:1080]), 0.6)


class ReproducibilityTest(unittest.TestCase):
    climate = climate_from_monthly_clearness(tuple(0.4 + 0.04 * k for k in range(12)))
    days = range(date(2026, 3, 1).toordinal(), date(2026, 5, 10).toordinal())

    def test_same_seed_same_sky_in_any_order(self) -> None:
        forward = ClimateSky(self.climate, seed=4)
        expected = {day: forward.day_series(day) for day in self.days}
        shuffled = list(self.days)
        random.Random(1).shuffle(shuffled)
        restarted = ClimateSky(self.climate, seed=4, cache_days=1)
        for day in shuffled:
            self.assertEqual(restarted.day_series(day), expected[day])

    def test_different_seeds_differ(self) -> None:
        first, second = ClimateSky(self.climate, seed=4), ClimateSky(self.climate, seed=5)
        self.assertNotEqual([first.daily_clearness(d) for d in self.days],
                            [second.daily_clearness(d) for d in self.days])

    def test_monthly_clearness_gives_each_month_its_k(self) -> None:
        for month, target in enumerate(self.climate.monthly_clearness, start=1):
            self.assertAlmostEqual(target, 0.4 + 0.04 * (month - 1), delta=0.005)
        sky = ClimateSky(self.climate, seed=2)
        april = [sky.daily_clearness(d) for d in range(date(2026, 4, 1).toordinal(),
                                                        date(2026, 5, 1).toordinal())]
        self.assertAlmostEqual(statistics.mean(april), 0.52, delta=0.03)
        self.assertGreater(statistics.pstdev(april), 0.1)

    def test_refuses_a_wrong_count_of_values(self) -> None:
        with self.assertRaisesRegex(SkyClimateError, "12 values"):
            climate_from_monthly_clearness((0.5,) * 11)


if __name__ == "__main__":
    unittest.main()
