"""The README and the manual in docs/: generated tables current, every relative link resolving.

The README is the front page and docs/ the manual; both are read on GitHub, so a link or an
anchor that does not resolve there is a broken page, and tables that lag the schema are wrong.
"""

from __future__ import annotations

import re
import tempfile
import unittest
from pathlib import Path
from urllib.parse import unquote

from pv_simulator.config import TABLES_END, TABLES_START, markdown_tables
from pv_simulator.sunspec.docs import MAP_END, MAP_START, markdown_map
from pv_simulator.sunspec.register_map import DeviceMap, Nameplate
from tests.paths import ROOT

README = ROOT / "README.md"
DOCS = ROOT / "docs"
CONFIGURATION = DOCS / "configuration.md"
SUNSPEC = DOCS / "sunspec.md"
README_MAX_LINES = 250

_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")
_CODE_SPAN = re.compile(r"(`+).*?\1")
_INLINE_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_LINK_DEFINITION = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?([^\s>]+)>?")
_LINK_TEXT = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def _prose_lines(text: str) -> list[str]:
    """The lines outside fenced code blocks: a `#` or `](` inside code is no heading or link."""
    lines: list[str] = []
    in_code = False
    for line in text.splitlines():
        if _FENCE.match(line):
            in_code = not in_code
        elif not in_code:
            lines.append(line)
    return lines


def anchors(text: str) -> set[str]:
    """The anchors GitHub gives a document's headings.

    Its rule: the heading's text, lower-cased, without anything but word characters, hyphens and
    spaces, spaces turned into hyphens; a repeated anchor gets -1, -2, ...
    """
    seen: dict[str, int] = {}
    for line in _prose_lines(text):
        match = _HEADING.match(line)
        if not match:
            continue
        words = _LINK_TEXT.sub(r"\1", match.group(1)).lower()
        anchor = re.sub(r"[^\w\- ]", "", words).replace(" ", "-")
        count = seen.get(anchor, 0)
        seen[anchor] = count + 1
        if count:
            seen[f"{anchor}-{count}"] = 1
    return set(seen)


def relative_links(text: str) -> list[str]:
    """Targets of inline links, images and link definitions that are not URLs with a scheme."""
    targets: list[str] = []
    for line in _prose_lines(text):
        definition = _LINK_DEFINITION.match(line)
        if definition:
            targets.append(definition.group(1))
        targets.extend(_INLINE_LINK.findall(_CODE_SPAN.sub("", line)))
    return [target for target in targets if not _SCHEME.match(target)]


def broken_links(document: Path) -> list[str]:
    """Each relative link of ``document`` whose file, or heading for its #anchor, is missing."""
    broken: list[str] = []
    for target in relative_links(document.read_text(encoding="utf-8")):
        path, _, anchor = target.partition("#")
        resolved = (document.parent / unquote(path)).resolve() if path else document
        if not resolved.exists():
            broken.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(
                resolved.read_text(encoding="utf-8")):
            broken.append(f"{target}: no heading with anchor #{anchor} in {resolved.name}")
    return broken


def manual() -> list[Path]:
    """The README and every page of the manual."""
    return [README, *sorted(DOCS.glob("*.md"))]


class ConfigurationTablesTest(unittest.TestCase):
    maxDiff = None

    def test_configuration_block_is_what_the_schema_renders(self) -> None:
        text = CONFIGURATION.read_text(encoding="utf-8")
        self.assertEqual(text.count(TABLES_START), 1, f"docs/configuration.md needs one {TABLES_START}")
        self.assertEqual(text.count(TABLES_END), 1, f"docs/configuration.md needs one {TABLES_END}")
        block = text.split(TABLES_START, 1)[1].split(TABLES_END, 1)[0]
        self.assertEqual(
            block, f"\n{markdown_tables()}\n",
            "docs/configuration.md's configuration tables differ from pv_simulator/config/schema.py's "
            "SCHEMA; regenerate them with: "
            "python -m pv_simulator.config --update-readme docs/configuration.md")


class SunSpecMapTest(unittest.TestCase):
    maxDiff = None

    def test_register_map_block_is_what_the_code_renders(self) -> None:
        text = SUNSPEC.read_text(encoding="utf-8")
        self.assertEqual(text.count(MAP_START), 1)
        self.assertEqual(text.count(MAP_END), 1)
        block = text.split(MAP_START, 1)[1].split(MAP_END, 1)[0]
        self.assertEqual(block, f"\n{markdown_map()}\n",
                         "docs/sunspec.md's register map differs from pv_simulator/sunspec's; "
                         "regenerate it with: python -m pv_simulator.sunspec --update-docs docs/sunspec.md")

    def test_the_home_assistant_example_reads_the_points_it_names(self) -> None:
        """Each sensor's ``# MODEL POINT`` comment and its address agree with the map."""
        text = SUNSPEC.read_text(encoding="utf-8")
        sensors = re.findall(r"# (\d+) (\w+)\n\s+slave: 1\n\s+address: (\d+)", text)
        self.assertEqual(len(sensors), text.count("      - name: Meter_0 "), "a sensor without its comment")
        device_map = DeviceMap(Nameplate("Meter_0", 1, inverter_ac_w=8333.0, household_max_w=9000.0))
        blocks = {block.model_id: block for block in device_map.blocks}
        for model_id, point, address in sensors:
            block = blocks[int(model_id)]
            self.assertEqual(int(address), block.address + block.offsets[point], point)


class LinksTest(unittest.TestCase):
    def test_every_relative_link_resolves(self) -> None:
        for document in manual():
            with self.subTest(document=document.relative_to(ROOT).as_posix()):
                self.assertEqual(broken_links(document), [])

    def test_every_page_is_in_the_index(self) -> None:
        index = DOCS / "index.md"
        linked = {(DOCS / unquote(target.partition("#")[0])).resolve()
                  for target in relative_links(index.read_text(encoding="utf-8"))}
        pages = {page.resolve() for page in DOCS.glob("*.md")} - {index.resolve()}
        self.assertEqual(sorted(p.name for p in pages - linked), [],
                         "docs/index.md, the manual's table of contents, does not link these pages")

    def test_broken_links_and_anchors_are_found(self) -> None:
        """The checker itself: a missing file, a missing heading and a missing anchor count."""
        folder = tempfile.TemporaryDirectory()
        self.addCleanup(folder.cleanup)
        document = Path(folder.name) / "page.md"
        document.write_text(
            "# A page\n\n## `[broker]` keys: url (default)\n\n```sh\n# not a heading\n```\n"
            "[ok](#a-page) [ok](#broker-keys-url-default) [ok](page.md#a-page) "
            "[web](https://example.com/x.md) `[code](missing.md)`\n"
            "[no file](missing.md) [no anchor](#not-a-heading) ![no image](images/none.png)\n",
            encoding="utf-8")
        self.assertEqual(broken_links(document), [
            "missing.md: no such file",
            "#not-a-heading: no heading with anchor #not-a-heading in page.md",
            "images/none.png: no such file"])

    def test_repeated_headings_get_numbered_anchors(self) -> None:
        self.assertEqual(anchors("## Notes\n## Notes\n## demo_meter.py\n"),
                         {"notes", "notes-1", "demo_meterpy"})


class ReadmeTest(unittest.TestCase):
    def test_readme_is_a_front_page(self) -> None:
        lines = len(README.read_text(encoding="utf-8").splitlines())
        self.assertLessEqual(lines, README_MAX_LINES,
                             f"README.md has {lines} lines; move the detail into a page of docs/")


if __name__ == "__main__":
    unittest.main()
