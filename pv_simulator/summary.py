"""Per-meter energy (consumption, PV, grid import and export) and PV peak from the PV service's
dated CSV files; for sites also the battery and the self-consumption and autarky shares.

Reads ``<METER_ID>-<YYYY>-<MM>-<DD>.csv`` files (stdlib only) so a run can be
checked at a glance: did the meter draw a plausible daily energy, and did the
PV curve peak when and as high as expected?  Usable as
``python -m pv_simulator.summary CSV [CSV ...] [--timezone ZONE]``.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pv_simulator.config import local_timezone
from pv_simulator.storage.csv_format import HEADER, CsvFormatError, Row, check_header, parse_row

# A reading holds until the next one, but at most this many median intervals:
# a gap in the data (service down) must not be filled with the last value,
# while ordinary jitter of the interval is still counted in full.
GAP_CAP_MEDIANS = 2.0


TIMEZONE_DEFAULT_HELP = "the machine's zone, as the services: TZ, else /etc/localtime, else UTC"


def timezone_or_local(name: str | None) -> ZoneInfo:
    """Zone ``name``, or the services' default zone when None, so the summary's dates match the files'.

    Raises:
        ZoneInfoNotFoundError, ValueError: ``name`` is no IANA zone.
    """
    return local_timezone() if name is None else ZoneInfo(name)


@dataclass(frozen=True)
class SiteSummary:
    """A site's battery energy and its shares (docs/site.md).

    ``self_consumption_pct``: the share of the PV delivered used on site (not exported), None
    without PV; ``autarky_pct``: the share of the household covered without the grid.
    """

    battery_charged_kwh: float
    battery_discharged_kwh: float
    self_consumption_pct: float | None
    autarky_pct: float | None


_KWH_PER_WS = 1.0 / 3.6e6


def grid_energy_kwh(rows: Sequence[Row], holds_s: Sequence[float]) -> tuple[float, float]:
    """Energy drawn from and fed into the grid by time-sorted rows, each held for ``holds_s``:
    a site row's grid power is its own column (the battery in it), a plain row's meter - PV."""
    drawn = fed = 0.0
    for row, hold_s in zip(rows, holds_s, strict=True):
        grid_w = (row.meter_power_value_w - row.pv_power_value_kw * 1000.0 if row.grid_power_w is None
                  else row.grid_power_w)
        if grid_w > 0.0:
            drawn += grid_w * hold_s
        else:
            fed -= grid_w * hold_s
    return drawn * _KWH_PER_WS, fed * _KWH_PER_WS


def summarize_site(rows: Sequence[Row], holds_s: Sequence[float], grid_import_kwh: float,
                   grid_export_kwh: float) -> SiteSummary | None:
    """The site part of one meter's time-sorted rows, each held for ``holds_s``, with their grid
    energy; None for a plain meter."""
    if not rows or rows[0].grid_power_w is None:
        return None
    battery = [(r.battery_power_w or 0.0) * s * _KWH_PER_WS for r, s in zip(rows, holds_s, strict=True)]
    pv_kwh = sum(r.pv_power_value_kw * 1000.0 * s * _KWH_PER_WS for r, s in zip(rows, holds_s, strict=True))
    household_kwh = sum(r.meter_power_value_w * s * _KWH_PER_WS for r, s in zip(rows, holds_s, strict=True))
    return SiteSummary(
        battery_charged_kwh=sum(e for e in battery if e > 0.0),
        battery_discharged_kwh=-sum(e for e in battery if e < 0.0),
        self_consumption_pct=100.0 * (pv_kwh - grid_export_kwh) / pv_kwh if pv_kwh > 0.0 else None,
        autarky_pct=(100.0 * max(0.0, household_kwh - grid_import_kwh) / household_kwh
                     if household_kwh > 0.0 else None))


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
    site: SiteSummary | None = None
    grid_import_kwh: float = 0.0
    grid_export_kwh: float = 0.0


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
        raise CsvFormatError(f"{path}: empty file, expected header {HEADER}")
    columns = check_header(lines[0], path)
    rows: list[Row] = []
    last_line_complete = text.endswith(("\n", "\r"))
    for line_no, line in enumerate(lines[1:], start=2):
        if not line:
            continue
        try:
            rows.append(parse_row(line, path, line_no, columns))
        except CsvFormatError:
            if line_no == len(lines) and not last_line_complete:
                break
            raise
    return rows


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
        grid_import_kwh, grid_export_kwh = grid_energy_kwh(meter_rows, holds_s)
        summaries[meter_id] = MeterSummary(
            meter_id=meter_id,
            rows=len(meter_rows),
            meter_energy_kwh=meter_energy_kwh,
            pv_energy_kwh=pv_energy_kwh,
            pv_peak_kw=peak.pv_power_value_kw,
            pv_peak_time=datetime.fromtimestamp(peak.time_s, tz) if has_pv else None,
            site=summarize_site(meter_rows, holds_s, grid_import_kwh, grid_export_kwh),
            grid_import_kwh=grid_import_kwh,
            grid_export_kwh=grid_export_kwh,
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
    sites = any(s.site is not None for s in items)
    site_head = "  batt_in_kWh  batt_out_kWh  self_cons_%  autarky_%" if sites else ""
    lines = [f"{'meter_id':<{id_width}}  {'rows':>7}  {'meter_kWh':>9}  {'pv_kWh':>8}  {'pv_peak_kW':>10}  "
             f"peak_at  grid_in_kWh  grid_out_kWh{site_head}"]
    for s in sorted(items, key=lambda summary: summary.meter_id):
        peak_at = s.pv_peak_time.strftime("%H:%M") if s.pv_peak_time is not None else "-"
        lines.append(
            f"{s.meter_id:<{id_width}}  {s.rows:>7d}  {s.meter_energy_kwh:>9.3f}  {s.pv_energy_kwh:>8.3f}"
            f"  {s.pv_peak_kw:>10.3f}  {peak_at:<7}  {s.grid_import_kwh:>11.3f}  {s.grid_export_kwh:>12.3f}"
            + (_site_columns(s.site) if sites else "")
        )
    return "\n".join(line.rstrip() for line in lines)


def _site_columns(site: SiteSummary | None) -> str:
    if site is None:
        return ""

    def share(value: float | None, width: int) -> str:
        return f"{'-':>{width}}" if value is None else f"{value:>{width}.1f}"

    return (f"  {site.battery_charged_kwh:>11.3f}  {site.battery_discharged_kwh:>12.3f}  "
            f"{share(site.self_consumption_pct, 11)}  {share(site.autarky_pct, 9)}")


def main(argv: Sequence[str] | None = None) -> int:
    """Print the summary table; bad input is one line on stderr and exit 2."""
    parser = argparse.ArgumentParser(
        prog="python -m pv_simulator.summary", description="Per-meter energy and PV peak from PV service CSV files."
    )
    parser.add_argument("csv", nargs="+", type=Path, help="PV service CSV files")
    parser.add_argument("--timezone", help=f"IANA zone of the site (default: {TIMEZONE_DEFAULT_HELP})")
    args = parser.parse_args(argv)
    try:
        tz = timezone_or_local(args.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        print(f"error: unknown time zone {args.timezone!r}", file=sys.stderr)
        return 2
    rows = read_rows_or_say(args.csv)
    if rows is None:
        return 2
    print(format_summary(summarize(rows, tz)))
    return 0


def read_rows_or_say(paths: Sequence[Path | str]) -> list[Row] | None:
    """A command's CSV files' rows; None after one line on stderr saying what is wrong (the
    command exits 2): a file it cannot read, one not in the format, or no rows at all."""
    try:
        rows = read_rows(paths)
    except OSError as exc:
        print(f"error: cannot read {exc.filename}: {exc.strerror}", file=sys.stderr)
        return None
    except CsvFormatError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None
    if not rows:
        print(f"error: no rows in {', '.join(map(str, paths))}", file=sys.stderr)
        return None
    return rows


if __name__ == "__main__":
    sys.exit(main())
