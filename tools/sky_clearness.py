"""A weather file's monthly clear-sky index K beside the variable sky's, one line per month.

K = Σ GHI / Σ clear-sky GHI over the month at the file's site (our Ineichen-Perez clear sky).
The sky's K is measured the same way from its index at 10-minute steps, pooled over seeds, for
the default climatology and for the sky with ``sky_climate`` set to the file (or with
``--monthly-clearness``). Days of the sky are the file's standard-time days (for a UTC file,
the longitude's whole-hour zone).

    python tools/sky_clearness.py tests/data/weather/greensboro_tmy3.csv --seeds 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pv_simulator.models.pv_plant import weather_source  # noqa: E402
from pv_simulator.models.sky import VariableSky  # noqa: E402
from pv_simulator.models.sky_climate import (  # noqa: E402
    ClimateSky,
    SkyClimateError,
    clear_sky_samples,
    climate_from_monthly_clearness,
    climate_from_weather,
    daily_clearness_of_weather,
    default_sky,
    monthly_clearness_of_days,
    sky_daily_clearness,
)
from pv_simulator.models.weather_files import WeatherFileError, read_weather_file  # noqa: E402

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def spreads(days: list[tuple[int, float, float]]) -> list[float]:
    """Standard deviation of daily K per month."""
    return [statistics.pstdev([measured / clear for m, measured, clear in days if m == month])
            for month in range(1, 13)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", help="weather file (EPW, TMY3, PVGIS csv/json/epw)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds pooled (default 3)")
    parser.add_argument("--year", type=int, default=2026, help="calendar year simulated")
    parser.add_argument("--monthly-clearness", help="12 comma-separated K values instead of the "
                                                    "file's climate")
    args = parser.parse_args(argv)
    try:
        data = read_weather_file(args.file)
        if data.site is None:
            raise SkyClimateError(f"{args.file}: names no site")
        site = weather_source(data).site
        if args.monthly_clearness:
            climate = climate_from_monthly_clearness(
                tuple(float(value) for value in args.monthly_clearness.split(",")))
        else:
            climate = climate_from_weather(data, site)
    except (WeatherFileError, SkyClimateError, ValueError) as exc:
        print(f"sky_clearness: {exc}", file=sys.stderr)
        return 2
    offset_s = data.utc_offset_s or round(site.longitude_deg / 15.0) * 3600.0
    samples = clear_sky_samples(site, args.year, offset_s)
    file_days = daily_clearness_of_weather(data, site)
    skies: dict[str, list[tuple[int, float, float]]] = {"default": [], "climate": []}
    for seed in range(args.seeds):
        made: dict[str, VariableSky] = {
            "default": default_sky(seed=seed, latitude_deg=site.latitude_deg),
            "climate": ClimateSky(climate, seed=seed, latitude_deg=site.latitude_deg)}
        for name, sky in made.items():
            skies[name] += sky_daily_clearness(sky, samples)
    file_k = monthly_clearness_of_days(file_days)
    file_sd = spreads(file_days)
    values = {name: (monthly_clearness_of_days(days), spreads(days))
              for name, days in skies.items()}
    label = "monthly_clearness" if args.monthly_clearness else "sky_climate"
    print(f"{data.path} ({site.latitude_deg:.2f}, {site.longitude_deg:.2f}); sky: {args.seeds} "
          f"seed(s), {args.year}; K and (daily K sd)")
    print(f"{'month':5s} {'file':>13s} {'default sky':>13s} {label:>17s}")
    for month in range(12):
        cells = [f"{file_k[month]:.2f} ({file_sd[month]:.2f})"]
        cells += [f"{values[name][0][month]:.2f} ({values[name][1][month]:.2f})"
                  for name in ("default", "climate")]
        print(f"{MONTHS[month]:5s} {cells[0]:>13s} {cells[1]:>13s} {cells[2]:>17s}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
