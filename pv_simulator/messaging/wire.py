"""The reading message: what the meter publishes and the PV service accepts.

A reading is a JSON object ``{"meter_id": str, "time_s": number, "power_w": number}``.
A message holds one reading, or several of one queue, one object a line (``[broker]
readings_per_message``, :func:`pack`): the broker's cost is per message, so a tick of
10,000 meters on 4 partitions is 100 messages rather than 10,000.
:func:`decode_all` is the one gate between the queue and the CSV: a message it refuses is
dead-lettered whole with the reason, never written.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from typing import NamedTuple

from pv_simulator.messaging.port import METER_ID_RULE, QUEUE_PER_METER, Layout, Message, is_meter_id

MAX_BODY_BYTES = 64 * 1024
#: The most readings in one message: 500 of the longest meter ids (64 characters) stay under
#: :data:`MAX_BODY_BYTES`.
MAX_READINGS_PER_MESSAGE = 500
#: 2200-01-01T00:00:00Z: a reading after it is a unit error, not a simulation.
MAX_TIME_S = 7_258_118_400.0
FIELDS = ("meter_id", "time_s", "power_w")


class BadReading(ValueError):
    """A message that is not a valid reading for its queue; the text says why."""


class Reading(NamedTuple):
    """One meter reading: consumption ``power_w`` in W at epoch seconds ``time_s``.

    A named tuple rather than a frozen dataclass: as immutable, and made in half the time,
    which counts at one per row (a year of 1,000 houses is 35 million).
    """

    meter_id: str
    time_s: float
    power_w: float


class ReadingEncoder:
    """Encodes one meter's readings; the meter's hot path, so no json.dumps per reading."""

    def __init__(self, meter_id: str) -> None:
        self._prefix = '{"meter_id":' + json.dumps(meter_id) + ',"time_s":'

    def __call__(self, time_s: float, power_w: float) -> bytes:
        return f'{self._prefix}{time_s!r},"power_w":{power_w:.3f}}}'.encode()


#: Between two readings of a packed message.
_NEXT_LINE = b"}\n{"


def pack(readings: Sequence[Message], per_message: int) -> list[Message]:
    """The messages that carry ``readings``: up to ``per_message`` of one queue in each, one a
    line, each queue's in the order taken (so each meter's stay in order on its queue).

    A message's ``time_s`` (its AMQP timestamp) is its first reading's. With ``per_message``
    1 every reading is a message of its own, as before packing existed.
    """
    if per_message <= 1:
        return list(readings)
    by_queue: dict[str, list[Message]] = {}
    for message in readings:
        by_queue.setdefault(message[0], []).append(message)
    packed: list[Message] = []
    for queue, taken in by_queue.items():
        for start in range(0, len(taken), per_message):
            part = taken[start:start + per_message]
            packed.append((queue, b"\n".join([body for _queue, body, _time_s in part]), part[0][2]))
    return packed


def decode_all(body: bytes, queue: str, max_power_w: float,
               layout: Layout = QUEUE_PER_METER) -> list[Reading]:
    """Every reading of a message taken from ``queue`` (one, or several one a line).

    Raises:
        BadReading: one of them is not a valid reading for ``queue``; the reason names its
            line when the message holds several. The message is refused whole.
    """
    if _NEXT_LINE not in body:
        # One reading, however it is laid out (a reading has no nested object).
        return [decode(body, queue, max_power_w, layout)]
    _check_size(body)
    encoded = _encoded_readings(body, queue, max_power_w, layout)
    if encoded is not None:
        return encoded
    lines = body.rstrip().split(b"\n")
    readings = []
    for number, line in enumerate(lines, 1):
        try:
            readings.append(_checked(*_values(line), queue, max_power_w, layout))
        except BadReading as exc:
            raise BadReading(f"line {number} of {len(lines)}: {exc}") from None
    return readings


def decode(body: bytes, queue: str, max_power_w: float, layout: Layout = QUEUE_PER_METER) -> Reading:
    """Parse and check a message taken from ``queue``.

    Args:
        body: the raw message body.
        queue: the queue it came from; the body's meter_id must belong on it.
        max_power_w: the largest consumption a meter may report.
        layout: which queue holds which meter's readings.

    Returns:
        The reading.

    Raises:
        BadReading: with a short reason naming the field at fault.
    """
    _check_size(body)
    return _checked(*_values(body), queue, max_power_w, layout)


def _encoded_readings(body: bytes, queue: str, max_power_w: float,
                      layout: Layout) -> list[Reading] | None:
    """The readings of a packed body of :class:`ReadingEncoder` lines only, every one valid for
    ``queue``; None for any other, which the line-by-line path then reads or refuses.

    The same readings that path gives (:data:`_ENCODED` is read as it reads it), found by two
    scans of the body rather than a match, three conversions and two calls per line: the
    embedded dataset decodes every one of its 35 million readings.
    """
    if _ENCODED_BODY.fullmatch(body) is None:
        return None
    found = _ENCODED.findall(body)
    ids: dict[bytes, str] = {}
    for raw in {raw for raw, _time, _power in found}:
        meter_id = raw.decode("ascii")
        try:
            _check_meter_id(meter_id, queue, layout)
        except BadReading:
            return None
        ids[raw] = meter_id
    new = tuple.__new__
    readings = [new(Reading, (ids[raw], float(time_text), float(power_text)))
                for raw, time_text, power_text in found]
    for reading in readings:
        if not (0.0 <= reading[1] <= MAX_TIME_S and 0.0 <= reading[2] <= max_power_w):
            return None
    return readings


def _check_size(body: bytes) -> None:
    if len(body) > MAX_BODY_BYTES:
        raise BadReading(f"body of {len(body)} bytes is over the {MAX_BODY_BYTES} byte limit")


def _values(body: bytes) -> tuple[object, object, object]:
    """The meter_id, time_s and power_w of one reading's body: the meter's own compact
    bodies by :data:`_ENCODED`, any other by the JSON decoder."""
    encoded = _ENCODED.fullmatch(body)
    if encoded is not None:
        return encoded[1].decode("ascii"), float(encoded[2]), float(encoded[3])
    return _parse_json(body)


def _checked(meter_id: object, time_value: object, power_value: object, queue: str,
             max_power_w: float, layout: Layout) -> Reading:
    """The reading of these values, checked for ``queue``."""
    if not isinstance(meter_id, str):
        raise BadReading("field 'meter_id' is not a string")
    _check_meter_id(meter_id, queue, layout)
    time_s = _number(time_value, "time_s")
    if not 0.0 <= time_s <= MAX_TIME_S:
        raise BadReading(f"time_s {time_s:g} is outside 1970..2200")
    power_w = _number(power_value, "power_w")
    if not 0.0 <= power_w <= max_power_w:
        raise BadReading(f"power_w {power_w:g} is outside 0..{max_power_w:g} W")
    return Reading(meter_id, time_s, power_w)


def _check_meter_id(meter_id: str, queue: str, layout: Layout) -> None:
    """Refuse a reading's meter id that does not belong on ``queue``.

    Raises:
        BadReading: naming the id and the queue it belongs on.
    """
    if not layout.partitioned:
        if meter_id != queue:
            raise BadReading(f"meter_id {meter_id[:80]!r} differs from its queue {queue!r}")
        return
    # A partition holds many meters: the id becomes a file name, so it is checked here.
    if not is_meter_id(meter_id):
        raise BadReading(f"meter_id {meter_id[:80]!r} is not a valid meter id ({METER_ID_RULE})")
    home = layout.queue_of(meter_id)
    if home != queue:
        raise BadReading(f"meter_id {meter_id!r} belongs on queue {home!r}, not {queue!r}")


def _parse_json(body: bytes) -> tuple[object, object, object]:
    """The meter_id, time_s and power_w values of any JSON object with exactly those fields.

    Raises:
        BadReading: not UTF-8, not JSON, not an object, a field missing or one too many.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadReading("body is not UTF-8 text") from None
    try:
        data = _JSON.decode(text)
    except (ValueError, RecursionError):
        raise BadReading("body is not JSON") from None
    if not isinstance(data, dict):
        raise BadReading(f"body is a JSON {type(data).__name__}, not an object")
    for name in FIELDS:
        if name not in data:
            raise BadReading(f"field {name!r} is missing")
    if len(data) != len(FIELDS):
        raise BadReading(f"unexpected field {sorted(set(data) - set(FIELDS))[0]!r}")
    return data["meter_id"], data["time_s"], data["power_w"]


def _number(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadReading(f"field {name!r} is not a number")
    if not math.isfinite(value):
        raise BadReading(f"field {name!r} is not a finite number")
    return float(value)


def _no_constant(name: str) -> float:
    """json accepts NaN and Infinity by default; a reading must not."""
    raise ValueError(name)


#: The body :class:`ReadingEncoder` writes, in JSON's own grammar (no escape in the id, numbers
#: with a fraction, which JSON parses with ``float`` too): read without the JSON decoder, a
#: quarter of its cost, as the JSON path would read it. Any other body takes that path.
_NUMBER = rb"-?(?:0|[1-9][0-9]{0,19})\.[0-9]{1,20}"
_LINE = rb'\{"meter_id":"%b","time_s":%b,"power_w":%b\}'
_ID = rb"[A-Za-z0-9_.\-]{1,64}"
_ENCODED = re.compile(_LINE % (b"(" + _ID + b")", b"(" + _NUMBER + b")", b"(" + _NUMBER + b")"))
#: A packed body of such lines only: each line then starts a match of :data:`_ENCODED`, so
#: ``findall`` finds exactly one a line.
_ENCODED_BODY = re.compile(b"(?:%b\n)*%b" % ((_LINE % (_ID, _NUMBER, _NUMBER),) * 2))

#: One decoder for every reading: ``json.loads`` with an option builds a new one per call,
#: a third of the parse's time.
_JSON = json.JSONDecoder(parse_constant=_no_constant)
