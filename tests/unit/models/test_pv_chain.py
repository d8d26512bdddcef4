"""The physical steps of pv_simulator.solar against pvlib reference days and physical limits."""

from __future__ import annotations

import csv
import itertools
import math
import unittest
from dataclasses import dataclass
from datetime import datetime, timezone

from parameterized import parameterized

from pv_simulator.models import pv_chain
from tests.paths import DATA_DIR


@dataclass(frozen=True)
class FixtureCase:
    """One pvlib reference day as described in tests/data/README.md."""

    file: str
    latitude_deg: float
    longitude_deg: float
    altitude_m: float
    timezone: str
    tilt_deg: float
    azimuth_deg: float
    peak_power_kw: float
    dc_ac_ratio: float
    linke_turbidity: float
    air_temperature_c: float
    sun_temperature_c: float


@dataclass(frozen=True)
class FixtureRow:
    """One 10-minute sample of a reference day; irradiance W/m2, power W, angles deg."""

    time_s: float
    values: dict[str, float]


def fixture_cases() -> list[FixtureCase]:
    """The reference days listed in the README's table (the single description of the data)."""
    cases = []
    for line in (DATA_DIR / "README.md").read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if not line.startswith("| ") or not cells[0].endswith(".csv"):
            continue
        (latitude, longitude, altitude, tilt, azimuth, peak, ratio, linke, air,
         sun) = (float(cell) for cell in cells[1:4] + cells[5:12])
        cases.append(FixtureCase(cells[0], latitude, longitude, altitude, cells[4], tilt, azimuth,
                                 peak, ratio, linke, air, sun))
    return cases


def fixture_rows(case: FixtureCase) -> list[FixtureRow]:
    """The case's CSV rows with epoch times."""
    with (DATA_DIR / case.file).open(newline="", encoding="utf-8") as handle:
        return [FixtureRow(datetime.fromisoformat(row.pop("time_utc").replace("Z", "+00:00"))
                           .timestamp(), {key: float(value) for key, value in row.items()})
                for row in csv.DictReader(handle)]


FIXTURES = [(case.file.removesuffix(".csv"), case) for case in fixture_cases()]


def angle_difference_deg(a_deg: float, b_deg: float) -> float:
    return abs((a_deg - b_deg + 180.0) % 360.0 - 180.0)


class FixtureTableTest(unittest.TestCase):
    def test_every_fixture_file_is_described(self) -> None:
        described = {case.file for case in fixture_cases()}
        on_disk = {path.name for path in DATA_DIR.glob("*.csv")}
        self.assertEqual(described, on_disk)
        self.assertGreaterEqual(len(described), 10)


class SolarPositionTest(unittest.TestCase):
    @parameterized.expand(FIXTURES)
    def test_matches_spa_of_reference(self, _: str, case: FixtureCase) -> None:
        pressure_hpa = pv_chain.pressure_from_altitude_pa(case.altitude_m) / 100.0
        for row in fixture_rows(case):
            position = pv_chain.solar_position(row.time_s, case.latitude_deg, case.longitude_deg,
                                            case.altitude_m, pressure_hpa, case.sun_temperature_c)
            self.assertLessEqual(abs(position.apparent_zenith_deg
                                     - row.values["zenith_apparent"]), 0.1, row.time_s)
            self.assertLessEqual(angle_difference_deg(position.azimuth_deg,
                                                      row.values["azimuth"]), 0.3, row.time_s)

    def test_interpolated_geocentric_sun_matches_full_spa(self) -> None:
        day_start_s = 1_773_360_000.0
        start, middle, end = (pv_chain.spa_geocentric_sun(day_start_s + hours * 3600.0)
                              for hours in (0, 12, 24))
        for minute in range(0, 1441, 7):
            time_s = day_start_s + minute * 60.0
            full = pv_chain.spa_geocentric_sun(time_s)
            fast = pv_chain.interpolate_geocentric_sun(start, middle, end, minute / 1440.0)
            self.assertLess(angle_difference_deg(fast.right_ascension_deg,
                                                 full.right_ascension_deg), 1e-5)
            self.assertLess(abs(fast.declination_deg - full.declination_deg), 1e-5)
            self.assertLess(abs(fast.earth_radius_au - full.earth_radius_au), 1e-8)

    def test_interpolation_handles_right_ascension_wrap(self) -> None:
        spring_equinox_s = 1_773_964_800.0
        start, middle, end = (pv_chain.spa_geocentric_sun(spring_equinox_s + hours * 3600.0)
                              for hours in (0, 12, 24))
        self.assertGreater(start.right_ascension_deg, 350.0)
        self.assertLess(end.right_ascension_deg, 10.0)
        quarter = pv_chain.interpolate_geocentric_sun(start, middle, end, 0.25)
        full = pv_chain.spa_geocentric_sun(spring_equinox_s + 6 * 3600.0)
        self.assertLess(angle_difference_deg(quarter.right_ascension_deg,
                                             full.right_ascension_deg), 1e-5)

    def test_sun_is_south_at_noon_in_north_and_north_in_south(self) -> None:
        noon_greenwich_s = 1_782_043_200.0
        north = pv_chain.solar_position(noon_greenwich_s, 51.5, 0.0)
        south = pv_chain.solar_position(noon_greenwich_s, -33.9, 0.0)
        self.assertLess(angle_difference_deg(north.azimuth_deg, 180.0), 2.0)
        self.assertLess(angle_difference_deg(south.azimuth_deg, 0.0), 2.0)
        self.assertAlmostEqual(north.zenith_deg, 51.5 - 23.44, delta=0.3)

    def test_refraction_lifts_sun_near_horizon_only(self) -> None:
        at_horizon = pv_chain.refraction_correction_deg(0.0, 1010.0, 10.0)
        self.assertGreater(at_horizon, 0.4)
        self.assertLess(at_horizon, 0.6)
        self.assertLess(pv_chain.refraction_correction_deg(45.0, 1010.0, 10.0), 0.02)
        self.assertEqual(pv_chain.refraction_correction_deg(-2.0, 1010.0, 10.0), 0.0)


class IrradianceTest(unittest.TestCase):
    @parameterized.expand(FIXTURES)
    def test_clear_sky_and_transposition_match_reference(self, _: str,
                                                         case: FixtureCase) -> None:
        pressure_pa = pv_chain.pressure_from_altitude_pa(case.altitude_m)
        for row in fixture_rows(case):
            zenith_deg = row.values["zenith_apparent"]
            if zenith_deg >= 90.0:
                continue
            day_of_year = datetime.fromtimestamp(row.time_s, timezone.utc).timetuple().tm_yday
            dni_extra_w_m2 = pv_chain.extraterrestrial_irradiance_w_m2(day_of_year)
            air_mass = pv_chain.relative_air_mass(zenith_deg)
            sky = pv_chain.ineichen_perez_clear_sky(
                zenith_deg, pv_chain.absolute_air_mass(air_mass, pressure_pa),
                case.linke_turbidity, case.altitude_m, dni_extra_w_m2)
            tolerance_w_m2 = 0.5 + 0.002 * row.values["ghi"]
            self.assertAlmostEqual(sky.ghi_w_m2, row.values["ghi"], delta=tolerance_w_m2)
            self.assertAlmostEqual(sky.dni_w_m2, row.values["dni"], delta=tolerance_w_m2)
            self.assertAlmostEqual(sky.dhi_w_m2, row.values["dhi"], delta=tolerance_w_m2)
            cos_aoi = pv_chain.cos_angle_of_incidence(case.tilt_deg, case.azimuth_deg, zenith_deg,
                                                   row.values["azimuth"])
            beam = pv_chain.poa_beam_w_m2(row.values["dni"], cos_aoi)
            diffuse = (pv_chain.perez_sky_diffuse_w_m2(case.tilt_deg, cos_aoi, row.values["dhi"],
                                                    row.values["dni"], dni_extra_w_m2,
                                                    zenith_deg, air_mass)
                       + pv_chain.ground_reflected_w_m2(row.values["ghi"], case.tilt_deg, 0.2))
            self.assertAlmostEqual(beam, row.values["poa_direct"], delta=tolerance_w_m2)
            self.assertAlmostEqual(diffuse, row.values["poa_diffuse"], delta=tolerance_w_m2)
            effective = beam * pv_chain.iam_physical(cos_aoi) + diffuse
            self.assertAlmostEqual(effective, row.values["eff_irr"], delta=tolerance_w_m2)

    def test_air_mass_is_secant_overhead_and_about_38_at_horizon(self) -> None:
        self.assertAlmostEqual(pv_chain.relative_air_mass(0.0), 1.0, delta=0.001)
        self.assertAlmostEqual(pv_chain.relative_air_mass(60.0), 2.0, delta=0.01)
        self.assertAlmostEqual(pv_chain.relative_air_mass(90.0), 37.9, delta=0.2)
        self.assertEqual(pv_chain.relative_air_mass(95.0), math.inf)
        self.assertAlmostEqual(pv_chain.absolute_air_mass(2.0, 50662.5), 1.0)

    def test_extraterrestrial_irradiance_follows_earth_orbit(self) -> None:
        perihelion = pv_chain.extraterrestrial_irradiance_w_m2(3)
        aphelion = pv_chain.extraterrestrial_irradiance_w_m2(185)
        self.assertAlmostEqual(perihelion / pv_chain.SOLAR_CONSTANT_W_M2, 1.0 / 0.9833**2, delta=0.002)
        self.assertAlmostEqual(aphelion / pv_chain.SOLAR_CONSTANT_W_M2, 1.0 / 1.0167**2, delta=0.002)

    def test_pressure_at_sea_level_and_altitude(self) -> None:
        self.assertAlmostEqual(pv_chain.pressure_from_altitude_pa(0.0), 101325.0, delta=5.0)
        self.assertAlmostEqual(pv_chain.pressure_from_altitude_pa(1500.0), 84560.0, delta=150.0)

    def test_clear_sky_is_dark_below_horizon_and_closes(self) -> None:
        self.assertEqual(pv_chain.ineichen_perez_clear_sky(91.0, math.inf, 3.0, 0.0, 1361.0),
                         (0.0, 0.0, 0.0))
        sky = pv_chain.ineichen_perez_clear_sky(30.0, 1.15, 3.0, 0.0, 1361.0)
        self.assertAlmostEqual(sky.ghi_w_m2, sky.dni_w_m2 * math.cos(math.radians(30.0))
                               + sky.dhi_w_m2)
        hazier = pv_chain.ineichen_perez_clear_sky(30.0, 1.15, 5.0, 0.0, 1361.0)
        self.assertLess(hazier.dni_w_m2, sky.dni_w_m2)
        self.assertGreater(hazier.dhi_w_m2, sky.dhi_w_m2)

    @parameterized.expand([(0.05,), (0.3,), (0.6,), (0.75,), (0.9,)])
    def test_erbs_split_closes_and_bounds_diffuse_fraction(self, clearness: float) -> None:
        dni_extra_w_m2 = 1361.0
        zenith_deg = 40.0
        cos_zenith = math.cos(math.radians(zenith_deg))
        ghi_w_m2 = clearness * dni_extra_w_m2 * cos_zenith
        split = pv_chain.erbs_decomposition(ghi_w_m2, zenith_deg, dni_extra_w_m2)
        self.assertAlmostEqual(split.dni_w_m2 * cos_zenith + split.dhi_w_m2, ghi_w_m2)
        self.assertGreaterEqual(split.dni_w_m2, 0.0)
        diffuse_fraction = split.dhi_w_m2 / ghi_w_m2
        self.assertGreaterEqual(diffuse_fraction, 0.165 - 1e-9)
        self.assertLessEqual(diffuse_fraction, 1.0)
        if clearness < 0.22:
            self.assertGreater(diffuse_fraction, 0.98)
        if clearness > 0.8:
            self.assertAlmostEqual(diffuse_fraction, 0.165)

    def test_erbs_puts_all_light_into_diffuse_near_horizon(self) -> None:
        split = pv_chain.erbs_decomposition(20.0, 88.0, 1361.0)
        self.assertEqual(split, (0.0, 20.0))

    def test_horizontal_plane_sees_dhi_and_vertical_half_the_ground(self) -> None:
        cos_aoi = pv_chain.cos_angle_of_incidence(0.0, 180.0, 35.0, 150.0)
        self.assertAlmostEqual(cos_aoi, math.cos(math.radians(35.0)))
        self.assertAlmostEqual(pv_chain.perez_sky_diffuse_w_m2(0.0, cos_aoi, 120.0, 700.0, 1361.0,
                                                            35.0, 1.22), 120.0)
        self.assertAlmostEqual(pv_chain.ground_reflected_w_m2(800.0, 90.0, 0.2), 80.0)
        self.assertEqual(pv_chain.ground_reflected_w_m2(800.0, 0.0, 0.2), 0.0)

    def test_beam_is_zero_from_behind(self) -> None:
        cos_aoi = pv_chain.cos_angle_of_incidence(90.0, 180.0, 60.0, 0.0)
        self.assertLess(cos_aoi, 0.0)
        self.assertEqual(pv_chain.poa_beam_w_m2(800.0, cos_aoi), 0.0)
        self.assertEqual(pv_chain.iam_physical(cos_aoi), 0.0)

    def test_iam_is_one_at_normal_and_falls_to_zero_at_grazing(self) -> None:
        self.assertAlmostEqual(pv_chain.iam_physical(1.0), 1.0)
        previous = 1.0
        for aoi_deg in range(5, 90, 5):
            value = pv_chain.iam_physical(math.cos(math.radians(aoi_deg)))
            self.assertLessEqual(value, previous + 1e-12)
            previous = value
        self.assertGreater(pv_chain.iam_physical(math.cos(math.radians(50.0))), 0.95)
        self.assertLess(pv_chain.iam_physical(math.cos(math.radians(85.0))), 0.5)
        self.assertEqual(pv_chain.iam_physical(0.0), 0.0)


class TemperatureAndPowerTest(unittest.TestCase):
    @parameterized.expand(FIXTURES)
    def test_temperature_dc_and_ac_match_reference(self, _: str, case: FixtureCase) -> None:
        dc_rating_w = case.peak_power_kw * 1000.0
        inverter_rating_w = dc_rating_w / case.dc_ac_ratio / pv_chain.PVWATTS_ETA_INV_NOMINAL
        for row in fixture_rows(case):
            cell_c = pv_chain.sapm_cell_temperature_c(row.values["poa"], case.air_temperature_c, 1.0)
            self.assertAlmostEqual(cell_c, row.values["temp_cell"], delta=0.02)
            dc_w = pv_chain.pvwatts_dc_power_w(row.values["eff_irr"], row.values["temp_cell"],
                                            dc_rating_w, -0.0035, 14.08)
            self.assertAlmostEqual(dc_w, row.values["dc_w"], delta=0.05 + 0.0002 * dc_w)
            ac_w = pv_chain.pvwatts_ac_power_w(row.values["dc_w"], inverter_rating_w)
            self.assertAlmostEqual(ac_w, row.values["ac_w"], delta=0.05)

    def test_cell_is_warmer_than_air_in_sun_and_cooled_by_wind(self) -> None:
        self.assertEqual(pv_chain.sapm_cell_temperature_c(0.0, 15.0, 1.0), 15.0)
        calm = pv_chain.sapm_cell_temperature_c(1000.0, 25.0, 0.0)
        windy = pv_chain.sapm_cell_temperature_c(1000.0, 25.0, 8.0)
        self.assertGreater(calm, windy)
        self.assertGreater(windy, 25.0)
        self.assertAlmostEqual(calm, 25.0 + 1000.0 * math.exp(-2.98) + 1.0)

    def test_dc_is_rating_at_standard_conditions_less_losses(self) -> None:
        self.assertAlmostEqual(pv_chain.pvwatts_dc_power_w(1000.0, 25.0, 4000.0, -0.004), 4000.0)
        self.assertAlmostEqual(pv_chain.pvwatts_dc_power_w(1000.0, 25.0, 4000.0, -0.004, 10.0),
                               3600.0)
        self.assertAlmostEqual(pv_chain.pvwatts_dc_power_w(1000.0, 50.0, 4000.0, -0.004), 3600.0)

    def test_inverter_efficiency_clipping_and_start_threshold(self) -> None:
        rating_w = 3000.0
        full_load = pv_chain.pvwatts_ac_power_w(rating_w, rating_w)
        self.assertAlmostEqual(full_load, 0.96 * rating_w)
        self.assertAlmostEqual(pv_chain.pvwatts_ac_power_w(2.0 * rating_w, rating_w),
                               0.96 * rating_w)
        half_load = pv_chain.pvwatts_ac_power_w(rating_w / 2.0, rating_w)
        self.assertGreater(half_load / (rating_w / 2.0), 0.95)
        self.assertLess(half_load / (rating_w / 2.0), 0.97)
        self.assertEqual(pv_chain.pvwatts_ac_power_w(0.005 * rating_w, rating_w), 0.0)
        self.assertEqual(pv_chain.pvwatts_ac_power_w(0.0, rating_w), 0.0)

    def test_dc_for_ac_inverts_the_inverter_curve(self) -> None:
        rating_w = 3000.0
        for dc_w in (30.0, 300.0, 1500.0, 2900.0):
            ac_w = pv_chain.pvwatts_ac_power_w(dc_w, rating_w)
            self.assertAlmostEqual(pv_chain.pvwatts_dc_for_ac_w(ac_w, rating_w), dc_w, places=6)
        self.assertEqual(pv_chain.pvwatts_dc_for_ac_w(0.96 * rating_w, rating_w), rating_w)
        self.assertEqual(pv_chain.pvwatts_dc_for_ac_w(0.0, rating_w), 0.0)


class InverterTemperatureTest(unittest.TestCase):
    RATING_W = 5000.0

    def rise_k(self, ac_power_w: float) -> float:
        return pv_chain.inverter_temperature_c(20.0, ac_power_w, self.RATING_W) - 20.0

    def test_a_sleeping_inverter_is_at_the_air_and_full_output_at_the_rated_rise(self) -> None:
        self.assertEqual(self.rise_k(0.0), 0.0)
        self.assertAlmostEqual(self.rise_k(self.RATING_W), pv_chain.INVERTER_RISE_AT_RATED_K, places=9)
        self.assertEqual(pv_chain.inverter_temperature_c(-5.0, 1000.0, 0.0), -5.0, "no inverter")

    def test_the_rise_grows_with_the_losses_and_part_load_runs_cooler_than_its_share(self) -> None:
        rises = [self.rise_k(self.RATING_W * share / 20) for share in range(1, 21)]
        self.assertEqual(rises, sorted(rises))
        # The PVWatts curve is at its most efficient near half load: less than half the losses.
        self.assertLess(self.rise_k(self.RATING_W / 2), pv_chain.INVERTER_RISE_AT_RATED_K / 2)
        self.assertGreater(self.rise_k(self.RATING_W / 2), pv_chain.INVERTER_RISE_AT_RATED_K / 4)

    def test_the_lag_follows_its_time_constant_and_steps_compose(self) -> None:
        tau_s = pv_chain.INVERTER_TIME_CONSTANT_S
        self.assertAlmostEqual(pv_chain.first_order_lag(50.0, 20.0, tau_s, tau_s), 20.0 + 30.0 / math.e)
        half = pv_chain.first_order_lag(50.0, 20.0, tau_s / 2, tau_s)
        self.assertAlmostEqual(pv_chain.first_order_lag(half, 20.0, tau_s / 2, tau_s),
                               pv_chain.first_order_lag(50.0, 20.0, tau_s, tau_s))
        self.assertEqual(pv_chain.first_order_lag(50.0, 20.0, -60.0, tau_s), 20.0, "back in time")


class LinkeTurbidityTest(unittest.TestCase):
    MONTHLY = (2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 7.0, 6.0, 5.0, 4.0, 3.0)

    def test_mid_month_days_take_the_monthly_value(self) -> None:
        self.assertAlmostEqual(pv_chain.linke_turbidity_for_day(15.5, False, self.MONTHLY), 2.0)
        self.assertAlmostEqual(pv_chain.linke_turbidity_for_day(196.5, False, self.MONTHLY), 8.0)

    def test_values_change_continuously_through_the_year(self) -> None:
        for leap in (False, True):
            values = [pv_chain.linke_turbidity_for_day(day, leap, self.MONTHLY)
                      for day in range(1, 367 if leap else 366)]
            steps = [abs(b - a) for a, b in itertools.pairwise(values)]
            self.assertLess(max(steps), 0.04)
            self.assertGreaterEqual(min(values), 2.0)
            self.assertLessEqual(max(values), 8.0)
        new_year = pv_chain.linke_turbidity_for_day(1, False, self.MONTHLY)
        self.assertGreater(new_year, 2.0)
        self.assertLess(new_year, 3.0)


if __name__ == "__main__":
    unittest.main()
