"""SunSpec over Modbus TCP through both CLIs and the real broker: pysunspec2 (the SunSpec
Alliance's client) scans each served site and its values are the rows written; writes command
the site when [modbus] control is on and are refused otherwise; pymodbus's client meets the
exceptions; hostile clients do not slow the consuming; a zero-export controller closes the loop
in real time (docs/sunspec.md)."""

from __future__ import annotations

import csv
import itertools
import json
import resource
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from pymodbus.client import ModbusTcpClient
from pymodbus.pdu import ExceptionResponse
from sunspec2.modbus.client import SunSpecModbusClientDeviceTCP

from benchmarks.modbus_poll import free_port_pair
from pv_simulator.models.pv_chain import inverter_temperature_c
from pv_simulator.storage.csv_format import Row, file_glob
from pv_simulator.summary import read_rows
from tests.helpers import wait_until
from tests.integration.support import BrokerTestCase

BASE = 40000
#: A 10 kWp plant (8.33 kW inverter, three-phase) with a 10 kWh battery at a clear noon, 20 deg C.
NOON: dict[str, dict[str, object]] = {
    "pv": {"model": "solar", "sky": "clear", "peak_power_kw": 10, "air_temperature_c": 20},
    "meter": {"model": "household", "annual_energy_kwh": 4000}}
BATTERY: dict[str, object] = {"capacity_kwh": 10, "max_charge_kw": 5, "max_discharge_kw": 5}


def scan(port: int, unit: int) -> dict[int, dict[str, Any]]:
    """Every model of a unit as pysunspec2 scans and reads it: model id -> point -> value."""
    device = SunSpecModbusClientDeviceTCP(slave_id=unit, ipaddr="127.0.0.1", ipport=port, timeout=5)
    try:
        device.scan()
        return {int(models[0].model_id): {name: point.cvalue for name, point in models[0].points.items()}
                for key, models in device.models.items() if isinstance(key, int)}
    finally:
        device.close()


def grid_w(row: Row) -> float:
    """A row's grid power, SunSpec's sign (positive importing): a site's column, else meter - PV."""
    return (row.grid_power_w if row.grid_power_w is not None
            else row.meter_power_value_w - row.pv_power_value_kw * 1000.0)


def energy_wh(rows: list[Row]) -> tuple[float, float, float]:
    """PV, import and export energy of the rows, integrated here independently (Wh)."""
    pv = imported = exported = 0.0
    for before, row in itertools.pairwise(rows):
        hours = (row.time_s - before.time_s) / 3600.0
        if not 0.0 < hours * 3600.0 <= 900.0:
            continue
        grid = grid_w(row)
        pv += row.pv_power_value_kw * 1000.0 * hours
        imported += max(grid, 0.0) * hours
        exported += max(-grid, 0.0) * hours
    return pv, imported, exported


class SunSpecCase(BrokerTestCase):
    """A PV service with a Modbus port of its own, its meter, and clients of it."""

    def setUp(self) -> None:
        super().setUp()
        self.port = free_port_pair()
        self.out = self.tmp / "out"

    def config(self, modbus: dict[str, object] | None = None,
               battery: dict[str, object] | None = None) -> Path:
        sections: dict[str, dict[str, object]] = {**NOON, "modbus": modbus or {}}
        if battery is not None:
            sections["battery"] = battery
        return self.write_config("broker.ini", **sections)

    def meter(self, conf: Path, meters: int, duration_s: float, *args: str) -> subprocess.Popen[str]:
        return self.start("demo_meter.py", "-conf", str(conf), "--seed", "3", "-nb", str(meters),
                          "--start", "2026-06-21T12:00", "--interval", "1", "--duration",
                          str(duration_s), *args, log=True)

    def service(self, conf: Path, meters: int, *args: str) -> subprocess.Popen[str]:
        service = self.start("demo_pv_service.py", "-conf", str(conf), "-ids",
                             *(f"Meter_{i}" for i in range(meters)), "--output-dir", str(self.out),
                             "--modbus-port", str(self.port), "--summary-file",
                             str(self.tmp / "summary.json"), *args, log=True)
        wait_until(lambda: self.answers() or service.poll() is not None, 30, "the Modbus server")
        self.assertIsNone(service.poll(), self.log_tail(service))
        return service

    def answers(self, port: int | None = None) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port or self.port), timeout=1):
                return True
        except OSError:
            return False

    def rows(self, meter_id: str = "Meter_0") -> list[Row]:
        return read_rows(sorted(self.out.glob(file_glob(meter_id))))

    def device(self) -> Any:
        """pysunspec2's client of unit 1, scanned (closed at the test's end)."""
        device = SunSpecModbusClientDeviceTCP(slave_id=1, ipaddr="127.0.0.1", ipport=self.port, timeout=5)
        self.addCleanup(device.close)
        device.scan()
        return device

    def client(self) -> ModbusTcpClient:
        client = ModbusTcpClient("127.0.0.1", port=self.port, timeout=5)
        self.assertTrue(client.connect())  # type: ignore[no-untyped-call]
        self.addCleanup(client.close)
        return client

    def exception_code(self, response: Any) -> int:
        self.assertIsInstance(response, ExceptionResponse, response)
        return int(response.exception_code)

    def assert_device_is_row(self, models: dict[int, dict[str, Any]], row: Row, rows: list[Row],
                             meter_id: str) -> None:
        """Every value the map serves against the row (to its scale factor) and the energy."""
        pv_wh, import_wh, export_wh = energy_wh(rows)
        inverter = models[103]
        self.assertEqual(models[1]["Mn"], "pv-simulator")
        self.assertEqual(models[1]["SN"], meter_id)
        self.assertAlmostEqual(inverter["W"], row.pv_power_value_kw * 1000.0, delta=0.5)
        self.assertAlmostEqual(inverter["WH"], pv_wh, delta=1.0)
        self.assertEqual(models[120]["WRtg"], 8333)
        # Seconds apart, the heat sink barely moves from its steady state at the row's power.
        self.assertAlmostEqual(inverter["TmpCab"], inverter_temperature_c(
            20.0, row.pv_power_value_kw * 1000.0, models[120]["WRtg"]), delta=0.3)
        self.assertGreater(inverter["TmpCab"], 40.0, "near rated output, about 30 K above the air")
        meter = models[203]
        self.assertAlmostEqual(meter["W"], row.grid_power_w, delta=0.5)
        # 0 is an acc32's "not implemented" too: pysunspec2 reads an untouched counter as None.
        self.assertAlmostEqual(meter["TotWhImp"] or 0, import_wh, delta=1.0)
        self.assertAlmostEqual(meter["TotWhExp"] or 0, export_wh, delta=1.0)
        self.assertGreater(export_wh, 1.0, "a clear noon exports")
        self.assertAlmostEqual(models[124]["ChaState"], row.battery_soc_pct, delta=0.005)
        self.assertEqual(list(models), [1, 103, 120, 123, 203, 124])


class SunSpecTest(SunSpecCase):
    def test_pysunspec2_scans_the_rows_written_and_the_energy_continues_over_a_restart(self) -> None:
        conf = self.config(battery=BATTERY)
        map_file = self.tmp / "map.csv"
        service = self.service(conf, 2, "--modbus-map", str(map_file))
        wait_until(map_file.exists, 10, "the map file")
        with map_file.open() as handle:
            self.assertEqual(list(csv.DictReader(handle)), [
                {"meter_id": "Meter_0", "port": str(self.port), "unit_id": "1"},
                {"meter_id": "Meter_1", "port": str(self.port), "unit_id": "2"}])
        meter = self.meter(conf, 2, 12)
        wait_until(lambda: len(self.rows()) >= 3, 30, "the first rows")
        flowing = scan(self.port, 1)  # while readings flow: the values of one of the rows
        self.assertIn(round(flowing[203]["W"]), {round(row.grid_power_w or 0.0) for row in self.rows()})
        self.assert_clean_exit(*self.finish(meter, timeout=60)[::2])
        wait_until(lambda: len(self.rows("Meter_1")) == 12 and len(self.rows()) == 12, 30, "every row")
        for unit, meter_id in ((1, "Meter_0"), (2, "Meter_1")):
            rows = self.rows(meter_id)
            self.assert_device_is_row(scan(self.port, unit), rows[-1], rows, meter_id)
        code, _, err = self.interrupt(service)
        self.assert_clean_exit(code, err)
        self.assertEqual(len([line for line in err.splitlines() if "Modbus TCP on" in line]), 1, err)
        self.assertIn("units 1=Meter_0, 2=Meter_1", err)

        restarted = self.service(conf, 2)  # no new reading: the registers are the files' last rows
        rows = self.rows()
        self.assert_device_is_row(scan(self.port, 1), rows[-1], rows, "Meter_0")
        self.assert_clean_exit(*self.interrupt(restarted)[::2])

    def test_writes_are_refused_by_default_and_bad_requests_get_exceptions(self) -> None:
        conf = self.config()
        service = self.service(conf, 1)
        client = self.client()
        models = scan(self.port, 1)
        self.assertEqual(list(models), [1, 103, 120, 123, 203], "no battery: no model 124")
        controls = BASE + 2 + 68 + 52 + 28  # after SunS, 1, 103 and 120
        self.assertEqual(self.exception_code(client.write_register(controls + 5, 5000, device_id=1)), 1)
        self.assertEqual(self.exception_code(client.write_registers(controls + 5, [5000, 0, 0, 0, 1],
                                                                    device_id=1)), 1)
        self.assertEqual(self.exception_code(client.read_holding_registers(0, count=2, device_id=1)), 2)
        whole = client.read_holding_registers(BASE, count=125, device_id=1)
        self.assertFalse(whole.isError(), whole)
        self.assertEqual(whole.registers[:2], [0x5375, 0x6E53])
        end = BASE + 2 + 68 + 52 + 28 + 26 + 107
        self.assertEqual(self.exception_code(client.read_holding_registers(end, count=3, device_id=1)), 2)
        self.assertEqual(self.exception_code(client.read_input_registers(BASE, count=2, device_id=1)), 1)
        self.assertEqual(self.exception_code(client.read_holding_registers(BASE, count=2, device_id=7)), 0x0B)
        self.assertEqual(client.read_holding_registers(end, count=2, device_id=1).registers, [0xFFFF, 0])
        self.assert_clean_exit(*self.interrupt(service)[::2])
        self.assertEqual(list(self.out.glob("*.csv")), [], "no reading came: nothing written")

    def test_writes_command_the_site_with_control_on(self) -> None:
        conf = self.config(modbus={"control": "true"}, battery=BATTERY)
        service = self.service(conf, 1)
        meter = self.meter(conf, 1, 40)
        wait_until(lambda: len(self.rows()) >= 3, 30, "the first rows")
        device = self.device()
        controls, storage = device.models[123][0], device.models[124][0]
        controls.WMaxLimPct.cvalue = 30.0
        controls.WMaxLimPct_RvrtTms.value = 6
        controls.WMaxLim_Ena.value = 1
        controls.write()
        written_at = self.rows()[-1].time_s
        storage.StorCtl_Mod.value = 1
        storage.InWRte.cvalue = 40.0
        storage.write()
        client = self.client()
        address = controls.model_addr + 5  # WMaxLimPct
        self.assertEqual(self.exception_code(client.write_register(address, 20000, device_id=1)), 3)
        self.assertEqual(self.exception_code(client.write_register(controls.model_addr + 20, 1,
                                                                   device_id=1)), 3, "VArPct_RmpTms")
        self.assertEqual(self.exception_code(client.write_register(storage.model_addr + 8, 1,
                                                                   device_id=1)), 2, "ChaState")
        wait_until(lambda: any(row.time_s > written_at + 10 for row in self.rows()), 40, "the revert")
        controls.read()
        self.assertEqual(controls.WMaxLim_Ena.value, 0, "reverted after 6 s")
        self.assert_clean_exit(*self.finish(meter, timeout=60)[::2])
        self.assert_clean_exit(*self.interrupt(service)[::2])
        rows = self.rows()
        limit_kw = 0.3 * 10.0 / 1.2
        capped = [row for row in rows if row.pv_power_value_kw < (row.pv_available_kw or 0) - 1e-5]
        self.assertTrue(capped, "no row under the limit")
        self.assertLessEqual(capped[0].time_s, written_at + 2.0)
        for row in capped:
            self.assertAlmostEqual(row.pv_power_value_kw, limit_kw, places=5)
        self.assertTrue(5.0 <= capped[-1].time_s - capped[0].time_s < 6.0)
        charging = [row for row in rows if row.battery_power_w == 2000.0]
        self.assertTrue(charging, "InWRte 40 % of 5 kW: charging at 2 kW")
        summary = json.loads((self.tmp / "summary.json").read_text())
        self.assertEqual(summary["commands_rejected"], 3)
        self.assertGreaterEqual(summary["commands_applied"], 2)


class HostileClientsTest(SunSpecCase):
    """Half-open connections, garbage, 1,000 connections and a client that never reads, while
    readings flow in real time: the readings keep being consumed and the devices keep answering."""

    def test_hostile_clients_do_not_slow_the_consuming(self) -> None:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < 4096 <= hard or (soft < 4096 and hard == resource.RLIM_INFINITY):
            resource.setrlimit(resource.RLIMIT_NOFILE, (4096, hard))
            self.addCleanup(resource.setrlimit, resource.RLIMIT_NOFILE, (soft, hard))
        conf = self.config()
        service = self.service(conf, 1)
        meter = self.meter(conf, 1, 40)
        wait_until(lambda: len(self.rows()) >= 3, 30, "the first rows")
        sockets: list[socket.socket] = []

        def close_all() -> None:
            for sock in sockets:
                sock.close()

        self.addCleanup(close_all)

        def connect() -> socket.socket:
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            sockets.append(sock)
            return sock

        for _ in range(1000):
            connect()
        for _ in range(20):  # half-open: an MBAP header that promises more than ever comes
            connect().sendall(b"\x00\x01\x00\x00\x00\xff\x01\x03")
        garbage = bytes(range(256)) * 64
        for _ in range(20):
            connect().sendall(garbage)
        flood = connect()  # a client that sends requests and never reads the answers
        request = b"\x00\x01\x00\x00\x00\x06\x01\x03\x9c\x40\x00\x7d"
        flood.sendall(request * 2000)
        depths = []
        rows_before = len(self.rows())
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline:
            depths.append(self.queue_depth("Meter_0"))
            models = scan(self.port, 1)
            self.assertEqual(models[1]["SN"], "Meter_0")
        self.assertLessEqual(max(depths), 3, f"readings waited in the queue: {depths}")
        idle = sockets[999]  # the thousandth connection is still served
        idle.sendall(request)
        answer = idle.recv(300)
        self.assertEqual(answer[7:9], b"\x03\xfa", "a read of 125 registers (250 bytes)")
        self.assertGreaterEqual(len(self.rows()) - rows_before, 8, "fewer rows than seconds")
        self.assert_clean_exit(*self.finish(meter, timeout=60)[::2])
        wait_until(lambda: len(self.rows()) == 40, 30, "every row")
        rows = self.rows()
        self.assertEqual([b.time_s - a.time_s for a, b in itertools.pairwise(rows)], [1.0] * 39)
        self.assertIsNone(service.poll(), "the service is still running")
        code, _, err = self.interrupt(service)
        self.assert_clean_exit(code, err)
        self.assertLess(len(err.splitlines()), 60, "a line per hostile client")


class ZeroExportTest(SunSpecCase):
    """A small zero-export controller, polling the grid meter model every second and writing
    WMaxLimPct, holds the export near zero for two minutes at a clear noon, in real time."""

    def test_closed_loop_zero_export(self) -> None:
        conf = self.config(modbus={"control": "true"})
        service = self.service(conf, 1)
        meter = self.meter(conf, 1, 130)
        wait_until(lambda: len(self.rows()) >= 2, 30, "the first rows")
        device = self.device()
        inverter, grid, controls = device.models[103][0], device.models[203][0], device.models[123][0]
        rating_w = device.models[120][0].WRtg.cvalue
        started_at = self.rows()[-1].time_s
        writes = 0
        next_poll = time.monotonic()
        while meter.poll() is None:
            inverter.read()
            grid.read()
            household_w = inverter.W.cvalue + grid.W.cvalue  # what the PV must cover
            controls.WMaxLimPct.cvalue = round(min(100.0, max(0.0, household_w / rating_w * 100.0)), 2)
            controls.WMaxLim_Ena.value = 1
            controls.write()
            writes += 1
            next_poll += 1.0
            time.sleep(max(0.0, next_poll - time.monotonic()))  # the controller's 1 Hz, not a wait
        self.assert_clean_exit(*self.finish(meter, timeout=30)[::2])
        wait_until(lambda: len(self.rows()) == 130, 30, "every row")
        self.assert_clean_exit(*self.interrupt(service)[::2])
        controlled = [row for row in self.rows() if row.time_s > started_at + 3.0]
        self.assertGreater(len(controlled), 110)
        self.assertGreater(writes, 110)
        for row in controlled:
            self.assertLessEqual(abs(row.grid_power_w or 0.0), 50.0, row)
            self.assertGreater(row.pv_power_value_kw, 0.0, row)
            self.assertLess(row.pv_power_value_kw, (row.pv_available_kw or 0.0) / 2, "capped")


class PortsAndMistakesTest(SunSpecCase):
    def test_the_248th_meter_is_unit_1_of_the_next_port(self) -> None:
        conf = self.config()
        service = self.service(conf, 248)
        wait_until(lambda: self.answers(self.port + 1), 10, "the second port")
        self.assertEqual(scan(self.port + 1, 1)[1]["SN"], "Meter_247")
        self.assertEqual(scan(self.port, 247)[1]["SN"], "Meter_246")
        code, _, err = self.interrupt(service)
        self.assert_clean_exit(code, err)
        lines = [line for line in err.splitlines() if "Modbus TCP on" in line]
        self.assertEqual(len(lines), 2, err)
        self.assertIn(f":{self.port + 1}, ", lines[1])
        self.assertIn("units 1=Meter_247", lines[1])

    def test_a_port_in_use_or_a_map_without_port_is_one_line(self) -> None:
        conf = self.config()
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", self.port))
            taken.listen()
            result = self.run_cli("demo_pv_service.py", "-conf", str(conf), "-ids", "Meter_0",
                                  "--output-dir", str(self.out), "--modbus-port", str(self.port))
        self.assert_one_line_error(result.returncode, result.stderr, 2,
                                   f"cannot listen on 127.0.0.1:{self.port}")
        result = self.run_cli("demo_pv_service.py", "-conf", str(conf), "-ids", "Meter_0",
                              "--output-dir", str(self.out), "--modbus-map", "map.csv")
        self.assert_one_line_error(result.returncode, result.stderr, 2, "--modbus-map", "--modbus-port")
