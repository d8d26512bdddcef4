"""Write the pvlib reference days tests/data/pv_*.csv that the PV model is tested against.

Development tool only: it needs pvlib 0.16.1 (requirements-dev.txt), which the simulator itself
never imports. Each case is one local calendar day at 10-minute steps (144 rows) for one site and
plant, computed with the model chain of the Vienna reference files (see tests/data/README.md):

    NREL SPA -> Kasten-Young 1989 air mass -> Ineichen-Perez clear sky with pvlib's Linke
    turbidity lookup for that day, rounded to 2 decimals -> Perez 1990 (albedo 0.2) ->
    physical IAM on the beam -> SAPM cell temperature (close mount glass/glass) ->
    PVWatts DC with pvwatts_losses() -> PVWatts inverter (eta 0.96, AC limit = DC / dc_ac_ratio).

Sun position uses the case's air temperature for refraction. Run from the repository root:

    python tools/make_pv_fixtures.py

and copy the printed table rows into tests/data/README.md, whose table the tests read.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from pvlib import (
    atmosphere,
    clearsky,
    iam,
    inverter,
    irradiance,
    pvsystem,
    solarposition,
    temperature,
)

DATA_DIR = Path(__file__).resolve().parent.parent / "tests" / "data"
COLUMNS = ("time_utc", "ghi", "poa", "ac_w", "dni", "dhi", "zenith_apparent", "azimuth",
           "poa_direct", "poa_diffuse", "eff_irr", "temp_cell", "dc_w")
WIND_SPEED_M_S = 1.0
ALBEDO = 0.2
GAMMA_PDC = -0.0035
ETA_INV_NOMINAL = 0.96


@dataclass(frozen=True)
class Case:
    """One reference day: where, which plant, which weather."""

    name: str
    latitude: float
    longitude: float
    altitude_m: float
    timezone: str
    day: str
    tilt_deg: float
    azimuth_deg: float
    peak_power_kw: float
    dc_ac_ratio: float
    air_temperature_c: float
    why: str


CASES = (
    Case("sydney_2026-12-21_n30", -33.87, 151.21, 40.0, "Australia/Sydney", "2026-12-21",
         30.0, 0.0, 5.0, 1.2, 26.0, "southern summer, north-facing"),
    Case("sydney_2026-06-21_n35", -33.87, 151.21, 40.0, "Australia/Sydney", "2026-06-21",
         35.0, 0.0, 5.0, 1.2, 14.0, "southern winter, low sun"),
    Case("nairobi_2026-03-20_n10", -1.29, 36.82, 1795.0, "Africa/Nairobi", "2026-03-20",
         10.0, 0.0, 3.0, 1.2, 24.0, "equator at equinox, high site, sun through the zenith"),
    Case("tromso_2026-06-21_s60", 69.65, 18.96, 10.0, "Europe/Oslo", "2026-06-21",
         60.0, 180.0, 4.0, 1.2, 12.0, "midnight sun, steep tilt"),
    Case("oslo_2026-03-20_s90", 59.91, 10.75, 23.0, "Europe/Oslo", "2026-03-20",
         90.0, 180.0, 4.0, 1.2, 2.0, "vertical facade at high latitude"),
    Case("madrid_2026-05-25_e20", 40.42, -3.70, 667.0, "Europe/Madrid", "2026-05-25",
         20.0, 90.0, 4.0, 1.2, 22.0, "east-facing, site west in its time zone"),
    Case("madrid_2026-05-25_w20", 40.42, -3.70, 667.0, "Europe/Madrid", "2026-05-25",
         20.0, 270.0, 4.0, 1.2, 22.0, "west-facing, site west in its time zone"),
    Case("denver_2026-06-21_s35_clip", 39.74, -104.99, 1609.0, "America/Denver", "2026-06-21",
         35.0, 180.0, 6.0, 1.5, 28.0, "high dry site, inverter clipping at DC/AC 1.5"),
)


def simulate(case: Case) -> tuple[pd.DataFrame, float]:
    """The case's day at 10-minute steps and the Linke turbidity used."""
    local_start = pd.Timestamp(case.day, tz=case.timezone)
    times = pd.date_range(local_start, periods=144, freq="10min").tz_convert("UTC")
    linke = round(float(clearsky.lookup_linke_turbidity(
        times, case.latitude, case.longitude).iloc[72]), 2)
    pressure_pa = atmosphere.alt2pres(case.altitude_m)
    position = solarposition.get_solarposition(
        times, case.latitude, case.longitude, case.altitude_m, pressure_pa,
        temperature=case.air_temperature_c)
    air_mass = atmosphere.get_relative_airmass(position.apparent_zenith)
    dni_extra = irradiance.get_extra_radiation(times)
    sky = clearsky.ineichen(position.apparent_zenith,
                            atmosphere.get_absolute_airmass(air_mass, pressure_pa), linke,
                            case.altitude_m, dni_extra)
    poa = irradiance.get_total_irradiance(
        case.tilt_deg, case.azimuth_deg, position.apparent_zenith, position.azimuth, sky.dni,
        sky.ghi, sky.dhi, dni_extra=dni_extra, airmass=air_mass, model="perez", albedo=ALBEDO)
    aoi = irradiance.aoi(case.tilt_deg, case.azimuth_deg, position.apparent_zenith,
                         position.azimuth)
    effective = poa.poa_direct * iam.physical(aoi) + poa.poa_diffuse
    cell = temperature.sapm_cell(
        poa.poa_global, case.air_temperature_c, WIND_SPEED_M_S,
        **temperature.TEMPERATURE_MODEL_PARAMETERS["sapm"]["close_mount_glass_glass"])
    dc_rating_w = case.peak_power_kw * 1000.0
    dc = (pvsystem.pvwatts_dc(effective, cell, dc_rating_w, GAMMA_PDC)
          * (1.0 - pvsystem.pvwatts_losses() / 100.0))
    ac = inverter.pvwatts(dc, dc_rating_w / case.dc_ac_ratio / ETA_INV_NOMINAL)
    frame = pd.DataFrame({
        "time_utc": times.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "ghi": sky.ghi.fillna(0.0).round(2), "poa": poa.poa_global.fillna(0.0).round(2),
        "ac_w": ac.fillna(0.0).round(2), "dni": sky.dni.fillna(0.0).round(2),
        "dhi": sky.dhi.fillna(0.0).round(2),
        "zenith_apparent": position.apparent_zenith.round(4),
        "azimuth": position.azimuth.round(4),
        "poa_direct": poa.poa_direct.fillna(0.0).round(2),
        "poa_diffuse": poa.poa_diffuse.fillna(0.0).round(2),
        "eff_irr": effective.fillna(0.0).round(2), "temp_cell": cell.fillna(0.0).round(2),
        "dc_w": dc.fillna(0.0).round(2),
    }, columns=list(COLUMNS))
    return frame, linke


def main() -> None:
    """Write every case and print its README table row."""
    for case in CASES:
        frame, linke = simulate(case)
        path = DATA_DIR / f"pv_{case.name}.csv"
        frame.to_csv(path, index=False, lineterminator="\n")
        energy_kwh = float(np.sum(frame.ac_w)) / 6.0 / 1000.0
        peak_row = frame.loc[frame.ac_w.idxmax()]
        print(f"| {path.name} | {case.latitude} | {case.longitude} | {case.altitude_m:g} | "
              f"{case.timezone} | {case.tilt_deg:g} | {case.azimuth_deg:g} | "
              f"{case.peak_power_kw:g} | {case.dc_ac_ratio:g} | {linke:.2f} | "
              f"{case.air_temperature_c:g} | {case.air_temperature_c:g} | "
              f"{energy_kwh:.2f} | {peak_row.ac_w:.0f} | {case.why} |")


if __name__ == "__main__":
    main()
