"""A written row as the registers' values: from the PV service's batch, or from the CSV at start."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from pv_simulator.messaging.wire import Reading
from pv_simulator.models.pv_chain import (
    INVERTER_TIME_CONSTANT_S,
    first_order_lag,
    inverter_temperature_c,
)
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


class InverterTemperatures:
    """Each meter's inverter temperature, following its rows as a heat sink would.

    The steady state of each row (:func:`~pv_simulator.models.pv_chain.inverter_temperature_c`
    from the air temperature of the meter's PV model and the row's PV power) is approached with
    the heat sink's time constant over the simulated time since the meter's previous row; the
    first row after a start is taken at its steady state. Only the PV service's thread calls it.
    """

    def __init__(self, air_temperature_c: Mapping[str, Callable[[float], float | None]],
                 ac_rating_w: Mapping[str, float],
                 time_constant_s: float = INVERTER_TIME_CONSTANT_S) -> None:
        """``air_temperature_c``: the meters whose PV model has an air temperature."""
        self._air_temperature_c = air_temperature_c
        self._ac_rating_w = ac_rating_w
        self._time_constant_s = time_constant_s
        self._last: dict[str, tuple[float, float]] = {}

    def at(self, meter_id: str, time_s: float, ac_power_w: float) -> float | None:
        """The meter's inverter temperature at a row of ``ac_power_w``, deg C; None: no air
        temperature there."""
        air = self._air_temperature_c.get(meter_id)
        air_c = None if air is None else air(time_s)
        if air_c is None:
            return None
        steady_c = inverter_temperature_c(air_c, ac_power_w, self._ac_rating_w.get(meter_id, 0.0))
        last = self._last.get(meter_id)
        temperature_c = (steady_c if last is None else
                         first_order_lag(last[1], steady_c, time_s - last[0], self._time_constant_s))
        self._last[meter_id] = (time_s, temperature_c)
        return temperature_c


def written_row(reading: Reading, pv_kw: float, site: SiteResult | None,
                energy: MeterEnergy | None, inverter_temperature_c: float | None) -> RowValues:
    """The values of a row just written: a site's from its balance, a plain one's meter - PV."""
    pv_wh, import_wh, export_wh = _energy_wh(energy)
    pv_w = pv_kw * 1000.0
    if site is None:
        return RowValues(reading.time_s, reading.power_w, pv_w, pv_w, reading.power_w - pv_w, 0.0,
                         None, None, None, pv_wh, import_wh, export_wh, inverter_temperature_c)
    return RowValues(reading.time_s, site.household_w, pv_w, site.pv_available_kw * 1000.0,
                     site.grid_power_w, site.battery_power_w,
                     site.soc_pct if site.battery_mode is not None else None, site.pv_limit_pct,
                     site.battery_mode, pv_wh, import_wh, export_wh, inverter_temperature_c)


def file_row(row: Row, energy: MeterEnergy | None,
             inverter_temperature_c: float | None) -> RowValues:
    """The values of the last row on disk (after a restart): no command is in force yet."""
    pv_wh, import_wh, export_wh = _energy_wh(energy)
    pv_w = row.pv_power_value_kw * 1000.0
    available_w = pv_w if row.pv_available_kw is None else row.pv_available_kw * 1000.0
    grid_w = row.meter_power_value_w - pv_w if row.grid_power_w is None else row.grid_power_w
    return RowValues(row.time_s, row.meter_power_value_w, pv_w, available_w, grid_w,
                     row.battery_power_w or 0.0, row.battery_soc_pct, None, None,
                     pv_wh, import_wh, export_wh, inverter_temperature_c)
