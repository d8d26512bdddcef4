"""The configuration keys as Markdown tables, rendered from :data:`SCHEMA`, and the command
(``python -m pv_simulator.config``) that prints them or rewrites them in a document."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
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


def with_block(document: str, start_marker: str, end_marker: str, content: str) -> str:
    """``document`` with the text between the two markers replaced by ``content``: a generated
    block (these tables, the SunSpec register map) in a hand-written page.

    Raises:
        ValueError: the document lacks a start marker followed by an end marker.
    """
    before, start, rest = document.partition(start_marker)
    _, end, after = rest.partition(end_marker)
    if not (start and end):
        raise ValueError(f"no {start_marker} ... {end_marker} block")
    return f"{before}{start_marker}\n{content}\n{end_marker}{after}"


def with_markdown_tables(document: str) -> str:
    """``document`` with the text between the config-tables markers replaced by the tables."""
    return with_block(document, TABLES_START, TABLES_END, markdown_tables())


def block_command(prog: str, description: str, render: Callable[[], str],
                  rewrite: Callable[[str], str], option: str, argv: Sequence[str] | None) -> int:
    """A generated block's command: ``--markdown`` prints it, ``option FILE`` rewrites it in FILE."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--markdown", action="store_true", help="print it")
    action.add_argument(option, metavar="FILE", type=Path, dest="document",
                        help="replace it between its markers in FILE")
    args = parser.parse_args(argv)
    if args.markdown:
        print(render())
        return 0
    document: Path = args.document
    try:
        document.write_text(rewrite(document.read_text(encoding="utf-8")), encoding="utf-8")
    except (OSError, ValueError) as exc:
        parser.error(f"{document}: {exc}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Print the configuration tables, or rewrite them in a README."""
    return block_command("python -m pv_simulator.config", "The configuration keys as Markdown tables.",
                         markdown_tables, with_markdown_tables, "--update-readme", argv)
