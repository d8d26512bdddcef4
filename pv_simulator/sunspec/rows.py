"""A written row as the registers' values: from the PV service's batch, or from the CSV at start."""

from __future__ import annotations

from pv_simulator.messaging.wire import Reading
from pv_simulator.services.energy import MeterEnergy
from pv_simulator.services.results import SiteResult
from pv_simulator.storage.csv_format import Row
from pv_simulator.sunspec.register_map import RowValues

_WH_PER_KWH = 1000.0


def _energy_wh(energy: MeterEnergy | None) -> tuple[float, float, float]:
    if energy is None:
        return 0.0, 0.0, 0.0
    return (energy.pv_kwh * _WH_PER_KWH, energy.grid_import_kwh * _WH_PER_KWH,
            energy.grid_export_kwh * _WH_PER_KWH)


def written_row(reading: Reading, pv_kw: float, site: SiteResult | None,
                energy: MeterEnergy | None) -> RowValues:
    """The values of a row just written: a site's from its balance, a plain one's meter - PV."""
    pv_wh, import_wh, export_wh = _energy_wh(energy)
    pv_w = pv_kw * 1000.0
    if site is None:
        return RowValues(reading.time_s, reading.power_w, pv_w, pv_w, reading.power_w - pv_w, 0.0,
                         None, None, None, pv_wh, import_wh, export_wh)
    return RowValues(reading.time_s, site.household_w, pv_w, site.pv_available_kw * 1000.0,
                     site.grid_power_w, site.battery_power_w,
                     site.soc_pct if site.battery_mode is not None else None, site.pv_limit_pct,
                     site.battery_mode, pv_wh, import_wh, export_wh)


def file_row(row: Row, energy: MeterEnergy | None) -> RowValues:
    """The values of the last row on disk (after a restart): no command is in force yet."""
    pv_wh, import_wh, export_wh = _energy_wh(energy)
    pv_w = row.pv_power_value_kw * 1000.0
    available_w = pv_w if row.pv_available_kw is None else row.pv_available_kw * 1000.0
    grid_w = row.meter_power_value_w - pv_w if row.grid_power_w is None else row.grid_power_w
    return RowValues(row.time_s, row.meter_power_value_w, pv_w, available_w, grid_w,
                     row.battery_power_w or 0.0, row.battery_soc_pct, None, None,
                     pv_wh, import_wh, export_wh)
