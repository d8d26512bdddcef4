"""The README's configuration tables are the ones the schema renders."""

from __future__ import annotations

import unittest

from pv_simulator.config import TABLES_END, TABLES_START, markdown_tables
from tests.paths import ROOT

README = ROOT / "README.md"


class ReadmeConfigTablesTest(unittest.TestCase):
    maxDiff = None

    def test_readme_block_is_what_the_schema_renders(self) -> None:
        text = README.read_text(encoding="utf-8")
        self.assertEqual(text.count(TABLES_START), 1, f"README.md needs one {TABLES_START}")
        self.assertEqual(text.count(TABLES_END), 1, f"README.md needs one {TABLES_END}")
        block = text.split(TABLES_START, 1)[1].split(TABLES_END, 1)[0]
        self.assertEqual(
            block, f"\n{markdown_tables()}\n",
            "README.md's configuration tables differ from pv_simulator/config.py's SCHEMA; "
            "regenerate them with: python -m pv_simulator.config --update-readme README.md")


if __name__ == "__main__":
    unittest.main()
