"""Run the unittest suite (all of tests/, or the named folders or modules) and end with one count line.

`python -m unittest` runs the same tests; this adds the closing line
``LABEL: N passed, N failed, N skipped`` that CI reads to count them.
"""

from __future__ import annotations

import argparse
import sys
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--label", default="tests", help="word before the count line")
    parser.add_argument("names", nargs="*",
                        help="test folders (tests/unit) or modules (tests.integration.test_cluster)")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    loader = unittest.defaultTestLoader
    suite = unittest.TestSuite()
    for name in args.names or ["tests"]:
        folder = ROOT / name
        suite.addTests(loader.discover(str(folder), top_level_dir=str(ROOT)) if folder.is_dir()
                       else loader.loadTestsFromName(name))
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    skipped = len(result.skipped)
    print(f"{args.label}: {result.testsRun - failed - skipped} passed, {failed} failed, "
          f"{skipped} skipped")
    return 0 if result.wasSuccessful() and result.testsRun > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
