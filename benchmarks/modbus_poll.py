"""A fleet of SunSpec pollers, as energy management systems poll their devices: one TCP
connection per unit, each unit polled once a second, every poll reading the unit's whole map
(all its models, found once by following the model headers) in reads of at most 125
registers, each read's response time recorded.

The pollers are a load generator for the benchmark, so they speak Modbus TCP with asyncio
streams directly (a few lines of framing): a full client stack would spend the machine's
two cores on the bench's own side.
"""

from __future__ import annotations

import asyncio
import math
import socket
import struct
import threading
import time
from collections.abc import Sequence

BASE = 40000
MAX_READ = 125
END_MODEL_ID = 0xFFFF


def free_port_pair(host: str = "127.0.0.1") -> int:
    """A port nothing listens on, with the next one free too (the units past the 247th)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind((host, 0))
            port = int(probe.getsockname()[1])
        with socket.socket() as second:
            try:
                second.bind((host, port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError(f"no free pair of ports on {host}")


class _Client:
    """One connection to one unit: reads with a transaction id each."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, unit: int) -> None:
        self.reader, self.writer, self.unit = reader, writer, unit
        self.transaction = 0

    async def read(self, address: int, count: int) -> list[int]:
        self.transaction = (self.transaction + 1) & 0xFFFF
        self.writer.write(struct.pack(">HHHBBHH", self.transaction, 0, 6, self.unit, 3, address, count))
        header = await self.reader.readexactly(7)
        transaction, _protocol, length, _unit = struct.unpack(">HHHB", header)
        body = await self.reader.readexactly(length - 1)
        if transaction != self.transaction:
            raise RuntimeError(f"unit {self.unit}: answer to transaction {transaction}")
        if body[0] & 0x80:
            raise RuntimeError(f"unit {self.unit}: exception {body[1]} reading {address}+{count}")
        return list(struct.unpack(f">{body[1] // 2}H", body[2:]))


class ModbusPollers:
    """Poll ``units`` ((port, unit id) each) on ``host`` every ``every_s``, spread over the second."""

    def __init__(self, host: str, units: Sequence[tuple[int, int]], every_s: float = 1.0) -> None:
        self.host, self.units, self.every_s = host, list(units), every_s
        self.response_s: list[float] = []
        self.polls = 0
        self.errors: list[str] = []
        self.map_registers: int | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), name="pollers",
                                        daemon=True)

    def start(self) -> ModbusPollers:
        self._thread.start()
        return self

    def stop(self) -> dict[str, object]:
        self._stop.set()
        self._thread.join(timeout=30)
        ordered = sorted(self.response_s)

        def pct_ms(q: float) -> float | None:
            if not ordered:
                return None
            return round(1000 * ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)], 2)

        return {"units": len(self.units), "polls": self.polls, "requests": len(ordered),
                "map_registers": self.map_registers, "response_p50_ms": pct_ms(0.5),
                "response_p99_ms": pct_ms(0.99),
                "response_max_ms": round(1000 * ordered[-1], 2) if ordered else None,
                "errors": len(self.errors), "first_errors": self.errors[:5]}

    async def _run(self) -> None:
        tasks = [asyncio.create_task(self._poll(port, unit, index / max(1, len(self.units))))
                 for index, (port, unit) in enumerate(self.units)]
        while not self._stop.is_set():
            await asyncio.sleep(0.1)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _poll(self, port: int, unit: int, phase: float) -> None:
        try:
            reader, writer = await asyncio.open_connection(self.host, port)
        except OSError as exc:
            self.errors.append(f"unit {unit} on {port}: {exc}")
            return
        client = _Client(reader, writer, unit)
        try:
            size = await self._map_size(client)
            self.map_registers = size
            next_poll = time.monotonic() + phase * self.every_s
            while not self._stop.is_set():
                await asyncio.sleep(max(0.0, next_poll - time.monotonic()))
                next_poll += self.every_s
                for address in range(BASE, BASE + size, MAX_READ):
                    began = time.perf_counter()
                    await client.read(address, min(MAX_READ, BASE + size - address))
                    self.response_s.append(time.perf_counter() - began)
                self.polls += 1
        except (OSError, RuntimeError, asyncio.IncompleteReadError) as exc:
            self.errors.append(f"unit {unit} on {port}: {exc!r}")
        finally:
            writer.close()

    @staticmethod
    async def _map_size(client: _Client) -> int:
        """Registers from the base to the end marker's length, following the model headers."""
        if await client.read(BASE, 2) != [0x5375, 0x6E53]:
            raise RuntimeError(f"unit {client.unit}: no SunS at {BASE}")
        address = BASE + 2
        while True:
            model_id, length = await client.read(address, 2)
            if model_id == END_MODEL_ID:
                return address + 2 - BASE
            address += 2 + length
