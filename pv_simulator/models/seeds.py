"""The one way a run's seed becomes the seed of each random stream in the simulation.

A stream is named by a path under the run's seed, e.g. ``(seed, meter_index)`` for a
meter's random walk or ``(seed, "sky-day", day)`` for a day of clouds. Deriving every
stream from the same function keeps the streams independent of each other and the same
in every process (no ``hash()``, which ``PYTHONHASHSEED`` varies), so a seeded run repeats.
"""

from __future__ import annotations

import hashlib
from typing import overload

_UNIT = float(1 << 53)


@overload
def derive_seed(seed: int, *path: int | str) -> int: ...
@overload
def derive_seed(seed: None, *path: int | str) -> None: ...
@overload
def derive_seed(seed: int | None, *path: int | str) -> int | None: ...
def derive_seed(seed: int | None, *path: int | str) -> int | None:
    """The 64-bit seed of the stream ``path`` under ``seed``; None stays None (a fresh stream).

    It is the first 8 bytes (big-endian) of the SHA-256 of ``seed`` and the path parts
    joined by ``:``, e.g. ``derive_seed(42, 2)`` hashes ``"42:2"``.
    """
    if seed is None:
        return None
    return _hashed(":".join(map(str, (seed, *path))).encode())


def derive_uniform(seed: int, *path: int | str) -> float:
    """A uniform number in [0, 1) from ``derive_seed(seed, *path)``: one hashed draw per index."""
    return _uniform(derive_seed(seed, *path))


def _hashed(text: bytes) -> int:
    """The first 8 bytes (big-endian) of the SHA-256 of a stream's joined text."""
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "big")


def _uniform(seed64: int) -> float:
    """A 64-bit seed's top 53 bits as a float in [0, 1)."""
    return (seed64 >> 11) / _UNIT


class IndexedUniforms:
    """``derive_uniform(seed, *path, index)`` for the successive indices of one stream.

    The same numbers, but the text up to the index is joined and encoded once rather than at
    every draw: a household's fridge draws one per cycle, and the hashing was a tenth of its
    model's time in a fleet run.
    """

    __slots__ = ("_prefix",)

    def __init__(self, seed: int, *path: int | str) -> None:
        self._prefix = ":".join(map(str, (seed, *path, ""))).encode()

    def __call__(self, index: int) -> float:
        return _uniform(_hashed(self._prefix + str(index).encode()))


def meter_stream(meter_id: str) -> int | str:
    """The path part that names a meter's streams: its number for ``Meter_<k>``, else its id.

    Named by the meter, never by its position in a fleet file, so reordering or adding rows
    changes nobody else; ``Meter_<k>`` keeps the number the meters of ``-nb N`` always had.
    """
    prefix, _, number = meter_id.partition("_")
    if prefix == "Meter" and number.isdigit() and str(int(number)) == number:
        return int(number)
    return meter_id
