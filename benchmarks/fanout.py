"""Broker cost of the meter's real-time pattern, and of the alternatives, in bare pika.

In real time the meter commits, every tick, one transaction that holds one persistent
message for *each* of N queues; in fast-forward it commits 2,000 messages for one queue.
The broker's work per commit grows with the queues it touches (every classic queue
syncs its own index before the commit is confirmed), so the same messages cost far more
spread over queues. This measures messages/s and broker CPU per message for:

* ``per_meter_classic``: what the services do now (N classic queues, tx per tick);
* ``one_queue``: the same N messages per tick into a single queue (a shared queue per PV
  service, meters told apart by the body's meter_id or a routing key binding);
* ``per_meter_no_tx``: N classic queues without any publish guarantee (reference only).

Nothing consumes: the queues are deleted after each mode.

Not measured, on purpose: ``x-queue-version: 2`` and quorum queues at 2,000 queues. Each
such queue keeps files of its own open, and a broker started the stock way here (``su``
with pam_limits: 1,024 open files) hit EMFILE, crashed those queues and then hung
deleting the virtual host, needing a node restart. Measure them only on a broker with a
raised ``nofile`` limit, by adding them to ``MODES``.
"""

from __future__ import annotations

import time
from typing import Any

import pika
from pika.spec import BasicProperties

from benchmarks.procstat import broker_pid, cpu_seconds
from pv_simulator.messaging.wire import ReadingEncoder

MODES: dict[str, dict[str, Any]] = {
    "per_meter_classic": {"queues": "per_meter", "args": {}, "tx": True},
    "one_queue": {"queues": "one", "args": {}, "tx": True},
    "per_meter_no_tx": {"queues": "per_meter", "args": {}, "tx": False},
}


def _mode(params: pika.ConnectionParameters, meters: int, ticks: int, name: str) -> dict[str, Any]:
    spec = MODES[name]
    names = [f"fan_{i}" for i in range(meters)] if spec["queues"] == "per_meter" else ["fan_all"]
    encoders = [ReadingEncoder(f"Meter_{i}") for i in range(meters)]
    connection = pika.BlockingConnection(params)
    try:
        channel = connection.channel()
        began = time.perf_counter()
        for queue in names:
            channel.queue_declare(queue, durable=True, arguments=spec["args"])
        declare_s = time.perf_counter() - began
        if spec["tx"]:
            channel.tx_select()
        pid = broker_pid()
        cpu_before = cpu_seconds(pid) if pid else None
        began = time.perf_counter()
        for tick in range(ticks):
            time_s = 1_782_000_000.0 + tick
            for i, encode in enumerate(encoders):
                channel.basic_publish(
                    exchange="", routing_key=names[i % len(names)], body=encode(time_s, 1234.5),
                    properties=BasicProperties(content_type="application/json",
                                               delivery_mode=pika.DeliveryMode.Persistent,
                                               timestamp=int(time_s)),
                    mandatory=True)
            if spec["tx"]:
                channel.tx_commit()
        if not spec["tx"]:  # no guarantee: count until the broker holds them all
            while sum(channel.queue_declare(q, passive=True).method.message_count
                      for q in names) < meters * ticks:
                time.sleep(0.01)
        elapsed = time.perf_counter() - began
        cpu_after = cpu_seconds(pid) if pid else None
        for queue in names:
            channel.queue_delete(queue)
    finally:
        if connection.is_open:
            connection.close()
    messages = meters * ticks
    broker_cpu = (cpu_after - cpu_before) if cpu_before is not None and cpu_after is not None \
        else None
    return {
        "queues": len(names), "messages": messages, "declare_s": round(declare_s, 2),
        "publish_s": round(elapsed, 2), "messages_per_s": round(messages / elapsed),
        "commit_ms": round(1000 * elapsed / ticks, 1),
        "broker_cpu_us_per_message": round(1e6 * broker_cpu / messages) if broker_cpu else None,
    }


def run_fanout(params: pika.ConnectionParameters, meters: int, ticks: int,
               modes: list[str] | None = None) -> dict[str, Any]:
    """Each mode in turn on the same virtual host: figures by mode (an error text on failure)."""
    results: dict[str, Any] = {"meters": meters, "ticks": ticks}
    for name in modes or list(MODES):
        try:
            results[name] = _mode(params, meters, ticks, name)
        except Exception as exc:  # one refused mode (e.g. quorum memory) must not hide the rest
            results[name] = {"error": f"{type(exc).__name__}: {exc}"}
    return results
