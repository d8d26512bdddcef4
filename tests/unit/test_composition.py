"""The composition builders: fleet rows over the configuration, shared plants, skies and weather,
and whole services wired over the in-memory broker."""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import unittest
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from pv_simulator.composition import (
    MeterOptions,
    NoPvModel,
    PvModels,
    PvServiceOptions,
    PvServiceParts,
    air_temperature_of,
    buffer_per_meter,
    build_meter_models,
    build_meter_service,
    build_pv_service,
    fleet_check,
    haversine_km,
)
from pv_simulator.config import BrokerConfig, Config, ConfigError, load_config
from pv_simulator.messaging.connection import Connection
from pv_simulator.messaging.fake import FakeBroker
from pv_simulator.messaging.port import Layout
from pv_simulator.models.household import HouseholdModel
from pv_simulator.models.pv_chain import inverter_temperature_c
from pv_simulator.models.pv_plant import ReferenceCurveModel, SolarPvModel, WeatherPvModel
from pv_simulator.models.random_walk import RandomWalkModel
from pv_simulator.services.energy import MAX_INTERVAL_S
from pv_simulator.services.metrics import Metrics
from pv_simulator.storage.csv_format import file_glob, parse_row
from tests.helpers import energy_integral, rows_of
from tests.paths import ROOT
from tests.unit.services.support import FAST_RETRY, START_S

PVGIS = ROOT / "tests" / "data" / "weather" / "pvgis_tmy_45N_8E.csv"
NOON_S = datetime(2026, 6, 21, 12, tzinfo=ZoneInfo("UTC")).timestamp()


class CompositionTest(unittest.TestCase):
    def setUp(self) -> None:
        self.tmp = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def config(self, ini: str, fleet: str | None = None) -> Path:
        if fleet is not None:
            (self.tmp / "fleet.csv").write_text(fleet)
            ini += "\n[fleet]\nfile = fleet.csv\n"
        path = self.tmp / "pv.ini"
        path.write_text("[site]\ntimezone = UTC\n" + ini)
        return path

    def test_a_household_is_the_same_wherever_its_row_stands_in_the_fleet(self) -> None:
        rows = {"Meter_0": "Meter_0,3000", "Meter_1": "Meter_1,5000", "house-b": "house-b,2500"}

        def day_of(order: list[str]) -> dict[str, list[float]]:
            ids, models = build_meter_models(
                load_config(self.config("[meter]\nmodel = household\n",
                                        "meter_id,annual_energy_kwh\n"
                                        + "\n".join(rows[i] for i in order) + "\n")), None, 7)
            return {meter_id: [model.power_w(NOON_S + 60.0 * k) for k in range(120)]
                    for meter_id, model in zip(ids, models, strict=True)}

        first = day_of(["Meter_0", "Meter_1", "house-b"])
        self.assertEqual(first, day_of(["house-b", "Meter_1", "Meter_0"]))
        self.assertEqual(first["Meter_1"], day_of(["Meter_1"])["Meter_1"])
        self.assertNotEqual(first["Meter_0"], first["Meter_1"])

    def test_nb_meters_keep_the_streams_they_always_had(self) -> None:
        config = load_config(self.config("[meter]\nmodel = random-walk\n"))
        ids, models = build_meter_models(config, 3, 5)
        self.assertEqual(ids, ["Meter_0", "Meter_1", "Meter_2"])
        for index, model in enumerate(models):
            again = RandomWalkModel(max_power_w=config.meter.max_power_w, seed=5, meter_index=index)
            self.assertEqual([model.power_w(NOON_S + k) for k in range(50)],
                             [again.power_w(NOON_S + k) for k in range(50)])

    def test_both_services_refuse_holidays_nobody_knows(self) -> None:
        config = load_config(self.config("country = AT\nsubdivision = BY\n"))
        for build in self.both_services(config):
            with self.subTest(build=build), self.assertRaises(ConfigError) as caught:
                build()
            self.assertIn("[site] subdivision", str(caught.exception))

    def test_the_reference_curve_refuses_a_weather_file_and_a_fleet(self) -> None:
        for extra, fleet, named in (("weather = w.csv\n", None, "[pv] weather"),
                                    ("", "meter_id,peak_power_kw\nMeter_0,0\n", "[fleet] file")):
            config = load_config(self.config("[pv]\nmodel = reference\n" + extra, fleet))
            for build in self.both_services(config):
                with self.subTest(named=named), self.assertRaises(ConfigError) as caught:
                    build()
                message = str(caught.exception)
                self.assertIn("[pv] model = reference", message)
                self.assertIn(named, message)

    def fake_connect(self, _config: BrokerConfig, _client_name: str) -> Connection:
        return Connection(FakeBroker().connector(), FAST_RETRY)

    def both_services(self, config: Config) -> tuple[Callable[[], object], ...]:
        """Building each service of ``config``, over the in-memory broker."""
        return (lambda: build_meter_models(config, 1, 1),
                lambda: build_pv_service(config, PvServiceOptions(
                    meter_ids=["Meter_0"], queues=["Meter_0"], output_dir=self.tmp / "out",
                    exit_when_idle_s=None, stats_interval_s=0.0), lambda: True, connect=self.fake_connect))

    def test_haversine_distance(self) -> None:
        self.assertAlmostEqual(haversine_km(0.0, 0.0, 0.0, 1.0), 111.195, places=2)
        self.assertAlmostEqual(haversine_km(48.2, 16.37, 48.2, 16.37), 0.0)

    def test_fleet_values_are_checked_against_the_schema_bounds(self) -> None:
        self.assertIsNone(fleet_check("peak_power_kw", 0.0))
        self.assertIn("at most 90", fleet_check("tilt_deg", 95.0) or "")
        self.assertIn("greater than 0", fleet_check("annual_energy_kwh", 0.0) or "")
        config = load_config(self.config("", "meter_id,tilt_deg\nMeter_0,95\n"))
        with self.assertRaisesRegex(ConfigError, r"fleet.csv:2: column 'tilt_deg': 95: .*at most 90"):
            PvModels(config).for_meters(["Meter_0"])

    def test_a_bad_meter_model_in_the_fleet_names_meter_and_column(self) -> None:
        config = load_config(self.config("", "meter_id,meter_model\nMeter_0,h0\n"))
        with self.assertRaisesRegex(ConfigError, r"meter Meter_0: column 'meter_model': 'h0'"):
            build_meter_models(config, None, 1)

    def test_fleet_meters_in_file_order_first_n_and_their_own_households(self) -> None:
        config = load_config(self.config(
            "[meter]\nprofile = h0\n",
            "meter_id,annual_energy_kwh,meter_model\nB,1500,\nA,,random-walk\nC,7000,\n"))
        ids, models = build_meter_models(config, None, 1)
        self.assertEqual(ids, ["B", "A", "C"])
        self.assertIsInstance(models[1], RandomWalkModel)
        assert isinstance(models[0], HouseholdModel) and isinstance(models[2], HouseholdModel)
        self.assertEqual((models[0].annual_energy_kwh, models[2].annual_energy_kwh), (1500, 7000))
        self.assertEqual(models[0].profile, "h0")
        self.assertEqual(build_meter_models(config, 2, 1)[0], ["B", "A"])
        self.assertEqual(build_meter_models(load_config(self.config("")), None, 1)[0],
                         ["Meter_0"])

    def test_plants_skies_and_weather_are_shared(self) -> None:
        config = load_config(self.config(
            "[pv]\nseed = 3\n",
            "meter_id,peak_power_kw,tilt_deg,latitude\nA,4,30,48.2\nB,4,30,48.2\nC,8,30,48.3\n"
            "D,0,,\n"))
        with self.assertLogs("pv_simulator", "WARNING") as logs:
            default, models = PvModels(config).for_meters(["A", "B", "C", "D", "E"])
        self.assertEqual(len(logs.output), 1)
        self.assertIn("holds no row for E", logs.output[0])
        self.assertIs(models["A"], models["B"])
        self.assertIsInstance(models["D"], NoPvModel)
        self.assertNotIn("E", models)
        self.assertIsInstance(default, SolarPvModel)
        a, c = models["A"], models["C"]
        assert isinstance(a, SolarPvModel) and isinstance(c, SolarPvModel)
        self.assertIs(a._sky, c._sky)
        times = [NOON_S + 600.0 * k for k in range(-6, 7)]
        for time_s in times:
            self.assertAlmostEqual(c.power_kw(time_s), 2.0 * a.power_kw(time_s), delta=0.02)

    def test_a_partitioned_service_gets_every_fleet_meters_plant(self) -> None:
        # It learns its meters from their readings, so it cannot name them up front.
        config = load_config(self.config("", "meter_id,peak_power_kw\nA,6\nB,0\n"))
        with self.assertNoLogs("pv_simulator", "WARNING"):
            default, models = PvModels(config).for_meters(None)
        self.assertEqual(sorted(models), ["A", "B"])
        self.assertIsInstance(models["B"], NoPvModel)
        self.assertIsNot(models["A"], default)

    def test_weather_site_is_the_files_unless_given_and_a_distant_site_warns(self) -> None:
        shutil.copy(PVGIS, self.tmp / "tmy.csv")
        config = load_config(self.config("[pv]\nweather = tmy.csv\n"))
        model, _ = PvModels(config).for_meters(["Meter_0"])
        assert isinstance(model, WeatherPvModel)
        self.assertEqual((model.weather.site.latitude_deg, model.weather.site.longitude_deg),
                         (45.0, 8.0))
        far = load_config(self.config("latitude = 48.2\n[pv]\nweather = tmy.csv\n"))
        with self.assertLogs("pv_simulator", "WARNING") as logs:
            model, _ = PvModels(far).for_meters(["Meter_0"])
        assert isinstance(model, WeatherPvModel)
        self.assertEqual(model.weather.site.latitude_deg, 48.2)
        self.assertEqual(model.weather.site.longitude_deg, 8.0)
        self.assertIn("356 km from the weather file's", logs.output[0])

    def test_a_fleet_far_from_its_weather_gets_one_summary_naming_the_farthest(self) -> None:
        shutil.copy(PVGIS, self.tmp / "tmy.csv")
        config = load_config(self.config(
            "[pv]\nweather = tmy.csv\n",
            "meter_id,latitude,longitude\nA,48.2,8.0\nB,50.0,8.0\nC,47.0,8.0\nD,45.0,8.0\n"))
        with self.assertLogs("pv_simulator", "WARNING") as logs:
            PvModels(config).for_meters(None)
        far = [line for line in logs.output if "km from the weather file's" in line]
        self.assertEqual(len(far), 1, logs.output)
        self.assertIn("3 sites are more than", far[0])
        self.assertIn("the farthest B at 556 km", far[0])

    def test_an_unreadable_weather_file_names_key_file_and_line(self) -> None:
        (self.tmp / "bad.csv").write_text("time,ghi_w_m2,dni_w_m2,dhi_w_m2\nsoon,1,2,3\n")
        config = load_config(self.config("[pv]\nweather = bad.csv\n"))
        with self.assertRaisesRegex(ConfigError, r"pv.ini: \[pv\] weather: .*bad.csv: line 2: "):
            PvModels(config).for_meters(["Meter_0"])

    def test_unknown_country_or_subdivision_names_the_key(self) -> None:
        for ini, key in (("country = XX\n", "country"), ("subdivision = ZZ\n", "subdivision")):
            config = load_config(self.config(ini))
            with self.assertRaisesRegex(ConfigError, rf"pv.ini: \[site\] {key}: unknown"):
                build_meter_models(config, 1, None)


class BufferTest(unittest.TestCase):
    def test_buffer_s_decides_for_small_fleets(self) -> None:
        self.assertEqual(buffer_per_meter(3600.0, 1.0, 10, 500_000), 3600)
        self.assertEqual(buffer_per_meter(3600.0, 60.0, 1, 500_000), 60)

    def test_the_total_caps_large_fleets_and_says_so(self) -> None:
        with self.assertLogs("pv_simulator", "INFO") as logs:
            self.assertEqual(buffer_per_meter(3600.0, 1.0, 10_000, 500_000), 50)
        self.assertIn("capped by buffer_max_readings = 500000 for 10000 meters", logs.output[0])

def scrape(metrics: Metrics | None) -> dict[str, float]:
    """Every sample of one scrape by name."""
    assert metrics is not None
    text = generate_latest(metrics.registry).decode()
    return {sample.name: sample.value for family in text_string_to_metric_families(text)
            for sample in family.samples}


class ServiceCompositionTest(unittest.TestCase):
    """A meter and a PV service built as the command lines build them, over the fake broker."""

    INTERVAL_S = 60.0
    READINGS = 30

    def setUp(self) -> None:
        self.tmp = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.broker = FakeBroker()
        self.clients: list[str] = []
        path = self.tmp / "pv.ini"
        path.write_text("[site]\ntimezone = UTC\n[pv]\nmodel = solar\nsky = clear\n"
                        "[meter]\nmodel = household\nprofile = h25\n")
        self.config = load_config(path)

    def connect(self, _config: BrokerConfig, client_name: str) -> Connection:
        self.clients.append(client_name)
        return Connection(self.broker.connector(), FAST_RETRY)

    def test_readings_flow_from_meter_to_csv_rows_and_metrics(self) -> None:
        meter = build_meter_service(self.config, MeterOptions(
            count=2, seed=5, start_s=START_S, interval_s=self.INTERVAL_S, speed=0.0,
            duration_s=self.READINGS * self.INTERVAL_S, stats_interval_s=0.0, metrics=True),
            lambda: False, connect=self.connect)
        self.assertEqual(meter.meter_ids, ["Meter_0", "Meter_1"])
        try:
            meter.service.run()
        finally:
            meter.connection.close()
        self.assertEqual(scrape(meter.metrics)["pv_meter_readings_published_total"], 2 * self.READINGS)

        out_dir = self.tmp / "out"
        pv = build_pv_service(self.config, PvServiceOptions(
            meter_ids=meter.meter_ids, queues=meter.meter_ids, output_dir=out_dir,
            exit_when_idle_s=0.2, stats_interval_s=0.0, metrics=True),
            lambda: False, connect=self.connect)
        try:
            pv.service.run()
        finally:
            pv.output.close()
            pv.connection.close()
        self.assertEqual(self.clients, ["pv-simulator meter", "pv-simulator pv-service"])
        self.assertIsNone(pv.results)
        rows = [parse_row(line, path) for path in sorted(out_dir.glob(file_glob()))
                for line in path.read_text().splitlines()[1:]]
        self.assertEqual(len(rows), 2 * self.READINGS)
        self.assertEqual(sorted({row.meter_id for row in rows}), ["Meter_0", "Meter_1"])
        first = [row for row in rows if row.meter_id == "Meter_0"]
        self.assertEqual([row.time_s for row in first],
                         [START_S + k * self.INTERVAL_S for k in range(self.READINGS)])
        self.assertTrue(all(row.meter_power_value_w > 0 for row in rows))
        values = scrape(pv.metrics)
        self.assertEqual(values["pv_service_rows_written_total"], 2 * self.READINGS)
        self.assertEqual(values["pv_service_reading_latency_seconds_count"], 2 * self.READINGS)
        self.assertEqual(values["pv_service_readings_rejected_total"], 0)
        self.assertEqual(values["pv_service_readings_out_of_order_total"], 0)
        self.assertIsNotNone(pv.energy)
        for meter_id in meter.meter_ids:
            self.assertEqual(pv.energy.meters[meter_id].last_time_s if pv.energy else None,
                             START_S + (self.READINGS - 1) * self.INTERVAL_S)
        by_meter = [energy_integral(rows_of(out_dir, m), MAX_INTERVAL_S) for m in meter.meter_ids]
        self.assertAlmostEqual(values["pv_service_consumption_energy_kwh"],
                               sum(e["consumption"] for e in by_meter), places=6)
        self.assertAlmostEqual(values["pv_service_grid_import_energy_kwh"],
                               sum(e["grid_import"] for e in by_meter), places=6)
        last_rows = [rows_of(out_dir, m)[-1] for m in meter.meter_ids]
        self.assertAlmostEqual(values["pv_service_consumption_power_watts"],
                               sum(float(r["meter_power_value_w"]) for r in last_rows), places=3)
        # The example Grafana dashboard charts only metrics these services serve.
        served = set(values) | set(scrape(meter.metrics))
        dashboard = json.loads((ROOT / "examples" / "grafana-dashboard.json").read_text())
        charted = {name for panel in dashboard["panels"] for target in panel["targets"]
                   for name in re.findall(r"\b(pv_(?:service|meter)_[a-z_]+)", target["expr"])}
        self.assertGreaterEqual(len(charted), 8)
        self.assertLessEqual(charted, served)

    def test_without_metrics_option_there_are_none(self) -> None:
        meter = build_meter_service(self.config, MeterOptions(
            count=None, seed=1, start_s=START_S, interval_s=1.0, speed=0.0, duration_s=1.0,
            stats_interval_s=0.0), lambda: False, connect=self.connect)
        self.addCleanup(meter.connection.close)
        self.assertIsNone(meter.metrics)
        self.assertEqual(meter.meter_ids, ["Meter_0"])


class SunSpecCompositionTest(unittest.TestCase):
    """The SunSpec devices of a PV service: nameplates from configuration and fleet, ports and
    unit ids in serving order, the last written rows already in, sites for writes."""

    def setUp(self) -> None:
        self.tmp = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.broker = FakeBroker()

    def build(self, ini: str, meter_ids: list[str] | None, queues: list[str],
              fleet: str | None = None) -> PvServiceParts:
        if fleet is not None:
            (self.tmp / "fleet.csv").write_text(fleet)
            ini += "\n[fleet]\nfile = fleet.csv\n"
        path = self.tmp / "pv.ini"
        path.write_text("[site]\ntimezone = UTC\n[pv]\nmodel = solar\nsky = clear\npeak_power_kw = 6\n"
                        "dc_ac_ratio = 1.2\nair_temperature_c = 18\n" + ini)
        parts = build_pv_service(load_config(path), PvServiceOptions(
            meter_ids=meter_ids, queues=queues, output_dir=self.tmp / "out", exit_when_idle_s=0.2,
            stats_interval_s=0.0, modbus_port=15020), lambda: False,
            connect=lambda _c, _n: Connection(self.broker.connector(), FAST_RETRY))
        self.addCleanup(parts.output.close)
        return parts

    def test_nameplates_and_units_from_configuration_and_fleet(self) -> None:
        parts = self.build("[battery]\ncapacity_kwh = 10\n", ["b", "a"], ["b", "a"],
                           fleet="meter_id,peak_power_kw,battery_kwh\na,12,0\nb,,8\n")
        modbus = parts.modbus
        assert modbus is not None
        self.assertEqual([(u.meter_id, u.port, u.unit_id) for u in modbus.units],
                         [("b", 15020, 1), ("a", 15020, 2)])
        a, b = (modbus.devices[m].map.nameplate for m in ("a", "b"))
        self.assertAlmostEqual(a.inverter_ac_w, 10000.0)
        self.assertFalse(a.has_battery)
        self.assertAlmostEqual(b.inverter_ac_w, 5000.0)
        self.assertEqual((b.battery_wh, b.max_charge_w), (8000.0, 4000.0))
        self.assertIsNone(modbus.inbox, "writes refused by default")
        self.assertIsNone(parts.service.control)
        self.assertIsNotNone(parts.energy)

    def test_control_gives_every_meter_a_site_and_commands_no_amqp(self) -> None:
        parts = self.build("[modbus]\ncontrol = true\n", ["Meter_0"], ["Meter_0"])
        assert parts.modbus is not None
        self.assertIsNotNone(parts.modbus.inbox)
        self.assertIs(parts.service.inbox, parts.modbus.inbox)
        self.assertIsNotNone(parts.service.control)
        self.assertIsNotNone(parts.service.site_of("Meter_0"), "a controlled meter is a site")

    def test_a_restart_shows_the_last_written_row(self) -> None:
        parts = self.build("", ["Meter_0"], ["Meter_0"])
        parts.output.write("Meter_0", NOON_S, 500.0, 2.0)
        parts.output.write("Meter_0", NOON_S + 60.0, 400.0, 3.0)
        parts.output.close()
        again = self.build("", ["Meter_0"], ["Meter_0"])
        assert again.modbus is not None
        values = again.modbus.devices["Meter_0"].values
        assert values is not None
        self.assertEqual((values.household_w, values.pv_power_w, values.grid_power_w),
                         (400.0, 3000.0, -2600.0))
        self.assertAlmostEqual(values.export_wh, 2600.0 / 60.0)
        self.assertEqual(values.inverter_temperature_c, inverter_temperature_c(18.0, 3000.0, 5000.0),
                         "the heat sink at the last row's steady state, from the model's air")

    def test_the_inverter_temperature_comes_from_the_pv_models_air(self) -> None:
        tz = ZoneInfo("UTC")
        solar = SolarPvModel(latitude_deg=50.0, longitude_deg=8.0, altitude_m=100.0, tz=tz,
                             peak_power_kw=5.0, tilt_deg=30.0, azimuth_deg=180.0,
                             air_temperature_c=7.5)
        air = air_temperature_of(solar)
        assert air is not None
        self.assertEqual(air(NOON_S), 7.5)
        self.assertIsNone(air_temperature_of(ReferenceCurveModel(tz=tz)), "the challenge's curve")
        self.assertIsNone(air_temperature_of(NoPvModel()), "a house without PV")

    def test_a_partitioned_service_serves_its_partitions_fleet_meters(self) -> None:
        ini = "[broker]\nlayout = partitioned\npartitions = 2\n"
        layout = Layout(2)
        fleet = "meter_id\n" + "".join(f"m{i}\n" for i in range(6))
        queue = layout.partition_queue(0)
        parts = self.build(ini, None, [queue], fleet=fleet)
        assert parts.modbus is not None
        self.assertEqual([u.meter_id for u in parts.modbus.units],
                         [f"m{i}" for i in range(6) if layout.queue_of(f"m{i}") == queue])
        with self.assertRaisesRegex(ConfigError, r"\[fleet\] file"):
            self.build(ini, None, [queue])


if __name__ == "__main__":
    unittest.main()
