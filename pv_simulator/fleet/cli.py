"""The ``pv-fleet`` command (``python -m pv_simulator.fleet``): ``generate N --seed S`` writes
a neighbourhood fleet CSV to stdout that `read_fleet` reads back."""

from __future__ import annotations

import argparse
import csv
import math
import sys
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from typing import IO, NoReturn

from pv_simulator.config import ConfigError, load_config
from pv_simulator.fleet.generation import PV_SHARE, generate
from pv_simulator.fleet.reading import COLUMNS, FleetMember


def write_fleet(members: Iterable[FleetMember], stream: IO[str]) -> None:
    """Write a fleet CSV that read_fleet reads back: the columns some member
    sets, and an empty cell where a member takes the configuration's value."""
    rows = [asdict(member) for member in members]
    columns = [column for column in COLUMNS
               if column == "meter_id" or any(row[column] is not None for row in rows)]
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow("" if row[column] is None else _format(row[column]) for column in columns)


def _format(value: object) -> str:
    """Whole floats without '.0', so the file reads like a hand-written one."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class _Parser(argparse.ArgumentParser):
    """argparse with the services' one-line errors: the mistake and --help, not the whole usage."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def main(argv: Sequence[str] | None = None) -> int:
    """``pv-fleet generate N --seed S``: a neighbourhood fleet CSV on stdout."""
    parser = _Parser(prog="pv-fleet", description="Fleet files for the PV simulator.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    gen = commands.add_parser("generate", help="write a plausible neighbourhood of N houses to stdout",
                              description=generate.__doc__)
    gen.add_argument("count", type=int, metavar="N", help="number of houses")
    gen.add_argument("--seed", type=int, required=True, help="same seed, same file")
    gen.add_argument("--config", metavar="FILE",
                     help="take the site from this INI's [site] (default: broker.ini if present, else the "
                          "configuration's defaults)")
    gen.add_argument("--latitude", type=float, help="site latitude, overrides the configuration's")
    gen.add_argument("--longitude", type=float, help="site longitude, overrides the configuration's")
    gen.add_argument("--pv-share", type=float, default=PV_SHARE,
                     help=f"share of houses with PV (default {PV_SHARE})")
    args = parser.parse_args(argv)

    latitude, longitude = args.latitude, args.longitude
    if latitude is None or longitude is None:
        try:
            site = load_config(args.config).site
        except ConfigError as exc:
            parser.exit(2, f"pv-fleet: error: {exc}\n")
        latitude = site.latitude_deg if latitude is None else latitude
        longitude = site.longitude_deg if longitude is None else longitude
    if not (math.isfinite(latitude) and -90.0 <= latitude <= 90.0):
        gen.error(f"--latitude must be between -90 and 90, got {latitude}")
    if not (math.isfinite(longitude) and -180.0 <= longitude <= 180.0):
        gen.error(f"--longitude must be between -180 and 180, got {longitude}")
    try:
        members = generate(args.count, args.seed, latitude, longitude, args.pv_share)
    except ValueError as exc:
        gen.error(str(exc))
    write_fleet(members, sys.stdout)
    return 0
