"""Changing ``[broker] layout`` must not strand what the other layout's queues still hold.

A meter and a PV service switched from one layout to the other publish to and consume other
queues: readings still waiting in the old ones would never be written, and once drained later
they are older than the files' last rows. So both services look, once at their first connection,
at the queues the *other* layout would use for their meters (a passive declare each, nothing
declared) and refuse to start while any holds readings, naming them and how to drain them.

The other layout of ``queue_per_meter`` is ``partitioned`` with ``[broker] partitions`` as
configured; a change of the partition count alone is not seen. A PV service of the partitioned
layout knows its meters from the fleet file and from the files in its output directory.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence

from pv_simulator.messaging.port import QUEUE_PER_METER, BrokerRefused, Layout, Session

log = logging.getLogger(__name__)

#: Queues named in the refusal at most; the count says the rest.
SHOWN = 5


class StrandedReadings(BrokerRefused):
    """Queues of the other layout still hold readings: a configuration change to finish first."""


def describe(layout: Layout) -> str:
    """The ``[broker]`` keys that give ``layout``."""
    if layout.partitioned:
        return f"layout = partitioned, partitions = {layout.partitions}"
    return "layout = queue_per_meter"


def other_layout(layout: Layout, partitions: int) -> Layout:
    """The layout a configuration would have with ``[broker] layout`` switched."""
    return QUEUE_PER_METER if layout.partitioned else Layout(partitions)


def queues_of(layout: Layout, meter_ids: Iterable[str]) -> list[str]:
    """The queues of ``layout`` that hold these meters' readings, each once, sorted."""
    return sorted({layout.queue_of(meter_id) for meter_id in meter_ids})


def stranded_check(configured: Layout, other: Layout,
                   queues: Sequence[str]) -> Callable[[Session], None]:
    """A connection hook that refuses, on the first connection only, to go on while one of
    ``queues`` (of layout ``other``) holds readings.

    Raises (from the hook):
        StrandedReadings: naming the queues, their counts and how to drain them.
    """
    pending = list(queues)

    def check(session: Session) -> None:
        if not pending:
            return
        status = session.queue_status(pending)
        pending.clear()
        holding = [(queue, found.messages) for queue, found in sorted(status.items()) if found.messages]
        if not holding:
            return
        shown = ", ".join(f"{queue} ({count})" for queue, count in holding[:SHOWN])
        more = f" and {len(holding) - SHOWN} more" if len(holding) > SHOWN else ""
        total = sum(count for _, count in holding)
        raise StrandedReadings(
            f"[broker] {describe(configured)}, but {total} reading(s) wait in queues of "
            f"{describe(other)}: {shown}{more}. Drain them first with [broker] {describe(other)} "
            "(a PV service with --exit-when-idle), or delete them if they are not wanted "
            "(rabbitmqctl delete_queue NAME); then start again (docs/operations.md: Changing the layout)")

    return check
