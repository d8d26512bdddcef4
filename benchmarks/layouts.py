"""The broker layouts a scenario runs in, selected the way a user selects them: in the config.

``[broker] layout = queue_per_meter`` (the default: a queue per meter, the PV service given its
meters with ``-ids``) or ``layout = partitioned`` with ``[broker] partitions = N`` (all meters on
N shared queues; the PV service started *without* ``-ids`` serves every partition). Both keys are
written into every scenario's INI, so a scenario runs in the layout its name says whatever the
source config holds. A partitioned scenario's name ends in ``_part`` (``_part<N>`` when N is not
the package's default of 4), e.g. ``rt_2000_part``. The partitioned layout also packs
``[broker] readings_per_message`` readings a message, :data:`BENCH_READINGS_PER_MESSAGE` unless
``--readings-per-message`` says otherwise (then the name ends in ``_pack<N>``).

The scenarios also check, from the CLIs' own log lines, that the layout took effect: the PV
service logs "PV service consuming N queue(s)" (N = meters, or partitions) and a partitioned
meter logs "layout partitioned: readings on N queues". A figure labelled partitioned but taken
on queues per meter would be worse than no figure.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from pv_simulator.config import schema_key
from pv_simulator.messaging.port import Layout

#: The layouts and the partition count as the package's config schema defines them.
NAMES = schema_key("broker", "layout").choices
QUEUE_PER_METER, PARTITIONED = NAMES
_PARTITIONS = schema_key("broker", "partitions")
DEFAULT_PARTITIONS = int(str(_PARTITIONS.default))
_PACKED = schema_key("broker", "readings_per_message")
#: What ``make bench`` packs in the partitioned layout: 100 readings a message (the README's
#: advice beyond a few thousand meters).
BENCH_READINGS_PER_MESSAGE = 100

_CONSUMING = re.compile(r"PV service consuming (\d+) queue")
_METER_PARTITIONED = re.compile(r"layout partitioned: readings on (\d+) queues")
_METER_PACKED = re.compile(r"up to (\d+) readings of one queue packed")


@dataclass(frozen=True)
class BenchLayout:
    """One layout of a scenario: its config keys, its name suffix, how the PV service starts."""

    name: str = QUEUE_PER_METER
    partitions: int = DEFAULT_PARTITIONS
    #: ``[broker] readings_per_message`` (the meter's packing); the partitioned layout only.
    readings_per_message: int = 1

    def __post_init__(self) -> None:
        if self.name not in NAMES:
            raise ValueError(f"layout {self.name!r} is not one of {', '.join(NAMES)}")
        problem = _PARTITIONS.problem(self.partitions)
        if problem:
            raise ValueError(f"partitions: {problem}")
        problem = _PACKED.problem(self.readings_per_message)
        if problem:
            raise ValueError(f"readings per message: {problem}")
        if not self.partitioned:
            object.__setattr__(self, "readings_per_message", 1)

    @property
    def partitioned(self) -> bool:
        return self.name == PARTITIONED

    @property
    def suffix(self) -> str:
        """What a scenario's name gets in this layout: nothing for the default."""
        if not self.partitioned:
            return ""
        count = "" if self.partitions == DEFAULT_PARTITIONS else str(self.partitions)
        packed = ("" if self.readings_per_message == BENCH_READINGS_PER_MESSAGE
                  else f"_pack{self.readings_per_message}")
        return f"_part{count}{packed}"

    def config(self) -> dict[str, str]:
        """The ``[broker]`` keys of this layout, all always written."""
        return {"layout": self.name, "partitions": str(self.partitions),
                "readings_per_message": str(self.readings_per_message)}

    def service_ids(self, ids: Sequence[str]) -> list[str] | None:
        """The PV service's ``-ids``: the meters, or None (no ``-ids``: every partition)."""
        return None if self.partitioned else list(ids)

    def service_queues(self, meters: int) -> int:
        """How many queues the PV service should say it consumes."""
        return self.partitions if self.partitioned else meters

    def queues_of(self, meter_ids: Sequence[str]) -> list[str]:
        """The distinct queues holding these meters' readings (for queue depth probes)."""
        layout = Layout(self.partitions if self.partitioned else 0)
        return sorted({layout.queue_of(m) for m in meter_ids})

    def as_dict(self) -> dict[str, object]:
        return {"layout": self.name, "partitions": self.partitions if self.partitioned else None,
                "readings_per_message": self.readings_per_message}

    def check_service(self, scenario: str, meters: int, line: str | None,
                      share: Sequence[int] | None = None) -> int:
        """Raise unless the PV service's "PV service consuming N queue(s)" line shows this
        layout (N = meters, or partitions, or those of its ``share``); N."""
        match = _CONSUMING.search(line or "")
        if match is None:
            raise RuntimeError(f"{scenario}: no 'PV service consuming N queue(s)' line ({line!r})")
        queues = int(match.group(1))
        expected = self.service_queues(meters) if share is None else len(share)
        if queues != expected:
            raise RuntimeError(f"{scenario}: the PV service consumes {queues} queue(s), not the "
                               f"{expected} of layout {self.name}: "
                               f"is [broker] layout read by this version?")
        return queues

    def shares(self, services: int) -> list[list[int] | None]:
        """The partitions each of ``services`` PV services serves (``--partition``), in turns;
        [None] (every partition, no ``--partition``) for one service or the default layout."""
        if services <= 1 or not self.partitioned:
            return [None]
        count = min(services, self.partitions)
        return [list(range(k, self.partitions, count)) for k in range(count)]

    def check_meter(self, scenario: str, line: str | None, packed: str | None = None) -> None:
        """Raise unless the meter's log shows this layout: ``line`` is its "layout partitioned:
        readings on N queues" line, None if it logged none (the queue-per-meter layout);
        ``packed`` its "up to N readings of one queue packed" line, None if none."""
        says_packed = _METER_PACKED.search(packed) if packed else None
        if (int(says_packed.group(1)) if says_packed else 1) != self.readings_per_message:
            raise RuntimeError(f"{scenario}: the meter did not log 'up to "
                               f"{self.readings_per_message} readings of one queue packed' "
                               f"({packed!r})")
        says = _METER_PARTITIONED.search(line) if line else None
        if self.partitioned and (says is None or int(says.group(1)) != self.partitions):
            raise RuntimeError(f"{scenario}: the meter did not log 'layout partitioned: readings on "
                               f"{self.partitions} queues' ({line!r})")
        if not self.partitioned and says is not None:
            raise RuntimeError(f"{scenario}: the meter runs partitioned in a queue-per-meter scenario")


def parse_layouts(text: str, partitions: int,
                  readings_per_message: int = BENCH_READINGS_PER_MESSAGE) -> list[BenchLayout]:
    """``queue_per_meter,partitioned`` (either, both, in that order) as layouts; the
    partitioned one packs ``readings_per_message`` readings a message."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise ValueError("no layout given")
    return [BenchLayout(name, partitions, readings_per_message) for name in dict.fromkeys(names)]
