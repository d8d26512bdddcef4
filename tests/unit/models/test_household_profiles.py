"""The household load profiles: H25 day types and holidays, and the H0 and H25 strategies
the model holds (their expected power, lowest mean and random draws)."""

from __future__ import annotations

import random
import threading
import unittest
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from parameterized import parameterized

from pv_simulator.models.household import (
    H0Profile,
    H25Profile,
    HourlyDraws,
    SequentialDraws,
    h0_mean_power_w,
    h25_day_type,
    h25_mean_power_w,
    load_profile,
    public_holidays,
)
from pv_simulator.models.household.draws import BLOCK_S, HOUR_S

BERLIN = ZoneInfo("Europe/Berlin")
HOUR_START_S = 1_782_000_000.0


class H25DayTypeTest(unittest.TestCase):
    @parameterized.expand(
        [
            ("workday", date(2026, 5, 13), "DE", None, "WT"),
            ("saturday", date(2026, 5, 16), "DE", None, "SA"),
            ("sunday", date(2026, 5, 17), "DE", None, "FT"),
            ("ascension_thursday", date(2026, 5, 14), "DE", None, "FT"),
            ("unity_day_on_saturday", date(2026, 10, 3), "DE", None, "FT"),
            ("corpus_christi_bavaria", date(2026, 6, 4), "DE", "BY", "FT"),
            ("corpus_christi_berlin", date(2026, 6, 4), "DE", "BE", "WT"),
            ("corpus_christi_nationwide", date(2026, 6, 4), "DE", None, "WT"),
            ("christmas_eve_thursday", date(2026, 12, 24), "DE", None, "SA"),
            ("new_years_eve_thursday", date(2026, 12, 31), "DE", None, "SA"),
            ("christmas_eve_sunday", date(2023, 12, 24), "DE", None, "FT"),
            ("christmas_day", date(2026, 12, 25), "DE", None, "FT"),
            ("austrian_national_day", date(2026, 10, 26), "AT", None, "FT"),
            ("lower_case_codes", date(2026, 6, 4), "de", "by", "FT"),
        ]
    )
    def test_day_type(self, _name: str, day: date, country: str, subdivision: str | None, expected: str) -> None:
        self.assertEqual(h25_day_type(day, country, subdivision), expected)

    def test_unknown_country_names_it(self) -> None:
        with self.assertRaisesRegex(ValueError, "unknown holiday country 'Germany'"):
            public_holidays("Germany")


class LoadProfileTest(unittest.TestCase):
    def test_one_strategy_per_configuration(self) -> None:
        h25 = load_profile("h25", "DE", "BY")
        self.assertIs(h25, load_profile("h25", "DE", "BY"))
        assert isinstance(h25, H25Profile)
        self.assertEqual((h25.name, h25.country, h25.subdivision), ("h25", "DE", "BY"))
        self.assertIsInstance(load_profile("h0"), H0Profile)
        self.assertEqual(load_profile("h0").name, "h0")

    @parameterized.expand([
        ("profile", ("h1",), "profile must be one of h25, h0, got 'h1'"),
        ("country_of_h0", ("h0", "XX"), "unknown holiday country 'XX'"),
        ("subdivision", ("h25", "DE", "ZZ"), "unknown subdivision 'ZZ' of DE"),
    ])
    def test_bad_values_raise_naming_them(self, _name: str, args: tuple[str, ...], message: str) -> None:
        with self.assertRaisesRegex(ValueError, message):
            load_profile(*args)

    def test_mean_power_is_the_profiles_with_its_holidays(self) -> None:
        corpus_christi = datetime(2026, 6, 4, 12, 7, tzinfo=BERLIN)
        bavaria, berlin = load_profile("h25", "DE", "BY"), load_profile("h25", "DE", "BE")
        self.assertEqual(bavaria.mean_power_w(corpus_christi, 4000.0),
                         h25_mean_power_w(corpus_christi, 4000.0, "DE", "BY"))
        self.assertNotAlmostEqual(bavaria.mean_power_w(corpus_christi, 4000.0),
                                  berlin.mean_power_w(corpus_christi, 4000.0), places=3)
        self.assertEqual(load_profile("h0").mean_power_w(corpus_christi, 4000.0),
                         h0_mean_power_w(corpus_christi, 4000.0))

    @parameterized.expand([("h25", 15), ("h0", 60)])
    def test_lowest_mean_is_the_years_lowest(self, profile: str, step_min: int) -> None:
        strategy = load_profile(profile)
        moment = datetime(2026, 1, 1, 0, step_min // 2, tzinfo=BERLIN)
        lowest_w = min(strategy.mean_power_w(moment + timedelta(minutes=step_min * k), 1000.0)
                       for k in range(365 * 24 * 60 // step_min))
        # The year's normalisation moves the means by well under 1 %.
        self.assertAlmostEqual(strategy.min_mean_w_per_1000_kwh() / lowest_w, 1.0, delta=0.01)

    def test_each_profile_draws_as_it_always_did(self) -> None:
        self.assertIsInstance(load_profile("h25").draws(1, 2), HourlyDraws)
        self.assertIsInstance(load_profile("h0").draws(1, 2), SequentialDraws)


class DrawsTest(unittest.TestCase):
    def test_hourly_draws_seed_each_hour_alone(self) -> None:
        draws = HourlyDraws(12345)
        self.assertEqual(draws.step_s, HOUR_S)
        first = draws.step_rng(HOUR_START_S).random()
        self.assertEqual(HourlyDraws(12345).step_rng(HOUR_START_S).random(), first)
        self.assertNotEqual(draws.step_rng(HOUR_START_S + HOUR_S).random(), first)
        self.assertNotEqual(HourlyDraws(54321).step_rng(HOUR_START_S).random(), first)

    def test_an_hours_generator_draws_as_a_new_one_seeded_with_key_and_hour(self) -> None:
        draws = HourlyDraws(12345)
        draws.step_rng(HOUR_START_S).gauss(0.0, 1.0)  # leaves a second Gaussian pending
        again = draws.step_rng(HOUR_START_S)
        fresh = random.Random((12345 << 40) | int(HOUR_START_S // HOUR_S))
        self.assertEqual([again.gauss(0.0, 1.0), again.random(), again.uniform(1.0, 2.0)],
                         [fresh.gauss(0.0, 1.0), fresh.random(), fresh.uniform(1.0, 2.0)])

    def test_each_thread_reseeds_a_generator_of_its_own(self) -> None:
        draws = HourlyDraws(12345)
        mine = draws.step_rng(HOUR_START_S)
        theirs: list[random.Random] = []
        thread = threading.Thread(target=lambda: theirs.append(draws.step_rng(HOUR_START_S)))
        thread.start()
        thread.join()
        self.assertIsNot(theirs[0], mine)

    def test_hourly_fridge_draws_are_a_fixed_sequence_within_bounds(self) -> None:
        draws, other = HourlyDraws(7), HourlyDraws(7)
        other.step_rng(HOUR_START_S)  # drawing runs does not move the fridge's sequence
        values = [draws.fridge_uniform(1800.0, 3600.0) for _ in range(50)]
        self.assertEqual(values, [other.fridge_uniform(1800.0, 3600.0) for _ in range(50)])
        self.assertTrue(all(1800.0 <= value < 3600.0 for value in values))
        self.assertGreater(len(set(values)), 45)

    def test_sequential_draws_keep_one_generator_per_purpose(self) -> None:
        events, fridge = random.Random(1), random.Random(2)
        draws = SequentialDraws(events, fridge)
        self.assertEqual(draws.step_s, BLOCK_S)
        self.assertIs(draws.step_rng(0.0), events)
        self.assertIs(draws.step_rng(BLOCK_S), events)
        self.assertEqual(draws.fridge_uniform(0.0, 1.0), random.Random(2).uniform(0.0, 1.0))


if __name__ == "__main__":
    unittest.main()
