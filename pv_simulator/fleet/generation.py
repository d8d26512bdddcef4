"""A plausible German neighbourhood of houses as fleet rows (``pv-fleet generate``); the
sources of its distributions are cited beside their constants.

Figures for German residential buildings, rounded; each is a spread a real neighbourhood
plausibly shows, not a statistic to reproduce exactly.
"""

from __future__ import annotations

import math
import random

from pv_simulator.fleet.reading import FleetMember

# Roughly a quarter to a third of German one- and two-family houses carried PV
# in 2024 (some 3-4 million small rooftop plants in the Bundesnetzagentur's
# Marktstammdatenregister against about 16 million such buildings, Destatis
# Gebäude- und Wohnungsbestand), and the share is rising fast.
PV_SHARE = 0.35

# New home plants are 8-10 kWp on average (BSW-Solar market figures;
# Marktstammdatenregister, plants up to 30 kWp): log-normal around 9 kWp,
# capped at the EEG's 30 kWp small-plant limit.
_PEAK_MEDIAN_KW = 9.0
_PEAK_SIGMA = 0.4
_PEAK_RANGE_KW = (1.5, 30.0)

# Pitched roofs carry most plants: tilt about 30-35 deg, spread 15-45 deg
# (roof pitches of German houses; PVGIS's optimum near 35 deg at 48-52 N).
_TILT_MEAN_DEG = 33.0
_TILT_SD_DEG = 8.0
_TILT_RANGE_DEG = (10.0, 50.0)

# Orientation follows the roof: mostly around the equator's side (south in the
# northern hemisphere, north in the southern), many east or west roofs (main
# orientations recorded in the Marktstammdatenregister).
_EQUATOR_SHARE = 0.6
_EQUATOR_SD_DEG = 30.0
_EAST_WEST_SD_DEG = 15.0

# Households by size, Destatis Mikrozensus 2023: 1, 2, 3, 4, 5+ persons.
HOUSEHOLD_SHARES = (0.41, 0.33, 0.12, 0.10, 0.04)
# Median annual consumption by household size in a house without electric hot
# water, kWh (in the range of BDEW's and co2online's Stromspiegel figures:
# 1 person ~1,500-2,000 ... 5 persons ~5,000-6,000), log-normal spread between
# households of the same size.
HOUSEHOLD_KWH = (1800.0, 2800.0, 3600.0, 4300.0, 5300.0)
_CONSUMPTION_SIGMA = 0.25
_CONSUMPTION_RANGE_KWH = (800.0, 12000.0)

# A neighbourhood: houses within a few hundred metres of the site.
_JITTER_M = 300.0
_M_PER_DEG_LATITUDE = 111_320.0


def generate(count: int, seed: int, latitude: float, longitude: float,
             pv_share: float = PV_SHARE) -> list[FleetMember]:
    """``count`` houses around (latitude, longitude): same seed, same fleet. Roofs face the
    equator: south of it, a "south" roof of the north's fleet faces north.

    Meter ids are Meter_0, Meter_1, ... as the meter service names its meters.
    Altitude, inverter, losses, meter model, weather and sky seed are left to
    the configuration: neighbours share the sky and the weather.
    """
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    if not 0.0 <= pv_share <= 1.0:
        raise ValueError(f"pv_share must be between 0 and 1, got {pv_share}")
    rng = random.Random(f"fleet:{seed}")
    equator_azimuth_deg = 180.0 if latitude >= 0.0 else 0.0
    lon_m_per_deg = _M_PER_DEG_LATITUDE * max(math.cos(math.radians(latitude)), 0.01)
    members = []
    for index in range(count):
        lat = _clip(latitude + rng.gauss(0.0, _JITTER_M) / _M_PER_DEG_LATITUDE, (-90.0, 90.0))
        lon = (longitude + rng.gauss(0.0, _JITTER_M) / lon_m_per_deg + 180.0) % 360.0 - 180.0
        persons = rng.choices(range(len(HOUSEHOLD_SHARES)), weights=HOUSEHOLD_SHARES)[0]
        annual_kwh = _clip(HOUSEHOLD_KWH[persons] * rng.lognormvariate(0.0, _CONSUMPTION_SIGMA),
                           _CONSUMPTION_RANGE_KWH)
        # Drawn whether or not the house gets PV, so pv_share changes which
        # houses have plants but not the others' values.
        peak_kw = _clip(_PEAK_MEDIAN_KW * rng.lognormvariate(0.0, _PEAK_SIGMA), _PEAK_RANGE_KW)
        tilt = _clip(rng.gauss(_TILT_MEAN_DEG, _TILT_SD_DEG), _TILT_RANGE_DEG)
        if rng.random() < _EQUATOR_SHARE:
            azimuth = rng.gauss(equator_azimuth_deg, _EQUATOR_SD_DEG)
        else:
            azimuth = rng.gauss(rng.choice((90.0, 270.0)), _EAST_WEST_SD_DEG)
        has_pv = rng.random() < pv_share
        members.append(FleetMember(
            meter_id=f"Meter_{index}",
            latitude=round(lat, 5),
            longitude=round(lon, 5),
            peak_power_kw=round(peak_kw, 1) if has_pv else 0.0,
            tilt_deg=round(tilt) if has_pv else None,
            azimuth_deg=round(azimuth % 360.0) if has_pv else None,
            annual_energy_kwh=round(annual_kwh, -1),
        ))
    return members


def _clip(value: float, bounds: tuple[float, float]) -> float:
    return min(max(value, bounds[0]), bounds[1])
