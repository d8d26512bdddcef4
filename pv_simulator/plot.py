"""One-day plot of PV power, meter power and their sum (optional, needs matplotlib).

``python -m pv_simulator.plot CSV [CSV ...] -o PNG [--timezone ZONE] [--reference CURVE_CSV]``

matplotlib is imported only here and only when drawing, so the services never
depend on it.  All powers are drawn in kW on one axis: PV, consumption and
their sum are then directly comparable, which two axes would hide.  The x axis
is real time labelled with the site's local clock (a DST day is 23 or 25 h
long), as in the challenge chart;
``--reference`` overlays that chart's curve for comparison. Files of a site (battery, export
limit or control) add the grid's and the battery's power on the same axis (they take both
signs) and, for one meter, the state of charge on a second axis.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pv_simulator.models.challenge_curve import read_curve
from pv_simulator.storage.csv_format import Row
from pv_simulator.summary import TIMEZONE_DEFAULT_HELP, hold_durations_s, read_rows, summarize, timezone_or_local

if TYPE_CHECKING:
    from matplotlib.axes import Axes

INSTALL_HINT = "matplotlib is not installed: pip install -r requirements-plot.txt"

# 1 s meter readings are a dense band at plot scale; a 15-minute mean on top
# shows the consumption shape. Used when readings are closer than this.
MEAN_WINDOW_S = 900.0
DENSE_INTERVAL_S = 300.0

COLORS = {"pv": "#e69f00", "meter": "#0072b2", "sum": "#009e73", "reference": "black",
          "grid": "#cc79a7", "battery": "#56b4e9", "soc": "#999999"}
LINE_STYLES = {"pv": "-", "meter": "--", "sum": ":", "grid": "-.", "battery": (0, (1, 3))}


class MatplotlibMissingError(ImportError):
    """matplotlib is not installed; the message says how to install it."""


def plot_day(
    csv_paths: Iterable[Path | str],
    png_path: Path | str,
    *,
    tz: ZoneInfo,
    title: str | None = None,
    reference_csv: Path | str | None = None,
) -> None:
    """Write a PNG of PV kW, meter kW and their sum over local time of day.

    Raises:
        OSError: an input cannot be read or the PNG cannot be written.
        ValueError: a CSV is malformed (CsvFormatError, CurveFormatError) or holds no rows.
        MatplotlibMissingError: matplotlib is not installed.
    """
    paths = [Path(path) for path in csv_paths]
    rows = read_rows(paths)
    if not rows:
        raise ValueError(f"no rows in {', '.join(map(str, paths))}")
    reference = read_curve(reference_csv) if reference_csv is not None else None
    pyplot = _import_pyplot()
    from matplotlib import dates as mdates

    by_meter: dict[str, list[Row]] = {}
    for row in sorted(rows, key=lambda row: row.time_s):
        by_meter.setdefault(row.meter_id, []).append(row)
    summaries = summarize(rows, tz)
    first_day = datetime.fromtimestamp(min(row.time_s for row in rows), tz).date()
    last_day = datetime.fromtimestamp(max(row.time_s for row in rows), tz).date()

    figure, axes = pyplot.subplots(figsize=(12, 6.5), dpi=110)
    single = len(by_meter) == 1
    for index, (meter_id, meter_rows) in enumerate(by_meter.items()):
        summary = summaries[meter_id]
        peak = f", peak {summary.pv_peak_kw:.2f} kW"
        if summary.pv_peak_time is not None:
            peak += f" at {summary.pv_peak_time:%H:%M}"
        labels = {
            "pv": f"PV ({summary.pv_energy_kwh:.1f} kWh{peak})",
            "meter": f"meter ({summary.meter_energy_kwh:.1f} kWh)",
            "sum": "meter + PV",
        }
        if not single:
            labels = {key: f"{meter_id}: {label}" for key, label in labels.items()}
        _draw_meter(axes, meter_rows, labels, color=None if single else f"C{index}")
    if reference is not None and reference_csv is not None:
        reference_x = _date_numbers(
            [datetime.combine(first_day, local_time, tzinfo=tz).timestamp() for local_time, _ in reference]
        )
        axes.plot(
            reference_x,
            [power_kw for _, power_kw in reference],
            color=COLORS["reference"],
            linestyle="--",
            marker="o",
            markersize=3.5,
            linewidth=1.4,
            label=f"reference: {Path(reference_csv).stem}",
            zorder=5,
        )

    axes.set_xlim(
        *_date_numbers(
            [
                datetime.combine(first_day, time(), tzinfo=tz).timestamp(),
                datetime.combine(last_day + timedelta(days=1), time(), tzinfo=tz).timestamp(),
            ]
        )
    )
    axes.xaxis.set_major_locator(mdates.HourLocator(byhour=range(0, 24, 2), tz=tz))
    axes.xaxis.set_minor_locator(mdates.HourLocator(tz=tz))
    axes.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M", tz=tz))
    sites = [meter_rows for meter_rows in by_meter.values() if meter_rows[0].grid_power_w is not None]
    if not sites:
        axes.set_ylim(bottom=0.0)
    elif single:
        soc_axes = axes.twinx()
        soc_axes.plot(_date_numbers([row.time_s for row in sites[0]]),
                      [row.battery_soc_pct for row in sites[0]], color=COLORS["soc"], linewidth=1.0,
                      label="battery state of charge")
        soc_axes.set_ylim(0.0, 100.0)
        soc_axes.set_ylabel("state of charge [%]")
        soc_axes.legend(loc="upper right", fontsize=9, framealpha=0.9)
    axes.set_xlabel(f"local time ({tz.key})")
    axes.set_ylabel("power [kW]")
    axes.grid(True, which="major", alpha=0.35)
    axes.grid(True, which="minor", alpha=0.12)
    axes.legend(loc="upper left", fontsize=9, framealpha=0.9)
    axes.set_title(title if title is not None else _default_title(list(by_meter), tz, first_day, last_day))
    figure.tight_layout()
    png_path = Path(png_path)
    png_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        figure.savefig(png_path)
    finally:
        pyplot.close(figure)


def _draw_meter(axes: Axes, rows: list[Row], labels: dict[str, str], color: str | None) -> None:
    """Draw one meter's curves; with several meters, colour tells meters apart
    and the line style tells the quantity."""
    x = _date_numbers([row.time_s for row in rows])
    meter_kw = [row.meter_power_value_w / 1000.0 for row in rows]
    sum_kw = [row.sum_meter_pv_w / 1000.0 for row in rows]
    pv_kw = [row.pv_power_value_kw for row in rows]
    holds_s = hold_durations_s([row.time_s for row in rows])
    dense = len(rows) > 1 and sorted(holds_s)[len(holds_s) // 2] < DENSE_INTERVAL_S

    def style(quantity: str) -> dict[str, Any]:
        if color is None:
            return {"color": COLORS[quantity]}
        return {"color": color, "linestyle": LINE_STYLES[quantity]}

    if dense:
        if color is None:
            axes.plot(x, meter_kw, linewidth=0.4, alpha=0.3, color=COLORS["meter"], label="meter (raw readings)")
        mean_x, mean_meter_kw, mean_sum_kw = _window_means(rows)
        axes.plot(mean_x, mean_meter_kw, linewidth=1.6, label=labels["meter"] + ", 15-min mean", **style("meter"))
        axes.plot(mean_x, mean_sum_kw, linewidth=1.6, label=labels["sum"] + ", 15-min mean", **style("sum"))
    else:
        axes.plot(x, meter_kw, linewidth=1.4, label=labels["meter"], **style("meter"))
        axes.plot(x, sum_kw, linewidth=1.4, label=labels["sum"], **style("sum"))
    axes.plot(x, pv_kw, linewidth=2.2, label=labels["pv"], **style("pv"))
    if rows[0].grid_power_w is not None:
        prefix = labels["pv"].split(": ")[0] + ": " if color is not None else ""
        axes.plot(x, [(row.grid_power_w or 0.0) / 1000.0 for row in rows], linewidth=1.2,
                  label=prefix + "grid (+ drawn, - fed in)", **style("grid"))
        axes.plot(x, [(row.battery_power_w or 0.0) / 1000.0 for row in rows], linewidth=1.2,
                  label=prefix + "battery (+ charging)", **style("battery"))


def _window_means(rows: list[Row]) -> tuple[list[float], list[float], list[float]]:
    """Means of meter and sum power per 15-minute window, placed mid-window."""
    sums: dict[int, list[float]] = {}
    for row in rows:
        window = int(row.time_s // MEAN_WINDOW_S)
        acc = sums.setdefault(window, [0.0, 0.0, 0.0])
        acc[0] += row.meter_power_value_w
        acc[1] += row.sum_meter_pv_w
        acc[2] += 1.0
    windows = sorted(sums)
    x = _date_numbers([(w + 0.5) * MEAN_WINDOW_S for w in windows])
    meter_kw = [sums[w][0] / sums[w][2] / 1000.0 for w in windows]
    sum_kw = [sums[w][1] / sums[w][2] / 1000.0 for w in windows]
    return x, meter_kw, sum_kw


def _date_numbers(times_s: list[float]) -> list[float]:
    """Epoch seconds as matplotlib date numbers (days since matplotlib's date
    epoch); plain floats draw fast, and the axis locator and formatter label
    them in the site's zone."""
    from matplotlib import dates as mdates

    unix_epoch_days = float(mdates.date2num(datetime(1970, 1, 1, tzinfo=timezone.utc)))
    return [unix_epoch_days + time_s / 86400.0 for time_s in times_s]


def _default_title(meter_ids: list[str], tz: ZoneInfo, first_day: date, last_day: date) -> str:
    days = first_day.isoformat() if first_day == last_day else f"{first_day.isoformat()} to {last_day.isoformat()}"
    return f"PV simulator: {', '.join(meter_ids)} | {tz.key} | {days}"


def _import_pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise MatplotlibMissingError(INSTALL_HINT) from None
    matplotlib.use("Agg")
    from matplotlib import pyplot

    return pyplot


def main(argv: Sequence[str] | None = None) -> int:
    """CLI; any failure is one line on stderr and exit 2."""
    parser = argparse.ArgumentParser(
        prog="python -m pv_simulator.plot", description="Plot PV, meter and sum power over a day to a PNG."
    )
    parser.add_argument("csv", nargs="+", type=Path, help="PV service CSV files (one meter and day, or several)")
    parser.add_argument("-o", "--output", required=True, type=Path, help="PNG file to write")
    parser.add_argument("--timezone", help=f"IANA zone of the site (default: {TIMEZONE_DEFAULT_HELP})")
    parser.add_argument("--reference", type=Path, help="reference curve CSV (local_time,pv_power_kw) to overlay")
    parser.add_argument("--title", help="plot title (default: meter ids, zone and date)")
    args = parser.parse_args(argv)
    try:
        tz = timezone_or_local(args.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return _fail(f"unknown time zone {args.timezone!r}")
    try:
        plot_day(args.csv, args.output, tz=tz, title=args.title, reference_csv=args.reference)
    except MatplotlibMissingError as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"{exc.filename}: {exc.strerror}" if exc.filename else str(exc))
    except ValueError as exc:
        return _fail(str(exc))
    return 0


def _fail(message: str) -> int:
    print(f"error: {' '.join(message.split())}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
