"""Year energy of the references.json plants from each weather file, against pvlib's figures.

Run by hand (seconds per file and plant): python tools/weather_accuracy.py [step_minutes]
"""

import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pv_simulator.models.pv_plant import WeatherPvModel  # noqa: E402

DATA = ROOT / "tests" / "data" / "weather"
FILES = {"pvgis_tmy_45N_8E.csv": "pvgis", "pvgis_tmy_45N_8E.json": "pvgis",
         "pvgis_tmy_45N_8E.epw": "pvgis", "greensboro_tmy3.csv": "greensboro"}


def monthly_kwh(model: WeatherPvModel, year: int, step_s: float) -> list[float]:
    """AC energy per month of `year`, left Riemann sum at step_s."""
    totals = [0.0] * 12
    start_s = datetime(year, 1, 1, tzinfo=timezone.utc).timestamp()
    end_s = datetime(year + 1, 1, 1, tzinfo=timezone.utc).timestamp()
    time_s = start_s
    while time_s < end_s:
        month = datetime.fromtimestamp(time_s, timezone.utc).month
        totals[month - 1] += model.power_kw(time_s) * step_s / 3600.0
        time_s += step_s
    return totals


def main() -> None:
    step_s = float(sys.argv[1]) * 60.0 if len(sys.argv) > 1 else 300.0
    references = json.loads((DATA / "references.json").read_text())
    system = references["system"]
    cases = {("pvgis" if "pvgis" in name else "greensboro"): case
             for name, case in references["cases"].items()}
    for name, case_key in FILES.items():
        for plant, (tilt, azimuth) in system["systems"].items():
            started = time.perf_counter()
            model = WeatherPvModel(DATA / name, peak_power_kw=system["peak_power_kw"],
                                   tilt_deg=tilt, azimuth_deg=azimuth,
                                   dc_ac_ratio=system["dc_ac_ratio"],
                                   losses_pct=system["losses_pct"],
                                   temperature_coefficient=system["temperature_coefficient"],
                                   albedo=system["albedo"])
            months = monthly_kwh(model, 2025, step_s)
            reference = cases[case_key]["systems"][plant]
            annual_error = sum(months) / reference["annual_kwh"] - 1.0
            month_errors = [m / r - 1.0 for m, r in zip(months, reference["monthly_kwh"],
                                                        strict=True)]
            worst = max(range(12), key=lambda k: abs(month_errors[k]))
            print(f"{name:24s} {plant:8s} {sum(months):7.1f} kWh vs {reference['annual_kwh']:7.1f}"
                  f" ({annual_error:+.2%}); worst month {worst + 1:2d} {month_errors[worst]:+.2%}"
                  f"  [{time.perf_counter() - started:.1f} s]")


if __name__ == "__main__":
    main()
