"""Microseconds per call of what each reading costs outside the broker.

The per-reading CPU budget of both services is shared with pika and, on this two-core
machine, with RabbitMQ: these figures say how much of it the models, the message format
and the CSV writer take. Each figure is the best of a few repeats of a loop over
realistic inputs (a summer day in Vienna at 1 s steps, as the services see them).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pv_simulator.messaging.wire import ReadingEncoder, decode
from pv_simulator.models import household, pv_plant
from pv_simulator.models.random_walk import RandomWalkModel
from pv_simulator.models.sky_climate import ClimateSky, climate_from_weather
from pv_simulator.models.weather_files import EXAMPLE_WEATHER_PATH, read_weather_file
from pv_simulator.storage.csv_format import format_row
from pv_simulator.storage.csv_store import CsvOutput

TZ = ZoneInfo("Europe/Vienna")
DAY_START = datetime(2026, 6, 21, tzinfo=TZ).timestamp()


def _best_us(run: Callable[[], int], repeats: int) -> float:
    """Best per-call microseconds of ``run`` (which returns how many calls it made)."""
    best = float("inf")
    for _ in range(repeats):
        began = time.perf_counter()
        calls = run()
        best = min(best, (time.perf_counter() - began) / calls * 1e6)
    return round(best, 2)


def _solar(sky: str) -> pv_plant.SolarPvModel:
    # The default plant at the configuration's default site, Vienna.
    return pv_plant.SolarPvModel(latitude_deg=48.2, longitude_deg=16.37, altitude_m=194.0,
                                 tz=TZ, peak_power_kw=pv_plant.DEFAULT_PEAK_POWER_KW,
                                 tilt_deg=pv_plant.DEFAULT_TILT_DEG,
                                 azimuth_deg=pv_plant.DEFAULT_AZIMUTH_DEG, sky=sky, seed=1)


def _over(times: list[float], call: Callable[[float], object]) -> Callable[[], int]:
    def run() -> int:
        for t in times:
            call(t)
        return len(times)
    return run


def _fresh(times: list[float], make: Callable[[], Callable[[float], float]]) -> Callable[[], int]:
    """A loop over ``times`` with a model made anew, so its caches start cold each repeat."""
    def run() -> int:
        call = make()
        for t in times:
            call(t)
        return len(times)
    return run


def measure(quick: bool = False) -> dict[str, float]:
    """µs per call of each model, the reading format and the CSV writer."""
    step = 20 if quick else 1
    repeats = 2 if quick else 3
    day = [DAY_START + s for s in range(0, 86_400, step)]
    daylight = [t for t in day if 6 * 3600 <= t - DAY_START < 20 * 3600]
    results: dict[str, float] = {}

    for sky in (pv_plant.SKY_CLEAR, pv_plant.SKY_VARIABLE):
        model = _solar(sky)
        model.power_kw(day[0])  # the day's constants, cached per day in the service too
        results[f"pv_solar_{sky}_day_us"] = _best_us(_over(day, model.power_kw), repeats)
        results[f"pv_solar_{sky}_daylight_us"] = _best_us(_over(daylight, model.power_kw), repeats)
    results["pv_solar_variable_day_x_clear"] = round(
        results["pv_solar_variable_day_us"] / results["pv_solar_clear_day_us"], 2)
    # The variable sky with a climate (sky_climate = the shared PVGIS year) against the default.
    climate_sky = pv_plant.SolarPvModel(
        latitude_deg=48.2, longitude_deg=16.37, altitude_m=194.0, tz=TZ, peak_power_kw=4.0,
        tilt_deg=30.0, azimuth_deg=180.0, sky=pv_plant.SKY_VARIABLE,
        cloudy_sky=ClimateSky(climate_from_weather(
            read_weather_file(EXAMPLE_WEATHER_PATH),
            pv_plant.weather_source(read_weather_file(EXAMPLE_WEATHER_PATH)).site),
            seed=1, latitude_deg=48.2))
    climate_sky.power_kw(day[0])
    results["pv_solar_sky_climate_day_us"] = _best_us(_over(day, climate_sky.power_kw), repeats)
    results["pv_solar_sky_climate_x_variable"] = round(
        results["pv_solar_sky_climate_day_us"] / results["pv_solar_variable_day_us"], 2)
    # Weather replay against the clear sky of the same plant, each a fresh model per repeat
    # (the weather's per-hour set-up is part of the cost): a day at 1 s and a month at 5 min
    # (three days in quick mode: the cadence, not the span, sets the ratio).
    weather = read_weather_file(EXAMPLE_WEATHER_PATH)
    site: dict[str, Any] = {"latitude_deg": 45.0, "longitude_deg": 8.0, "altitude_m": 250.0}
    plant: dict[str, Any] = {"peak_power_kw": 4.0, "tilt_deg": 35.0, "azimuth_deg": 180.0}
    month = [DAY_START + s for s in range(0, (3 if quick else 30) * 86_400, 300)]
    for label, times in (("1s_day", day), ("300s_month", month)):
        results[f"pv_clear_{label}_us"] = _best_us(_fresh(times, lambda: pv_plant.SolarPvModel(
            **site, tz=TZ, **plant, sky=pv_plant.SKY_CLEAR).power_kw), repeats)
        results[f"pv_weather_{label}_us"] = _best_us(_fresh(times, lambda: pv_plant.WeatherPvModel(
            weather, **site, **plant).power_kw), repeats)
        results[f"pv_weather_{label}_x_clear"] = round(
            results[f"pv_weather_{label}_us"] / results[f"pv_clear_{label}_us"], 2)
    # The variable sky in a fast-forward month (5-minute readings): each day's cloud series is
    # built for 288 readings instead of 86,400, so its build shows here, against the clear sky.
    def solar_power(sky: str) -> Callable[[], Callable[[float], float]]:
        return lambda: _solar(sky).power_kw
    for sky in (pv_plant.SKY_CLEAR, pv_plant.SKY_VARIABLE):
        results[f"pv_solar_{sky}_300s_month_us"] = _best_us(
            _fresh(month, solar_power(sky)), repeats)
    results["pv_solar_variable_300s_month_x_clear"] = round(
        results["pv_solar_variable_300s_month_us"] / results["pv_solar_clear_300s_month_us"], 2)
    reference = pv_plant.ReferenceCurveModel(tz=TZ, seed=1)
    results["pv_reference_day_us"] = _best_us(_over(day, reference.power_kw), repeats)

    def stepping(make: Callable[[], Callable[[float], float]]) -> Callable[[], int]:
        # Meter models keep state and need non-decreasing times: a fresh one per repeat.
        def run() -> int:
            power = make()
            for t in day:
                power(t)
            return len(day)
        return run

    household.HouseholdModel(tz=TZ, seed=1).power_w(day[0])  # load the H25 tables and holidays once
    results["meter_household_us"] = _best_us(
        stepping(lambda: household.HouseholdModel(tz=TZ, seed=1, meter_index=3).power_w), repeats)
    results["meter_random_walk_us"] = _best_us(
        stepping(lambda: RandomWalkModel(seed=1, meter_index=3).power_w), repeats)

    encode = ReadingEncoder("Meter_0")
    bodies = [encode(t, 1234.5678) for t in day]
    results["reading_encode_us"] = _best_us(_over(day, lambda t: encode(t, 1234.5678)), repeats)

    def decode_all() -> int:
        for body in bodies:
            decode(body, "Meter_0", 9000.0)
        return len(bodies)
    results["reading_decode_us"] = _best_us(decode_all, repeats)
    results["csv_format_row_us"] = _best_us(
        _over(day, lambda t: format_row("Meter_0", t, 1234.5678, 1.234567)), repeats)

    def write_all() -> int:
        with tempfile.TemporaryDirectory(prefix="pvbench-cost-") as tmp:
            output = CsvOutput(Path(tmp), TZ, fsync="never")
            for t in day:
                output.write("Meter_0", t, 1234.5678, 1.234567)
            output.close()
        return len(day)
    results["csv_write_one_file_us"] = _best_us(write_all, repeats)

    def write_rotating() -> int:
        # More meters than the LRU holds (as with 2,000 meters): every row reopens a file.
        meters = [f"Meter_{i}" for i in range(300)]
        calls = 0
        with tempfile.TemporaryDirectory(prefix="pvbench-cost-") as tmp:
            output = CsvOutput(Path(tmp), TZ, fsync="never", max_open_files=256)
            for t in day[: max(10, len(day) // 300)]:
                for meter in meters:
                    output.write(meter, t, 1234.5678, 1.234567)
                    calls += 1
            output.close()
        return calls
    results["csv_write_lru_miss_us"] = _best_us(write_rotating, repeats)
    return results
