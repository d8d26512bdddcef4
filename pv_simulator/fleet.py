"""Fleet files: one CSV row per simulated house, overriding the configuration per meter.

A fleet file has a ``meter_id`` column and any of the columns in ``COLUMNS``.  An
empty cell or a missing column means "take the configuration's value" (``None``
here); ``peak_power_kw = 0`` is a house without PV.  ``read_fleet`` checks what a
file alone can tell (ids, duplicates, each value's type) and leaves value ranges
to the configuration schema, which the caller plugs in as ``check``::

    def check(column: str, value: float) -> str | None:
        # e.g. "must be between 0 and 90" for tilt_deg = 95, None when fine
        ...

    members = read_fleet("fleet.csv", check=check)

``python -m pv_simulator.fleet generate N --seed S`` (or ``pv-fleet``) writes a
plausible German neighbourhood to stdout; the sources of its distributions
are cited beside their constants below.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import random
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import IO

from pv_simulator.config import ConfigError, load_config
from pv_simulator.messaging.port import METER_ID_RULE, is_meter_id

# Meter ids become queue names: the same rule as the services' -ids, and the
# ".dlq" suffix is reserved for the dead-letter queues.

Check = Callable[[str, float], str | None]
"""Range check of one numeric value: an error text, or None when it is fine."""


@dataclass(frozen=True)
class FleetMember:
    """One house; None means the configuration's value."""

    meter_id: str
    latitude: float | None = None
    longitude: float | None = None
    altitude_m: float | None = None
    peak_power_kw: float | None = None  # 0: no PV on this house
    tilt_deg: float | None = None
    azimuth_deg: float | None = None
    dc_ac_ratio: float | None = None
    losses_pct: float | None = None
    annual_energy_kwh: float | None = None
    meter_model: str | None = None
    weather: str | None = None
    sky_seed: int | None = None
    battery_kwh: float | None = None  # 0: no battery in this house
    battery_kw: float | None = None  # its largest charging and discharging power


# Each column's type; the names are FleetMember's fields (a test keeps them in step).
COLUMNS: dict[str, type] = {
    "meter_id": str,
    "latitude": float,
    "longitude": float,
    "altitude_m": float,
    "peak_power_kw": float,
    "tilt_deg": float,
    "azimuth_deg": float,
    "dc_ac_ratio": float,
    "losses_pct": float,
    "annual_energy_kwh": float,
    "meter_model": str,
    "weather": str,
    "sky_seed": int,
    "battery_kwh": float,
    "battery_kw": float,
}


class FleetError(ValueError):
    """A fleet file that cannot be used; the message names file, line and column."""


def read_fleet(path: str | os.PathLike[str], check: Check | None = None) -> list[FleetMember]:
    """The houses of a fleet CSV, in file order.

    ``check(column, value)`` is called for every numeric value read (not for
    empty cells; sky_seed as an int) and returns an error text or None; it is
    where the configuration schema's ranges come in.  The text columns
    (meter_model, weather) are passed through for the configuration to check
    against the models and files it knows.  Raises FleetError on the first
    problem, naming ``<file>:<line>: column '<name>'``.
    """
    where = os.fspath(path)
    try:
        with open(path, encoding="utf-8-sig", newline="") as stream:
            return _parse(where, stream, check)
    except OSError as exc:
        raise FleetError(f"{where}: cannot read the fleet file: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise FleetError(f"{where}: not UTF-8 text: {exc.reason} at byte {exc.start}") from exc
    except csv.Error as exc:
        raise FleetError(f"{where}: not a CSV file: {exc}") from exc


def _parse(where: str, stream: IO[str], check: Check | None) -> list[FleetMember]:
    reader = csv.reader(stream)
    header = next(reader, None)
    while header is not None and not any(cell.strip() for cell in header):
        header = next(reader, None)
    if header is None:
        raise FleetError(f"{where}: empty file: expected a header line with a meter_id column")
    header_line = reader.line_num
    columns = [cell.strip() for cell in header]
    for index, column in enumerate(columns):
        if column not in COLUMNS:
            known = ", ".join(COLUMNS)
            raise FleetError(f"{where}:{header_line}: column {index + 1} {column!r} is not a fleet column "
                             f"(known: {known})")
        if column in columns[:index]:
            raise FleetError(f"{where}:{header_line}: column {column!r} appears twice")
    if "meter_id" not in columns:
        raise FleetError(f"{where}:{header_line}: column 'meter_id' is missing")

    id_index = columns.index("meter_id")
    members: list[FleetMember] = []
    lines: dict[str, int] = {}
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        line = reader.line_num
        if len(row) != len(columns):
            raise FleetError(f"{where}:{line}: {len(row)} cells, the header has {len(columns)}")
        meter_id = row[id_index].strip()
        if not is_meter_id(meter_id):
            raise FleetError(f"{where}:{line}: column 'meter_id': {meter_id!r} is not a valid meter id "
                             f"({METER_ID_RULE})")
        if meter_id in lines:
            raise FleetError(f"{where}:{line}: column 'meter_id': {meter_id!r} is already on line "
                             f"{lines[meter_id]}")
        lines[meter_id] = line
        values = {column: _value(where, line, column, cell.strip(), check)
                  for column, cell in zip(columns, row, strict=True) if column != "meter_id"}
        members.append(FleetMember(meter_id, **values))  # type: ignore[arg-type]
    if not members:
        raise FleetError(f"{where}: no houses: the file has a header but no rows")
    return members


def _value(where: str, line: int, column: str, cell: str, check: Check | None) -> object:
    """One cell as its column's type; None for an empty cell."""

    def fail(problem: str) -> FleetError:
        return FleetError(f"{where}:{line}: column {column!r}: {problem}")

    if not cell:
        return None
    kind = COLUMNS[column]
    if kind is str:
        return cell
    value: float
    if kind is int:
        try:
            value = int(cell)
        except ValueError:
            raise fail(f"{cell!r} is not a whole number") from None
    else:
        try:
            value = float(cell)
        except ValueError:
            raise fail(f"{cell!r} is not a number") from None
        if not math.isfinite(value):
            raise fail(f"{cell!r} is not a finite number")
    if check is not None:
        problem = check(column, value)
        if problem is not None:
            raise fail(f"{cell}: {problem}")
    return value


# --- Generator -------------------------------------------------------------
#
# Figures for German residential buildings, rounded; each is a spread a real
# neighbourhood plausibly shows, not a statistic to reproduce exactly.

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

# Orientation follows the roof: mostly around south, many east or west roofs
# (main orientations recorded in the Marktstammdatenregister).
_SOUTH_SHARE = 0.6
_SOUTH_SD_DEG = 30.0
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
    """``count`` houses around (latitude, longitude): same seed, same fleet.

    Meter ids are Meter_0, Meter_1, ... as the meter service names its meters.
    Altitude, inverter, losses, meter model, weather and sky seed are left to
    the configuration: neighbours share the sky and the weather.
    """
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    if not 0.0 <= pv_share <= 1.0:
        raise ValueError(f"pv_share must be between 0 and 1, got {pv_share}")
    rng = random.Random(f"fleet:{seed}")
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
        if rng.random() < _SOUTH_SHARE:
            azimuth = rng.gauss(180.0, _SOUTH_SD_DEG)
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


def write_fleet(members: Iterable[FleetMember], stream: IO[str]) -> None:
    """Write a fleet CSV that read_fleet reads back: the columns some member
    sets, and an empty cell where a member takes the configuration's value."""
    rows = [asdict(member) for member in members]
    columns = [column for column in COLUMNS
               if column == "meter_id" or any(row[column] is not None for row in rows)]
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow("" if row[column] is None else _format(row[column]) for column in columns)


def _format(value: object) -> str:
    """Whole floats without '.0', so the file reads like a hand-written one."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def main(argv: Sequence[str] | None = None) -> int:
    """``pv-fleet generate N --seed S``: a neighbourhood fleet CSV on stdout."""
    parser = argparse.ArgumentParser(prog="pv-fleet", description="Fleet files for the PV simulator.")
    commands = parser.add_subparsers(dest="command", required=True)
    gen = commands.add_parser("generate", help="write a plausible neighbourhood of N houses to stdout",
                              description=generate.__doc__)
    gen.add_argument("count", type=int, metavar="N", help="number of houses")
    gen.add_argument("--seed", type=int, required=True, help="same seed, same file")
    gen.add_argument("--config", metavar="FILE",
                     help="take the site from this INI's [site] (default: broker.ini if present, else the "
                          "configuration's defaults)")
    gen.add_argument("--latitude", type=float, help="site latitude, overrides the configuration's")
    gen.add_argument("--longitude", type=float, help="site longitude, overrides the configuration's")
    gen.add_argument("--pv-share", type=float, default=PV_SHARE,
                     help=f"share of houses with PV (default {PV_SHARE})")
    args = parser.parse_args(argv)

    latitude, longitude = args.latitude, args.longitude
    if latitude is None or longitude is None:
        try:
            site = load_config(args.config).site
        except ConfigError as exc:
            parser.exit(2, f"pv-fleet: error: {exc}\n")
        latitude = site.latitude_deg if latitude is None else latitude
        longitude = site.longitude_deg if longitude is None else longitude
    if not (math.isfinite(latitude) and -90.0 <= latitude <= 90.0):
        gen.error(f"--latitude must be between -90 and 90, got {latitude}")
    if not (math.isfinite(longitude) and -180.0 <= longitude <= 180.0):
        gen.error(f"--longitude must be between -180 and 180, got {longitude}")
    try:
        members = generate(args.count, args.seed, latitude, longitude, args.pv_share)
    except ValueError as exc:
        gen.error(str(exc))
    write_fleet(members, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
