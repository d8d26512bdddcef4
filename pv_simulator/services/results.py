"""The results stream: each row the PV service writes, also published as a JSON message.

A result goes to the topic exchange ``[output] results_exchange`` with routing key
``pv.results.<meter_id>``, persistent, ``message_id`` ``<meter_id>:<time_s>`` (time_s as
the CSV spells it), body::

    {"meter_id":"Meter_0","time_s":1782036000,"meter_power_w":164.911,
     "pv_power_kw":0.618347,"sum_meter_pv_w":783.258,"grid_power_w":-453.436}

The numbers are the row's own text; ``grid_power_w`` = meter W - PV kW x 1000, what the
household draws from (positive) or feeds into (negative) the grid.

A site's result (battery, export limit or control; :mod:`pv_simulator.models.site`) has its
row's grid power, which includes the battery, and adds the other site columns and the limits
in force (null when none; ``battery_mode`` null without battery)::

    {..., "grid_power_w":-12.500,"battery_power_w":2500.000,"battery_soc_pct":61.250000,
     "pv_available_kw":3.212500,"pv_limit_pct":null,"export_limit_w":0.0,
     "battery_mode":"self_consumption"}

Order within a batch: results are published and confirmed *before* their rows are
written, and the readings are acknowledged after both. A crash before the confirm
leaves neither row nor acknowledgement, so the redelivered readings are written and
published then; a crash between confirm and write publishes them once more on
redelivery (same message_id); a crash after the write finds them skipped as already
written, and their results confirmed already. So no row is ever without its result.
Only rows the batch will write get a result: :meth:`ResultStream.plan` asks the CSV
writer where each file stands, as :meth:`CsvOutput.write` will decide.

RabbitMQ's MQTT plugin turns both ``.`` and ``/`` of a routing key into MQTT's level
separator ``/``, so a dot in a meter id would split its topic level. The routing key
spells such a dot ``%2E`` (ids never hold ``%``): ``Site.A-1`` is published as
``pv.results.Site%2EA-1``, which MQTT subscribers see as ``pv/results/Site%2EA-1``.
The body keeps the exact id.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from pv_simulator.messaging.port import ResultMessage, Session
from pv_simulator.messaging.wire import Reading
from pv_simulator.services.energy import EnergyCounters, MeterEnergy, counters_json
from pv_simulator.storage.csv_format import row_numbers, site_numbers
from pv_simulator.storage.csv_store import CsvOutput

ROUTING_PREFIX = "pv.results."


def routing_key(meter_id: str) -> str:
    """``pv.results.<meter_id>``, a dot of the id spelled ``%2E`` so it stays one MQTT topic level."""
    return ROUTING_PREFIX + meter_id.replace(".", "%2E")


#: ``pv_limit_pct``, ``export_limit_w``, ``battery_mode``, ``battery_setpoint_w`` in force; None: none.
Limits = dict[str, float | str | None]


def limits(pv_limit_pct: float | None, export_limit_w: float | None, battery_mode: str | None,
           battery_setpoint_w: float | None) -> Limits:
    """The settings in force, as the state topic and the command entities show them."""
    return {"pv_limit_pct": pv_limit_pct, "export_limit_w": export_limit_w,
            "battery_mode": battery_mode, "battery_setpoint_w": battery_setpoint_w}


class SiteResult(NamedTuple):
    """A site row's values beyond the five columns, and the settings in force at it."""

    pv_available_kw: float
    battery_power_w: float
    grid_power_w: float
    soc_pct: float
    pv_limit_pct: float | None
    export_limit_w: float | None
    battery_mode: str | None
    #: The reading's power as the site's balance counts it (whole milliwatts), written in its row.
    household_w: float
    #: The setpoint a command gave (used in ``setpoint`` mode; none given: the battery rests).
    battery_setpoint_w: float | None = None

    def limits(self) -> Limits:
        """The settings in force at the row."""
        return limits(self.pv_limit_pct, self.export_limit_w, self.battery_mode,
                      self.battery_setpoint_w)


def encode_result(meter_id: str, time_s: float, meter_power_w: float, pv_power_kw: float,
                  site: SiteResult | None = None, energy: MeterEnergy | None = None) -> ResultMessage:
    """The result of one row, its numbers spelled as in the row; ``energy``: the meter's counters
    with the row (:func:`pv_simulator.services.energy.counters_json`)."""
    if site is not None:
        meter_power_w = site.household_w
    time_text, meter_text, pv_text, total_text = row_numbers(round(time_s, 3), meter_power_w, pv_power_kw)
    head = (f'{{"meter_id":{json.dumps(meter_id)},"time_s":{time_text},"meter_power_w":{meter_text},'
            f'"pv_power_kw":{pv_text},"sum_meter_pv_w":{total_text},')
    if site is None:
        body = head + f'"grid_power_w":{meter_power_w - pv_power_kw * 1000.0:.3f}'
    else:
        grid, battery, soc, available = site_numbers(site.grid_power_w, site.battery_power_w,
                                                     site.soc_pct, site.pv_available_kw)
        body = (head + f'"grid_power_w":{grid},"battery_power_w":{battery},"battery_soc_pct":{soc},'
                f'"pv_available_kw":{available},"pv_limit_pct":{json.dumps(site.pv_limit_pct)},'
                f'"export_limit_w":{json.dumps(site.export_limit_w)},'
                f'"battery_mode":{json.dumps(site.battery_mode)},'
                f'"battery_setpoint_w":{json.dumps(site.battery_setpoint_w)}')
    body += "}" if energy is None else "," + counters_json(energy) + "}"
    return ResultMessage(routing_key(meter_id), body.encode(), f"{meter_id}:{time_text}")


#: What the PV service hands on per accepted reading: the reading, PV delivered (kW), its site's values.
Accepted = tuple[Reading, float, SiteResult | None]


class ResultStream:
    """Publishes the results of the rows a batch is about to write.

    Args:
        exchange: the existing topic exchange results go to.
        output: the CSV writer whose skips the stream follows.
        energy: the counters the writer keeps; each result then carries its meter's counters
            with its row, as the writer will count them (None: results without counters).
    """

    def __init__(self, exchange: str, output: CsvOutput, energy: EnergyCounters | None = None) -> None:
        self.exchange = exchange
        self.output = output
        self.energy = energy
        #: Results the broker confirmed, repeats after a lost connection included.
        self.published = 0

    def open(self, session: Session) -> None:
        """Connection hook: check the exchange and open the confirmed channel, on every (re)connection."""
        session.open_results(self.exchange)

    def plan(self, readings: Sequence[Accepted]) -> list[ResultMessage]:
        """The results of the accepted readings the writer will write, in order; skips left out."""
        messages: list[ResultMessage] = []
        planned: dict[Path, float] = {}
        projected: dict[str, MeterEnergy] = {}
        energy = self.energy
        for reading, pv_kw, site in readings:
            meter_id = reading.meter_id
            time_s = round(reading.time_s, 3)
            path, last_s = self.output.written_up_to(meter_id, time_s)
            if time_s <= planned.get(path, last_s):
                continue
            planned[path] = time_s
            counters = None
            if energy is not None:
                counters = projected.get(meter_id)
                if counters is None:
                    counters = projected[meter_id] = energy.projection(meter_id)
                if site is None:
                    counters.add_row(time_s, reading.power_w, pv_kw)
                else:
                    counters.add_row(time_s, site.household_w, pv_kw, site.grid_power_w)
            messages.append(encode_result(meter_id, time_s, reading.power_w, pv_kw, site, counters))
        return messages

    def publish(self, session: Session, readings: Sequence[Accepted]) -> None:
        """Publish the results of the rows ``readings`` will write; return once confirmed.

        Raises:
            ConnectionLost: before every result was confirmed; the batch must not be written.
        """
        messages = self.plan(readings)
        if messages:
            session.publish_results(self.exchange, messages)
            self.published += len(messages)
