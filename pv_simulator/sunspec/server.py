"""The Modbus TCP server of the served sites: pymodbus in a thread and asyncio loop of its own.

The PV service's thread only swaps in each meter's latest :class:`RowValues` after a flush
(:meth:`SunSpecServer.update`, one reference assignment); the server's thread encodes a
device's registers when a client reads them, at most once per new row or write. So no client,
however slow or hostile, holds up the consuming of readings: the worst it takes is the server
thread's share of the interpreter.

Requests (pymodbus's ``SimDevice`` action hook, called for each one):

* read holding registers (3) of the map: the registers of the latest row;
* write single (6) or multiple (16) registers: with ``control`` off, ILLEGAL FUNCTION (the
  device takes no writes); with it, :meth:`DeviceMap.decode_write`'s exception or the command,
  handed to the PV service's thread through a :class:`CommandInbox`;
* any other function on the map: ILLEGAL FUNCTION; outside the map: ILLEGAL DATA ADDRESS;
* a unit id no meter has: GATEWAY TARGET DEVICE FAILED TO RESPOND (0x0B), a gateway's answer.

Each port takes at most :data:`MAX_CONNECTIONS` clients (more are closed at once, so that
clients cannot take the file handles the CSV writer needs) and closes a connection idle for
:data:`IDLE_TIMEOUT_S`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import socket
import threading
import time
from collections.abc import Sequence
from typing import Any

from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.server.requesthandler import ServerRequestHandler
from pymodbus.simulator import DataType, SimData, SimDevice

from pv_simulator.services.control import BadCommand, CommandInbox
from pv_simulator.sunspec.register_map import (
    BASE_ADDRESS,
    Controls,
    DeviceMap,
    Nameplate,
    RowValues,
    Unit,
    WriteRefused,
    initial_controls,
)

log = logging.getLogger(__name__)

MAX_CONNECTIONS = 2000
"""Clients one port serves at once; a connection beyond is closed as it opens."""

IDLE_TIMEOUT_S = 300.0
"""A connection that sent nothing for this long is closed (a half-open one, a dead client)."""

READ_HOLDING = 3
WRITES = frozenset({6, 16})


class ModbusUnavailable(Exception):
    """The server cannot listen where it was asked to: one line naming the address and why."""


class Device:
    """One meter's SunSpec device: its map, latest row and controls, registers cached."""

    __slots__ = ("_cached", "_key", "controls", "map", "unit", "values")

    def __init__(self, unit: Unit, nameplate: Nameplate) -> None:
        self.unit = unit
        self.map = DeviceMap(nameplate)
        self.values: RowValues | None = None
        self.controls: Controls = initial_controls(nameplate)
        self._key: tuple[RowValues | None, int] | None = None
        self._cached: list[int] = []

    def registers(self) -> list[int]:
        """The registers of the latest row and controls, encoded again only when either changed."""
        key = (self.values, self.controls.version)
        if key != self._key:
            self._cached = self.map.registers(key[0], self.controls)
            self._key = key
        return self._cached


class SunSpecServer:
    """Serves ``units`` (meters to ports and unit ids) on ``host``; one pymodbus server per port.

    Args:
        nameplates: each meter's ratings.
        inbox: where accepted writes go as commands; None: writes are refused (control off).
    """

    def __init__(self, host: str, units: Sequence[Unit], nameplates: dict[str, Nameplate],
                 inbox: CommandInbox | None) -> None:
        self.host = host
        self.units = list(units)
        self.inbox = inbox
        self.devices = {unit.meter_id: Device(unit, nameplates[unit.meter_id]) for unit in self.units}
        self.requests = 0
        self.exceptions = 0
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._started = threading.Event()
        self._failure: str | None = None

    @property
    def ports(self) -> list[int]:
        return sorted({unit.port for unit in self.units})

    def update(self, meter_id: str, values: RowValues) -> None:
        """The meter's latest written row (from the PV service's thread)."""
        device = self.devices.get(meter_id)
        if device is not None:
            device.values = values

    def start(self, timeout_s: float = 60.0) -> None:
        """Listen on every port, in a thread of its own; returns once all listen.

        Raises:
            ModbusUnavailable: a port cannot be listened on (in use, not permitted, no such address).
        """
        for port in self.ports:
            _check_bindable(self.host, port)
        self._thread = threading.Thread(target=self._run, name="modbus", daemon=True)
        self._thread.start()
        if not self._started.wait(timeout_s):
            raise ModbusUnavailable(f"Modbus server on {self.host}: not listening after {timeout_s:g} s")
        if self._failure is not None:
            raise ModbusUnavailable(self._failure)

    def stop(self) -> None:
        """Close every connection and listener; wait for the thread."""
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None and not loop.is_closed():
            loop.call_soon_threadsafe(stopping.set)
        if self._thread is not None:
            self._thread.join(10.0)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except Exception as exc:  # the thread must report, not die silently
            self._failure = f"Modbus server on {self.host}: {exc}"
            self._started.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        servers: list[_Server] = []
        try:
            for port in self.ports:
                devices = [self._sim_device(device) for device in self.devices.values()
                           if device.unit.port == port]
                server = _Server([_unknown_unit(), *devices], address=(self.host, port))
                servers.append(server)
                try:
                    await server.serve_forever(background=True)
                except RuntimeError:
                    self._failure = f"Modbus server: cannot listen on {self.host}:{port}"
                    return
            self._started.set()
            while not self._stopping.is_set():
                try:
                    await asyncio.wait_for(self._stopping.wait(), timeout=IDLE_TIMEOUT_S / 10.0)
                except asyncio.TimeoutError:
                    for server in servers:
                        server.close_idle(time.monotonic() - IDLE_TIMEOUT_S)
        finally:
            for server in servers:
                await server.shutdown()  # type: ignore[no-untyped-call]
            self._started.set()

    def _sim_device(self, device: Device) -> SimDevice:
        return SimDevice(device.unit.unit_id,
                         simdata=[SimData(BASE_ADDRESS, count=device.map.size, values=0,
                                          datatype=DataType.REGISTERS)],
                         action=functools.partial(self._action, device))

    async def _action(self, device: Device, function_code: int, start_address: int, address: int,
                      count: int, registers: list[int], set_values: Any) -> ExcCodes | None:
        """One request on ``device``: fill ``registers`` for a read, take a write, or refuse."""
        self.requests += 1
        offset = address - start_address
        if set_values is None:
            if function_code in WRITES:
                return None  # pymodbus reads a write back for its response: the values written
            if function_code == READ_HOLDING:
                registers[offset:offset + count] = device.registers()[address - BASE_ADDRESS:
                                                                     address - BASE_ADDRESS + count]
                return None
        if function_code not in WRITES or not set_values:
            return self._refuse(ExcCodes.ILLEGAL_FUNCTION)
        if self.inbox is None:
            return self._refuse(ExcCodes.ILLEGAL_FUNCTION)
        unit = device.unit
        where = f"Modbus {self.host}:{unit.port} unit {unit.unit_id}"
        try:
            updated, command = device.map.decode_write(address, [int(v) for v in set_values],
                                                       device.registers(), device.controls)
        except WriteRefused as exc:
            self.inbox.put(unit.meter_id, BadCommand(f"Modbus {exc.kind}", str(exc)), where)
            return self._refuse(ExcCodes(exc.code))
        device.controls = Controls(updated, device.controls.version + 1)
        if command is not None:
            self.inbox.put(unit.meter_id, command, where)
        return None

    def _refuse(self, code: ExcCodes) -> ExcCodes:
        self.exceptions += 1
        return code


def _unknown_unit() -> SimDevice:
    """Device 0, pymodbus's catch-all: every unit id without a meter answers that it is absent."""

    async def absent(*_args: Any) -> ExcCodes:
        return ExcCodes.GATEWAY_NO_RESPONSE

    return SimDevice(0, simdata=[SimData(0, count=65536, values=0, datatype=DataType.REGISTERS)],
                     action=absent)


def _check_bindable(host: str, port: int) -> None:
    """Bind and release ``host:port`` as the server will, for the reason it cannot."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ModbusUnavailable(f"Modbus server: cannot listen on {host}:{port}: {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            raise ModbusUnavailable(f"Modbus server: cannot listen on {host}:{port}: "
                                    f"{exc.strerror or exc}") from None


_TASKS: set[asyncio.Task[None]] = set()
"""Requests being handled: the loop keeps only weak references to its tasks."""


class _Handler(ServerRequestHandler):
    """A client connection: closed at once beyond the port's cap; its last activity kept."""

    def callback_connected(self) -> None:
        super().callback_connected()
        self.last_active = time.monotonic()
        if len(self.server.active_connections) > MAX_CONNECTIONS:
            self.close()

    def callback_data(self, data: bytes, addr: tuple[Any, ...] | None = None) -> int:
        self.last_active = time.monotonic()
        used: int = super().callback_data(data, addr)
        return used

    def handle_later(self) -> None:
        """The request as a task of this loop. pymodbus 3.16 hands it over with
        ``run_coroutine_threadsafe`` from the loop's own thread: a wake-up through the loop's
        self-pipe, one more system call and loop turn, for every request."""
        task = self.loop.create_task(self.handle_request())  # type: ignore[no-untyped-call]
        _TASKS.add(task)
        task.add_done_callback(_TASKS.discard)


class _Server(ModbusTcpServer):
    def callback_new_connection(self) -> _Handler:
        return _Handler(self, self.trace_packet, self.trace_pdu,  # type: ignore[no-untyped-call]
                        self.trace_connect)

    def close_idle(self, before: float) -> None:
        for handler in list(self.active_connections.values()):
            if getattr(handler, "last_active", before) < before:
                handler.close()
