"""Every use of pika's private internals, in one place, each behind a function that says why.

The RabbitMQ adapter (:mod:`pv_simulator.messaging.rabbitmq`) touches nothing of pika's that
starts with an underscore except through this module. What each needs lies beneath pika's
``BlockingConnection`` and ``BlockingChannel``: the asynchronous ``Connection`` and ``Channel``
they wrap (``_impl``), the blocking adapter's event loop (``_flush_output``), the transport's
send buffer (``_transport._tx_buffers``) and the I/O loop's timers.

Checked against pika :data:`PIKA_CHECKED`; ``requirements.txt`` pins the same minor release
(``pika~=1.4.4``), since private attributes carry no compatibility promise.
``tests/integration/test_rabbitmq.py`` is the canary: it exercises every function here against
the installed pika and the real broker, so a release that moves any of them fails the suite
instead of quietly changing behaviour.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import pika
from pika.adapters.blocking_connection import BlockingChannel

PIKA_CHECKED = "1.4.4"
"""The pika release these accesses were read against."""


def add_blocked_callbacks(connection: pika.BlockingConnection, on_blocked: Callable[[Any, Any], None],
                          on_unblocked: Callable[[Any, Any], None]) -> None:
    """Be told of a broker alarm on the connection's I/O loop.

    The blocking adapter's own callbacks run only in ``process_data_events``, and a batch that
    the alarm blocks never gets there.
    """
    connection._impl.add_on_connection_blocked_callback(on_blocked)
    connection._impl.add_on_connection_unblocked_callback(on_unblocked)


def add_close_callback(channel: BlockingChannel, on_close: Callable[[Any, BaseException], None]) -> None:
    """Be told when the broker closes ``channel``: a refused pipelined declare shows only so."""
    channel._impl.add_on_close_callback(on_close)


def declare_queue_nowait(channel: BlockingChannel, queue: str, arguments: dict[str, Any]) -> None:
    """Send a durable queue declare without waiting for its answer.

    The blocking channel waits a round trip per declare; pipelined, thousands go at once and
    one passive declare after them is the barrier (see ``RabbitSession.declare_meter_queues``).
    """
    channel._impl.queue_declare(queue, durable=True, arguments=arguments)


def passive_declares(connection: pika.BlockingConnection, queues: Sequence[str],
                     channels: int) -> tuple[dict[str, tuple[int, int]], list[BaseException]]:
    """(message count, consumer count) of each of ``queues`` that exists, asked on up to
    ``channels`` channels of the asynchronous connection at once; and the channel closures that
    were no 404 (the caller raises the first).

    The blocking channel asks one queue a round trip, and a missing queue costs a channel closed
    by the broker and another opened (about 1 ms): 10,000 missing queues took 9 s. Here each
    channel asks its next queue when the last answered, and a channel closed on a 404 is replaced
    by a new one while the others go on.
    """
    impl = connection._impl
    pending = deque(queues)
    found: dict[str, tuple[int, int]] = {}
    failures: list[BaseException] = []
    open_channels = [0]

    def start() -> None:
        if pending and not failures:
            open_channels[0] += 1
            impl.channel(on_open_callback=work)

    def work(channel: Any) -> None:
        def closed(_channel: Any, reason: BaseException) -> None:
            open_channels[0] -= 1
            if isinstance(reason, pika.exceptions.ChannelClosedByBroker):
                if reason.reply_code == 404:
                    start()  # the queue asked is missing
                else:
                    failures.append(reason)

        def ask() -> None:
            if not pending or failures:
                channel.close()
                return
            queue = pending.popleft()

            def answered(frame: Any) -> None:
                found[queue] = (int(frame.method.message_count), int(frame.method.consumer_count))
                ask()

            channel.queue_declare(queue, passive=True, callback=answered)

        channel.add_on_close_callback(closed)
        ask()

    for _ in range(min(channels, len(pending))):
        start()
    connection._flush_output(lambda: open_channels[0] == 0)
    return found, failures


def publish_nowait(channel: BlockingChannel) -> Callable[..., None]:
    """``basic_publish`` of the channel beneath the blocking one.

    The blocking one writes the socket once per message; these frames wait in the send buffer
    until :func:`flush_until` sends them together.
    """
    publish: Callable[..., None] = channel._impl.basic_publish
    return publish


def select_confirms(channel: BlockingChannel, on_confirm: Callable[[Any], None]) -> None:
    """Put ``channel`` in confirm mode with ``on_confirm`` called per ack or nack; wait for the broker.

    The blocking channel's ``confirm_delivery`` makes every publish wait for its own confirm.
    """
    selected: list[object] = []
    channel._impl.confirm_delivery(ack_nack_callback=on_confirm, callback=selected.append)
    flush_until(channel, lambda: bool(selected))


def flush_until(channel: BlockingChannel, done: Callable[[], bool]) -> None:
    """Send what is buffered and process the connection's events until ``done()``."""
    channel._flush_output(done)


def coalesce_output(channel: BlockingChannel) -> None:
    """Join the frames waiting in the transport's send buffer, so a batch leaves in few writes.

    pika queues every frame on its own and writes the socket once per frame, three per message
    (method, header, body). Where a pika version keeps the buffer elsewhere, the frames go out
    one by one as before (the canary test then fails).
    """
    transport = getattr(channel._impl.connection, "_transport", None)
    buffers = getattr(transport, "_tx_buffers", None)
    if isinstance(buffers, deque) and len(buffers) > 1:
        joined = b"".join(buffers)
        buffers.clear()
        buffers.append(joined)


def send_buffer(channel: BlockingChannel) -> deque[bytes] | None:
    """The transport's send buffer, for the canary test to see that frames are joined."""
    buffers = getattr(getattr(channel._impl.connection, "_transport", None), "_tx_buffers", None)
    return buffers if isinstance(buffers, deque) else None


def every(connection: pika.BlockingConnection, period_s: float, tick: Callable[[], None]) -> Callable[[], None]:
    """Call ``tick`` every ``period_s`` on the connection's I/O loop, while any blocking call waits.

    The blocking adapter's waits run the I/O loop's timers between polls, so an exception
    ``tick`` raises ends the wait it interrupts, in whatever thread waits (a signal only reaches
    the main thread). Returns the function that stops the ticking.
    """
    ioloop = connection._impl.ioloop
    handle: list[object] = []

    def fire() -> None:
        handle[:] = [ioloop.call_later(period_s, fire)]
        tick()

    handle.append(ioloop.call_later(period_s, fire))

    def stop() -> None:
        for timer in handle:
            ioloop.remove_timeout(timer)
        handle.clear()

    return stop
