"""The configuration tables rendered from the schema, and the command that prints or rewrites them."""

from __future__ import annotations

import io
import shutil
import tempfile
import unittest
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

from pv_simulator.config import SCHEMA, SECTIONS, TABLES_END, TABLES_START, main, markdown_tables, with_markdown_tables


class MarkdownTest(unittest.TestCase):
    def test_tables_have_a_row_per_key_with_bounds_and_default(self) -> None:
        tables = markdown_tables()
        rows = [line for line in tables.splitlines() if line.startswith("| `")]
        self.assertEqual(len(rows), len(SCHEMA))
        self.assertIn("| `losses_pct` | number in [0, 100) | 14.08 |", tables)
        self.assertIn("| `peak_power_kw` | number in (0, 1000000] | 4 |", tables)
        self.assertIn("| `fsync` | `batch`, `always` or `never` | batch |", tables)
        for section in SECTIONS:
            self.assertIn(f"### `[{section}]`", tables)

    def test_block_between_markers_is_replaced(self) -> None:
        document = f"intro\n{TABLES_START}\nstale\n{TABLES_END}\noutro\n"
        updated = with_markdown_tables(document)
        self.assertEqual(updated, f"intro\n{TABLES_START}\n{markdown_tables()}\n{TABLES_END}\noutro\n")
        self.assertEqual(with_markdown_tables(updated), updated)
        with self.assertRaises(ValueError):
            with_markdown_tables("no markers here\n")

    def test_command_prints_or_updates_the_tables(self) -> None:
        out = io.StringIO()
        with redirect_stdout(out):
            self.assertEqual(main(["--markdown"]), 0)
        self.assertEqual(out.getvalue(), markdown_tables() + "\n")
        folder = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, folder, True)
        readme = folder / "README.md"
        readme.write_text(f"# x\n{TABLES_START}\nold\n{TABLES_END}\n", encoding="utf-8")
        self.assertEqual(main(["--update-readme", str(readme)]), 0)
        self.assertIn(markdown_tables(), readme.read_text(encoding="utf-8"))
        readme.write_text("# no markers\n", encoding="utf-8")
        with redirect_stderr(io.StringIO()) as err, self.assertRaises(SystemExit) as caught:
            main(["--update-readme", str(readme)])
        self.assertEqual(caught.exception.code, 2)
        self.assertIn("config-tables", err.getvalue())
