"""The variable sky is the same in every process, whatever its hash seed."""

from __future__ import annotations

import os
import subprocess
import sys
import unittest
from datetime import date

from pv_simulator.models.sky_climate import default_sky
from tests.paths import ROOT

FIRST_DAY = date(2026, 1, 1).toordinal()


class ProcessReproducibilityTest(unittest.TestCase):
    def test_same_values_in_another_process_with_other_hash_seed(self) -> None:
        code = ("from pv_simulator.models.sky_climate import default_sky; "
                "s = default_sky(seed=3, latitude_deg=48.2); "
                f"print(repr(s.clear_sky_index({FIRST_DAY + 100}, 777.25)), "
                f"repr(s.daily_clearness({FIRST_DAY})))")
        outputs = set()
        for hash_seed in ("1", "2"):
            result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                    check=True, cwd=ROOT,
                                    env={**os.environ, "PYTHONHASHSEED": hash_seed})
            outputs.add(result.stdout)
        sky = default_sky(seed=3, latitude_deg=48.2)
        self.assertEqual(outputs, {(f"{sky.clear_sky_index(FIRST_DAY + 100, 777.25)!r} "
                                   f"{sky.daily_clearness(FIRST_DAY)!r}\n")})


if __name__ == "__main__":
    unittest.main()
