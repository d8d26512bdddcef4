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
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

from pv_simulator.messaging.port import METER_ID_RULE, is_meter_id
from pv_simulator.numbers import NotAFiniteNumber, finite_float

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
    sky_climate: str | None = None
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
    "sky_climate": str,
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
            value = finite_float(cell)
        except NotAFiniteNumber as exc:
            raise fail(f"{cell!r} is {exc}") from None
    if check is not None:
        problem = check(column, value)
        if problem is not None:
            raise fail(f"{cell}: {problem}")
    return value
