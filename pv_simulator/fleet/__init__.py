"""Fleet files: reading them (`reading`), generating a neighbourhood (`generation`) and the
``pv-fleet`` command (`cli`); what callers use is importable from here."""

from pv_simulator.fleet.cli import main, write_fleet
from pv_simulator.fleet.generation import HOUSEHOLD_KWH, HOUSEHOLD_SHARES, PV_SHARE, generate
from pv_simulator.fleet.reading import COLUMNS, Check, FleetError, FleetMember, read_fleet

__all__ = [
    "COLUMNS",
    "HOUSEHOLD_KWH",
    "HOUSEHOLD_SHARES",
    "PV_SHARE",
    "Check",
    "FleetError",
    "FleetMember",
    "generate",
    "main",
    "read_fleet",
    "write_fleet",
]
