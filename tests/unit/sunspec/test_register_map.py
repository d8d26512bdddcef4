"""The register map: pysunspec2 (the SunSpec Alliance's client) decodes what it encodes, writes to
123/124 become the site's commands, and meters get their ports and unit ids."""

from __future__ import annotations

import unittest
from typing import Any

from pv_simulator.services.control import Command
from pv_simulator.sunspec.register_map import (
    BASE_ADDRESS,
    ILLEGAL_DATA_ADDRESS,
    ILLEGAL_DATA_VALUE,
    DeviceMap,
    Nameplate,
    RowValues,
    Unit,
    WriteRefused,
    assign_units,
    initial_controls,
)
from tests.unit.sunspec.oracle import ImageDevice, scanned

HOUSE = Nameplate("Meter_0", 1, inverter_ac_w=3333.3, household_max_w=9000.0, battery_wh=10000.0,
                  max_charge_w=5000.0, max_discharge_w=4000.0, soc_min_pct=5.0, soc_max_pct=100.0,
                  version="0.1.0")
PV_ONLY = Nameplate("house.7", 3, inverter_ac_w=8333.3, household_max_w=9000.0)


def row(**changes: Any) -> RowValues:
    values = RowValues(time_s=1.78e9, household_w=400.25, pv_power_w=2500.4, pv_available_w=3000.0,
                       grid_power_w=-2100.2, battery_power_w=0.0, soc_pct=55.55, pv_limit_pct=None,
                       battery_mode=None, pv_wh=12345.6, import_wh=100.4, export_wh=200.6,
                       inverter_temperature_c=41.24)
    return values._replace(**changes)


def decoded(nameplate: Nameplate, values: RowValues | None) -> dict[int, dict[str, Any]]:
    image = DeviceMap(nameplate).registers(values, initial_controls(nameplate))
    return {model_id: {name: point.cvalue for name, point in model.points.items()}
            for model_id, model in scanned(image).items()}


class LayoutTest(unittest.TestCase):
    def test_models_in_order_from_the_base_to_the_end_marker(self) -> None:
        device_map = DeviceMap(HOUSE)
        image = device_map.registers(row(), initial_controls(HOUSE))
        self.assertEqual(image[:2], [0x5375, 0x6E53])
        self.assertEqual(list(scanned(image)), [1, 101, 120, 123, 203, 124])
        self.assertEqual(image[-2:], [0xFFFF, 0])
        self.assertEqual(len(image), device_map.size)
        self.assertEqual(device_map.end_address, BASE_ADDRESS + device_map.size - 2)

    def test_a_site_without_battery_has_no_storage_model_and_a_large_inverter_three_phases(self) -> None:
        models = decoded(PV_ONLY, row(soc_pct=None))
        self.assertEqual(list(models), [1, 103, 120, 123, 203])
        self.assertEqual(models[120]["DERTyp"], 4)
        self.assertIsNone(models[120]["WHRtg"])
        self.assertAlmostEqual(models[103]["AphB"], models[103]["A"] / 3, places=1)

    def test_single_phase_inverter_leaves_phases_b_and_c_unimplemented(self) -> None:
        inverter = decoded(HOUSE, row())[101]
        self.assertEqual(inverter["AphA"], inverter["A"])
        self.assertIsNone(inverter["AphB"])
        self.assertIsNone(inverter["PhVphC"])


class ValuesTest(unittest.TestCase):
    def test_the_row_and_energy_counters_as_pysunspec2_reads_them(self) -> None:
        models = decoded(HOUSE, row())
        common, inverter, nameplate, meter = models[1], models[101], models[120], models[203]
        self.assertEqual((common["Mn"], common["SN"], common["Vr"], common["DA"]),
                         ("pv-simulator", "Meter_0", "0.1.0", 1))
        self.assertEqual(inverter["W"], 2500)
        self.assertEqual(inverter["WH"], 12346)
        self.assertEqual(inverter["St"], 5, "delivered below available: THROTTLED")
        self.assertGreater(inverter["DCW"], inverter["W"])
        self.assertEqual(inverter["TmpCab"], 41.2)
        self.assertIsNone(inverter["TmpSnk"])
        self.assertEqual(nameplate["WRtg"], 3333)
        self.assertEqual((nameplate["WHRtg"], nameplate["MaxChaRte"], nameplate["MaxDisChaRte"]),
                         (10000, 5000, 4000))
        self.assertEqual(meter["W"], -2100)
        self.assertEqual((meter["TotWhImp"], meter["TotWhExp"]), (100, 201))
        self.assertAlmostEqual(meter["A"], -2100.2 / 230, places=2)
        self.assertAlmostEqual(models[124]["ChaState"], 55.55)

    def test_signs_follow_sunspec_import_positive(self) -> None:
        self.assertEqual(decoded(HOUSE, row(grid_power_w=1234.4))[203]["W"], 1234)
        self.assertEqual(decoded(HOUSE, row(grid_power_w=-30000.0))[203]["W"], -30000)

    def test_operating_and_charge_states(self) -> None:
        night = decoded(HOUSE, row(pv_power_w=0.0, pv_available_w=0.0, battery_power_w=-300.0))
        self.assertEqual(night[101]["St"], 2)
        self.assertEqual(night[124]["ChaSt"], 3)
        free = decoded(HOUSE, row(pv_power_w=3000.0, battery_power_w=800.0))
        self.assertEqual(free[101]["St"], 4)
        self.assertEqual(free[124]["ChaSt"], 4)
        self.assertEqual(decoded(HOUSE, row(soc_pct=100.0))[124]["ChaSt"], 5)
        self.assertEqual(decoded(HOUSE, row(soc_pct=5.0))[124]["ChaSt"], 2)

    def test_scale_factors_fit_a_large_plant(self) -> None:
        plant = Nameplate("farm", 1, inverter_ac_w=2_500_000.0, household_max_w=9000.0)
        models = decoded(plant, row(pv_power_w=2_400_000.0, pv_available_w=2_400_000.0,
                                    grid_power_w=-2_399_000.0, pv_wh=5e9, soc_pct=None))
        self.assertEqual(models[103]["W_SF"], 2)
        self.assertEqual(models[103]["W"], 2_400_000)
        self.assertEqual(models[203]["W"], -2_399_000)
        self.assertEqual(models[103]["WH"], int(5e9) % (1 << 32), "an accumulator rolls over")

    def test_before_the_first_row_measurements_are_not_implemented(self) -> None:
        models = decoded(HOUSE, None)
        self.assertIsNone(models[101]["W"])
        self.assertIsNone(models[203]["W"])
        self.assertIsNone(models[124]["ChaState"])
        self.assertIsNone(models[101]["TmpCab"])
        self.assertIsNone(decoded(HOUSE, row(inverter_temperature_c=None))[101]["TmpCab"],
                          "a PV model without air temperature (the challenge's curve)")
        self.assertEqual(models[120]["WRtg"], 3333)

    def test_the_limit_in_force_shows_in_model_123(self) -> None:
        controls = decoded(HOUSE, row(pv_limit_pct=30.0))[123]
        self.assertEqual((controls["WMaxLimPct"], controls["WMaxLim_Ena"], controls["Conn"]), (30.0, 1, 1))
        controls = decoded(HOUSE, row())[123]
        self.assertEqual((controls["WMaxLimPct"], controls["WMaxLim_Ena"]), (100.0, 0))


class WriteTest(unittest.TestCase):
    def setUp(self) -> None:
        self.map = DeviceMap(HOUSE)
        self.controls = initial_controls(HOUSE)
        self.image = self.map.registers(row(), self.controls)
        self.blocks = {block.model_id: block for block in self.map.blocks}

    def address(self, model_id: int, point: str) -> int:
        block = self.blocks[model_id]
        return block.address + block.offsets[point]

    def write(self, model_id: int, point: str, *registers: int) -> Command | None:
        updated, command = self.map.decode_write(self.address(model_id, point), list(registers),
                                                 self.image, self.controls)
        self.controls.values = updated
        return command

    def refused(self, address: int, *registers: int) -> int:
        with self.assertRaises(WriteRefused) as caught:
            self.map.decode_write(address, list(registers), self.image, self.controls)
        return caught.exception.code

    def test_limit_enable_and_revert_timer_in_one_write(self) -> None:
        command = self.write(123, "WMaxLimPct", 5000, 0, 60, 0, 1)  # pct, WinTms, RvrtTms, RmpTms, Ena
        self.assertEqual(command, Command({"pv_limit_pct": 50.0}, 60.0))

    def test_disable_lifts_the_limit_and_disconnect_caps_at_zero(self) -> None:
        self.assertIsNone(self.write(123, "WMaxLimPct", 2500), "a set-point while disabled")
        self.assertEqual(self.write(123, "WMaxLim_Ena", 1), Command({"pv_limit_pct": 25.0}, None))
        self.assertEqual(self.write(123, "WMaxLim_Ena", 0), Command({"pv_limit_pct": None}, None))
        self.assertEqual(self.write(123, "Conn_RvrtTms", 30, 0), Command({"pv_limit_pct": 0.0}, 30.0))
        self.assertEqual(self.write(123, "Conn", 1), Command({"pv_limit_pct": None}, None))

    def test_pysunspec2_writes_decode_to_the_command(self) -> None:
        device = ImageDevice(self.image)
        device.scan(connect=False)
        controls = device.models[123][0]
        controls.WMaxLimPct.cvalue = 42.5
        controls.WMaxLim_Ena.value = 1
        controls.write()
        self.assertTrue(device.writes)
        for address, registers in device.writes:
            self.controls.values, command = self.map.decode_write(address, registers, self.image,
                                                                  self.controls)
        self.assertEqual(command, Command({"pv_limit_pct": 42.5}, None))

    def test_storage_set_points(self) -> None:
        self.assertIsNone(self.write(124, "InWRte", 5000), "a set-point while StorCtl_Mod is 0")
        self.assertEqual(self.write(124, "StorCtl_Mod", 1), Command(
            {"battery_mode": "setpoint", "battery_setpoint_w": 2500.0}, None))
        self.assertEqual(self.write(124, "StorCtl_Mod", 0), Command(
            {"battery_mode": None, "battery_setpoint_w": None}, None))
        self.write(124, "StorCtl_Mod", 1)
        self.write(124, "InOutWRte_RvrtTms", 120)
        self.write(124, "OutWRte", 4000)
        self.assertEqual(self.write(124, "StorCtl_Mod", 2), Command(
            {"battery_mode": "setpoint", "battery_setpoint_w": -1600.0}, 120.0))
        self.assertEqual(self.write(124, "InWRte", 0x10000 - 2000), Command(
            {"battery_mode": "setpoint", "battery_setpoint_w": -1600.0}, 120.0))
        self.assertEqual(self.write(124, "StorCtl_Mod", 1), Command(
            {"battery_mode": "setpoint", "battery_setpoint_w": -1000.0}, 120.0), "negative InWRte discharges")

    def test_read_only_points_and_other_models_are_illegal_addresses(self) -> None:
        for model_id, point in ((203, "W"), (123, "WMaxLimPct_SF"), (123, "ID"), (124, "ChaState"),
                                (1, "DA"), (101, "W")):
            with self.subTest(point=f"{model_id}.{point}"):
                self.assertEqual(self.refused(self.address(model_id, point), 1), ILLEGAL_DATA_ADDRESS)
        self.assertEqual(self.refused(BASE_ADDRESS, 1), ILLEGAL_DATA_ADDRESS)
        self.assertEqual(self.refused(self.map.end_address, 1), ILLEGAL_DATA_ADDRESS)
        last = self.address(123, "OutPFSet_SF")
        self.assertEqual(self.refused(last - 1, 0, 0, 0), ILLEGAL_DATA_ADDRESS, "past the model's end")

    def test_values_out_of_range_are_illegal_values(self) -> None:
        for point, raw in (("WMaxLimPct", 10001), ("WMaxLim_Ena", 2), ("Conn", 7)):
            with self.subTest(point=point):
                self.assertEqual(self.refused(self.address(123, point), raw), ILLEGAL_DATA_VALUE)
        for point, raw in (("StorCtl_Mod", 4), ("InWRte", 10001), ("OutWRte", 0x10000 - 1)):
            with self.subTest(point=point):
                self.assertEqual(self.refused(self.address(124, point), raw), ILLEGAL_DATA_VALUE)

    def test_unsupported_controls_take_only_their_current_value(self) -> None:
        self.write(123, "OutPFSet_Ena", 0)
        self.write(124, "WChaMax", 5000)
        self.assertEqual(self.refused(self.address(123, "OutPFSet_Ena"), 1), ILLEGAL_DATA_VALUE)
        self.assertEqual(self.refused(self.address(124, "WChaMax"), 4000), ILLEGAL_DATA_VALUE)
        self.assertEqual(self.refused(self.address(123, "WMaxLimPct_RmpTms"), 10), ILLEGAL_DATA_VALUE)

    def test_a_refused_write_changes_nothing(self) -> None:
        before = dict(self.controls.values)
        self.refused(self.address(123, "WMaxLimPct"), 5000, 0, 0, 0, 9)
        self.assertEqual(self.controls.values, before)

    def test_no_battery_no_storage_writes(self) -> None:
        device_map = DeviceMap(PV_ONLY)
        controls = initial_controls(PV_ONLY)
        image = device_map.registers(row(soc_pct=None), controls)
        with self.assertRaises(WriteRefused) as caught:
            device_map.decode_write(device_map.end_address + 10, [1], image, controls)
        self.assertEqual(caught.exception.code, ILLEGAL_DATA_ADDRESS)


class UnitsTest(unittest.TestCase):
    def test_247_units_a_port_in_serving_order(self) -> None:
        ids = [f"M{i}" for i in range(500)]
        units = assign_units(ids, 5020)
        self.assertEqual(units[0], Unit("M0", 5020, 1))
        self.assertEqual(units[246], Unit("M246", 5020, 247))
        self.assertEqual(units[247], Unit("M247", 5021, 1))
        self.assertEqual(units[499], Unit("M499", 5022, 6))

    def test_ports_beyond_65535_are_refused(self) -> None:
        self.assertEqual(assign_units(["a"], 65535), [Unit("a", 65535, 1)])
        with self.assertRaisesRegex(ValueError, "beyond 65535"):
            assign_units([f"M{i}" for i in range(248)], 65535)


if __name__ == "__main__":
    unittest.main()
