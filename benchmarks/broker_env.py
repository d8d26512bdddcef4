"""A throw-away RabbitMQ virtual host per scenario, and the INI file that points the CLIs at it.

Every figure must come from a broker state the benchmark made itself: a fresh virtual host
keeps queues (and their on-disk indexes) of one scenario out of the next, and of the user's.
It is deleted on the way out, failure or not: in a thread, so that the next scenario's
``add_vhost`` and ``set_permissions`` (a rabbitmqctl boot each, ~1 s here) overlap it, but that
scenario waits for it before it starts anything (:func:`finish_deletions`), so no figure is
taken while the broker deletes queues. ``run.py`` waits for the last one before it exits.
"""

from __future__ import annotations

import configparser
import os
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pika

from benchmarks.layouts import BenchLayout
from tests.integration.support import rabbitmqctl

HOST = "127.0.0.1"  # loopback only
PORT = 5672
USER = "guest"
PASSWORD = "guest"


#: Deletions still running: (virtual host, thread, its error if it failed).
_deleting: list[tuple[str, threading.Thread, list[Exception]]] = []
#: "virtual host: error" of every deletion that failed (``run.py`` reports them as errors).
deletion_failures: list[str] = []


def _delete_later(name: str) -> None:
    errors: list[Exception] = []

    def delete() -> None:
        try:
            rabbitmqctl("delete_vhost", name, timeout=300)
        except Exception as exc:  # reported by finish_deletions
            errors.append(exc)

    # Not a daemon: the interpreter waits for it, so a virtual host is deleted even on SIGTERM.
    thread = threading.Thread(target=delete, name=f"delete-{name}")
    thread.start()
    _deleting.append((name, thread, errors))


def finish_deletions() -> None:
    """Wait until every virtual host being deleted is gone; failures go to stderr and to
    :data:`deletion_failures`."""
    while _deleting:
        name, thread, errors = _deleting.pop(0)
        thread.join()
        for exc in errors:
            deletion_failures.append(f"{name}: {exc}")
            print(f"bench: deleting virtual host {name} failed: {exc}", file=sys.stderr, flush=True)


@contextmanager
def virtual_host(label: str) -> Iterator[str]:
    """A new virtual host the guest user may use, once the previous ones are deleted; deleted
    when the block ends, however it ends (in the background: see :func:`finish_deletions`)."""
    name = f"pvbench-{label}-{uuid.uuid4().hex[:8]}"
    try:
        rabbitmqctl("add_vhost", name, timeout=300)
    except BaseException:
        finish_deletions()
        raise
    try:
        try:
            rabbitmqctl("set_permissions", "-p", name, USER, ".*", ".*", ".*")
        finally:
            finish_deletions()
        yield name
    finally:
        _delete_later(name)


def parameters(vhost: str) -> pika.ConnectionParameters:
    """pika parameters of the benchmark's own connections (baseline, queue depths)."""
    return pika.ConnectionParameters(host=HOST, port=PORT, virtual_host=vhost,
                                     credentials=pika.PlainCredentials(USER, PASSWORD),
                                     heartbeat=60)


def write_config(source: Path, target: Path, vhost: str,
                 layout: BenchLayout | None = None,
                 extra: dict[str, dict[str, str]] | None = None) -> Path:
    """The project's INI (models, site, fsync as shipped) with only the broker address changed,
    and the scenario's ``[broker] layout`` and ``partitions`` (default: queue per meter);
    ``extra``: keys a scenario adds (a battery), by section.

    Keeping everything else as shipped means the CLIs run with their real defaults:
    household meters, the solar PV model with variable sky, fsync per batch.
    """
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(source)
    if not parser.has_section("broker"):
        parser.add_section("broker")
    parser["broker"].update({"host": HOST, "port": str(PORT), "virtual_host": vhost,
                             "username": USER, "password": PASSWORD,
                             **(layout or BenchLayout()).config()})
    for section, keys in (extra or {}).items():
        if not parser.has_section(section):
            parser.add_section(section)
        parser[section].update(keys)
    with target.open("w") as handle:
        os.chmod(target, 0o600)  # it holds the (guest) password: the CLIs warn otherwise
        parser.write(handle)
    return target


def queue_backlog(vhost: str) -> dict[str, int]:
    """Ready and unacknowledged messages summed over the virtual host's reading queues (a
    meter's or a partition's; the dead-letter queues are left out)."""
    out = rabbitmqctl("list_queues", "-p", vhost, "--no-table-headers",
                      "name", "messages_ready", "messages_unacknowledged")
    ready = unacked = queues = 0
    for line in out.splitlines():
        parts = line.split()
        if len(parts) != 3 or parts[0].endswith(".dlq"):
            continue
        queues += 1
        ready += int(parts[1])
        unacked += int(parts[2])
    return {"queues": queues, "ready": ready, "unacked": unacked}


class DepthProbe:
    """Ready-message counts of a few queues by passive declare: cheap enough to poll during a run.

    rabbitmqctl boots an Erlang VM per call (about 0.4 s of CPU), which would disturb a
    two-core machine if polled; one pika round trip per sampled queue does not.
    """

    def __init__(self, vhost: str, queues: list[str]) -> None:
        self.queues = queues
        self._connection = pika.BlockingConnection(parameters(vhost))
        self._channel = self._connection.channel()

    def ready(self) -> int:
        total = 0
        for queue in self.queues:
            try:
                total += self._channel.queue_declare(queue, passive=True).method.message_count
            except pika.exceptions.ChannelClosedByBroker:  # not declared yet
                self._channel = self._connection.channel()
        return total

    def close(self) -> None:
        if self._connection.is_open:
            self._connection.close()
