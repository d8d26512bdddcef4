"""The package's copy of the SunSpec model definitions is pysunspec2's, point for point."""

from __future__ import annotations

import json
import unittest
from pathlib import Path

import sunspec2

from pv_simulator.sunspec.points import MODELS, Point


def pysunspec2_points(model_id: int) -> list[Point]:
    path = Path(sunspec2.__file__).parent / "models" / "json" / f"model_{model_id}.json"
    group = json.loads(path.read_text(encoding="utf-8"))["group"]
    return [Point(p["name"], p["type"], int(p["size"]), p.get("sf"), p.get("access", "R"),
                  p.get("mandatory") == "M", p.get("units", ""), p.get("label", p["name"]))
            for p in group["points"]]


class PointsTest(unittest.TestCase):
    maxDiff = None

    def test_every_model_matches_pysunspec2(self) -> None:
        for model_id, points in MODELS.items():
            with self.subTest(model=model_id):
                self.assertEqual(list(points), pysunspec2_points(model_id),
                                 "regenerate with: .venv/bin/python tools/make_sunspec_points.py")

    def test_models_have_no_repeating_groups(self) -> None:
        """The map lays out top-level points only; a model with groups would need more."""
        for model_id in MODELS:
            path = Path(sunspec2.__file__).parent / "models" / "json" / f"model_{model_id}.json"
            self.assertNotIn("groups", json.loads(path.read_text(encoding="utf-8"))["group"])


if __name__ == "__main__":
    unittest.main()
