"""Per-meter energy and PV peak from the PV service's dated CSV files.

Reads ``<METER_ID>-<YYYY>-<MM>-<DD>.csv`` files (stdlib only) so a run can be
checked at a glance: did the meter draw a plausible daily energy, and did the
PV curve peak when and as high as expected?  Usable as
``python -m pv_simulator.summary CSV [CSV ...] [--timezone ZONE]``.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import math
import statistics
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

CSV_COLUMNS = ("meter_id", "time_s", "meter_power_value_w", "pv_power_value_kw", "sum_meter_pv_w")
DEFAULT_TIMEZONE = "Europe/Vienna"

# A reading holds until the next one, but at most this many median intervals:
# a gap in the data (service down) must not be filled with the last value,
# while ordinary jitter of the interval is still counted in full.
GAP_CAP_MEDIANS = 2.0


class CsvFormatError(ValueError):
    """A CSV file that is not in the PV service's format; the message names the file and line."""


class Row(NamedTuple):
    """One CSV row, typed."""

    meter_id: str
    time_s: float
    meter_power_value_w: float
    pv_power_value_kw: float
    sum_meter_pv_w: float


@dataclass(frozen=True)
class MeterSummary:
    """What one meter did over the rows given; pv_peak_time is local to the
    summary's zone, None when the PV never produced (a night-only file)."""

    meter_id: str
    rows: int
    meter_energy_kwh: float
    pv_energy_kwh: float
    pv_peak_kw: float
    pv_peak_time: datetime | None


def read_rows(paths: Iterable[Path | str]) -> list[Row]:
    """Rows of all files, in file order.

    A last line without a newline that does not parse is a row the service is
    still writing (or one torn by a crash, which the service cuts on restart),
    so it is skipped rather than rejected.

    Raises:
        OSError: a file cannot be read (the exception carries the file name).
        CsvFormatError: wrong header, wrong field count or a non-numeric value.
    """
    rows: list[Row] = []
    for path in map(Path, paths):
        rows.extend(_read_file(path))
    return rows


def _read_file(path: Path) -> list[Row]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise CsvFormatError(f"{path}: not UTF-8 text ({exc.reason})") from None
    lines = text.splitlines()
    if not lines:
        raise CsvFormatError(f"{path}: empty file, expected header {','.join(CSV_COLUMNS)}")
    header = next(csv.reader(lines[:1]))
    if tuple(name.strip() for name in header) != CSV_COLUMNS:
        raise CsvFormatError(f"{path}:1: header is {','.join(header)!r}, expected {','.join(CSV_COLUMNS)!r}")
    rows: list[Row] = []
    last_line_complete = text.endswith(("\n", "\r"))
    for line_no, record in enumerate(csv.reader(lines[1:]), start=2):
        if not record:
            continue
        try:
            rows.append(_parse(record))
        except ValueError as exc:
            if line_no == len(lines) and not last_line_complete:
                break
            raise CsvFormatError(f"{path}:{line_no}: {exc}") from None
    return rows


def _parse(record: list[str]) -> Row:
    if len(record) != len(CSV_COLUMNS):
        raise ValueError(f"{len(record)} fields, expected {len(CSV_COLUMNS)}")
    meter_id = record[0].strip()
    if not meter_id:
        raise ValueError("empty meter_id")
    values: list[float] = []
    for name, field in zip(CSV_COLUMNS[1:], record[1:], strict=False):
        try:
            value = float(field)
        except ValueError:
            raise ValueError(f"{name} is {field!r}, not a number") from None
        if not math.isfinite(value):
            raise ValueError(f"{name} is {field!r}, not a finite number")
        values.append(value)
    return Row(meter_id, *values)


def summarize(rows: Iterable[Row], tz: ZoneInfo) -> dict[str, MeterSummary]:
    """Energy and PV peak per meter id, sorted by id.

    Energy integrates power over time, each reading holding until the next one
    (capped at GAP_CAP_MEDIANS median intervals) and the last one for the
    median interval, so a day of 1 s readings counts the whole day.
    """
    by_meter: dict[str, list[Row]] = {}
    for row in rows:
        by_meter.setdefault(row.meter_id, []).append(row)
    summaries: dict[str, MeterSummary] = {}
    for meter_id in sorted(by_meter):
        meter_rows = sorted(by_meter[meter_id], key=lambda row: row.time_s)
        holds_s = hold_durations_s([row.time_s for row in meter_rows])
        meter_energy_kwh = sum(r.meter_power_value_w * s for r, s in zip(meter_rows, holds_s, strict=False)) / 3.6e6
        pv_energy_kwh = sum(r.pv_power_value_kw * s for r, s in zip(meter_rows, holds_s, strict=False)) / 3600.0
        peak = max(meter_rows, key=lambda row: row.pv_power_value_kw)
        has_pv = peak.pv_power_value_kw > 0.0
        summaries[meter_id] = MeterSummary(
            meter_id=meter_id,
            rows=len(meter_rows),
            meter_energy_kwh=meter_energy_kwh,
            pv_energy_kwh=pv_energy_kwh,
            pv_peak_kw=peak.pv_power_value_kw,
            pv_peak_time=datetime.fromtimestamp(peak.time_s, tz) if has_pv else None,
        )
    return summaries


def hold_durations_s(times_s: Sequence[float]) -> list[float]:
    """How long each reading of a time-sorted series counts for, in seconds."""
    intervals_s = [later - earlier for earlier, later in itertools.pairwise(times_s)]
    positive_s = [interval for interval in intervals_s if interval > 0]
    if not positive_s:
        return [0.0] * len(times_s)
    median_s = statistics.median(positive_s)
    cap_s = GAP_CAP_MEDIANS * median_s
    return [min(interval, cap_s) for interval in intervals_s] + [median_s]


def format_summary(summaries: Mapping[str, MeterSummary] | Iterable[MeterSummary]) -> str:
    """A plain-text table, one line per meter, for a terminal or a log."""
    items = list(summaries.values() if isinstance(summaries, Mapping) else summaries)
    id_width = max([len("meter_id"), *(len(s.meter_id) for s in items)])
    lines = [f"{'meter_id':<{id_width}}  {'rows':>7}  {'meter_kWh':>9}  {'pv_kWh':>8}  {'pv_peak_kW':>10}  peak_at"]
    for s in sorted(items, key=lambda summary: summary.meter_id):
        peak_at = s.pv_peak_time.strftime("%H:%M") if s.pv_peak_time is not None else "-"
        lines.append(
            f"{s.meter_id:<{id_width}}  {s.rows:>7d}  {s.meter_energy_kwh:>9.3f}  {s.pv_energy_kwh:>8.3f}"
            f"  {s.pv_peak_kw:>10.3f}  {peak_at}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the summary table; bad input is one line on stderr and exit 2."""
    parser = argparse.ArgumentParser(
        prog="python -m pv_simulator.summary", description="Per-meter energy and PV peak from PV service CSV files."
    )
    parser.add_argument("csv", nargs="+", type=Path, help="PV service CSV files")
    parser.add_argument(
        "--timezone", default=DEFAULT_TIMEZONE, help=f"IANA zone of the site (default {DEFAULT_TIMEZONE})"
    )
    args = parser.parse_args(argv)
    try:
        tz = ZoneInfo(args.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        print(f"error: unknown time zone {args.timezone!r}", file=sys.stderr)
        return 2
    try:
        rows = read_rows(args.csv)
    except OSError as exc:
        print(f"error: cannot read {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 2
    except CsvFormatError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not rows:
        print(f"error: no rows in {', '.join(map(str, args.csv))}", file=sys.stderr)
        return 2
    print(format_summary(summarize(rows, tz)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
