"""Cumulative energy counters per meter, in kWh, integrated from the rows the PV service writes.

Each row adds its power times the time since the meter's previous row (the interval the
reading closes), split four ways: consumption (meter W), PV produced (PV kW), grid import
(the positive part of meter - PV) and grid export (the negative part). The first row of a
meter adds nothing; an interval longer than :data:`MAX_INTERVAL_S` (a stopped meter, a
meter started again later) or not positive (a run started at an earlier time) adds nothing
either, so a gap is never filled with a guessed power.

The counters are no CSV columns (a plain site's 5-column file stays as it was). At start,
:meth:`EnergyCounters.seed` integrates the meter's existing files the same way, in date and
row order, so after a restart, a kill -9 included, the counters continue from what is
written and never start from zero: the rows are the state, there is no second file that
could disagree with them. The cost is one read of the meter's files at start.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from zoneinfo import ZoneInfo

from pv_simulator.storage.csv_format import (
    CsvFormatError,
    check_header,
    meter_files,
    parse_row,
)
from pv_simulator.storage.csv_store import CsvOutput

log = logging.getLogger(__name__)

#: An interval between two rows of a meter longer than this is a gap, integrated as nothing.
MAX_INTERVAL_S = 900.0

_WS_PER_KWH = 3.6e6

#: The counters, named as :class:`MeterEnergy`'s fields, the state topic's and the results' keys.
COUNTERS = ("consumption_kwh", "pv_kwh", "grid_import_kwh", "grid_export_kwh")


@dataclass(slots=True)
class MeterEnergy:
    """One meter's counters (kWh) and its last row's power."""

    consumption_kwh: float = 0.0
    pv_kwh: float = 0.0
    grid_import_kwh: float = 0.0
    grid_export_kwh: float = 0.0
    last_time_s: float = float("-inf")
    meter_power_w: float = 0.0
    pv_power_kw: float = 0.0
    grid_power_w: float = 0.0
    """What the last row drew from (positive) or fed into (negative) the grid."""
    battery_power_w: float | None = None
    """The last row's battery power (positive charging), state of charge and PV available: a
    site's row only (None for a plain meter's)."""
    battery_soc_pct: float | None = None
    pv_available_kw: float | None = None

    def add(self, time_s: float, meter_power_w: float, pv_power_kw: float,
            grid_power_w: float | None = None) -> None:
        """Integrate one row over the interval since the previous one; a site's row brings its
        grid power (the battery's share in it), a plain row's is meter - PV."""
        interval_s = time_s - self.last_time_s
        if 0.0 < interval_s <= MAX_INTERVAL_S:
            scale = interval_s / _WS_PER_KWH
            pv_w = pv_power_kw * 1000.0
            grid_w = meter_power_w - pv_w if grid_power_w is None else grid_power_w
            self.consumption_kwh += max(0.0, meter_power_w) * scale
            self.pv_kwh += max(0.0, pv_w) * scale
            if grid_w > 0.0:
                self.grid_import_kwh += grid_w * scale
            else:
                self.grid_export_kwh -= grid_w * scale
        self.last_time_s = time_s
        self.meter_power_w = meter_power_w
        self.pv_power_kw = pv_power_kw
        self.grid_power_w = (meter_power_w - pv_power_kw * 1000.0 if grid_power_w is None
                             else grid_power_w)

    def add_row(self, time_s: float, meter_power_w: float, pv_power_kw: float,
                grid_power_w: float | None = None) -> None:
        """:meth:`add` a row's values rounded as the CSV writes them, so the counters kept
        while writing equal those seeded from the files after a restart."""
        self.add(round(time_s, 3), round(meter_power_w, 3), round(pv_power_kw, 6),
                 None if grid_power_w is None else round(grid_power_w, 3))

    def site_row(self, battery_power_w: float | None, soc_pct: float | None,
                 pv_available_kw: float | None) -> None:
        """Keep a site row's values beyond the powers, for the state a site's entities read."""
        self.battery_power_w = battery_power_w
        self.battery_soc_pct = soc_pct
        self.pv_available_kw = pv_available_kw


class EnergyCounters:
    """Every served meter's :class:`MeterEnergy`, and the fleet's sums for the metrics."""

    def __init__(self) -> None:
        self.meters: dict[str, MeterEnergy] = {}

    def seed(self, output_dir: Path, meter_ids: Iterable[str] | None = None) -> int:
        """Integrate the meters' existing files (None: every meter's); the rows read.

        A line that does not parse (a torn last line, repaired when the writer opens the
        file) is left out, as the writer will cut it.
        """
        wanted = None if meter_ids is None else set(meter_ids)
        files = [(meter_id, day, path) for meter_id, day, path in meter_files(output_dir)
                 if wanted is None or meter_id in wanted]
        rows = 0
        for meter_id, _day, path in sorted(files, key=lambda item: (item[0], str(item[1]))):
            rows += self._seed_file(meter_id, path)
        if rows:
            log.info("energy counters continue from %d written row(s) of %d meter(s)",
                     rows, len({meter_id for meter_id, _, _ in files}))
        return rows

    def _seed_file(self, meter_id: str, path: Path) -> int:
        energy = self.meters.setdefault(meter_id, MeterEnergy())
        rows = 0
        try:
            with path.open(encoding="utf-8", errors="replace") as handle:
                try:
                    header = check_header(handle.readline(), path)
                except CsvFormatError:
                    return 0  # not a file of ours: the writer refuses it too
                for line in handle:
                    if not line.endswith("\n"):
                        break
                    try:
                        row = parse_row(line, path, columns=header)
                    except CsvFormatError:
                        continue
                    energy.add(row.time_s, row.meter_power_value_w, row.pv_power_value_kw,
                               row.grid_power_w)
                    energy.site_row(row.battery_power_w, row.battery_soc_pct, row.pv_available_kw)
                    rows += 1
        except OSError as exc:
            log.warning("%s: cannot read for the energy counters (%s): they leave it out",
                        path, exc.strerror)
        return rows

    def add(self, meter_id: str, time_s: float, meter_power_w: float, pv_power_kw: float,
            grid_power_w: float | None = None) -> MeterEnergy:
        """Integrate a row just written; the meter's counters."""
        energy = self.meters.get(meter_id)
        if energy is None:
            energy = self.meters[meter_id] = MeterEnergy()
        energy.add_row(time_s, meter_power_w, pv_power_kw, grid_power_w)
        return energy

    def projection(self, meter_id: str) -> MeterEnergy:
        """A copy of the meter's counters, to count rows about to be written (the results stream)."""
        energy = self.meters.get(meter_id)
        return MeterEnergy() if energy is None else replace(energy)

    def fleet(self) -> MeterEnergy:
        """The sums over every meter (the powers of each meter's last row); for gauges."""
        total = MeterEnergy()
        for energy in list(self.meters.values()):
            total.consumption_kwh += energy.consumption_kwh
            total.pv_kwh += energy.pv_kwh
            total.grid_import_kwh += energy.grid_import_kwh
            total.grid_export_kwh += energy.grid_export_kwh
            total.meter_power_w += energy.meter_power_w
            total.pv_power_kw += energy.pv_power_kw
            total.grid_power_w += energy.grid_power_w
        return total


def counters_json(energy: MeterEnergy) -> str:
    """The counters as JSON members, :data:`COUNTERS`' names, in kWh to the milliwatt-hour (as the
    results spell them; one f-string, since every result pays for it)."""
    return (f'"consumption_kwh":{energy.consumption_kwh:.6f},"pv_kwh":{energy.pv_kwh:.6f},'
            f'"grid_import_kwh":{energy.grid_import_kwh:.6f},'
            f'"grid_export_kwh":{energy.grid_export_kwh:.6f}')


def energy_summary(energy: EnergyCounters | None) -> dict[str, dict[str, dict[str, float]]]:
    """``{"energy_kwh": {meter: {counter: kWh}}}`` for the exit summary; empty without counters."""
    if energy is None:
        return {}
    return {"energy_kwh": {meter_id: {"consumption": round(e.consumption_kwh, 6), "pv": round(e.pv_kwh, 6),
                                      "grid_import": round(e.grid_import_kwh, 6),
                                      "grid_export": round(e.grid_export_kwh, 6)}
                           for meter_id, e in sorted(energy.meters.items())}}


class EnergyCsvOutput(CsvOutput):
    """The CSV writer that also integrates each row it writes into ``energy``.

    After each :meth:`flush` (the batch's rows are on disk, before their acknowledgement)
    ``on_flushed`` gets the meters that have new rows, so what it publishes from the counters
    is never ahead of the files they are seeded from after a crash.
    """

    def __init__(self, energy: EnergyCounters, output_dir: Path, tz: ZoneInfo, fsync: str = "batch",
                 max_open_files: int = 256,
                 site_meters: Callable[[str], bool] | None = None) -> None:
        super().__init__(output_dir, tz, fsync, max_open_files, site_meters)
        self.energy = energy
        self.on_flushed: Callable[[list[str]], None] | None = None
        self._touched: dict[str, None] = {}

    def write(self, meter_id: str, time_s: float, meter_power_w: float, pv_power_kw: float) -> bool:
        if not super().write(meter_id, time_s, meter_power_w, pv_power_kw):
            return False
        self.energy.add(meter_id, time_s, meter_power_w, pv_power_kw)
        self._touched[meter_id] = None
        return True

    def write_site(self, meter_id: str, time_s: float, meter_power_w: float, pv_power_kw: float,
                   grid_power_w: float, battery_power_w: float, soc_pct: float,
                   pv_available_kw: float) -> bool:
        if not super().write_site(meter_id, time_s, meter_power_w, pv_power_kw, grid_power_w,
                                  battery_power_w, soc_pct, pv_available_kw):
            return False
        self.energy.add(meter_id, time_s, meter_power_w, pv_power_kw, grid_power_w).site_row(
            battery_power_w, soc_pct, pv_available_kw)
        self._touched[meter_id] = None
        return True

    def flush(self) -> None:
        super().flush()
        touched, self._touched = list(self._touched), {}
        if touched and self.on_flushed is not None:
            self.on_flushed(touched)
