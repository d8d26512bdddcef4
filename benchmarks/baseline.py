"""The ceiling: a bare pika loop with the services' durability settings, and nothing else.

Publish ``count`` persistent messages (no confirms, no transaction) to a durable queue,
then consume them with manual acknowledgements at prefetch 100, writing one CSV line per
message. Bodies are the project's real reading JSON, made before the clock starts, so
the figure is pika plus the broker and nothing of the models. What the services reach
is compared with this; a pika-based design cannot do much better on this machine.

Two consume variants: ``ack_each`` (the plain loop: one ack per message, one fsync at the
end) and ``batch_fsync`` (the PV service's guarantee: every ``batch`` messages, fsync
then one multiple ack), which shows what the guarantee itself costs in bare pika.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pika
from pika.adapters.blocking_connection import BlockingChannel
from pika.spec import Basic, BasicProperties

from pv_simulator.messaging.wire import ReadingEncoder

QUEUE = "baseline"
PREFETCH = 100


def _bodies(count: int) -> list[bytes]:
    encode = ReadingEncoder(QUEUE)
    start = 1_782_000_000.0
    return [encode(start + i, 1000.0 + (i % 5000)) for i in range(count)]


def _publish(channel: BlockingChannel, bodies: list[bytes]) -> float:
    """Seconds to publish all bodies and have the broker hold them (a passive declare fences)."""
    began = time.perf_counter()
    for i, body in enumerate(bodies):
        channel.basic_publish(
            exchange="", routing_key=QUEUE, body=body,
            properties=BasicProperties(content_type="application/json",
                                       delivery_mode=pika.DeliveryMode.Persistent,
                                       timestamp=1_782_000_000 + i))
    # Without confirms, publishing ends when pika has written the socket: the time counts
    # until the queue holds every message (polled by passive declare, 1 ms apart).
    deadline = time.monotonic() + 120
    while channel.queue_declare(QUEUE, passive=True).method.message_count < len(bodies):
        if time.monotonic() > deadline:
            raise RuntimeError(f"baseline: the broker did not take {len(bodies)} messages in 120 s")
        time.sleep(0.001)
    return time.perf_counter() - began


def _consume(channel: BlockingChannel, count: int, path: Path, batch: int | None) -> float:
    """Seconds to consume ``count`` messages into ``path``; ``batch`` None acks each message."""
    handle = path.open("ab")
    received = 0

    def on_message(ch: BlockingChannel, method: Basic.Deliver, _props: BasicProperties,
                   body: bytes) -> None:
        nonlocal received
        handle.write(b"%s,%s\n" % (QUEUE.encode(), body))
        received += 1
        if batch is None:
            ch.basic_ack(method.delivery_tag)
        elif received % batch == 0 or received == count:
            handle.flush()
            os.fsync(handle.fileno())
            ch.basic_ack(method.delivery_tag, multiple=True)
        if received == count:
            ch.stop_consuming()

    began = time.perf_counter()
    channel.basic_qos(prefetch_count=PREFETCH)
    channel.basic_consume(QUEUE, on_message, auto_ack=False)
    channel.start_consuming()
    handle.flush()
    os.fsync(handle.fileno())
    elapsed = time.perf_counter() - began
    handle.close()
    return elapsed


def run_baseline(params: pika.ConnectionParameters, count: int, out_dir: Path,
                 batch: int | None = None) -> dict[str, float | str]:
    """Publish then consume ``count`` messages; seconds and readings/s of each phase and end to end."""
    out_dir.mkdir(parents=True, exist_ok=True)
    bodies = _bodies(count)
    connection = pika.BlockingConnection(params)
    try:
        channel = connection.channel()
        channel.queue_declare(QUEUE, durable=True)
        channel.queue_purge(QUEUE)
        publish_s = _publish(channel, bodies)
        consume_s = _consume(channel, count, out_dir / f"baseline-{batch or 'each'}.csv", batch)
        channel.queue_delete(QUEUE)
    finally:
        if connection.is_open:
            connection.close()
    return {
        "messages": count,
        "ack": "each" if batch is None else f"multiple every {batch}, fsync before",
        "publish_s": round(publish_s, 3),
        "consume_s": round(consume_s, 3),
        "publish_per_s": round(count / publish_s),
        "consume_per_s": round(count / consume_s),
        "end_to_end_per_s": round(count / (publish_s + consume_s)),
    }
