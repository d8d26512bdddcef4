"""Write pv_simulator/sunspec/points.json: the SunSpec point lists of the models the simulator serves.

Development tool only: it reads the model definitions that pysunspec2 (the SunSpec Alliance's
client, a test dependency) ships as JSON, so the package carries a copy of the offsets, sizes and
types instead of importing a test dependency at run time, and nothing is typed in by hand.
tests/unit/sunspec/test_points.py checks the copy against the same JSON. Run from the repository
root after a pysunspec2 upgrade:

    .venv/bin/python tools/make_sunspec_points.py
"""

from __future__ import annotations

import json
from pathlib import Path

import sunspec2

MODEL_IDS = (1, 101, 103, 120, 123, 124, 203)
TARGET = Path(__file__).resolve().parent.parent / "pv_simulator" / "sunspec" / "points.json"
FIELDS = ("name", "type", "size", "sf", "access", "mandatory", "units", "label")

def model_points(model_id: int) -> list[tuple[object, ...]]:
    """The (name, type, size, sf, access, mandatory, units, label) of a model's top-level points."""
    path = Path(sunspec2.__file__).parent / "models" / "json" / f"model_{model_id}.json"
    group = json.loads(path.read_text(encoding="utf-8"))["group"]
    return [(p["name"], p["type"], int(p["size"]), p.get("sf"), p.get("access", "R"),
             p.get("mandatory") == "M", p.get("units", ""), p.get("label", p["name"]))
            for p in group["points"]]


def main() -> None:
    version = getattr(sunspec2, "__version__", "")
    if not version:
        from importlib.metadata import version as dist_version
        version = dist_version("pysunspec2")
    data = {"source": f"pysunspec2 {version} (sunspec2/models/json), written by tools/make_sunspec_points.py",
            "fields": list(FIELDS),
            "models": {str(model_id): [list(point) for point in model_points(model_id)]
                       for model_id in MODEL_IDS}}
    TARGET.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {TARGET}")


if __name__ == "__main__":
    main()
