"""One simulated site as a SunSpec device: its models, what each point holds, its writes.

Pure functions and data, no server: :class:`DeviceMap` lays out a site's models at the standard
base address and encodes the latest written row (:class:`RowValues`) into registers;
:func:`decode_write` turns a write to the controls (models 123 and 124) into the same
:class:`~pv_simulator.services.control.Command` an AMQP command becomes, or refuses it with the
Modbus exception code that fits.

Layout from 40000: ``SunS``, 1 common, 101 (single-phase, an inverter up to 4.6 kVA, the
VDE-AR-N 4105 limit for one phase) or 103 (three-phase) inverter, 120 nameplate, 123 immediate
controls, 203 three-phase meter at the grid connection point, 124 storage where the site has a
battery, then the end marker 0xFFFF. Point offsets, sizes and types are pysunspec2's
(:mod:`pv_simulator.sunspec.points`); the integer + scale-factor variants throughout.

Every point is either one of :data:`SOURCES` (a value the simulator has, described there and
listed in docs/sunspec.md) or SunSpec's "not implemented" value of its type: nothing is
invented beyond the nominal grid (230 V, 50 Hz) the currents are derived from and the
inverter's temperature model (:func:`~pv_simulator.models.pv_chain.inverter_temperature_c`), both
documented as such. Signs are SunSpec's: the meter's ``W`` is positive while the site imports.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from pv_simulator.models.pv_chain import PVWATTS_ETA_INV_NOMINAL, pvwatts_dc_for_ac_w
from pv_simulator.models.site import SETPOINT
from pv_simulator.services.control import Command
from pv_simulator.sunspec.points import MODELS, Point

BASE_ADDRESS = 40000
"""The standard SunSpec base address ("SunS" there, the first model right after)."""

SUNS = (0x5375, 0x6E53)
END_MODEL_ID = 0xFFFF
MANUFACTURER = "pv-simulator"
MODEL_NAME = "simulated site"

SINGLE_PHASE_MAX_VA = 4600.0
"""Inverters up to this are single-phase (model 101): VDE-AR-N 4105's unbalanced-load limit."""

NOMINAL_PHASE_V = 230.0
NOMINAL_LINE_V = 400.0
NOMINAL_HZ = 50.0

# Modbus exception codes (Modbus Application Protocol V1.1b3, section 7).
ILLEGAL_FUNCTION = 0x01
ILLEGAL_DATA_ADDRESS = 0x02
ILLEGAL_DATA_VALUE = 0x03

# SunSpec operating states (model 101/103 St) and battery charge states (124 ChaSt).
ST_SLEEPING, ST_MPPT, ST_THROTTLED = 2, 4, 5
CHA_EMPTY, CHA_DISCHARGING, CHA_CHARGING, CHA_FULL, CHA_HOLDING = 2, 3, 4, 5, 6
DER_PV, DER_PV_STOR = 4, 82
STOR_CHARGE, STOR_DISCHARGE = 1, 2

_NOT_IMPLEMENTED = {"int16": 0x8000, "uint16": 0xFFFF, "enum16": 0xFFFF, "bitfield16": 0xFFFF,
                    "sunssf": 0x8000, "pad": 0x8000, "acc16": 0, "count": 0}
_NOT_IMPLEMENTED_32 = {"acc32": (0, 0), "uint32": (0xFFFF, 0xFFFF), "int32": (0x8000, 0),
                       "bitfield32": (0xFFFF, 0xFFFF)}
_LIMITS = {"int16": (-32767, 32767), "uint16": (0, 65534), "enum16": (0, 65534),
           "bitfield16": (0, 0x7FFF), "sunssf": (-10, 10), "acc16": (0, 65535), "count": (0, 65535)}


class RowValues(NamedTuple):
    """The latest written row of a meter and its energy counters, in the rows' own units.

    ``soc_pct`` None: no battery. ``pv_limit_pct`` and ``battery_mode`` are the commands in
    force at the row (None: none); a plain row (no site) has neither.
    """

    time_s: float
    household_w: float
    pv_power_w: float
    pv_available_w: float
    grid_power_w: float
    battery_power_w: float
    soc_pct: float | None
    pv_limit_pct: float | None
    battery_mode: str | None
    pv_wh: float
    import_wh: float
    export_wh: float
    inverter_temperature_c: float | None = None
    """The inverter's heat sink at the row (:class:`~pv_simulator.sunspec.rows.InverterTemperatures`);
    None where the PV model has no air temperature (the challenge's curve)."""


@dataclass(frozen=True)
class Nameplate:
    """What a device is, fixed for a run: its ratings, from the site's configuration or fleet row."""

    meter_id: str
    unit_id: int
    inverter_ac_w: float
    household_max_w: float
    battery_wh: float = 0.0
    max_charge_w: float = 0.0
    max_discharge_w: float = 0.0
    soc_min_pct: float = 0.0
    soc_max_pct: float = 100.0
    version: str = ""

    @property
    def has_battery(self) -> bool:
        return self.battery_wh > 0.0

    @property
    def phases(self) -> int:
        return 1 if self.inverter_ac_w <= SINGLE_PHASE_MAX_VA else 3

    @property
    def grid_max_w(self) -> float:
        """The largest grid power either way: the household plus charging, or PV plus discharge."""
        return max(self.household_max_w + self.max_charge_w, self.inverter_ac_w + self.max_discharge_w)


def scale_factor(max_abs: float, limit: int, finest: int) -> int:
    """The finest SunSpec scale factor (>= ``finest``) at which ``max_abs`` fits within ``limit``."""
    sf = finest
    while max_abs / 10.0 ** sf > limit:
        sf += 1
    return sf


@dataclass
class Controls:
    """A device's control points as last written over Modbus (engineering units; None: not
    implemented). Only the server's thread reads and writes it."""

    values: dict[str, float | None] = field(default_factory=dict)
    version: int = 0


Value = Callable[[Nameplate, "RowValues | None", Controls], "float | str | None"]


class Source(NamedTuple):
    """Where a point's value comes from: ``value`` None is "not implemented"; ``dynamic``
    points change with the rows or the controls, the others are fixed for the run."""

    description: str
    value: Value
    dynamic: bool = False


def _fixed(value: float | str | None) -> Value:
    return lambda _n, _v, _c: value


def _row(read: Callable[[RowValues], float | None]) -> Value:
    return lambda _n, values, _c: None if values is None else read(values)


def _plate(read: Callable[[Nameplate], float | str | None]) -> Value:
    return lambda nameplate, _v, _c: read(nameplate)


def _control(name: str) -> Value:
    return lambda _n, _v, controls: controls.values.get(name)


def _battery(read: Callable[[Nameplate], float]) -> Value:
    return lambda nameplate, _v, _c: read(nameplate) if nameplate.has_battery else None


def _sf(max_of: Callable[[Nameplate], float], limit: int, finest: int) -> Source:
    return Source("scale factor for the size of this device",
                  lambda nameplate, _v, _c: float(scale_factor(max_of(nameplate), limit, finest)))


def _inverter_current(phase: int | None) -> Value:
    def value(nameplate: Nameplate, values: RowValues | None, _c: Controls) -> float | None:
        if values is None or (phase is not None and phase >= nameplate.phases):
            return None
        total_a = values.pv_power_w / NOMINAL_PHASE_V
        return total_a if phase is None else total_a / nameplate.phases
    return value


def _inverter_voltage(phase: int) -> Value:
    return lambda nameplate, _v, _c: NOMINAL_PHASE_V if phase < nameplate.phases else None


def _dc_power_w(nameplate: Nameplate, values: RowValues | None, _c: Controls) -> float | None:
    if values is None:
        return None
    return pvwatts_dc_for_ac_w(values.pv_power_w, nameplate.inverter_ac_w / PVWATTS_ETA_INV_NOMINAL)


def _operating_state(values: RowValues) -> float:
    if values.pv_available_w <= 0.0:
        return ST_SLEEPING
    return ST_THROTTLED if values.pv_power_w < values.pv_available_w - 1.0 else ST_MPPT


def _charge_state(nameplate: Nameplate, values: RowValues | None, _c: Controls) -> float | None:
    if values is None or values.soc_pct is None:
        return None
    if values.battery_power_w > 0.0:
        return CHA_CHARGING
    if values.battery_power_w < 0.0:
        return CHA_DISCHARGING
    if values.soc_pct >= nameplate.soc_max_pct:
        return CHA_FULL
    return CHA_EMPTY if values.soc_pct <= nameplate.soc_min_pct else CHA_HOLDING


def _disconnected(values: RowValues | None, controls: Controls) -> bool:
    """Conn 0 in force: the last Conn written was 0 and the rows show the PV limited to 0."""
    return controls.values.get("Conn") == 0 and values is not None and values.pv_limit_pct == 0.0


def _wmaxlimpct(_n: Nameplate, values: RowValues | None, controls: Controls) -> float | None:
    if values is not None and values.pv_limit_pct is not None and not _disconnected(values, controls):
        return values.pv_limit_pct
    return controls.values.get("WMaxLimPct")


def _wmaxlim_ena(_n: Nameplate, values: RowValues | None, controls: Controls) -> float:
    limited = values is not None and values.pv_limit_pct is not None
    return 1.0 if limited and not _disconnected(values, controls) else 0.0


def _conn(_n: Nameplate, values: RowValues | None, controls: Controls) -> float:
    return 0.0 if _disconnected(values, controls) else 1.0


def _storctl_mod(_n: Nameplate, values: RowValues | None, controls: Controls) -> float | None:
    if values is None or values.battery_mode != SETPOINT:
        return 0.0
    return controls.values.get("StorCtl_Mod")


def _meter_current(phase: int | None) -> Value:
    def value(_n: Nameplate, values: RowValues | None, _c: Controls) -> float | None:
        if values is None:
            return None
        total_a = values.grid_power_w / NOMINAL_PHASE_V
        return total_a if phase is None else total_a / 3.0
    return value


def _power_w_max(nameplate: Nameplate) -> float:
    return nameplate.inverter_ac_w


_INVERTER: dict[str, Source] = {
    "A": Source("AC current, PV delivered / 230 V (nominal voltage)", _inverter_current(None), True),
    "AphA": Source("phase A current (all of it single-phase, a third three-phase)", _inverter_current(0), True),
    "AphB": Source("phase B current; three-phase only", _inverter_current(1), True),
    "AphC": Source("phase C current; three-phase only", _inverter_current(2), True),
    "A_SF": _sf(lambda n: n.inverter_ac_w / NOMINAL_PHASE_V, 65534, -2),
    "PhVphA": Source("230 V, nominal (voltage is not simulated)", _inverter_voltage(0)),
    "PhVphB": Source("230 V, nominal; three-phase only", _inverter_voltage(1)),
    "PhVphC": Source("230 V, nominal; three-phase only", _inverter_voltage(2)),
    "V_SF": Source("scale factor", _fixed(-1.0)),
    "W": Source("AC power: the row's `pv_power_value_kw` (PV delivered, after any limit)",
                _row(lambda v: v.pv_power_w), True),
    "W_SF": _sf(_power_w_max, 32767, 0),
    "Hz": Source("50 Hz, nominal", _fixed(NOMINAL_HZ)),
    "Hz_SF": Source("scale factor", _fixed(-2.0)),
    "WH": Source("lifetime AC energy, Wh: the PV energy integrated from the written rows "
                 "(continues across restarts)", _row(lambda v: v.pv_wh), True),
    "WH_SF": Source("scale factor", _fixed(0.0)),
    "DCW": Source("DC power: the DC input the PVWatts inverter curve needs for the AC power",
                  _dc_power_w, True),
    "DCW_SF": _sf(lambda n: n.inverter_ac_w * 1.1, 32767, 0),
    "TmpCab": Source("inverter temperature, deg C: the heat sink's, from the air temperature the "
                     "PV model uses and the inverter's losses (a thermal resistance, 30 K above "
                     "the air at rated output, a 10-minute time constant)",
                     _row(lambda v: v.inverter_temperature_c), True),
    "Tmp_SF": Source("scale factor", _fixed(-1.0)),
    "St": Source("operating state: 2 SLEEPING (no PV available), 4 MPPT, 5 THROTTLED (delivered "
                 "below available)", _row(_operating_state), True),
    "Evt1": Source("events: none", _fixed(0.0)),
    "Evt2": Source("events: none", _fixed(0.0)),
}

_COMMON: dict[str, Source] = {
    "Mn": Source("`pv-simulator`", _fixed(MANUFACTURER)),
    "Md": Source(f"`{MODEL_NAME}`", _fixed(MODEL_NAME)),
    "Vr": Source("the simulator's version", _plate(lambda n: n.version)),
    "SN": Source("the meter id (its first 32 characters)", _plate(lambda n: n.meter_id)),
    "DA": Source("the unit id", _plate(lambda n: float(n.unit_id))),
}

_NAMEPLATE: dict[str, Source] = {
    "DERTyp": Source("4 PV, 82 PV_STOR with a battery",
                     _plate(lambda n: float(DER_PV_STOR if n.has_battery else DER_PV))),
    "WRtg": Source("the inverter's AC rating, W (`peak_power_kw / dc_ac_ratio`)",
                   _plate(lambda n: n.inverter_ac_w)),
    "WRtg_SF": _sf(_power_w_max, 65534, 0),
    "VARtg": Source("the AC rating, VA (unity power factor)", _plate(lambda n: n.inverter_ac_w)),
    "VARtg_SF": _sf(_power_w_max, 65534, 0),
    "VArRtg_SF": Source("scale factor", _fixed(0.0)),
    "ARtg": Source("the AC rating / 230 V / phases, A",
                   _plate(lambda n: n.inverter_ac_w / NOMINAL_PHASE_V / n.phases)),
    "ARtg_SF": _sf(lambda n: n.inverter_ac_w / NOMINAL_PHASE_V, 65534, -2),
    "PFRtg_SF": Source("scale factor", _fixed(0.0)),
    "WHRtg": Source("the battery's usable capacity, Wh; with a battery",
                    _battery(lambda n: n.battery_wh)),
    "WHRtg_SF": _sf(lambda n: n.battery_wh, 65534, 0),
    "MaxChaRte": Source("the battery's largest charging power, W", _battery(lambda n: n.max_charge_w)),
    "MaxChaRte_SF": _sf(lambda n: n.max_charge_w, 65534, 0),
    "MaxDisChaRte": Source("the battery's largest discharging power, W",
                           _battery(lambda n: n.max_discharge_w)),
    "MaxDisChaRte_SF": _sf(lambda n: n.max_discharge_w, 65534, 0),
}

_CONTROLS: dict[str, Source] = {
    "Conn_WinTms": Source("0 (no random window); writes of another value refused", _control("Conn_WinTms")),
    "Conn_RvrtTms": Source("written: Conn's revert timer, s (0: none)", _control("Conn_RvrtTms"), True),
    "Conn": Source("written: 0 DISCONNECT (PV limited to 0 %), 1 CONNECT; reads the state in force",
                   _conn, True),
    "WMaxLimPct": Source("written: the active power limit, % of `WRtg`; reads the limit in force "
                         "(an AMQP command's too), else the last written", _wmaxlimpct, True),
    "WMaxLimPct_WinTms": Source("0; writes of another value refused", _control("WMaxLimPct_WinTms")),
    "WMaxLimPct_RvrtTms": Source("written: the limit's revert timer, s (0: none)",
                                 _control("WMaxLimPct_RvrtTms"), True),
    "WMaxLimPct_RmpTms": Source("0 (no ramp); writes of another value refused",
                                _control("WMaxLimPct_RmpTms")),
    "WMaxLim_Ena": Source("written: 1 ENABLED applies `WMaxLimPct`, 0 DISABLED lifts it; reads "
                          "whether a limit is in force", _wmaxlim_ena, True),
    "OutPFSet_WinTms": Source("0; writes of another value refused", _control("OutPFSet_WinTms")),
    "OutPFSet_RvrtTms": Source("0; writes of another value refused", _control("OutPFSet_RvrtTms")),
    "OutPFSet_RmpTms": Source("0; writes of another value refused", _control("OutPFSet_RmpTms")),
    "OutPFSet_Ena": Source("0 DISABLED; writes of another value refused", _control("OutPFSet_Ena")),
    "VArPct_WinTms": Source("0; writes of another value refused", _control("VArPct_WinTms")),
    "VArPct_RvrtTms": Source("0; writes of another value refused", _control("VArPct_RvrtTms")),
    "VArPct_RmpTms": Source("0; writes of another value refused", _control("VArPct_RmpTms")),
    "VArPct_Mod": Source("0 NONE; writes of another value refused", _control("VArPct_Mod")),
    "VArPct_Ena": Source("0 DISABLED; writes of another value refused", _control("VArPct_Ena")),
    "WMaxLimPct_SF": Source("scale factor", _fixed(-2.0)),
    "OutPFSet_SF": Source("scale factor", _fixed(-3.0)),
}

_METER: dict[str, Source] = {
    "A": Source("current, grid power / 230 V (nominal voltage), signed as W",
                _meter_current(None), True),
    "AphA": Source("a third of `A` (a balanced three-phase connection)", _meter_current(0), True),
    "AphB": Source("a third of `A`", _meter_current(1), True),
    "AphC": Source("a third of `A`", _meter_current(2), True),
    "A_SF": _sf(lambda n: n.grid_max_w / NOMINAL_PHASE_V, 32767, -2),
    "PhV": Source("230 V, nominal (voltage is not simulated)", _fixed(NOMINAL_PHASE_V)),
    "PhVphA": Source("230 V, nominal", _fixed(NOMINAL_PHASE_V)),
    "PhVphB": Source("230 V, nominal", _fixed(NOMINAL_PHASE_V)),
    "PhVphC": Source("230 V, nominal", _fixed(NOMINAL_PHASE_V)),
    "PPV": Source("400 V, nominal", _fixed(NOMINAL_LINE_V)),
    "PhVphAB": Source("400 V, nominal", _fixed(NOMINAL_LINE_V)),
    "PhVphBC": Source("400 V, nominal", _fixed(NOMINAL_LINE_V)),
    "PhVphCA": Source("400 V, nominal", _fixed(NOMINAL_LINE_V)),
    "V_SF": Source("scale factor", _fixed(-1.0)),
    "Hz": Source("50 Hz, nominal", _fixed(NOMINAL_HZ)),
    "Hz_SF": Source("scale factor", _fixed(-2.0)),
    "W": Source("total real power: the row's `grid_power_w` (meter - PV for a plain row), "
                "positive importing, negative exporting", _row(lambda v: v.grid_power_w), True),
    "WphA": Source("a third of `W`", _row(lambda v: v.grid_power_w / 3.0), True),
    "WphB": Source("a third of `W`", _row(lambda v: v.grid_power_w / 3.0), True),
    "WphC": Source("a third of `W`", _row(lambda v: v.grid_power_w / 3.0), True),
    "W_SF": _sf(lambda n: n.grid_max_w, 32767, 0),
    "TotWhExp": Source("energy exported, Wh, integrated from the written rows (continues across "
                       "restarts)", _row(lambda v: v.export_wh), True),
    "TotWhImp": Source("energy imported, Wh, integrated from the written rows",
                       _row(lambda v: v.import_wh), True),
    "TotWh_SF": Source("scale factor", _fixed(0.0)),
    "Evt": Source("events: none", _fixed(0.0)),
}

_STORAGE: dict[str, Source] = {
    "WChaMax": Source("the battery's largest charging power, W (the reference of `InWRte`); "
                      "writes of another value refused", _control("WChaMax")),
    "WChaGra": Source("100 %/s (no ramp); writes of another value refused", _control("WChaGra")),
    "WDisChaGra": Source("100 %/s; writes of another value refused", _control("WDisChaGra")),
    "StorCtl_Mod": Source("written: bit 0 CHARGE applies `InWRte`, bit 1 DISCHARGE `OutWRte`, 0 "
                          "the configured mode; reads 0 once no set-point is in force",
                          _storctl_mod, True),
    "MinRsvPct": Source("`soc_min_pct`; writes of another value refused", _control("MinRsvPct")),
    "ChaState": Source("state of charge: the row's `battery_soc_pct`",
                       _row(lambda v: v.soc_pct), True),
    "ChaSt": Source("2 EMPTY, 3 DISCHARGING, 4 CHARGING, 5 FULL, 6 HOLDING", _charge_state, True),
    "OutWRte": Source("written: discharge set-point, % of `MaxDisChaRte` (with DISCHARGE)",
                      _control("OutWRte"), True),
    "InWRte": Source("written: charge set-point, % of `WChaMax` (with CHARGE; negative: discharge)",
                     _control("InWRte"), True),
    "InOutWRte_WinTms": Source("0; writes of another value refused", _control("InOutWRte_WinTms")),
    "InOutWRte_RvrtTms": Source("written: the set-point's revert timer, s (0: none)",
                                _control("InOutWRte_RvrtTms"), True),
    "InOutWRte_RmpTms": Source("0; writes of another value refused", _control("InOutWRte_RmpTms")),
    "ChaGriSet": Source("1 GRID (a set-point may charge from the grid); writes of another value "
                        "refused", _control("ChaGriSet")),
    "WChaMax_SF": _sf(lambda n: n.max_charge_w, 65534, 0),
    "WChaDisChaGra_SF": Source("scale factor", _fixed(0.0)),
    "MinRsvPct_SF": Source("scale factor", _fixed(-2.0)),
    "ChaState_SF": Source("scale factor", _fixed(-2.0)),
    "InOutWRte_SF": Source("scale factor", _fixed(-2.0)),
}

SOURCES: dict[int, dict[str, Source]] = {1: _COMMON, 101: _INVERTER, 103: _INVERTER,
                                         120: _NAMEPLATE, 123: _CONTROLS, 203: _METER,
                                         124: _STORAGE}
"""What each served point holds, by model; every other point is "not implemented"."""

SUPPORTED_WRITES: dict[int, frozenset[str]] = {
    123: frozenset({"Conn", "Conn_RvrtTms", "WMaxLimPct", "WMaxLimPct_RvrtTms", "WMaxLim_Ena"}),
    124: frozenset({"StorCtl_Mod", "InWRte", "OutWRte", "InOutWRte_RvrtTms"}),
}
"""The control points a write changes; other RW points of 123/124 take only their current value."""

ENABLES: dict[int, frozenset[str]] = {123: frozenset({"Conn", "WMaxLim_Ena"}),
                                      124: frozenset({"StorCtl_Mod"})}
"""The points that switch a model's set-points on and off."""


def initial_controls(nameplate: Nameplate) -> Controls:
    """The control points before any write: no limit, connected, no set-point."""
    values: dict[str, float | None] = {
        "Conn_WinTms": 0.0, "Conn_RvrtTms": 0.0, "Conn": 1.0, "WMaxLimPct": 100.0,
        "WMaxLimPct_WinTms": 0.0, "WMaxLimPct_RvrtTms": 0.0, "WMaxLimPct_RmpTms": 0.0,
        "WMaxLim_Ena": 0.0, "OutPFSet_WinTms": 0.0, "OutPFSet_RvrtTms": 0.0,
        "OutPFSet_RmpTms": 0.0, "OutPFSet_Ena": 0.0, "VArPct_WinTms": 0.0, "VArPct_RvrtTms": 0.0,
        "VArPct_RmpTms": 0.0, "VArPct_Mod": 0.0, "VArPct_Ena": 0.0}
    if nameplate.has_battery:
        values.update({"WChaMax": nameplate.max_charge_w, "WChaGra": 100.0, "WDisChaGra": 100.0,
                       "StorCtl_Mod": 0.0, "MinRsvPct": nameplate.soc_min_pct, "OutWRte": 0.0,
                       "InWRte": 0.0, "InOutWRte_WinTms": 0.0, "InOutWRte_RvrtTms": 0.0,
                       "InOutWRte_RmpTms": 0.0, "ChaGriSet": 1.0})
    return Controls(values)


class Block(NamedTuple):
    """One model's place in a device's map: ``address`` is its ID register's."""

    model_id: int
    address: int
    points: tuple[Point, ...]
    offsets: Mapping[str, int]

    @property
    def length(self) -> int:
        """The model's L: its registers after ID and L."""
        return sum(point.size for point in self.points) - 2


def model_ids(nameplate: Nameplate) -> tuple[int, ...]:
    """The device's models in map order."""
    inverter = 101 if nameplate.phases == 1 else 103
    return (1, inverter, 120, 123, 203, *((124,) if nameplate.has_battery else ()))


def _offsets(points: tuple[Point, ...]) -> dict[str, int]:
    offsets, offset = {}, 0
    for point in points:
        offsets[point.name] = offset
        offset += point.size
    return offsets


class WriteRefused(Exception):
    """A write that changes nothing: ``code`` is the Modbus exception to answer with."""

    def __init__(self, code: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.kind = kind


class DeviceMap:
    """A site's register map: where its models lie, and its registers for a row and controls."""

    def __init__(self, nameplate: Nameplate) -> None:
        self.nameplate = nameplate
        address = BASE_ADDRESS + len(SUNS)
        blocks = []
        for model_id in model_ids(nameplate):
            points = MODELS[model_id]
            blocks.append(Block(model_id, address, points, _offsets(points)))
            address += sum(point.size for point in points)
        self.blocks: tuple[Block, ...] = tuple(blocks)
        self.end_address = address
        """The end marker's address; the map's last register is the one after it."""
        self.size = address + 2 - BASE_ADDRESS
        self._sf: dict[tuple[int, str], int] = {}
        self._static = self._image(None, initial_controls(nameplate), dynamic_only=False)

    def block_at(self, address: int) -> Block | None:
        """The model holding ``address``, or None (the SunS marker, the end marker, outside)."""
        for block in self.blocks:
            if block.address <= address < block.address + block.length + 2:
                return block
        return None

    def registers(self, values: RowValues | None, controls: Controls) -> list[int]:
        """The device's registers from ``BASE_ADDRESS`` on, for the latest row and the controls."""
        return self._image(values, controls, dynamic_only=True)

    def _image(self, values: RowValues | None, controls: Controls, dynamic_only: bool) -> list[int]:
        if dynamic_only:
            image = list(self._static)
        else:
            image = [*SUNS]
            for block in self.blocks:
                for point in block.points:
                    image.extend(_not_implemented(point))
                image[block.address - BASE_ADDRESS] = block.model_id
                image[block.address - BASE_ADDRESS + 1] = block.length
            image.extend((END_MODEL_ID, 0))
        nameplate = self.nameplate
        for block in self.blocks:
            sources = SOURCES[block.model_id]
            for point in block.points:
                source = sources.get(point.name)
                if source is None or (dynamic_only and not source.dynamic):
                    continue
                value = source.value(nameplate, values, controls)
                start = block.address - BASE_ADDRESS + block.offsets[point.name]
                image[start:start + point.size] = self._encode(block, point, value)
        return image

    def scale(self, block: Block, point: Point) -> int:
        """The scale factor of ``point`` (0 for a point without one)."""
        if point.sf is None:
            return 0
        key = (block.model_id, point.sf)
        sf = self._sf.get(key)
        if sf is None:
            source = SOURCES[block.model_id].get(point.sf)
            value = None if source is None else source.value(self.nameplate, None, Controls())
            sf = self._sf[key] = 0 if not isinstance(value, float) else int(value)
        return sf

    def _encode(self, block: Block, point: Point, value: float | str | None) -> list[int]:
        if value is None:
            return _not_implemented(point)
        if point.type == "string":
            return encode_string(str(value), point.size)
        assert isinstance(value, float | int)
        raw = round(float(value) / 10.0 ** self.scale(block, point))
        if point.type in _NOT_IMPLEMENTED_32:
            if point.type == "acc32":
                raw %= 1 << 32  # an accumulator rolls over (SunSpec)
            else:
                raw = min(max(raw, 0), 0xFFFFFFFE)
            return [(raw >> 16) & 0xFFFF, raw & 0xFFFF]
        low, high = _LIMITS[point.type]
        return [min(max(raw, low), high) & 0xFFFF]

    def decode_write(self, address: int, registers: list[int], image: list[int],
                     controls: Controls) -> tuple[dict[str, float | None], Command | None]:
        """The control points after a write of ``registers`` at ``address``, and the command it
        makes; ``image`` is what the device reads now (for the points that take only it).

        A set-point written while its control is off (``WMaxLim_Ena`` 0 and ``Conn`` 1, or
        ``StorCtl_Mod`` 0), the enable itself untouched, is kept and makes no command: clients
        write the set-point first and the enable after it.

        Raises:
            WriteRefused: outside the RW points of 123/124 (ILLEGAL DATA ADDRESS), a value out
                of range or a point that takes only its current value (ILLEGAL DATA VALUE).
        """
        block = self.block_at(address)
        end = address + len(registers)
        if block is None or block.model_id not in SUPPORTED_WRITES or end > block.address + block.length + 2:
            raise WriteRefused(ILLEGAL_DATA_ADDRESS, "not a control",
                               f"{address}..{end - 1}: writes go to models 123 and 124 only")
        supported = SUPPORTED_WRITES[block.model_id]
        by_offset = {block.offsets[point.name]: point for point in block.points}
        updated = dict(controls.values)
        for index, raw in enumerate(registers):
            register = address + index
            point = by_offset.get(register - block.address)
            if point is None or point.access != "RW" or point.size != 1:
                raise WriteRefused(ILLEGAL_DATA_ADDRESS, "read-only point",
                                   f"{register}: not a writable point of model {block.model_id}")
            if point.name not in supported:
                if raw != image[register - BASE_ADDRESS]:
                    raise WriteRefused(ILLEGAL_DATA_VALUE, "unsupported control",
                                       f"{point.name}: not supported; only its current value")
                continue
            updated[point.name] = self._control_value(block, point, raw)
        written = {by_offset[register - block.address].name
                   for register in range(address, end)}
        if block.model_id == 123:
            idle = not written & ENABLES[123] and updated.get("WMaxLim_Ena") == 0 and updated.get("Conn") == 1
            return updated, None if idle else _pv_command(updated)
        idle = not written & ENABLES[124] and not updated.get("StorCtl_Mod")
        return updated, None if idle else _battery_command(updated, self.nameplate)

    def _control_value(self, block: Block, point: Point, raw: int) -> float:
        value = raw - 0x10000 if point.type == "int16" and raw >= 0x8000 else raw
        scaled = value * 10.0 ** self.scale(block, point)
        name = point.name
        ok = {"Conn": value in (0, 1), "WMaxLim_Ena": value in (0, 1),
              "WMaxLimPct": 0.0 <= scaled <= 100.0, "StorCtl_Mod": 0 <= value <= 3,
              "InWRte": -100.0 <= scaled <= 100.0, "OutWRte": 0.0 <= scaled <= 100.0}.get(name, True)
        if not ok:
            raise WriteRefused(ILLEGAL_DATA_VALUE, "out of range", f"{name}: {value} is out of range")
        return round(scaled, 6)


def _revert(seconds: float | None) -> float | None:
    return seconds if seconds else None


def _pv_command(controls: Mapping[str, float | None]) -> Command:
    """Model 123's points as the site's command: Conn 0 limits the PV to 0 %, else the enabled
    WMaxLimPct, else no limit."""
    if controls.get("Conn") == 0:
        return Command({"pv_limit_pct": 0.0}, _revert(controls.get("Conn_RvrtTms")))
    if controls.get("WMaxLim_Ena") == 1:
        return Command({"pv_limit_pct": controls.get("WMaxLimPct")},
                       _revert(controls.get("WMaxLimPct_RvrtTms")))
    return Command({"pv_limit_pct": None}, None)


def _battery_command(controls: Mapping[str, float | None], nameplate: Nameplate) -> Command:
    """Model 124's points as the site's command: StorCtl_Mod 0 is the configured mode again; a
    CHARGE bit the set-point ``InWRte`` % of ``WChaMax``, a DISCHARGE bit alone ``-OutWRte`` %
    of the largest discharging power."""
    mode = int(controls.get("StorCtl_Mod") or 0)
    if mode == 0:
        return Command({"battery_mode": None, "battery_setpoint_w": None}, None)
    in_pct = controls.get("InWRte") or 0.0
    out_pct = controls.get("OutWRte") or 0.0
    if mode & STOR_CHARGE and (in_pct or not mode & STOR_DISCHARGE):
        setpoint_w = in_pct / 100.0 * (controls.get("WChaMax") or nameplate.max_charge_w)
    else:
        setpoint_w = -out_pct / 100.0 * nameplate.max_discharge_w
    return Command({"battery_mode": SETPOINT, "battery_setpoint_w": round(setpoint_w, 3)},
                   _revert(controls.get("InOutWRte_RvrtTms")))


def encode_string(text: str, registers: int) -> list[int]:
    """A SunSpec string: UTF-8, two bytes a register, NUL-padded, cut to fit."""
    data = text.encode("utf-8")[:registers * 2].ljust(registers * 2, b"\0")
    return [int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2)]


def _not_implemented(point: Point) -> list[int]:
    if point.type == "string":
        return [0] * point.size
    if point.type in _NOT_IMPLEMENTED_32:
        return list(_NOT_IMPLEMENTED_32[point.type])
    return [_NOT_IMPLEMENTED[point.type]] * point.size


class Unit(NamedTuple):
    """Where one meter is served: its TCP port and Modbus unit id."""

    meter_id: str
    port: int
    unit_id: int


UNITS_PER_PORT = 247
"""Unit ids 1-247, Modbus's individual addresses; the 248th meter goes on the next port."""


def assign_units(meter_ids: list[str], base_port: int) -> list[Unit]:
    """Meters in serving order to unit ids 1..247 on ``base_port``, the next 247 on the next port...

    Raises:
        ValueError: the ports needed go beyond 65535.
    """
    ports = math.ceil(len(meter_ids) / UNITS_PER_PORT)
    if base_port + max(ports - 1, 0) > 65535:
        raise ValueError(f"{len(meter_ids)} meters need ports {base_port} to "
                         f"{base_port + ports - 1}, beyond 65535")
    return [Unit(meter_id, base_port + index // UNITS_PER_PORT, index % UNITS_PER_PORT + 1)
            for index, meter_id in enumerate(meter_ids)]


def units_csv(units: list[Unit]) -> str:
    """The map of meters to ports and unit ids as CSV, a header line first."""
    return "meter_id,port,unit_id\n" + "".join(f"{u.meter_id},{u.port},{u.unit_id}\n" for u in units)
