"""PV models: the physical model against pvlib reference days and the challenge curve, the
reference-curve model's shape and determinism, and that every value the configuration accepts
is one the plant can simulate (the bounds themselves are tested with the config)."""

from __future__ import annotations

import configparser
import math
import random
import shutil
import tempfile
import unittest
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from parameterized import parameterized

from pv_simulator.config import (
    SCHEMA,
    BrokerConfig,
    Config,
    Key,
    Kind,
    load_config,
)
from pv_simulator.config.settings import MeterConfig, OutputConfig, PvConfig, SiteConfig
from pv_simulator.models import pv_chain
from pv_simulator.models.challenge_curve import minute_of_day, read_curve
from pv_simulator.models.pv_plant import (
    DEFAULT_LINKE_TURBIDITY,
    MonotoneCubic,
    PvModel,
    ReferenceCurveModel,
    SolarPvModel,
    WeatherPvModel,
)
from tests.paths import ROOT
from tests.unit.models.test_pv_chain import FIXTURES, FixtureCase, fixture_rows

VIENNA = ZoneInfo("Europe/Vienna")
MINUTE_S = 60.0


def challenge_points() -> list[tuple[float, float]]:
    """The challenge curve as (minute of local day, kW), the reference model's own terms."""
    return [(minute_of_day(local_time), kw) for local_time, kw in read_curve()]


def model_for_fixture(case: FixtureCase) -> SolarPvModel:
    return SolarPvModel(
        latitude_deg=case.latitude_deg, longitude_deg=case.longitude_deg,
        altitude_m=case.altitude_m, tz=ZoneInfo(case.timezone),
        peak_power_kw=case.peak_power_kw, tilt_deg=case.tilt_deg, azimuth_deg=case.azimuth_deg,
        dc_ac_ratio=case.dc_ac_ratio, linke_turbidity=(case.linke_turbidity,),
        air_temperature_c=case.air_temperature_c, sky="clear")


def day_profile_kw(model: PvModel, start_s: float, step_s: float = MINUTE_S,
                   span_s: float = 86400.0) -> list[float]:
    return [model.power_kw(start_s + k * step_s) for k in range(int(span_s / step_s))]


def first_and_last_output_s(samples_kw: list[float], start_s: float,
                            step_s: float) -> tuple[float, float]:
    producing = [k for k, value in enumerate(samples_kw) if value > 0.0]
    return start_s + producing[0] * step_s, start_s + producing[-1] * step_s


def ini_model(path: Path, sky: str | None = None) -> SolarPvModel:
    """A SolarPvModel from an example ini, reading the numbers directly (no config module)."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(path, encoding="utf-8")
    site, pv = parser["site"], parser["pv"]
    return SolarPvModel(
        latitude_deg=float(site["latitude"]), longitude_deg=float(site["longitude"]),
        altitude_m=float(site["altitude_m"]), tz=ZoneInfo(site["timezone"]),
        peak_power_kw=float(pv["peak_power_kw"]), tilt_deg=float(pv["tilt_deg"]),
        azimuth_deg=float(pv["azimuth_deg"]), dc_ac_ratio=float(pv["dc_ac_ratio"]),
        losses_pct=float(pv["losses_pct"]),
        temperature_coefficient=float(pv["temperature_coefficient"]),
        albedo=float(pv["albedo"]),
        linke_turbidity=tuple(float(v) for v in pv["linke_turbidity"].split(",")),
        air_temperature_c=float(pv["air_temperature_c"]),
        wind_speed_m_s=float(pv["wind_speed_m_s"]), sky=sky or pv["sky"])


class SolarModelFixtureTest(unittest.TestCase):
    """Clear-sky output against pvlib: energy 3 %, peak 5 %, first/last output 10 min."""

    @parameterized.expand(FIXTURES)
    def test_day_matches_reference(self, _: str, case: FixtureCase) -> None:
        rows = fixture_rows(case)
        reference_w = [row.values["ac_w"] for row in rows]
        start_s = rows[0].time_s
        model = model_for_fixture(case)
        profile_kw = day_profile_kw(model, start_s)

        reference_kwh = sum(reference_w) / 6.0 / 1000.0
        model_kwh = sum(profile_kw) / 60.0
        self.assertLess(abs(model_kwh / reference_kwh - 1.0), 0.03,
                        f"energy {model_kwh:.3f} vs {reference_kwh:.3f} kWh")
        reference_peak_kw = max(reference_w) / 1000.0
        self.assertLess(abs(max(profile_kw) / reference_peak_kw - 1.0), 0.05)

        reference_first_s, reference_last_s = first_and_last_output_s(
            reference_w, start_s, 600.0)
        first_s, last_s = first_and_last_output_s(profile_kw, start_s, MINUTE_S)
        self.assertLessEqual(abs(first_s - reference_first_s), 600.0)
        self.assertLessEqual(abs(last_s - reference_last_s), 600.0)

        for row in rows:
            self.assertAlmostEqual(model.power_kw(row.time_s) * 1000.0, row.values["ac_w"],
                                   delta=0.01 * max(reference_w), msg=row.time_s)

    def test_output_is_zero_at_night_and_never_negative(self) -> None:
        case = FIXTURES[0][1]
        model = model_for_fixture(case)
        midnight_s = datetime(2026, 6, 21, 0, 30, tzinfo=ZoneInfo(case.timezone)).timestamp()
        self.assertEqual(model.power_kw(midnight_s), 0.0)
        self.assertTrue(all(value >= 0.0 for value in day_profile_kw(model, midnight_s, 300.0)))

    def test_inverter_caps_output_at_dc_over_ratio(self) -> None:
        model = SolarPvModel(latitude_deg=39.74, longitude_deg=-104.99, altitude_m=1609.0,
                             tz=ZoneInfo("America/Denver"), peak_power_kw=6.0, tilt_deg=35.0,
                             azimuth_deg=180.0, dc_ac_ratio=2.0, linke_turbidity=(2.5,),
                             air_temperature_c=10.0, sky="clear")
        start_s = datetime(2026, 6, 21, tzinfo=ZoneInfo("America/Denver")).timestamp()
        profile_kw = day_profile_kw(model, start_s, 300.0)
        self.assertAlmostEqual(max(profile_kw), 3.0, places=6)
        self.assertGreater(sum(1 for value in profile_kw if value >= 3.0 - 1e-9), 12)

    def test_default_linke_turbidity_is_monthly_and_plausible(self) -> None:
        self.assertEqual(len(DEFAULT_LINKE_TURBIDITY), 12)
        self.assertTrue(all(2.0 <= value <= 4.0 for value in DEFAULT_LINKE_TURBIDITY))
        self.assertGreater(DEFAULT_LINKE_TURBIDITY[6], DEFAULT_LINKE_TURBIDITY[0])

    def test_default_turbidity_follows_southern_seasons(self) -> None:
        """Mirror solstices differ only by the Earth-sun distance, not by a winter turbidity."""
        def energy_kwh(latitude_deg: float, tz: str, day: datetime) -> float:
            model = SolarPvModel(latitude_deg=latitude_deg, longitude_deg=0.0, altitude_m=0.0,
                                 tz=ZoneInfo(tz), peak_power_kw=4.0, tilt_deg=0.0,
                                 azimuth_deg=180.0, sky="clear")
            return sum(day_profile_kw(model, day.timestamp(), 600.0)) / 6.0

        north_summer = energy_kwh(45.0, "UTC", datetime(2026, 6, 21, tzinfo=ZoneInfo("UTC")))
        south_summer = energy_kwh(-45.0, "UTC", datetime(2026, 12, 21, tzinfo=ZoneInfo("UTC")))
        closer_sun = (pv_chain.extraterrestrial_irradiance_w_m2(355)
                      / pv_chain.extraterrestrial_irradiance_w_m2(172))
        self.assertAlmostEqual(south_summer / north_summer, closer_sun, delta=0.03)


class ExampleConfigTest(unittest.TestCase):
    def test_challenge_ini_reproduces_challenge_curve_on_late_may_day(self) -> None:
        model = ini_model(ROOT / "examples" / "challenge.ini")
        tz = ZoneInfo("Europe/Berlin")
        parser = configparser.ConfigParser(interpolation=None)
        parser.read(ROOT / "examples" / "challenge.ini", encoding="utf-8")
        self.assertEqual(parser["pv"]["model"], "solar")
        self.assertEqual(parser["pv"]["sky"], "clear")
        self.assertEqual(ZoneInfo(parser["site"]["timezone"]).utcoffset(datetime(2026, 5, 25)),
                         tz.utcoffset(datetime(2026, 5, 25)))
        day = datetime(2026, 5, 25, tzinfo=tz)
        profile_kw = day_profile_kw(model, day.timestamp())
        peak_minute = max(range(len(profile_kw)), key=profile_kw.__getitem__)
        self.assertGreaterEqual(max(profile_kw), 3.0)
        self.assertLessEqual(max(profile_kw), 3.5)
        self.assertGreaterEqual(peak_minute, 13 * 60)
        self.assertLessEqual(peak_minute, 15 * 60)
        first_s, last_s = first_and_last_output_s(profile_kw, day.timestamp(), MINUTE_S)
        self.assertGreaterEqual(first_s, (day + timedelta(hours=5)).timestamp())
        self.assertLessEqual(first_s, (day + timedelta(hours=6, minutes=30)).timestamp())
        self.assertGreaterEqual(last_s, (day + timedelta(hours=20, minutes=30)).timestamp())
        self.assertLessEqual(last_s, (day + timedelta(hours=21, minutes=30)).timestamp())
        squared_kw2 = [(model.power_kw(day.timestamp() + minute * MINUTE_S) - kw) ** 2
                       for minute, kw in challenge_points()]
        self.assertLess(math.sqrt(sum(squared_kw2) / len(squared_kw2)), 0.3)

    def test_vienna_ini_reproduces_vienna_june_reference(self) -> None:
        model = ini_model(ROOT / "examples" / "vienna.ini")
        case = next(case for name, case in FIXTURES if name.startswith("vienna_2026-06-21"))
        rows = fixture_rows(case)
        reference_kwh = sum(row.values["ac_w"] for row in rows) / 6000.0
        model_kwh = sum(day_profile_kw(model, rows[0].time_s)) / 60.0
        self.assertLess(abs(model_kwh / reference_kwh - 1.0), 0.03)

    @parameterized.expand([("challenge.ini",), ("vienna.ini",)])
    def test_example_has_only_broker_site_and_pv(self, name: str) -> None:
        parser = configparser.ConfigParser(interpolation=None)
        parser.read(ROOT / "examples" / name, encoding="utf-8")
        self.assertEqual(parser.sections(), ["broker", "site", "pv"])
        self.assertEqual(parser["broker"]["host"], "localhost")
        self.assertEqual(parser["broker"].getint("port"), 5672)
        self.assertEqual(ini_model(ROOT / "examples" / name, sky="variable").power_kw(0.0), 0.0)


class MonotoneCubicTest(unittest.TestCase):
    def test_passes_through_points_and_stays_within_neighbours(self) -> None:
        xs = (0.0, 1.0, 2.0, 5.0, 6.0, 9.0)
        ys = (0.0, 0.1, 2.0, 2.1, 0.5, 0.0)
        curve = MonotoneCubic(xs, ys)
        for x, y in zip(xs, ys, strict=True):
            self.assertAlmostEqual(curve(x), y)
        for k in range(len(xs) - 1):
            low, high = sorted((ys[k], ys[k + 1]))
            for step in range(1, 50):
                value = curve(xs[k] + (xs[k + 1] - xs[k]) * step / 50.0)
                self.assertGreaterEqual(value, low - 1e-12)
                self.assertLessEqual(value, high + 1e-12)

    def test_rejects_unsorted_points(self) -> None:
        with self.assertRaises(ValueError):
            MonotoneCubic((0.0, 2.0, 1.0), (0.0, 1.0, 2.0))


class ReferenceCurveModelTest(unittest.TestCase):
    def setUp(self) -> None:
        self.points = challenge_points()
        self.day = datetime(2026, 5, 25, tzinfo=VIENNA)

    def at(self, hour: int, minute: int = 0, day: datetime | None = None) -> float:
        return ((day or self.day) + timedelta(hours=hour, minutes=minute)).timestamp()

    def test_without_variation_passes_through_digitized_points(self) -> None:
        model = ReferenceCurveModel(tz=VIENNA, variation=0.0)
        for minute, kw in self.points[1:-1]:
            self.assertAlmostEqual(model.power_kw(self.day.timestamp() + minute * MINUTE_S), kw)

    def test_zero_at_night_positive_in_daylight(self) -> None:
        model = ReferenceCurveModel(tz=VIENNA, seed=3)
        for hour in (0, 3, 5, 22, 23):
            self.assertEqual(model.power_kw(self.at(hour)), 0.0)
        for hour in (8, 12, 14, 18, 20):
            self.assertGreater(model.power_kw(self.at(hour)), 0.0)

    def test_follows_local_wall_clock_in_winter_and_summer(self) -> None:
        model = ReferenceCurveModel(tz=VIENNA, variation=0.0)
        winter = datetime(2026, 1, 15, tzinfo=VIENNA)
        self.assertAlmostEqual(model.power_kw(self.at(14, 24, winter)),
                               model.power_kw(self.at(14, 24)))
        self.assertAlmostEqual(model.power_kw(self.at(14, 24)), 3.25)
        lisbon = ReferenceCurveModel(tz=ZoneInfo("Europe/Lisbon"), variation=0.0)
        self.assertAlmostEqual(lisbon.power_kw(self.at(15, 24)), 3.25)

    def test_variation_is_bounded_smooth_and_non_negative(self) -> None:
        variation = 0.05
        model = ReferenceCurveModel(tz=VIENNA, seed=11, variation=variation)
        base = ReferenceCurveModel(tz=VIENNA, variation=0.0)
        start_s = self.day.timestamp()
        deviations = []
        previous = None
        for second in range(0, 86400, 20):
            value = model.power_kw(start_s + second)
            expected = base.power_kw(start_s + second)
            self.assertGreaterEqual(value, 0.0)
            self.assertLessEqual(abs(value - expected), variation * expected + 1e-12)
            if expected > 0.5:
                deviations.append(value / expected - 1.0)
            if previous is not None:
                self.assertLess(abs(value - previous), 0.06, "white noise of +-5 % jumps 0.3 kW")
            previous = value
        self.assertGreater(max(deviations), 0.3 * variation)
        self.assertLess(min(deviations), -0.3 * variation)

    def test_value_is_a_function_of_seed_and_time_only(self) -> None:
        times = [self.day.timestamp() + 36000.0 + 37.5 * k for k in range(200)]
        first = ReferenceCurveModel(tz=VIENNA, seed=42)
        expected = [first.power_kw(t) for t in times]
        shuffled = times[:]
        random.Random(1).shuffle(shuffled)
        second = ReferenceCurveModel(tz=VIENNA, seed=42)
        got = {t: second.power_kw(t) for t in shuffled}
        self.assertEqual([got[t] for t in times], expected)
        self.assertEqual([first.power_kw(t) for t in times], expected)
        other = ReferenceCurveModel(tz=VIENNA, seed=43)
        self.assertNotEqual([other.power_kw(t) for t in times], expected)
        unseeded = [ReferenceCurveModel(tz=VIENNA).power_kw(t) for t in times[:5]]
        self.assertEqual(unseeded, [ReferenceCurveModel(tz=VIENNA).power_kw(t)
                                    for t in times[:5]])

    @parameterized.expand([("negative", -0.01), ("huge", 0.9), ("nan", math.nan)])
    def test_rejects_bad_variation(self, _: str, variation: float) -> None:
        with self.assertRaisesRegex(ValueError, "variation"):
            ReferenceCurveModel(tz=VIENNA, variation=variation)


VALID_SOLAR: dict[str, Any] = {"latitude_deg": 48.2, "longitude_deg": 16.37, "altitude_m": 194.0,
                               "tz": VIENNA, "peak_power_kw": 4.0, "tilt_deg": 30.0,
                               "azimuth_deg": 180.0}


def solar_model(config: Config) -> SolarPvModel:
    """The plant a configuration describes, keyword for keyword."""
    site, pv = config.site, config.pv
    return SolarPvModel(
        latitude_deg=site.latitude_deg, longitude_deg=site.longitude_deg,
        altitude_m=site.altitude_m, tz=site.timezone, peak_power_kw=pv.peak_power_kw,
        tilt_deg=pv.tilt_deg, azimuth_deg=pv.azimuth_deg, dc_ac_ratio=pv.dc_ac_ratio,
        losses_pct=pv.losses_pct, temperature_coefficient=pv.temperature_coefficient,
        albedo=pv.albedo, linke_turbidity=pv.linke_turbidity or DEFAULT_LINKE_TURBIDITY,
        air_temperature_c=pv.air_temperature_c, wind_speed_m_s=pv.wind_speed_m_s,
        sky=pv.sky, seed=pv.seed)


def plant_bounds() -> list[tuple[str, Key, float]]:
    """Every inclusive bound of a [site] or [pv] number, the values the file accepts at the edge."""
    cases = []
    for key in SCHEMA:
        if key.section in ("site", "pv") and key.kind in (Kind.NUMBER, Kind.NUMBERS):
            for which, bound, exclusive in (("low", key.low, key.low_exclusive),
                                            ("high", key.high, key.high_exclusive)):
                if not exclusive:
                    cases.append((f"{key.name}_{which}", key, bound))
    return cases


class SolarModelParametersTest(unittest.TestCase):
    @parameterized.expand(plant_bounds())
    def test_model_runs_at_every_bound_the_config_accepts(self, _: str, key: Key,
                                                          bound: float) -> None:
        folder = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, folder)
        path = folder / "plant.ini"
        sections = {"site": {"timezone": "Europe/Vienna"}, "pv": {"sky": "clear"}}
        sections[key.section][key.name] = repr(bound)
        parser = configparser.ConfigParser(interpolation=None)
        parser.read_dict(sections)
        with path.open("w", encoding="utf-8") as handle:
            parser.write(handle)
        model = solar_model(load_config(path))
        start_s = datetime(2026, 6, 21, tzinfo=VIENNA).timestamp()
        profile_kw = day_profile_kw(model, start_s, 900.0)
        self.assertTrue(all(math.isfinite(kw) and kw >= 0.0 for kw in profile_kw), profile_kw)

    def test_losses_just_below_the_bound_still_produce(self) -> None:
        almost_all = SolarPvModel(**VALID_SOLAR, losses_pct=99.0, sky="clear")
        self.assertGreater(almost_all.power_kw(self.noon()), 0.0)

    def test_accepts_one_or_twelve_turbidity_values_and_both_skies(self) -> None:
        for linke in ((3.0,), tuple(3.0 + 0.1 * k for k in range(12))):
            for sky in ("clear", "variable"):
                model = SolarPvModel(**VALID_SOLAR, linke_turbidity=linke, sky=sky, seed=5)
                self.assertGreater(model.power_kw(self.noon()), 0.0)

    def test_constructor_defaults_are_the_config_defaults(self) -> None:
        from_defaults = SolarPvModel(**VALID_SOLAR, sky="clear")
        from_config = solar_model(Config(
            path=None, broker=BrokerConfig(), site=SiteConfig(timezone=VIENNA), pv=PvConfig(sky="clear"),
            meter=MeterConfig(), output=OutputConfig()))
        times = [self.noon() + 1800.0 * k for k in range(-8, 9)]
        self.assertEqual([from_defaults.power_kw(t) for t in times],
                         [from_config.power_kw(t) for t in times])
        self.assertGreater(from_defaults.power_kw(self.noon()), 0.0)

    def noon(self) -> float:
        return datetime(2026, 6, 21, 13, tzinfo=VIENNA).timestamp()


if __name__ == "__main__":
    unittest.main()


class WeatherPvModelTest(unittest.TestCase):
    """The weather-file model: built from a path and numbers, sharing SolarPvModel's chain."""

    PLANT: ClassVar[dict[str, Any]] = {"peak_power_kw": 4.0, "tilt_deg": 35.0, "azimuth_deg": 180.0}

    def test_site_defaults_to_the_files_and_can_be_overridden(self) -> None:
        path = ROOT / "tests" / "data" / "weather" / "pvgis_tmy_45N_8E.csv"
        noon_s = datetime(2025, 6, 21, 11, tzinfo=ZoneInfo("UTC")).timestamp()
        from_file = WeatherPvModel(path, **self.PLANT)
        explicit = WeatherPvModel(path, latitude_deg=45.0, longitude_deg=8.0, altitude_m=250.0,
                                  **self.PLANT)
        self.assertEqual(from_file.power_kw(noon_s), explicit.power_kw(noon_s))
        self.assertGreater(from_file.power_kw(noon_s), 0.5)
        elsewhere = WeatherPvModel(path, latitude_deg=60.0, longitude_deg=8.0, altitude_m=250.0,
                                   **self.PLANT)
        self.assertNotEqual(elsewhere.power_kw(noon_s), from_file.power_kw(noon_s))

    def test_a_clear_file_row_gives_the_clear_sky_chain(self) -> None:
        """A generic file that holds the model's own clear sky reproduces sky = clear."""
        plant = dict(self.PLANT, latitude_deg=48.2, longitude_deg=16.4, altitude_m=190.0)
        clear = SolarPvModel(tz=VIENNA, sky="clear", air_temperature_c=20.0, wind_speed_m_s=1.0,
                             **plant)
        site = clear._site
        start_s = datetime(2026, 6, 21, 10, tzinfo=ZoneInfo("UTC")).timestamp()
        rows = ["time,ghi_w_m2,dni_w_m2,dhi_w_m2"]
        for k in range(3):
            sun = site.at(start_s + 600.0 * k)
            assert sun is not None
            stamp = datetime.fromtimestamp(start_s + 600.0 * k, ZoneInfo("UTC")).isoformat()
            rows.append(f"{stamp},{sun.clear.ghi_w_m2!r},{sun.clear.dni_w_m2!r},"
                        f"{sun.clear.dhi_w_m2!r}")
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "clear.csv"
            path.write_text("\n".join(rows) + "\n", encoding="utf-8")
            model = WeatherPvModel(path, air_temperature_c=20.0, **plant)
        for k in range(3):
            self.assertAlmostEqual(model.power_kw(start_s + 600.0 * k),
                                   clear.power_kw(start_s + 600.0 * k), places=9)
        self.assertEqual(model.air_temperature_c(start_s), 20.0, "no temperature column: the fallback")
        self.assertIsNone(model.air_temperature_c(start_s - 86400.0), "outside the file's span")

    def test_the_air_temperature_is_the_files_where_it_has_one(self) -> None:
        path = ROOT / "tests" / "data" / "weather" / "pvgis_tmy_45N_8E.csv"
        noon_s = datetime(2025, 6, 21, 11, tzinfo=ZoneInfo("UTC")).timestamp()
        with_fallback = WeatherPvModel(path, air_temperature_c=-40.0, **self.PLANT)
        air_c = with_fallback.air_temperature_c(noon_s)
        self.assertEqual(air_c, WeatherPvModel(path, **self.PLANT).air_temperature_c(noon_s))
        assert air_c is not None
        self.assertGreater(air_c, 5.0, "a June noon at 45 N, not the -40 fallback")
