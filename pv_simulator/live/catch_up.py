"""The live view's start from what is already written: the PV service's CSV files.

The results stream only carries rows published after the view subscribed; ``--output-dir``
reads the rows already in the files first, so a view started (or restarted) mid-run shows
the window at once. Bounded: per meter only the files of the last dates the window can
reach are read, newest date first backwards until a file ends before the window.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import date
from pathlib import Path

from pv_simulator.live.aggregate import Aggregator, Reading
from pv_simulator.storage.csv_format import CsvFormatError, meter_files, parse_row

log = logging.getLogger(__name__)


def _rows(path: Path) -> list[Reading]:
    """The complete rows of one file as readings; a torn last line or a bad line is left out."""
    readings: list[Reading] = []
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            handle.readline()
            for line in handle:
                if not line.endswith("\n"):
                    break
                try:
                    row = parse_row(line, path)
                except CsvFormatError:
                    continue
                readings.append(Reading(row.meter_id, row.time_s, row.meter_power_value_w,
                                        row.pv_power_value_kw,
                                        row.meter_power_value_w - row.pv_power_value_kw * 1000.0))
    except OSError as exc:
        log.warning("%s: cannot read for the catch-up: %s", path, exc.strerror)
    return readings


def catch_up(aggregator: Aggregator, output_dir: Path) -> int:
    """Feed the rows of ``output_dir`` within the window into ``aggregator``; the rows fed."""
    days: dict[str, list[tuple[date, Path]]] = defaultdict(list)
    for meter_id, day, path in meter_files(output_dir):
        days[meter_id].append((day, path))
    # Newest files first per meter, so the window's start is known before older files are opened.
    chosen: list[list[Reading]] = []
    latest = float("-inf")
    for files in days.values():
        for _, path in sorted(files, reverse=True):
            readings = _rows(path)
            if not readings:
                continue
            latest = max(latest, readings[-1].time_s)
            chosen.append(readings)
            if readings[0].time_s <= latest - aggregator.window_s:
                break
    fed = 0
    start = latest - aggregator.window_s
    for reading in sorted((r for readings in chosen for r in readings if r.time_s >= start),
                          key=lambda r: r.time_s):
        fed += aggregator.ingest(reading)
    if fed:
        log.info("caught up on %d written row(s) of %d meter(s) from %s", fed, len(days), output_dir)
    return fed
