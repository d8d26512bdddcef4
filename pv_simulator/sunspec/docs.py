"""The register map as a Markdown table, rendered from :mod:`register_map`'s layout and sources,
and the command (``python -m pv_simulator.sunspec``) that prints it or rewrites it in a document."""

from __future__ import annotations

from collections.abc import Sequence

from pv_simulator.config.docs import block_command, with_block
from pv_simulator.sunspec.register_map import (
    BASE_ADDRESS,
    SOURCES,
    SUPPORTED_WRITES,
    DeviceMap,
    Nameplate,
)

MAP_START = "<!-- sunspec-map:start -->"
MAP_END = "<!-- sunspec-map:end -->"

#: The device the table shows: three-phase with a battery, so that every model is in it.
_REFERENCE = Nameplate("Meter_0", 1, inverter_ac_w=8333.0, household_max_w=9000.0,
                       battery_wh=10000.0, max_charge_w=5000.0, max_discharge_w=5000.0,
                       soc_min_pct=5.0)

_NAMES = {1: "common", 101: "inverter, single-phase", 103: "inverter, three-phase",
          120: "nameplate", 123: "immediate controls", 124: "storage", 201: "meter, single-phase",
          203: "meter, three-phase (wye)"}


def markdown_map() -> str:
    """Every served point of a device with every model: address, type, access and value."""
    device_map = DeviceMap(_REFERENCE)
    lines = ["| address | model | point | type | units | access | value |",
             "|---|---|---|---|---|---|---|",
             f"| {BASE_ADDRESS} | | `SunS` | string | | R | the SunSpec marker, 0x5375 0x6E53 |"]
    for block in device_map.blocks:
        name = _NAMES[block.model_id]
        if block.model_id == 103:
            name = "inverter: 101 single-phase up to 4.6 kVA, 103 three-phase"
        lines.append(f"| {block.address} | **{block.model_id}** | `ID`, `L` | uint16 | | R | "
                     f"{block.model_id} ({name}), {block.length} |")
        sources = SOURCES[block.model_id]
        writable = SUPPORTED_WRITES.get(block.model_id, frozenset())
        for point in block.points:
            source = sources.get(point.name)
            if source is None:
                continue
            access = ("RW" if point.name in writable
                      else "R" if point.access == "R" else "RW, current value only")
            sf = f" (SF `{point.sf}`)" if point.sf else ""
            lines.append(f"| {block.address + block.offsets[point.name]} | {block.model_id} | "
                         f"`{point.name}` | {point.type} | {point.units}{sf} | {access} | "
                         f"{source.description} |")
    lines.append(f"| {device_map.end_address} | | end | uint16 | | R | 0xFFFF, 0 (the map's end) |")
    return "\n".join(lines)


def with_markdown_map(document: str) -> str:
    """``document`` with the text between the sunspec-map markers replaced by the table."""
    return with_block(document, MAP_START, MAP_END, markdown_map())


def main(argv: Sequence[str] | None = None) -> int:
    """Print the register map, or rewrite it in a document."""
    return block_command("python -m pv_simulator.sunspec", "The SunSpec register map as a Markdown table.",
                         markdown_map, with_markdown_map, "--update-docs", argv)
