"""A simulated period into Home Assistant's long-term statistics, with its simulated times.

Home Assistant stamps a state with the time it receives it, so a fast-forward day streamed in
seconds is meaningless in its history (docs/home-assistant.md). This reads the PV service's
CSV files and imports each meter's energy counters as hourly *external statistics*
(``pv_simulator:<meter>_<counter>``, kWh, a ``sum`` per hour) through HA's WebSocket command
``recorder/import_statistics``, which takes a statistic's start times: the Energy dashboard
can then show the simulated days where they were simulated.

The counters are those of :mod:`pv_simulator.services.energy` (each row's power over the
interval since the meter's previous row), counted from the first row of the files given; an
hour's ``sum`` is the counter after the last row whose interval ends in that hour, and an hour
of 0 before the first is imported too, so the first hour's change is its own energy. Importing
the same hours again replaces them. Usable as
``HA_TOKEN=... python -m pv_simulator.ha_statistics CSV [CSV ...] [--url URL]``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import Any

import websocket

from pv_simulator.services.energy import COUNTERS, MeterEnergy
from pv_simulator.storage.csv_format import Row
from pv_simulator.summary import read_rows_or_say

SOURCE = "pv_simulator"
#: What each counter is called in HA.
NAMES = {"consumption_kwh": "energy consumed", "pv_kwh": "PV energy produced",
         "grid_import_kwh": "grid import", "grid_export_kwh": "grid export"}

_NOT_ID = re.compile(r"[^a-z0-9]+")


class ImportFailed(Exception):
    """Home Assistant could not be reached or refused; the message says which and why."""


def statistic_id(meter_id: str, counter: str) -> str:
    """``pv_simulator:<meter>_<counter>``, the meter id lowercased with other characters as ``_``
    (HA's rule: ``[a-z0-9_]``, no ``__``, no ``_`` at either end)."""
    meter = _NOT_ID.sub("_", meter_id.lower()).strip("_") or "meter"
    return f"{SOURCE}:{meter}_{counter.removesuffix('_kwh')}"


def hourly_sums(rows: Iterable[Row]) -> dict[str, list[tuple[float, tuple[float, ...]]]]:
    """Per meter, (hour start s, the :data:`COUNTERS` at its end) for each hour with rows, time
    ordered, after an hour of zeros before the first."""
    by_meter: dict[str, list[Row]] = {}
    for row in rows:
        by_meter.setdefault(row.meter_id, []).append(row)
    sums: dict[str, list[tuple[float, tuple[float, ...]]]] = {}
    for meter_id, meter_rows in sorted(by_meter.items()):
        energy = MeterEnergy()
        hours: dict[float, tuple[float, ...]] = {}
        for row in sorted(meter_rows, key=lambda r: r.time_s):
            energy.add(row.time_s, row.meter_power_value_w, row.pv_power_value_kw, row.grid_power_w)
            # A row closes the interval up to its time: one at 13:00:00 ends the 12:00 hour.
            hour_s = (math.ceil(row.time_s / 3600.0) - 1) * 3600.0
            hours[hour_s] = tuple(getattr(energy, key) for key in COUNTERS)
        first_s = min(hours)
        sums[meter_id] = [(first_s - 3600.0, (0.0,) * len(COUNTERS)), *sorted(hours.items())]
    return sums


def import_commands(rows: Iterable[Row]) -> list[dict[str, Any]]:
    """The ``recorder/import_statistics`` commands (without ``id``) of every meter and counter."""
    commands: list[dict[str, Any]] = []
    for meter_id, hours in hourly_sums(rows).items():
        for index, counter in enumerate(COUNTERS):
            commands.append({
                "type": "recorder/import_statistics",
                "metadata": {"has_mean": False, "has_sum": True, "source": SOURCE,
                             "name": f"PV simulator {meter_id} {NAMES[counter]}",
                             "statistic_id": statistic_id(meter_id, counter),
                             "unit_of_measurement": "kWh"},
                "stats": [{"start": datetime.fromtimestamp(hour_s, timezone.utc).isoformat(),
                           "sum": round(values[index], 6), "state": round(values[index], 6)}
                          for hour_s, values in hours]})
    return commands


def websocket_url(url: str) -> str:
    """HA's WebSocket API under its base URL (``http://host:8123`` or ``https://...``)."""
    base = url.rstrip("/")
    if base.startswith("https://"):
        return "wss://" + base[len("https://"):] + "/api/websocket"
    if base.startswith("http://"):
        return "ws://" + base[len("http://"):] + "/api/websocket"
    raise ImportFailed(f"--url {url!r}: not an http:// or https:// address")


def send(url: str, token: str, commands: Sequence[dict[str, Any]], timeout_s: float = 30.0) -> None:
    """Authenticate with a long-lived access token and send each command, checking its result.

    Raises:
        ImportFailed: HA unreachable, the token refused, or a command refused.
    """
    address = websocket_url(url)
    try:
        connection = websocket.create_connection(address, timeout=timeout_s)
    except (OSError, websocket.WebSocketException) as exc:
        raise ImportFailed(f"cannot reach Home Assistant at {address}: {exc}") from None
    try:
        connection.recv()  # auth_required
        connection.send(json.dumps({"type": "auth", "access_token": token}))
        reply = json.loads(connection.recv())
        if reply.get("type") != "auth_ok":
            raise ImportFailed(f"Home Assistant at {url} refused the token (HA_TOKEN): "
                               f"{reply.get('message', reply.get('type'))}")
        for number, command in enumerate(commands, start=1):
            connection.send(json.dumps({"id": number, **command}))
            result = json.loads(connection.recv())
            if not result.get("success"):
                error = result.get("error", {})
                raise ImportFailed(f"Home Assistant refused {command['metadata']['statistic_id']}: "
                                   f"{error.get('code')}: {error.get('message')}")
    except (OSError, websocket.WebSocketException, ValueError) as exc:
        raise ImportFailed(f"Home Assistant at {address}: connection failed ({exc})") from None
    finally:
        connection.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Import the files' counters; bad input is one line on stderr and exit 2, HA's refusal exit 1."""
    parser = argparse.ArgumentParser(
        prog="python -m pv_simulator.ha_statistics",
        description="Import the energy counters of PV service CSV files into Home Assistant's "
                    "long-term statistics at their simulated times. The token (a long-lived "
                    "access token of an administrator) is read from the environment variable HA_TOKEN.")
    parser.add_argument("csv", nargs="+", help="PV service CSV files")
    parser.add_argument("--url", default="http://127.0.0.1:8123",
                        help="Home Assistant's address (default: http://127.0.0.1:8123)")
    args = parser.parse_args(argv)
    token = os.environ.get("HA_TOKEN", "")
    if not token:
        print("error: set HA_TOKEN to a long-lived access token (HA: your profile, Security)",
              file=sys.stderr)
        return 2
    rows = read_rows_or_say(args.csv)
    if rows is None:
        return 2
    commands = import_commands(rows)
    try:
        send(args.url, token, commands)
    except ImportFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    hours = sum(len(command["stats"]) for command in commands)
    print(f"imported {len(commands)} statistics ({hours} hours) into {args.url}: "
          + ", ".join(command["metadata"]["statistic_id"] for command in commands))
    return 0


if __name__ == "__main__":
    sys.exit(main())
