"""Tests for fleet files: reading (valid and malformed), the range-check hook, the generator."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import statistics
import tempfile
import unittest
from pathlib import Path

from parameterized import parameterized

from pv_simulator.fleet import COLUMNS, FleetError, FleetMember, generate, main, read_fleet, write_fleet
from tests.paths import ROOT

HEADER = "meter_id,peak_power_kw,tilt_deg,azimuth_deg,sky_seed"


class FleetFileTest(unittest.TestCase):
    def setUp(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="pvfleet-")
        self.addCleanup(self._tmp.cleanup)
        self.folder = Path(self._tmp.name)

    def write(self, text: str, name: str = "fleet.csv", encoding: str = "utf-8") -> Path:
        path = self.folder / name
        path.write_text(text, encoding=encoding)
        return path


class ReadFleetTest(FleetFileTest):
    def test_columns_are_the_members_fields(self) -> None:
        self.assertEqual(list(COLUMNS), [field.name for field in dataclasses.fields(FleetMember)])

    def test_all_columns_typed(self) -> None:
        path = self.write(
            ",".join(COLUMNS) + "\n"
            "house-1,48.2,16.37,194,9.5,35,180,1.2,14,4000,household,tmy.csv,7,pvgis.csv,10,5\n"
        )
        self.assertEqual(read_fleet(path), [FleetMember(
            meter_id="house-1", latitude=48.2, longitude=16.37, altitude_m=194.0, peak_power_kw=9.5,
            tilt_deg=35.0, azimuth_deg=180.0, dc_ac_ratio=1.2, losses_pct=14.0, annual_energy_kwh=4000.0,
            meter_model="household", weather="tmy.csv", sky_seed=7, sky_climate="pvgis.csv",
            battery_kwh=10.0, battery_kw=5.0)])
        self.assertIsInstance(read_fleet(path)[0].sky_seed, int)

    def test_empty_cells_and_missing_columns_are_none(self) -> None:
        path = self.write(f"{HEADER}\nA,,30,,\nB,0,,,3\n")
        self.assertEqual(read_fleet(path), [
            FleetMember("A", tilt_deg=30.0),
            FleetMember("B", peak_power_kw=0.0, sky_seed=3),
        ])

    def test_only_meter_id(self) -> None:
        self.assertEqual(read_fleet(self.write("meter_id\nMeter_0\nMeter_1\n")),
                         [FleetMember("Meter_0"), FleetMember("Meter_1")])

    def test_spaces_blank_lines_bom_and_crlf(self) -> None:
        path = self.write(f"\n {HEADER.replace(',', ' , ')} \r\n\r\n x.1 , 4.5 ,,, \r\n\n", encoding="utf-8-sig")
        self.assertEqual(read_fleet(path), [FleetMember("x.1", peak_power_kw=4.5)])

    def test_example_fleet(self) -> None:
        members = read_fleet(ROOT / "examples" / "fleet.csv")
        self.assertEqual(len(members), 5)
        self.assertEqual(sum(member.peak_power_kw == 0.0 for member in members), 1)
        self.assertGreater(len({member.azimuth_deg for member in members if member.peak_power_kw}), 2)
        self.assertGreater(len({member.peak_power_kw for member in members}), 4)


class MalformedFleetTest(FleetFileTest):
    @parameterized.expand([
        ("space_in_id", f"{HEADER}\nok,1,,,\nbad id,1,,,\n", 3, "meter_id", "'bad id' is not a valid meter id"),
        ("dlq_suffix", f"{HEADER}\nMeter_0.dlq,1,,,\n", 2, "meter_id", "not ending in .dlq"),
        ("leading_dash", f"{HEADER}\n-m,1,,,\n", 2, "meter_id", "'-m' is not a valid meter id"),
        ("id_too_long", f"{HEADER}\n{'m' * 65},1,,,\n", 2, "meter_id", "is not a valid meter id"),
        ("empty_id", f"{HEADER}\n,1,,,\n", 2, "meter_id", "'' is not a valid meter id"),
        ("duplicate_id", f"{HEADER}\nA,1,,,\nB,1,,,\nA,2,,,\n", 4, "meter_id", "'A' is already on line 2"),
        ("text_number", f"{HEADER}\nA,1,steep,,\n", 2, "tilt_deg", "'steep' is not a number"),
        ("decimal_comma", f"{HEADER}\nA,\"9,5\",,,\n", 2, "peak_power_kw", "'9,5' is not a number"),
        ("nan", f"{HEADER}\nA,nan,,,\n", 2, "peak_power_kw", "'nan' is not a finite number"),
        ("infinity", f"{HEADER}\nA,1,,-inf,\n", 2, "azimuth_deg", "'-inf' is not a finite number"),
        ("fractional_seed", f"{HEADER}\nA,1,,,1.5\n", 2, "sky_seed", "'1.5' is not a whole number"),
        ("after_blank_lines", f"\n{HEADER}\n\nA,1,,,\n\nB,x,,,\n", 6, "peak_power_kw", "'x' is not a number"),
    ])
    def test_value_error_names_line_and_column(
        self, _name: str, text: str, line: int, column: str, message: str
    ) -> None:
        path = self.write(text)
        with self.assertRaises(FleetError) as caught:
            read_fleet(path)
        self.assertTrue(str(caught.exception).startswith(f"{path}:{line}: column {column!r}: "),
                        str(caught.exception))
        self.assertIn(message, str(caught.exception))

    @parameterized.expand([
        ("unknown_column", "meter_id,peak_kw\nA,1\n", "fleet.csv:1: column 2 'peak_kw' is not a fleet column"),
        ("twice", "meter_id,tilt_deg,tilt_deg\nA,1,2\n", "fleet.csv:1: column 'tilt_deg' appears twice"),
        ("no_meter_id", "peak_power_kw\n4\n", "fleet.csv:1: column 'meter_id' is missing"),
        ("cell_count", f"{HEADER}\nA,1,,,\nB,1\n", "fleet.csv:3: 2 cells, the header has 5"),
        ("empty", "\n\n", "fleet.csv: empty file"),
        ("header_only", f"{HEADER}\n", "fleet.csv: no houses"),
    ])
    def test_structure_error_names_where(self, _name: str, text: str, message: str) -> None:
        with self.assertRaisesRegex(FleetError, message.replace(".", r"\.")):
            read_fleet(self.write(text))

    def test_missing_file_names_it(self) -> None:
        with self.assertRaisesRegex(FleetError, r"nothere\.csv: cannot read the fleet file"):
            read_fleet(self.folder / "nothere.csv")

    def test_not_utf8(self) -> None:
        path = self.folder / "fleet.csv"
        path.write_bytes(b"meter_id\nM\xe4ter\n")
        with self.assertRaisesRegex(FleetError, "fleet.csv: not UTF-8"):
            read_fleet(path)

    def test_is_a_value_error(self) -> None:
        with self.assertRaises(ValueError):
            read_fleet(self.write("meter_id\n"))


class CheckHookTest(FleetFileTest):
    def test_called_for_each_numeric_value_only(self) -> None:
        calls: list[tuple[str, float]] = []

        def check(column: str, value: float) -> str | None:
            calls.append((column, value))
            return None

        read_fleet(self.write("meter_id,peak_power_kw,meter_model,sky_seed\nA,4.5,household,\nB,,,9\n"), check)
        self.assertEqual(calls, [("peak_power_kw", 4.5), ("sky_seed", 9)])

    def test_its_error_names_line_column_and_value(self) -> None:
        def check(column: str, value: float) -> str | None:
            return "must be between 0 and 90" if column == "tilt_deg" and not 0 <= value <= 90 else None

        path = self.write(f"{HEADER}\nA,1,30,,\nB,1,95,,\n")
        with self.assertRaises(FleetError) as caught:
            read_fleet(path, check)
        self.assertEqual(str(caught.exception), f"{path}:3: column 'tilt_deg': 95: must be between 0 and 90")


class GenerateTest(unittest.TestCase):
    SITE = (48.2, 16.37)
    fleet: list[FleetMember]
    with_pv: list[FleetMember]

    @classmethod
    def setUpClass(cls) -> None:
        cls.fleet = generate(2000, 1, *cls.SITE)
        cls.with_pv = [member for member in cls.fleet if member.peak_power_kw]

    def test_same_seed_same_fleet_other_seed_differs(self) -> None:
        self.assertEqual(generate(50, 7, *self.SITE), generate(50, 7, *self.SITE))
        self.assertNotEqual(generate(50, 7, *self.SITE), generate(50, 8, *self.SITE))

    def test_ids_unique_and_readable_by_services(self) -> None:
        self.assertEqual([member.meter_id for member in self.fleet[:3]], ["Meter_0", "Meter_1", "Meter_2"])
        self.assertEqual(len({member.meter_id for member in self.fleet}), len(self.fleet))

    def test_about_a_third_with_pv(self) -> None:
        self.assertAlmostEqual(len(self.with_pv) / len(self.fleet), 0.35, delta=0.04)
        without = [member for member in self.fleet if member.peak_power_kw == 0.0]
        self.assertEqual(len(without) + len(self.with_pv), len(self.fleet))
        self.assertTrue(all(member.tilt_deg is None and member.azimuth_deg is None for member in without))

    def test_plant_sizes(self) -> None:
        sizes = [member.peak_power_kw or 0.0 for member in self.with_pv]
        self.assertTrue(8.0 <= statistics.median(sizes) <= 10.0, statistics.median(sizes))
        self.assertTrue(all(1.5 <= size <= 30.0 for size in sizes))
        self.assertGreater(statistics.pstdev(sizes), 2.0)

    def test_tilts(self) -> None:
        tilts = [member.tilt_deg or 0.0 for member in self.with_pv]
        self.assertTrue(30.0 <= statistics.median(tilts) <= 35.0, statistics.median(tilts))
        self.assertGreater(sum(15 <= tilt <= 45 for tilt in tilts) / len(tilts), 0.85)
        self.assertLess(sum(25 <= tilt <= 40 for tilt in tilts) / len(tilts), 0.8)

    def test_azimuths_south_with_east_and_west_roofs(self) -> None:
        azimuths = [member.azimuth_deg or 0.0 for member in self.with_pv]

        def share(low: float, high: float) -> float:
            return sum(low <= azimuth < high for azimuth in azimuths) / len(azimuths)

        self.assertGreater(share(135, 225), 0.4)
        self.assertGreater(share(60, 120), 0.1)
        self.assertGreater(share(240, 300), 0.1)
        self.assertLess(share(0, 45) + share(315, 360), 0.02)

    def test_roofs_face_the_equator_south_of_it_too(self) -> None:
        southern = generate(400, 11, -33.9, 151.2, pv_share=1.0)
        northern = generate(400, 11, 33.9, 151.2, pv_share=1.0)
        north_facing = [m for m in southern if m.azimuth_deg is not None
                        and (m.azimuth_deg >= 315 or m.azimuth_deg < 45)]
        self.assertGreater(len(north_facing) / len(southern), 0.4)
        self.assertLess(sum(135 <= (m.azimuth_deg or 0) < 225 for m in southern) / len(southern), 0.02)
        # The same draws, mirrored: the equator's side swaps, east and west roofs stay.
        for south, north in zip(southern, northern, strict=True):
            self.assertEqual(south.peak_power_kw, north.peak_power_kw)

    def test_consumption_by_household_size(self) -> None:
        energies = [member.annual_energy_kwh or 0.0 for member in self.fleet]
        # 41 % one-person households pull the median below the 2-person 2,800 kWh.
        self.assertTrue(2000.0 <= statistics.median(energies) <= 3000.0, statistics.median(energies))
        self.assertTrue(all(800.0 <= energy <= 12000.0 for energy in energies))
        self.assertGreater(sum(energy < 2000.0 for energy in energies) / len(energies), 0.2)
        self.assertGreater(sum(energy > 5000.0 for energy in energies) / len(energies), 0.05)

    def test_houses_in_a_neighbourhood(self) -> None:
        latitudes = [member.latitude or 0.0 for member in self.fleet]
        longitudes = [member.longitude or 0.0 for member in self.fleet]
        self.assertAlmostEqual(statistics.fmean(latitudes), self.SITE[0], delta=0.001)
        self.assertAlmostEqual(statistics.fmean(longitudes), self.SITE[1], delta=0.001)
        self.assertTrue(all(abs(lat - self.SITE[0]) < 0.02 for lat in latitudes))
        # A few hundred metres apart: 0.001 deg latitude is 111 m.
        self.assertTrue(0.001 < statistics.pstdev(latitudes) < 0.005, statistics.pstdev(latitudes))
        self.assertTrue(0.001 < statistics.pstdev(longitudes) < 0.008, statistics.pstdev(longitudes))

    def test_pv_share_only_changes_which_houses_have_plants(self) -> None:
        none = generate(100, 3, *self.SITE, pv_share=0.0)
        every = generate(100, 3, *self.SITE, pv_share=1.0)
        self.assertTrue(all(member.peak_power_kw == 0.0 for member in none))
        self.assertTrue(all(member.peak_power_kw for member in every))
        self.assertEqual([m.annual_energy_kwh for m in none], [m.annual_energy_kwh for m in every])

    @parameterized.expand([("no_houses", 0, 0.35, "count"), ("share", 10, 1.5, "pv_share")])
    def test_bad_arguments(self, _name: str, count: int, pv_share: float, message: str) -> None:
        with self.assertRaisesRegex(ValueError, message):
            generate(count, 1, *self.SITE, pv_share=pv_share)


class GeneratorMainTest(FleetFileTest):
    def run_main(self, *argv: str) -> str:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            self.assertEqual(main(["generate", *argv]), 0)
        return out.getvalue()

    def test_same_seed_same_file_and_reads_back(self) -> None:
        text = self.run_main("40", "--seed", "5", "--latitude", "51.96", "--longitude", "7.63")
        self.assertEqual(text, self.run_main("40", "--seed", "5", "--latitude", "51.96", "--longitude", "7.63"))
        self.assertEqual(read_fleet(self.write(text)), generate(40, 5, 51.96, 7.63))

    def test_site_from_config(self) -> None:
        text = self.run_main("20", "--seed", "2", "--config", str(ROOT / "examples" / "challenge.ini"))
        members = read_fleet(self.write(text))
        self.assertTrue(all(abs((member.latitude or 0.0) - 51.96) < 0.02 for member in members))
        self.assertTrue(all(abs((member.longitude or 0.0) - 7.63) < 0.03 for member in members))

    def test_write_fleet_round_trip_with_empty_cells(self) -> None:
        members = [FleetMember("A", peak_power_kw=0.0, sky_seed=4), FleetMember("B", weather="w.csv", tilt_deg=12.5)]
        out = io.StringIO()
        write_fleet(members, out)
        self.assertEqual(out.getvalue().splitlines()[0], "meter_id,peak_power_kw,tilt_deg,weather,sky_seed")
        self.assertEqual(read_fleet(self.write(out.getvalue())), members)

    @parameterized.expand([
        ("no_houses", ["0", "--seed", "1", "--latitude", "0", "--longitude", "0"]),
        ("latitude", ["5", "--seed", "1", "--latitude", "95", "--longitude", "0"]),
        ("no_seed", ["5", "--latitude", "0", "--longitude", "0"]),
        ("missing_config", ["5", "--seed", "1", "--config", "/nonexistent/fleet.ini"]),
    ])
    def test_usage_errors_exit_2(self, _name: str, argv: list[str]) -> None:
        with contextlib.redirect_stderr(io.StringIO()) as err, self.assertRaises(SystemExit) as caught:
            main(["generate", *argv])
        self.assertEqual(caught.exception.code, 2)
        self.assertIn("error", err.getvalue())
        self.assertEqual(err.getvalue().count("\n"), 1, f"not one line: {err.getvalue()!r}")
        self.assertNotIn("usage:", err.getvalue())


if __name__ == "__main__":
    unittest.main()
