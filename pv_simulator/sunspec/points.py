"""The SunSpec point lists of the models served, as pysunspec2's model definitions give them.

The lists are package data (``points.json``) written by tools/make_sunspec_points.py from the
JSON model definitions pysunspec2 ships (the SunSpec Alliance's own), so the package needs no
test dependency at run time; tests/unit/sunspec/test_points.py checks them against it. Each
model's points are in register order from its ID (offset 0).
"""

from __future__ import annotations

import json
from importlib import resources
from typing import NamedTuple


class Point(NamedTuple):
    """One SunSpec point: ``sf`` names its scale-factor point, ``access`` is R or RW."""

    name: str
    type: str
    size: int
    sf: str | None
    access: str
    mandatory: bool
    units: str
    label: str


def _load() -> dict[int, tuple[Point, ...]]:
    data = json.loads(resources.files(__package__).joinpath("points.json").read_text(encoding="utf-8"))
    return {int(model_id): tuple(Point(*point) for point in points)
            for model_id, points in data["models"].items()}


MODELS: dict[int, tuple[Point, ...]] = _load()
