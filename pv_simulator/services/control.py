"""Commands to a site: parsed, validated and held per meter until they lapse.

A command is a JSON object published on the topic exchange ``amq.topic`` with routing key
``pv.control.<METER_ID>`` (MQTT topic ``pv/control/<METER_ID>``; a dot of the id spelled
``%2E``, as the results stream spells it), with any of:

* ``pv_limit_pct``: 0-100, the inverter's active power limit as a share of its AC rating;
* ``export_limit_w``: >= 0, the most the grid may take; ``null`` drops the command's limit,
  so the configured ``[site] export_limit_w`` (if any) applies again;
* ``battery_mode``: ``self_consumption``, ``idle`` or ``setpoint``;
* ``battery_setpoint_w``: the battery's power in ``setpoint`` mode, positive charging (none
  given: 0, the battery rests);
* ``revert_after_s``: > 0, the settings of this command lapse after that long unless renewed.

A command takes effect from the next reading the service handles after receiving it. Its
revert timer counts in the readings' time from that reading on (in real time that is wall
time; in fast-forward the simulated time, so a replayed day reverts where it would have).
Settings of a command without ``revert_after_s`` hold until another command changes them.

Commands are not part of the exactly-once data: one arriving while the connection is down is
lost, and readings redelivered after a crash are computed with the commands in force then.
"""

from __future__ import annotations

import json
import logging
import math
import queue
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from pv_simulator.models.site import MODES

log = logging.getLogger(__name__)

EXCHANGE = "amq.topic"
ROUTING_PREFIX = "pv.control."
ROUTING_PATTERN = ROUTING_PREFIX + "*"

#: Larger setpoints and limits are typing errors, not sites (the meter's own bound is 10 MW).
MAX_POWER_W = 1e7

SETTINGS = ("pv_limit_pct", "export_limit_w", "battery_mode", "battery_setpoint_w")
KEYS = (*SETTINGS, "revert_after_s")
BATTERY_SETTINGS = ("battery_mode", "battery_setpoint_w")


class BadCommand(ValueError):
    """A command that changes nothing; ``kind`` groups the log lines and reasons."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Command:
    """One valid command: the settings it makes (None: export limit dropped), its revert timer."""

    settings: dict[str, float | str | None]
    revert_after_s: float | None

    def describe(self) -> str:
        parts = [f"{key} {value if value is not None else 'cleared'}"
                 for key, value in self.settings.items()]
        timer = (f", reverting after {self.revert_after_s:g} s" if self.revert_after_s is not None
                 else "")
        return ", ".join(parts) + timer


def _number(key: str, value: object, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadCommand("wrong type", f"{key}: {json.dumps(value)} is not a number")
    number = float(value)
    if not (math.isfinite(number) and low <= number <= high):
        raise BadCommand("out of range", f"{key}: {value} is out of range {low:g}..{high:g}")
    return number


def parse_command(body: bytes) -> Command:
    """The command of a message body.

    Raises:
        BadCommand: not a JSON object, an unknown key, a wrong type or a value out of range.
    """
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise BadCommand("invalid JSON", f"not JSON: {body[:60]!r}") from None
    if not isinstance(data, dict):
        raise BadCommand("invalid JSON", f"not a JSON object: {body[:60]!r}")
    unknown = sorted(set(data) - set(KEYS))
    if unknown:
        raise BadCommand("unknown key", f"unknown key {unknown[0]!r} (known: {', '.join(KEYS)})")
    settings: dict[str, float | str | None] = {}
    if "pv_limit_pct" in data:
        settings["pv_limit_pct"] = _number("pv_limit_pct", data["pv_limit_pct"], 0.0, 100.0)
    if "export_limit_w" in data:
        limit = data["export_limit_w"]
        settings["export_limit_w"] = (None if limit is None
                                      else _number("export_limit_w", limit, 0.0, MAX_POWER_W))
    if "battery_mode" in data:
        mode = data["battery_mode"]
        if not isinstance(mode, str):
            raise BadCommand("wrong type", f"battery_mode: {json.dumps(mode)} is not a string")
        if mode not in MODES:
            raise BadCommand("out of range", f"battery_mode: {mode!r} is not one of {', '.join(MODES)}")
        settings["battery_mode"] = mode
    if "battery_setpoint_w" in data:
        settings["battery_setpoint_w"] = _number("battery_setpoint_w", data["battery_setpoint_w"],
                                                 -MAX_POWER_W, MAX_POWER_W)
    revert = data.get("revert_after_s")
    revert_after_s = None
    if revert is not None:
        revert_after_s = _number("revert_after_s", revert, 0.0, math.inf)
        if revert_after_s == 0.0:
            raise BadCommand("out of range", "revert_after_s: must be greater than 0")
    if not settings:
        raise BadCommand("no setting", f"names no setting (one of {', '.join(SETTINGS)})")
    return Command(settings, revert_after_s)


def command_topic(meter_id: str) -> str:
    """The MQTT topic of the meter's commands, ``pv/control/<METER_ID>`` (a dot as ``%2E``)."""
    return "/".join(ROUTING_PREFIX.split(".")[:-1]) + "/" + meter_id.replace(".", "%2E")


def meter_of(routing_key: str) -> str | None:
    """The meter id of a command's routing key (``%2E`` back to ``.``), or None for another key."""
    if not routing_key.startswith(ROUTING_PREFIX):
        return None
    return routing_key[len(ROUTING_PREFIX):].replace("%2E", ".")


class Control:
    """The commands in force at one site, applied from the first reading after their arrival.

    The attributes are what readings use; each setting's value is None while no command sets it.
    """

    __slots__ = ("_deadlines", "_next_deadline_s", "_pending", "battery_mode",
                 "battery_setpoint_w", "export_limit_set", "export_limit_w", "pv_limit_pct")

    def __init__(self) -> None:
        self._pending: list[Command] = []
        self._deadlines: dict[str, float] = {}
        self._next_deadline_s = math.inf
        self.pv_limit_pct: float | None = None
        self.export_limit_w: float | None = None
        #: Whether a command set the export limit (its None then means "the configured one").
        self.export_limit_set = False
        self.battery_mode: str | None = None
        self.battery_setpoint_w: float | None = None

    def receive(self, command: Command) -> None:
        self._pending.append(command)

    def at(self, time_s: float) -> None:
        """Bring the settings to a reading at ``time_s``: lapse expired ones, apply new commands."""
        if time_s >= self._next_deadline_s:
            for key in [key for key, deadline in self._deadlines.items() if time_s >= deadline]:
                del self._deadlines[key]
                self._set(key, None, clear=True)
                log.info("control: %s lapsed (revert timer) at time_s %.3f", key, time_s)
            self._next_deadline_s = min(self._deadlines.values(), default=math.inf)
        if self._pending:
            for command in self._pending:
                for key, value in command.settings.items():
                    self._set(key, value, clear=False)
                    if command.revert_after_s is None:
                        self._deadlines.pop(key, None)
                    else:
                        self._deadlines[key] = time_s + command.revert_after_s
            self._pending.clear()
            self._next_deadline_s = min(self._deadlines.values(), default=math.inf)

    def _set(self, key: str, value: float | str | None, clear: bool) -> None:
        if key == "export_limit_w":
            self.export_limit_set = not clear and value is not None
            self.export_limit_w = value if isinstance(value, float) else None
        elif key == "pv_limit_pct":
            self.pv_limit_pct = value if isinstance(value, float) else None
        elif key == "battery_setpoint_w":
            self.battery_setpoint_w = value if isinstance(value, float) else None
        else:
            self.battery_mode = value if isinstance(value, str) else None


class ControlBoard:
    """Takes command messages for the meters a PV service serves; counts and logs what it did.

    Args:
        serves: whether this service writes a meter's rows.
        has_battery: whether a served meter's site has a battery.
    """

    def __init__(self, serves: Callable[[str], bool], has_battery: Callable[[str], bool]) -> None:
        self._serves = serves
        self._has_battery = has_battery
        self.controls: dict[str, Control] = {}
        self.applied = 0
        self.rejected = 0
        self.rejected_kinds: Counter[str] = Counter()

    def control(self, meter_id: str) -> Control:
        """The meter's control state, created empty on first use."""
        control = self.controls.get(meter_id)
        if control is None:
            control = self.controls[meter_id] = Control()
        return control

    def on_message(self, routing_key: str, body: bytes) -> None:
        """One command message: queued for its meter's next reading, or rejected."""
        meter_id = meter_of(routing_key)
        try:
            if meter_id is None or not self._serves(meter_id):
                raise BadCommand("unknown meter", f"no meter of this service ({routing_key})")
            command = parse_command(body)
        except BadCommand as exc:
            self.reject(exc, routing_key)
            return
        self.take(meter_id, command, routing_key)

    def take(self, meter_id: str, command: Command, where: str) -> None:
        """A parsed command for a served meter, from ``where`` (an AMQP routing key, a Modbus
        unit): queued for the meter's next reading, or rejected."""
        if not self._has_battery(meter_id) and any(k in command.settings for k in BATTERY_SETTINGS):
            self.reject(BadCommand("no battery", f"{meter_id} has no battery"), where)
            return
        self.control(meter_id).receive(command)
        self.applied += 1
        log.info("command for %s: %s, from its next reading (%s)", meter_id, command.describe(), where)

    def reject(self, exc: BadCommand, where: str) -> None:
        """Count a command that changes nothing; log the first of its kind."""
        self.rejected += 1
        self.rejected_kinds[exc.kind] += 1
        if self.rejected_kinds[exc.kind] == 1:
            log.warning("rejected a command on %s (%s; further ones of this kind are only "
                        "counted): %s", where, exc.kind, exc)


class CommandInbox:
    """Commands from another thread (the Modbus server's) for the PV service's thread.

    The server puts; the service drains before each batch it handles, into its
    :class:`ControlBoard`, so counting and applying stay on the service's thread as they are
    for AMQP commands, and a command applies from the next reading handled after it came.
    """

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[tuple[str, Command | BadCommand, str]] = queue.SimpleQueue()

    def put(self, meter_id: str, command: Command | BadCommand, where: str) -> None:
        """A command for ``meter_id``, or a refused one (counted as rejected), from ``where``."""
        self._queue.put((meter_id, command, where))

    def drain(self, board: ControlBoard) -> None:
        while True:
            try:
                meter_id, command, where = self._queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(command, BadCommand):
                board.reject(command, where)
            else:
                board.take(meter_id, command, where)
