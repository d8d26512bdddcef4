"""pysunspec2 (the SunSpec Alliance's client) reading a register image in memory: the oracle that
decodes what the register map encodes, without a network."""

from __future__ import annotations

from typing import Any

from sunspec2.modbus.client import SunSpecModbusClientDevice


class ImageDevice(SunSpecModbusClientDevice):  # type: ignore[misc]
    """A SunSpec device whose registers from ``base`` are ``image``; writes land in ``writes``."""

    def __init__(self, image: list[int], base: int = 40000) -> None:
        super().__init__()
        self.image = image
        self.base = base
        self.writes: list[tuple[int, list[int]]] = []

    def read(self, addr: int, count: int) -> bytes:
        start = addr - self.base
        if start < 0 or start + count > len(self.image):
            raise ValueError(f"read outside the image: {addr} + {count}")
        return b"".join(value.to_bytes(2, "big") for value in self.image[start:start + count])

    def write(self, addr: int, data: bytes) -> None:
        self.writes.append((addr, [int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2)]))


def scanned(image: list[int]) -> dict[int, Any]:
    """Each model of the image, as pysunspec2 scans and decodes it, by model id."""
    device = ImageDevice(image)
    device.scan(connect=False)
    return {int(models[0].model_id): models[0] for key, models in device.models.items()
            if isinstance(key, int)}
