"""The PV service with sites, through the in-memory broker: rows, restart, commands, results."""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Callable, Mapping
from pathlib import Path

from prometheus_client import generate_latest

from pv_simulator.composition import count_pv_service
from pv_simulator.messaging.connection import Connection
from pv_simulator.messaging.wire import ReadingEncoder
from pv_simulator.models.battery import one_way_efficiency, stored_change_kwh
from pv_simulator.models.site import SELF_CONSUMPTION, Site
from pv_simulator.services.control import BadCommand, Command, CommandInbox
from pv_simulator.services.metrics import Metrics
from pv_simulator.services.pv_service import PvService
from pv_simulator.services.results import Accepted, Limits, ResultStream, limits
from pv_simulator.storage.csv_format import HEADER, SITE_HEADER, Row, file_glob
from pv_simulator.storage.csv_store import CsvOutput
from pv_simulator.summary import read_rows
from tests.unit.services.support import FAST_RETRY, START_S, UTC, FakeQueuesTestCase, LinearPv

BATTERY = Site(inverter_ac_kw=2.0, capacity_kwh=0.05, max_charge_kw=1.0, max_discharge_kw=1.0,
               round_trip_efficiency=0.9, soc_min_pct=5.0, soc_max_pct=100.0,
               initial_soc_pct=50.0, mode=SELF_CONSUMPTION, export_limit_w=None)
ZERO_FEED_IN = dataclasses.replace(BATTERY, capacity_kwh=0.0, max_charge_kw=0.0,
                                   max_discharge_kw=0.0, export_limit_w=0.0)
#: Household readings: a constant 600 W against PV rising 1 W per second (LinearPv).
HOUSEHOLD_W = 600.0


class SiteTestCase(FakeQueuesTestCase):
    """Readings of one household and the rows they became."""

    def publish_readings(self, meter_id: str, first: int, count: int, step_s: float = 10.0) -> None:
        self.broker.declare(meter_id)
        self.broker.declare(meter_id + ".dlq")
        encode = ReadingEncoder(meter_id)
        for i in range(first, first + count):
            self.broker.put(meter_id, encode(START_S + i * step_s, HOUSEHOLD_W), START_S + i * step_s)

    def rows(self, meter_id: str = "A", out_dir: Path | None = None) -> list[Row]:
        return read_rows([self.file(meter_id, out_dir)])

    def file(self, meter_id: str = "A", out_dir: Path | None = None) -> Path:
        """The meter's one file (the readings span minutes of one day)."""
        files = list((out_dir or self.out_dir).glob(file_glob(meter_id)))
        self.assertEqual(len(files), 1, files)
        return files[0]


class SitePvServiceTest(SiteTestCase):
    def run_service(self, meter_ids: list[str], out_dir: Path | None = None,
                    site: Site | None = BATTERY, sites: Mapping[str, Site | None] | None = None,
                    control: bool = False, between_batches: Callable[[PvService], None] | None = None,
                    results: bool = False) -> PvService:
        sites = dict(sites or {})
        output = CsvOutput(out_dir or self.out_dir, UTC, "never",
                           site_meters=lambda meter_id: sites.get(meter_id, site) is not None)
        self.addCleanup(output.close)
        connection = Connection(self.broker.connector(), FAST_RETRY)
        self.addCleanup(connection.close)
        holder: list[PvService] = []

        def should_stop() -> bool:
            if between_batches is not None and holder:
                between_batches(holder[0])
            return False

        service = PvService(connection, meter_ids, LinearPv(), output, 9000.0, should_stop,
                            exit_when_idle_s=0.05, batch_max=10, stats_interval_s=0,
                            site=site, sites=sites, control=control,
                            results=ResultStream("amq.topic", output) if results else None)
        holder.append(service)
        service.run()
        output.close()
        return service

    def test_rows_balance_exactly_and_the_battery_stays_within_bounds(self) -> None:
        self.publish_readings("A", 0, 300)
        self.run_service(["A"])
        text = self.file().read_text().splitlines()
        self.assertEqual(text[0], SITE_HEADER)
        rows = self.rows()
        self.assertEqual(len(rows), 300)
        one_way = one_way_efficiency(BATTERY.round_trip_efficiency)
        for before, row in itertools.pairwise(rows):
            assert row.grid_power_w is not None and row.battery_power_w is not None
            assert row.battery_soc_pct is not None and before.battery_soc_pct is not None
            balance = (row.meter_power_value_w - row.pv_power_value_kw * 1000.0
                       + row.battery_power_w - row.grid_power_w)
            self.assertAlmostEqual(balance, 0.0, places=6)
            self.assertTrue(5.0 <= row.battery_soc_pct <= 100.0)
            stored = stored_change_kwh(row.battery_power_w, one_way, row.time_s - before.time_s)
            self.assertAlmostEqual(row.battery_soc_pct - before.battery_soc_pct,
                                   stored / BATTERY.capacity_kwh * 100.0, places=5)
        socs = [row.battery_soc_pct or 0.0 for row in rows]
        self.assertAlmostEqual(min(socs), 5.0, places=4)  # the morning drains it, PV above 600 W refills it
        self.assertAlmostEqual(max(socs), 100.0, places=4)
        self.assertLess(rows[-1].grid_power_w or 0.0, 0.0)  # full: exporting

    def test_a_mixed_fleet_keeps_the_five_columns_for_plain_meters(self) -> None:
        self.publish_readings("A", 0, 20)
        self.publish_readings("B", 0, 20)
        self.run_service(["A", "B"], site=None, sites={"A": BATTERY})
        plain_dir = self.out_dir / "plain"
        self.publish_readings("B", 0, 20)
        self.run_service(["B"], out_dir=plain_dir, site=None)
        self.assertEqual(self.file("A").read_text().splitlines()[0], SITE_HEADER)
        self.assertEqual(self.file("B").read_bytes(), self.file("B", plain_dir).read_bytes())
        self.assertTrue(self.file("B", plain_dir).read_text().startswith(HEADER + "\n"))

    def test_a_restart_continues_from_the_last_row_as_if_never_stopped(self) -> None:
        self.publish_readings("A", 0, 200)
        self.run_service(["A"], out_dir=self.out_dir / "once")
        self.publish_readings("A", 0, 120)
        self.run_service(["A"])
        self.publish_readings("A", 100, 100)  # 20 redelivered, then new ones
        service = self.run_service(["A"])
        self.assertEqual(service.output.duplicates_skipped, 20)
        self.assertEqual(self.file().read_bytes(), self.file(out_dir=self.out_dir / "once").read_bytes())
        self.assertNotEqual({row.battery_soc_pct for row in self.rows()[115:125]}, {50.0})

    def test_zero_feed_in_never_exports(self) -> None:
        self.publish_readings("A", 0, 200)
        self.run_service(["A"], site=ZERO_FEED_IN)
        rows = self.rows()
        self.assertTrue(any((row.pv_available_kw or 0.0) * 1000 > HOUSEHOLD_W for row in rows))
        for row in rows:
            self.assertGreaterEqual(row.grid_power_w or 0.0, 0.0)
            self.assertLessEqual(row.pv_power_value_kw, row.pv_available_kw or 0.0)

    def test_a_command_applies_from_the_next_reading_and_lapses_in_readings_time(self) -> None:
        self.publish_readings("A", 0, 100)
        sent: list[float] = []

        def command(service: PvService) -> None:
            """The command between the first 100 readings' rows and the next ones' arrival."""
            if not sent and service.output.rows_written >= 100:
                sent.append(START_S + 10.0 * service.output.rows_written)
                self.broker.publish_topic("amq.topic", "pv.control.A",
                                          b'{"pv_limit_pct": 30, "revert_after_s": 300}')
                self.publish_readings("A", 100, 100)

        service = self.run_service(["A"], site=dataclasses.replace(ZERO_FEED_IN, export_limit_w=None),
                                   control=True, between_batches=command)
        self.assertEqual(service.result().commands_applied, 1)
        self.assertEqual(len(self.rows()), 200)
        limit_kw = 0.3 * ZERO_FEED_IN.inverter_ac_kw
        start = sent[0]
        for row in self.rows():
            capped = start <= row.time_s < start + 300.0
            expected = min(row.pv_available_kw or 0.0, limit_kw) if capped else row.pv_available_kw
            self.assertAlmostEqual(row.pv_power_value_kw, expected or 0.0, places=5, msg=row)
        self.assertTrue(any((row.pv_available_kw or 0.0) > limit_kw for row in self.rows()
                            if start <= row.time_s < start + 300.0))

    def test_bad_commands_change_nothing_and_are_counted(self) -> None:
        self.publish_readings("A", 0, 100)
        self.run_service(["A"], out_dir=self.out_dir / "quiet", control=True)
        bodies = [b"{", b'{"pv_limit_pct": 101}', b'{"pv_limit": 5}', b'{"battery_mode": 2}']
        sent: list[bool] = []

        def corpus(service: PvService) -> None:
            if not sent and service.output.rows_written >= 50:
                sent.append(True)
                for body in bodies:
                    self.broker.publish_topic("amq.topic", "pv.control.A", body)
                self.broker.publish_topic("amq.topic", "pv.control.Z", b'{"pv_limit_pct": 5}')
                self.publish_readings("A", 50, 50)

        self.publish_readings("A", 0, 50)
        service = self.run_service(["A"], control=True, between_batches=corpus)
        self.assertEqual((service.result().commands_rejected, service.result().commands_applied),
                         (len(bodies) + 1, 0))
        self.assertEqual(self.file().read_bytes(), self.file(out_dir=self.out_dir / "quiet").read_bytes())

    def test_results_carry_the_site_columns_as_written(self) -> None:
        self.publish_readings("A", 0, 30)
        self.run_service(["A"], results=True)
        rows = self.rows()
        bodies = [json.loads(message.body) for _, message in self.broker.results]
        self.assertEqual(len(bodies), len(rows))
        for body, row in zip(bodies, rows, strict=True):
            self.assertEqual((body["grid_power_w"], body["battery_power_w"], body["battery_soc_pct"],
                              body["pv_available_kw"], body["pv_power_kw"], body["meter_power_w"]),
                             (row.grid_power_w, row.battery_power_w, row.battery_soc_pct,
                              row.pv_available_kw, row.pv_power_value_kw, row.meter_power_value_w))
            self.assertEqual((body["battery_mode"], body["pv_limit_pct"], body["export_limit_w"]),
                             (SELF_CONSUMPTION, None, None))

    def test_the_settings_in_force_are_the_configured_ones_until_a_row_has_a_commands(self) -> None:
        output = CsvOutput(self.out_dir, UTC, "never")
        self.addCleanup(output.close)
        unstarted = PvService(Connection(self.broker.connector(), FAST_RETRY), ["A", "P"], LinearPv(),
                              output, 9000.0, lambda: False, site=ZERO_FEED_IN, sites={"P": None})
        self.assertEqual(unstarted.limits_in_force("A"), limits(None, 0.0, None, None))
        self.assertIsNone(unstarted.limits_in_force("P"))
        self.publish_readings("A", 0, 10)
        seen: list[Limits | None] = []

        def commands(service: PvService) -> None:
            if not seen and service.output.rows_written >= 10:
                seen.append(service.limits_in_force("A"))
                self.broker.publish_topic("amq.topic", "pv.control.A", b'{"battery_mode": "setpoint", '
                                          b'"battery_setpoint_w": -200, "pv_limit_pct": 40}')
                self.publish_readings("A", 10, 10)

        service = self.run_service(["A"], control=True, between_batches=commands, results=True)
        self.assertEqual(seen, [limits(None, None, SELF_CONSUMPTION, None)])
        self.assertEqual(service.limits_in_force("A"), limits(40.0, None, "setpoint", -200.0))
        last = json.loads(self.broker.results[-1][1].body)
        self.assertEqual({key: last[key] for key in limits(None, None, None, None)},
                         limits(40.0, None, "setpoint", -200.0))
        self.assertEqual(last["battery_power_w"], -200.0)

    def test_applied_and_rejected_commands_are_scraped(self) -> None:
        self.publish_readings("A", 0, 10)
        sent: list[bool] = []

        def commands(service: PvService) -> None:
            if not sent and service.output.rows_written >= 10:
                sent.append(True)
                self.broker.publish_topic("amq.topic", "pv.control.A", b'{"pv_limit_pct": 50}')
                self.broker.publish_topic("amq.topic", "pv.control.A", b"{")
                self.broker.publish_topic("amq.topic", "pv.control.A", b'{"x": 1}')
                self.publish_readings("A", 10, 10)

        service = self.run_service(["A"], control=True, between_batches=commands)
        metrics = Metrics("pv_service")
        count_pv_service(metrics, service)
        text = generate_latest(metrics.registry).decode()
        self.assertIn("pv_service_commands_applied_total 1.0", text)
        self.assertIn("pv_service_commands_rejected_total 2.0", text)


class InboxPvServiceTest(SiteTestCase):
    """Commands from another thread (the Modbus server's) through a CommandInbox, and the rows
    handed on after each flush."""

    def inbox_service(self, inbox: CommandInbox, between: Callable[[PvService], None],
                      fed: list[Accepted]) -> PvService:
        output = CsvOutput(self.out_dir, UTC, "never", site_meters=lambda _m: True)
        self.addCleanup(output.close)
        connection = Connection(self.broker.connector(), FAST_RETRY)
        self.addCleanup(connection.close)
        holder: list[PvService] = []

        def should_stop() -> bool:
            if holder:
                between(holder[0])
            return False

        service = PvService(connection, ["A"], LinearPv(), output, 9000.0, should_stop,
                            exit_when_idle_s=0.05, batch_max=10, stats_interval_s=0,
                            site=dataclasses.replace(ZERO_FEED_IN, export_limit_w=None),
                            inbox=inbox, on_rows=fed.extend)
        holder.append(service)
        service.run()
        return service

    def test_inbox_commands_apply_from_the_next_reading_and_are_counted(self) -> None:
        self.publish_readings("A", 0, 50)
        inbox = CommandInbox()
        fed: list[Accepted] = []

        def command(service: PvService) -> None:
            if service.output.rows_written == 50 and len(self.rows()) == 50:
                inbox.put("A", Command({"pv_limit_pct": 10.0}, None), "Modbus unit 1")
                inbox.put("A", BadCommand("Modbus out of range", "WMaxLimPct: 20000"), "Modbus unit 1")
                self.publish_readings("A", 50, 50)

        service = self.inbox_service(inbox, command, fed)
        self.assertEqual((service.result().commands_applied, service.result().commands_rejected), (1, 1))
        rows = self.rows()
        limit_kw = 0.1 * ZERO_FEED_IN.inverter_ac_kw
        for row in rows[:50]:
            self.assertAlmostEqual(row.pv_power_value_kw, row.pv_available_kw or 0.0, places=5)
        for row in rows[50:]:
            self.assertAlmostEqual(row.pv_power_value_kw, min(limit_kw, row.pv_available_kw or 0.0),
                                   places=5)
        self.assertEqual([entry[0].time_s for entry in fed], [row.time_s for row in rows])
        self.assertEqual([entry[1] for entry in fed], [row.pv_power_value_kw for row in rows])

    def test_no_amqp_subscription_without_control(self) -> None:
        self.publish_readings("A", 0, 20)
        inbox = CommandInbox()
        sent: list[bool] = []

        def command(service: PvService) -> None:
            if not sent and service.output.rows_written >= 10:
                sent.append(True)
                self.broker.publish_topic("amq.topic", "pv.control.A", b'{"pv_limit_pct": 0}')

        service = self.inbox_service(inbox, command, [])
        self.assertEqual(service.result().commands_applied, 0)
        self.assertTrue(all(row.pv_power_value_kw > 0 for row in self.rows()[11:]))
