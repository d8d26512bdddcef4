"""`[pv] sky_climate` through both CLIs: a June of 5-minute readings keeps the file's clearness.

The clear-sky index is not in the files, so the climate shows as a ratio: the month's PV energy
of a horizontal plant under the climate sky over the same plant's under `sky = clear`. For a
horizontal plant that ratio is the month's K up to the chain's non-linearities (cooler cells and
the inverter's part-load efficiency under clouds, the Erbs split), which the in-process model
puts within a few hundredths; the tolerance 0.06 adds the one-seed month's own scatter (about
0.01) and the sky's scaling of each day to its K by an approximate daylight profile.
"""

from __future__ import annotations

import json
import shutil
from collections import defaultdict

from pv_simulator.composition import PvModels
from pv_simulator.config import load_config
from pv_simulator.models.pv_plant import weather_source
from pv_simulator.models.sky_climate import climate_from_weather
from pv_simulator.models.weather_files import read_weather_file
from tests.integration.support import BrokerTestCase
from tests.integration.test_households_sky import read_rows
from tests.paths import ROOT

WEATHER = ROOT / "tests" / "data" / "weather" / "pvgis_tmy_45N_8E.csv"
SITE = {"timezone": "Europe/Rome", "latitude": 45.0, "longitude": 8.0, "altitude_m": 250.0}
PLANT = {"model": "solar", "peak_power_kw": 4.0, "tilt_deg": 0.0, "azimuth_deg": 180.0,
         "seed": 3}
JUNE_S = 30 * 86400


class SkyClimateThroughClisTest(BrokerTestCase):
    INTERVAL_S = 300
    TOLERANCE = 0.06

    def test_a_june_under_the_pvgis_climate_keeps_the_files_clearness(self) -> None:
        shutil.copy(WEATHER, self.tmp / WEATHER.name)
        conf = {"clear": self.write_config("clear.ini", site=SITE, meter={"model": "household"},
                                           pv={**PLANT, "sky": "clear"}),
                "climate": self.write_config("climate.ini", site=SITE,
                                             meter={"model": "household"},
                                             pv={**PLANT, "sky_climate": WEATHER.name})}
        meter = self.run_cli("demo_meter.py", "-conf", str(conf["clear"]), "-nb", "2",
                             "--speed", "0", "--interval", str(self.INTERVAL_S),
                             "--duration", str(JUNE_S), "--start", "2026-06-01T00:00",
                             "--seed", "5", "--summary-file", "meter.json",
                             "--log-level", "WARNING", timeout=300)
        self.assert_clean_exit(meter.returncode, meter.stderr)
        readings = JUNE_S // self.INTERVAL_S
        self.assertEqual(json.loads((self.tmp / "meter.json").read_text())["published"],
                         2 * readings)
        services = {sky: self.start("demo_pv_service.py", "-conf", str(conf[sky]), "-ids",
                                    meter_id, "--output-dir", sky, "--exit-when-idle", "2",
                                    "--summary-file", f"{sky}.json", "--log-level", "WARNING")
                    for sky, meter_id in (("clear", "Meter_0"), ("climate", "Meter_1"))}
        energy_kwh: dict[str, float] = defaultdict(float)
        rows_by_sky = {}
        for sky, service in services.items():
            code, _, err = self.finish(service, timeout=300)
            self.assert_clean_exit(code, err)
            self.assertEqual(json.loads((self.tmp / f"{sky}.json").read_text())["written"],
                             readings)
            rows_by_sky[sky] = [row for rows in read_rows(self.tmp / sky).values() for row in rows]
            energy_kwh[sky] = sum(row.pv_power_value_kw
                                  for row in rows_by_sky[sky]) * self.INTERVAL_S / 3600
        data = read_weather_file(WEATHER)
        climate = climate_from_weather(data, weather_source(data).site)
        file_june_k = climate.monthly_clearness[5]
        ratio = energy_kwh["climate"] / energy_kwh["clear"]
        self.assertAlmostEqual(ratio, file_june_k, delta=self.TOLERANCE)
        # The same seed gives the same sky in this process: every row is reproduced.
        model = PvModels(load_config(conf["climate"])).model(None)
        for row in rows_by_sky["climate"][::97]:
            self.assertAlmostEqual(model.power_kw(row.time_s), row.pv_power_value_kw, places=3)
        print(f"\nsky_climate through both CLIs, horizontal 4 kWp at 45 N 8 E, June, 5-minute "
              f"readings: {energy_kwh['climate']:.1f} of {energy_kwh['clear']:.1f} kWh clear "
              f"({ratio:.3f}) against the file's June K {file_june_k:.3f}")
