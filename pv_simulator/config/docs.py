"""The configuration keys as Markdown tables, rendered from :data:`SCHEMA`, and the command
(``python -m pv_simulator.config``) that prints them or rewrites them in a document."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from pv_simulator.config.schema import SCHEMA, SECTIONS

TABLES_START = "<!-- config-tables:start -->"
TABLES_END = "<!-- config-tables:end -->"


def markdown_tables() -> str:
    """The README's configuration tables, one per section, rendered from :data:`SCHEMA`."""
    blocks = []
    for section in SECTIONS:
        rows = [f"| `{key.name}` | {key.describe()} | {key.shown()} | {key.meaning} |"
                for key in SCHEMA if key.section == section]
        blocks.append("\n".join([f"### `[{section}]`", "", "| key | value | default | meaning |",
                                 "|---|---|---|---|", *rows]))
    return "\n\n".join(blocks)


def with_markdown_tables(document: str) -> str:
    """``document`` with the text between the config-tables markers replaced by the tables.

    Raises:
        ValueError: the document lacks a start marker followed by an end marker.
    """
    before, start, rest = document.partition(TABLES_START)
    _, end, after = rest.partition(TABLES_END)
    if not (start and end):
        raise ValueError(f"no {TABLES_START} ... {TABLES_END} block")
    return f"{before}{TABLES_START}\n{markdown_tables()}\n{TABLES_END}{after}"


def main(argv: Sequence[str] | None = None) -> int:
    """Print the configuration tables, or rewrite them in a README."""
    parser = argparse.ArgumentParser(prog="python -m pv_simulator.config",
                                     description="The configuration keys as Markdown tables.")
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--markdown", action="store_true", help="print the tables")
    action.add_argument("--update-readme", metavar="FILE", type=Path,
                        help=f"replace the tables between {TABLES_START} and {TABLES_END}")
    args = parser.parse_args(argv)
    if args.markdown:
        print(markdown_tables())
        return 0
    readme: Path = args.update_readme
    try:
        readme.write_text(with_markdown_tables(readme.read_text(encoding="utf-8")),
                          encoding="utf-8")
    except (OSError, ValueError) as exc:
        parser.error(f"{readme}: {exc}")
    return 0
