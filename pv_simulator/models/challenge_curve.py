"""The challenge's digitized PV curve, and any curve in its ``local_time,pv_power_kw`` format.

One reader serves both the reference PV model (which replays the curve) and the plot
(which overlays it), so the two cannot read the same file differently.
"""

from __future__ import annotations

import csv
import math
from datetime import time
from pathlib import Path

CHALLENGE_CURVE_PATH = Path(__file__).resolve().parent / "data" / "challenge_curve.csv"
COLUMNS = ("local_time", "pv_power_kw")


class CurveFormatError(ValueError):
    """A curve file not in ``local_time,pv_power_kw`` format; the message names the file and line."""


def read_curve(path: Path | str = CHALLENGE_CURVE_PATH) -> tuple[tuple[time, float], ...]:
    """(local time of day, PV kW) points of a curve file, in time order.

    Raises:
        OSError: the file cannot be read.
        CurveFormatError: wrong header, a value that does not parse, or no points.
    """
    path = Path(path)
    with path.open(newline="", encoding="utf-8") as stream:
        reader = csv.reader(stream)
        header = next(reader, None)
        if header is None or tuple(name.strip() for name in header) != COLUMNS:
            raise CurveFormatError(f"{path}:1: expected header {','.join(COLUMNS)}")
        points: list[tuple[time, float]] = []
        for record in reader:
            if not record:
                continue
            try:
                local_time, power_kw = record
                point = (time.fromisoformat(local_time.strip()), float(power_kw))
            except ValueError:
                raise CurveFormatError(
                    f"{path}:{reader.line_num}: expected HH:MM,kW, got {','.join(record)!r}") from None
            if not math.isfinite(point[1]) or point[1] < 0.0:
                raise CurveFormatError(f"{path}:{reader.line_num}: power {power_kw!r} is not >= 0 kW")
            points.append(point)
    if not points:
        raise CurveFormatError(f"{path}: no points")
    return tuple(sorted(points))


def minute_of_day(local_time: time) -> float:
    """Minutes since local midnight, the curve's x axis in the reference model."""
    return local_time.hour * 60.0 + local_time.minute + local_time.second / 60.0
