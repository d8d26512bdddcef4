"""The PV service's CSV format, in one place: columns, rows and file names.

Files are ``<METER_ID>-<YYYY>-<MM>-<DD>.csv``, one per meter and local day, with the
header line :data:`HEADER` and one :func:`format_row` line per reading. A site with a
battery, an export limit or control (:mod:`pv_simulator.models.site`) has the
:data:`SITE_HEADER` instead: the same five columns first, then :data:`SITE_EXTRA`
(:func:`format_site_row`). The writer
(:mod:`pv_simulator.storage.csv_store`), the summary, the plot, the benchmarks and the
tests all build and read them through this module, so the format cannot drift apart.
Fields are never quoted: a meter id is a routing key without commas.
"""

from __future__ import annotations

import glob
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import NamedTuple

from pv_simulator.numbers import NotAFiniteNumber, finite_float

COLUMNS: tuple[str, ...] = (
    "meter_id", "time_s", "meter_power_value_w", "pv_power_value_kw", "sum_meter_pv_w")
HEADER = ",".join(COLUMNS)
"""The first line of every file of a meter without site columns, without its newline."""

SITE_EXTRA: tuple[str, ...] = ("grid_power_w", "battery_power_w", "battery_soc_pct", "pv_available_kw")
"""After the five: grid W (positive drawn), battery W (positive charging), state of charge %,
and the PV the plant could deliver, kW (``pv_power_value_kw`` is what it delivered)."""
SITE_COLUMNS: tuple[str, ...] = COLUMNS + SITE_EXTRA
SITE_HEADER = ",".join(SITE_COLUMNS)

SOC_DECIMALS = 6
"""``battery_soc_pct``'s decimals: the site continues from the value as written."""

_DATE_GLOB = "-[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9].csv"
_FILE_NAME = re.compile(r"(?P<meter_id>.+)-(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})\.csv")


class CsvFormatError(ValueError):
    """Text that is not in the PV service's CSV format; the message names the file (and line)."""


class Row(NamedTuple):
    """One CSV row, typed."""

    meter_id: str
    time_s: float
    meter_power_value_w: float
    pv_power_value_kw: float
    sum_meter_pv_w: float
    grid_power_w: float | None = None
    battery_power_w: float | None = None
    battery_soc_pct: float | None = None
    pv_available_kw: float | None = None


#: A row after its meter id and time (to the millisecond, without trailing zeros): meter W, PV kW
#: and their sum W.
_ROW = "%s,%s,%.3f,%.6f,%.3f\n"


def row_numbers(time_s: float, meter_power_w: float, pv_power_kw: float) -> tuple[str, str, str, str]:
    """A row's numbers as the file spells them (time_s, meter W, PV kW, sum W): cut from
    :func:`format_row`'s line, so a result message that copies them and its row cannot differ."""
    time_value, meter_text, pv_text, total_text = format_row(
        "", time_s, meter_power_w, pv_power_kw)[1:-1].split(",")
    return time_value, meter_text, pv_text, total_text


def format_row(meter_id: str, time_s: float, meter_power_w: float, pv_power_kw: float) -> str:
    """One CSV line; the sum is computed here so it always matches its parts.

    One %-format of the whole line: it is written 35 million times for a year of 1,000 houses.
    """
    return _ROW % (meter_id, f"{time_s:.3f}".rstrip("0").rstrip("."), meter_power_w,
                   pv_power_kw, meter_power_w + pv_power_kw * 1000.0)


def site_numbers(grid_power_w: float, battery_power_w: float, soc_pct: float,
                 pv_available_kw: float) -> tuple[str, str, str, str]:
    """The :data:`SITE_EXTRA` numbers as the file spells them; the results stream copies them."""
    return (f"{grid_power_w:.3f}", f"{battery_power_w:.3f}", f"{soc_pct:.{SOC_DECIMALS}f}",
            f"{pv_available_kw:.6f}")


def format_site_row(meter_id: str, time_s: float, meter_power_w: float, pv_power_kw: float,
                    grid_power_w: float, battery_power_w: float, soc_pct: float,
                    pv_available_kw: float) -> str:
    """One line of a :data:`SITE_HEADER` file."""
    extra = ",".join(site_numbers(grid_power_w, battery_power_w, soc_pct, pv_available_kw))
    return format_row(meter_id, time_s, meter_power_w, pv_power_kw)[:-1] + "," + extra + "\n"


def parse_row(line: str, path: Path | str, line_no: int | None = None,
              columns: tuple[str, ...] = COLUMNS) -> Row:
    """The row of one line (with or without its newline) of file ``path`` with ``columns``.

    Raises:
        CsvFormatError: ``<path>:<line_no>: <what is wrong>`` (no line number if None).
    """
    where = f"{path}" if line_no is None else f"{path}:{line_no}"
    fields = line.rstrip("\r\n").split(",")
    if len(fields) != len(columns):
        raise CsvFormatError(f"{where}: {len(fields)} fields, expected {len(columns)}")
    meter_id = fields[0].strip()
    if not meter_id:
        raise CsvFormatError(f"{where}: empty meter_id")
    values: list[float] = []
    for name, field in zip(columns[1:], fields[1:], strict=True):
        try:
            values.append(finite_float(field))
        except NotAFiniteNumber as exc:
            raise CsvFormatError(f"{where}: {name} is {field!r}, {exc}") from None
    return Row(meter_id, *values)


def check_header(line: str, path: Path | str) -> tuple[str, ...]:
    """The columns of ``path`` whose first line is ``line``: :data:`COLUMNS` or :data:`SITE_COLUMNS`.

    Raises:
        CsvFormatError: ``<path>:1: header is ..., expected ...``.
    """
    header = line.rstrip("\r\n")
    names = tuple(name.strip() for name in header.split(","))
    if names not in (COLUMNS, SITE_COLUMNS):
        raise CsvFormatError(f"{path}:1: header is {header!r}, expected {HEADER!r} "
                             f"or {SITE_HEADER!r}")
    return names


def file_name(meter_id: str, day: date) -> str:
    """The name of the file holding ``meter_id``'s rows of local date ``day``."""
    return f"{meter_id}-{day.year:04d}-{day.month:02d}-{day.day:02d}.csv"


def csv_path(output_dir: Path, meter_id: str, day: date) -> Path:
    """:func:`file_name` in ``output_dir``."""
    return output_dir / file_name(meter_id, day)


LOCK_SUFFIX = ".lock"


def lock_path(output_dir: Path, meter_id: str) -> Path:
    """The lock file of the one process writing ``meter_id``'s files in ``output_dir``.

    Hidden, and outside :func:`file_glob`, so tools reading the CSVs never see it.
    """
    return output_dir / f".{meter_id}{LOCK_SUFFIX}"


def parse_file_name(name: Path | str) -> tuple[str, date]:
    """(meter_id, date) of a file name built by :func:`file_name`; a directory part is ignored.

    Raises:
        CsvFormatError: the name is not ``<METER_ID>-<YYYY>-<MM>-<DD>.csv`` with a real date.
    """
    base = Path(name).name
    match = _FILE_NAME.fullmatch(base)
    if match is None:
        raise CsvFormatError(f"{name}: file name is not <METER_ID>-<YYYY>-<MM>-<DD>.csv")
    try:
        day = date(int(match["year"]), int(match["month"]), int(match["day"]))
    except ValueError as exc:
        raise CsvFormatError(f"{name}: file name has no valid date ({exc})") from None
    return match["meter_id"], day


def file_glob(meter_id: str | None = None) -> str:
    """A ``Path.glob`` pattern of ``meter_id``'s files, or of every meter's when None.

    The fixed-width date keeps ``Meter_1``'s pattern off ``Meter_10``'s files.
    """
    return ("*" if meter_id is None else glob.escape(meter_id)) + _DATE_GLOB


def meter_files(output_dir: Path, meter_id: str | None = None) -> Iterator[tuple[str, date, Path]]:
    """(meter_id, date, path) of each CSV file of ``meter_id`` (None: of every meter) in
    ``output_dir``; a name that only looks like one (an impossible date) is passed over."""
    for path in output_dir.glob(file_glob(meter_id)):
        try:
            found, day = parse_file_name(path)
        except CsvFormatError:
            continue
        yield found, day, path
