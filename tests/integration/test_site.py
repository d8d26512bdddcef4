"""The site through both CLIs: a battery over a clear-sky June day, zero feed-in, a kill -9 with
a battery, and commands in real time (docs/site.md)."""

from __future__ import annotations

import itertools
import json
import subprocess
from pathlib import Path

import pika

from pv_simulator.models.battery import one_way_efficiency, stored_change_kwh
from pv_simulator.storage.csv_format import SITE_HEADER, Row, file_glob
from pv_simulator.summary import read_rows
from tests.helpers import wait_until
from tests.integration.support import HOST, PORT, BrokerTestCase

CAPACITY_KWH = 10.0
ROUND_TRIP = 0.9
SOC_MIN_PCT = 5.0
#: One reading's tolerance of the balance and limits: the CSV's milliwatt.
TOLERANCE_W = 0.001
#: A 10 kWp plant and a large household: the surplus fills the battery by noon and the
#: evening empties it (with the BDEW profile's seed 1).
DAY: dict[str, dict[str, object]] = {
    "pv": {"model": "solar", "sky": "clear", "peak_power_kw": 10},
    "meter": {"model": "household", "annual_energy_kwh": 14000}}
BATTERY: dict[str, dict[str, object]] = {"battery": {
    "capacity_kwh": CAPACITY_KWH, "max_charge_kw": 5, "max_discharge_kw": 5,
    "round_trip_efficiency": ROUND_TRIP, "soc_min_pct": SOC_MIN_PCT}}


class SiteCliTest(BrokerTestCase):
    def config(self, **sections: dict[str, object]) -> Path:
        return self.write_config("broker.ini", **{**DAY, **sections})

    def meter(self, conf: Path, *args: str) -> subprocess.Popen[str]:
        return self.start("demo_meter.py", "-conf", str(conf), "--seed", "1", *args, log=True)

    def service(self, conf: Path, out: Path, *args: str, idle_s: float = 3.0) -> subprocess.Popen[str]:
        return self.start("demo_pv_service.py", "-conf", str(conf), "-ids", "Meter_0",
                          "--output-dir", str(out), "--exit-when-idle", str(idle_s),
                          "--summary-file", str(out.with_suffix(".json")), *args, log=True)

    def fast_day(self, conf: Path, out: Path, interval_s: int = 60) -> None:
        """A day from 04:00 at fast forward: the meter first, then the PV service to idle."""
        code, _, err = self.finish(self.meter(conf, "--start", "2026-06-21T04:00", "--speed", "0",
                                              "--interval", str(interval_s), "--duration", "86400"))
        self.assert_clean_exit(code, err)
        code, _, err = self.finish(self.service(conf, out))
        self.assert_clean_exit(code, err)

    def rows(self, out: Path) -> list[Row]:
        return read_rows(sorted(out.glob(file_glob("Meter_0"))))

    def assert_balanced(self, rows: list[Row]) -> None:
        for row in rows:
            assert row.grid_power_w is not None and row.battery_power_w is not None
            balance_w = (row.meter_power_value_w - row.pv_power_value_kw * 1000.0
                         + row.battery_power_w - row.grid_power_w)
            self.assertLess(abs(balance_w), 1e-6, row)
            self.assertTrue(SOC_MIN_PCT <= (row.battery_soc_pct or 0.0) <= 100.0, row)

    def assert_soc_continuous(self, rows: list[Row]) -> None:
        """Each row's state of charge is the previous one's plus its battery power's energy."""
        one_way = one_way_efficiency(ROUND_TRIP)
        for before, row in itertools.pairwise(rows):
            stored_pct = stored_change_kwh(row.battery_power_w or 0.0, one_way,
                                           row.time_s - before.time_s) / CAPACITY_KWH * 100.0
            self.assertAlmostEqual((row.battery_soc_pct or 0.0) - (before.battery_soc_pct or 0.0),
                                   stored_pct, delta=2e-6, msg=(before, row))

    def test_a_clear_june_day_with_a_battery_in_self_consumption(self) -> None:
        out = self.tmp / "out"
        self.fast_day(self.config(**BATTERY), out)
        files = sorted(out.glob(file_glob("Meter_0")))
        self.assertTrue(all(path.read_text().startswith(SITE_HEADER + "\n") for path in files))
        rows = self.rows(out)
        self.assertEqual(len(rows), 1440)
        self.assert_balanced(rows)
        self.assert_soc_continuous(rows)
        socs = [row.battery_soc_pct or 0.0 for row in rows]
        full_at = next(i for i, soc in enumerate(socs) if soc >= 100.0 - 1e-4)
        exporting = [i for i, row in enumerate(rows) if (row.grid_power_w or 0.0) < -TOLERANCE_W]
        self.assertTrue(exporting)
        for i in exporting:  # export only once full (in this row), or while charging at its limit
            self.assertTrue(socs[i] >= 100.0 - 1e-4 or rows[i].battery_power_w == 5000.0, rows[i])
        self.assertTrue(all((row.battery_power_w or 0.0) >= 0.0 for row in rows[full_at - 60:full_at]))
        evening = rows[full_at:]
        self.assertAlmostEqual(min(row.battery_soc_pct or 0.0 for row in evening), SOC_MIN_PCT, places=3)
        emptied_at = next(i for i, row in enumerate(evening) if (row.battery_soc_pct or 0) <= SOC_MIN_PCT + 1e-3)
        last_surplus = max(i for i, row in enumerate(evening)
                           if row.pv_power_value_kw * 1000.0 > row.meter_power_value_w)
        self.assertLess(last_surplus, emptied_at)  # emptied in the evening and night, after the PV
        self.assertTrue(all((row.battery_power_w or 0.0) < 0.0
                            for row in evening[last_surplus + 1:emptied_at + 1]))
        # The day's energy balance, the efficiency loss included.
        one_way = one_way_efficiency(ROUND_TRIP)
        charged_kwh = discharged_kwh = household_kwh = supplied_kwh = 0.0
        for before, row in itertools.pairwise(rows):
            hours = (row.time_s - before.time_s) / 3600.0
            battery_kw = (row.battery_power_w or 0.0) / 1000.0
            charged_kwh += max(battery_kw, 0.0) * hours
            discharged_kwh += max(-battery_kw, 0.0) * hours
            household_kwh += row.meter_power_value_w / 1000.0 * hours
            supplied_kwh += (row.pv_power_value_kw + (row.grid_power_w or 0.0) / 1000.0
                             - battery_kw) * hours
        stored_kwh = (socs[-1] - socs[0]) / 100.0 * CAPACITY_KWH
        expected_kwh = charged_kwh * one_way - discharged_kwh / one_way
        throughput_kwh = charged_kwh + discharged_kwh
        # At least the climb from the morning's lowest state to full was charged.
        self.assertGreaterEqual(charged_kwh * one_way,
                                (100.0 - min(socs[:full_at])) / 100.0 * CAPACITY_KWH - 1e-3)
        self.assertLess(abs(stored_kwh - expected_kwh), 0.001 * throughput_kwh)
        self.assertLess(abs(household_kwh - supplied_kwh), 0.001 * household_kwh)
        loss_kwh = charged_kwh - discharged_kwh - stored_kwh
        self.assertGreater(loss_kwh, 0.0)

    def test_zero_feed_in_without_battery(self) -> None:
        out = self.tmp / "out"
        self.fast_day(self.config(site={"timezone": "Europe/Vienna", "export_limit_w": 0}), out)
        rows = self.rows(out)
        surplus = [row for row in rows
                   if (row.pv_available_kw or 0.0) * 1000.0 > row.meter_power_value_w]
        self.assertGreater(len(surplus), 100)
        for row in rows:
            self.assertGreaterEqual(row.grid_power_w or 0.0, -TOLERANCE_W, row)
            self.assertEqual(row.battery_power_w, 0.0)
        self.assertTrue(all(row.pv_power_value_kw < (row.pv_available_kw or 0.0) for row in surplus))

    def test_kill_9_with_a_battery_continues_the_state_of_charge(self) -> None:
        conf = self.config(**BATTERY)
        out = self.tmp / "out"
        meter = self.meter(conf, "--start", "2026-06-21T04:00", "--speed", "1200",
                           "--interval", "60", "--duration", "86400")
        service = self.service(conf, out, idle_s=8.0)
        wait_until(lambda: len(self.complete_rows(out)) >= 400, 120, "400 rows before the kill")
        service.kill()
        service.wait(timeout=10)
        restarted = self.service(conf, out, idle_s=8.0)
        self.assert_clean_exit(*self.finish(meter, timeout=180)[::2])
        self.assert_clean_exit(*self.finish(restarted, timeout=60)[::2])
        rows = self.rows(out)
        self.assertEqual(len(rows), 1440)
        self.assertEqual(len({row.time_s for row in rows}), 1440)
        self.assert_balanced(rows)
        self.assert_soc_continuous(rows)
        self.assertNotIn(50.0, [row.battery_soc_pct for row in rows[1:]])

    def complete_rows(self, out: Path) -> list[str]:
        return [line for path in out.glob(file_glob("Meter_0"))
                for line in path.read_text().splitlines()[1:] if line.count(",") == 8]

    def test_commands_in_real_time_and_the_bad_command_corpus(self) -> None:
        conf = self.config(battery={"capacity_kwh": 0})
        out = self.tmp / "out"
        interval_s = 2.0
        meter = self.meter(conf, "--start", "2026-06-21T12:00", "--interval", str(interval_s),
                           "--duration", "60")
        service = self.service(conf, out, "--control", idle_s=6.0)
        wait_until(lambda: len(self.complete_rows(out)) >= 3, 30, "the first rows")
        connection = pika.BlockingConnection(pika.ConnectionParameters(
            host=HOST, port=PORT, virtual_host=self.vhost))
        self.addCleanup(lambda: connection.is_open and connection.close())
        channel = connection.channel()
        corpus = [b"{", b"[1]", b'{"pv_limit_pct": 101}', b'{"pv_limit": 5}',
                  b'{"pv_limit_pct": "30"}', b'{"export_limit_w": -5}', b'{"battery_mode": "idle"}',
                  b"{}"]
        for body in corpus:
            channel.basic_publish("amq.topic", "pv.control.Meter_0", body)
        channel.basic_publish("amq.topic", "pv.control.Meter_9", b'{"pv_limit_pct": 30}')
        wait_until(lambda: len(self.complete_rows(out)) >= 6, 30, "rows after the corpus")
        before = self.rows(out)[-1].time_s
        channel.basic_publish("amq.topic", "pv.control.Meter_0",
                              json.dumps({"pv_limit_pct": 30, "revert_after_s": 10}).encode())
        self.assert_clean_exit(*self.finish(meter, timeout=120)[::2])
        self.assert_clean_exit(*self.finish(service, timeout=60)[::2])
        counts = json.loads(out.with_suffix(".json").read_text())
        self.assertEqual((counts["commands_applied"], counts["commands_rejected"]),
                         (1, len(corpus) + 1))
        rows = self.rows(out)
        limit_kw = 0.3 * 10.0 / 1.2  # 30 % of the AC rating, 10 kWp / dc_ac_ratio 1.2
        capped = [row for row in rows if row.pv_power_value_kw < (row.pv_available_kw or 0.0) - 1e-5]
        self.assertTrue(capped, "no row under the limit")
        self.assertLessEqual(capped[0].time_s, before + 2 * interval_s)
        for row in capped:
            self.assertAlmostEqual(row.pv_power_value_kw, limit_kw, places=5)
        span = capped[-1].time_s - capped[0].time_s
        self.assertTrue(10.0 - interval_s <= span < 10.0, span)
        later = [row for row in rows if row.time_s >= capped[0].time_s + 10.0]
        self.assertTrue(later, "no row after the revert")
        for row in later + [row for row in rows if row.time_s <= before]:
            # Delivered is rounded down to the milliwatt, available to the nearest.
            self.assertAlmostEqual(row.pv_power_value_kw, row.pv_available_kw or 0.0, delta=1.01e-6,
                                   msg=row)
