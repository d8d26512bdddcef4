"""Fault injection against the real broker with the real CLIs (the reliability issue).

Each stream scenario fast-forwards one seeded meter through 12,000 readings while a fault is
injected (SIGKILL of a service, a broker restart, connections closed by the broker, signals),
then checks Jepsen-style: every reading the meter confirmed is in the CSV exactly once, in time
order, with the values an undisturbed run of the same seed gives, and nothing else. Each prints
a ``FAULT <scenario>: ...`` line with its figures. The other classes feed malformed bodies to
the PV service and give both CLIs bad configurations and arguments.

Fault moments are seeded random row counts, reached by polling the CSV; nothing waits on a
sleep except the deliberate one-second broker outage. BrokerRestartTest stops the shared
broker (``rabbitmqctl stop_app``) for about three seconds: do not run it beside other users
of the broker.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import random
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

import pika
from parameterized import parameterized

from pv_simulator.messaging.port import QUEUE_PER_METER, Layout, queue_arguments
from pv_simulator.messaging.wire import ReadingEncoder
from pv_simulator.storage.csv_format import file_glob
from tests.helpers import rows_of, wait_until
from tests.integration.support import HOST, PORT, BrokerTestCase, check_rows, rabbitmqctl
from tests.unit.messaging.test_wire import MALFORMED

METER = "Meter_0"
DLQ = METER + ".dlq"
TZ = ZoneInfo("Europe/Vienna")
READINGS = 12_000
#: Simulated seconds per wall second for a paced stream: 12,000 readings in 6 s.
PACED_SPEED = 2000
INTERVAL_S = 1
SEED = 1
#: Sunrise in Vienna: the PV column goes from 0 to real values within the run.
DAWN = "2026-06-21T04:00"
#: 22:30 + 12,000 s crosses midnight: the rows span two dated files.
NIGHT = "2026-06-21T22:30"
COLUMNS = ("meter_id", "time_s", "meter_power_value_w", "pv_power_value_kw", "sum_meter_pv_w")

Row = tuple[str, ...]


def _doc(func: Callable[..., object], _num: int, param: Any) -> str:
    """A parameterized case's description: the docstring's first line and the case name."""
    return f"{(func.__doc__ or '').splitlines()[0]} [{param.args[0]}]"


#: Reference rows of an undisturbed run, by start: time key -> the row's columns.
_REFERENCE: dict[str, dict[int, Row]] = {}


def time_key(text: str) -> int:
    """A row's time_s as integer milliseconds, so float text compares exactly."""
    return round(float(text) * 1000)


def tick_keys(start: str, count: int) -> list[int]:
    """Time keys of the meter's first ``count`` ticks from local ``start``."""
    start_s = datetime.fromisoformat(start).replace(tzinfo=TZ).timestamp()
    return [round((start_s + k * INTERVAL_S) * 1000) for k in range(count)]


def row_count(directory: Path) -> int:
    """Complete rows in a meter's files, cheap enough to poll every few milliseconds."""
    total = 0
    for path in directory.glob(file_glob(METER)):
        with contextlib.suppress(FileNotFoundError):
            total += max(0, path.read_bytes().count(b"\n") - 1)
    return total


@dataclass
class Verdict:
    """What the CSV holds against what the meter confirmed."""

    expected: int
    rows: int
    lost: int
    duplicated: int
    unexpected: int
    out_of_order: int
    mismatched: int
    corrupt: int

    def figures(self) -> str:
        return (f"readings={self.expected} rows={self.rows} lost={self.lost} "
                f"duplicated={self.duplicated} unexpected={self.unexpected} "
                f"out_of_order={self.out_of_order} mismatched={self.mismatched} "
                f"corrupt={self.corrupt}")

    @property
    def faults(self) -> dict[str, int]:
        return {"lost": self.lost, "duplicated": self.duplicated, "unexpected": self.unexpected,
                "out_of_order": self.out_of_order, "mismatched": self.mismatched,
                "corrupt": self.corrupt}


def analyse(rows: Sequence[dict[str, str]], expected_keys: Sequence[int],
            reference: dict[int, Row]) -> Verdict:
    """Lost, duplicated, unexpected, out-of-order and value-mismatched rows.

    ``duplicated`` counts the extra copies; ``out_of_order`` the rows earlier than the row
    before them; ``mismatched`` the rows whose columns differ from the reference run;
    ``corrupt`` the rows that are not five columns with a numeric time.
    """
    keys: list[int] = []
    corrupt = mismatched = 0
    for row in rows:
        values = tuple(row.get(column) or "" for column in COLUMNS)
        try:
            key = time_key(values[1])
        except ValueError:
            corrupt += 1
            continue
        if None in row or "" in values:
            corrupt += 1
        keys.append(key)
        if key in reference and values != reference[key]:
            mismatched += 1
    counts = Counter(keys)
    expected = set(expected_keys)
    return Verdict(
        expected=len(expected), rows=len(rows),
        lost=len(expected - counts.keys()),
        duplicated=sum(count - 1 for count in counts.values() if count > 1),
        unexpected=corrupt + sum(count for key, count in counts.items() if key not in expected),
        out_of_order=sum(1 for before, after in itertools.pairwise(keys) if after < before),
        mismatched=mismatched, corrupt=corrupt)


class Proc:
    """A started CLI whose stderr is collected line by line while it runs."""

    def __init__(self, name: str, popen: subprocess.Popen[str], summary_file: Path) -> None:
        self.name = name
        self.popen = popen
        self.summary_file = summary_file
        self._lines: list[str] = []
        self._readers = [threading.Thread(target=self._read, args=(stream, sink), daemon=True)
                         for stream, sink in ((popen.stderr, self._lines), (popen.stdout, []))]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream: IO[str] | None, sink: list[str]) -> None:
        if stream is not None:
            with stream:
                for line in stream:
                    sink.append(line)

    @property
    def err(self) -> str:
        return "".join(self._lines)

    @property
    def tail(self) -> str:
        """The last lines of stderr, each cut to 300 characters, for assertion messages."""
        return "\n".join(line[:300] for line in self.err.splitlines()[-15:])

    @property
    def running(self) -> bool:
        return self.popen.poll() is None

    def send(self, sig: int) -> None:
        self.popen.send_signal(sig)

    def wait(self, timeout_s: float) -> int:
        """Wait for the exit (fails the test after ``timeout_s``); its exit code."""
        try:
            code = self.popen.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{self.name} still running {timeout_s:.0f} s later; "
                                 f"stderr:\n{self.tail}") from None
        for reader in self._readers:
            reader.join(timeout=10)
        return code

    def kill9(self) -> None:
        """SIGKILL, and wait until it is gone."""
        self.popen.kill()
        self.popen.wait(timeout=10)

    def summary(self) -> dict[str, int]:
        """The counts the CLI wrote to its --summary-file at exit (fails when there are none)."""
        try:
            counts: dict[str, int] = json.loads(self.summary_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise AssertionError(f"{self.name} left no summary ({exc}); stderr:\n{self.tail}") from None
        return counts


class FaultTestCase(BrokerTestCase):
    """Starting, stopping and checking the two services in this class's virtual host.

    ``LAYOUT``: the queue layout the class's services use; the meter's readings are on
    ``self.queue`` (Meter_0 itself, or its partition's queue).
    """

    LAYOUT: Layout = QUEUE_PER_METER

    def setUp(self) -> None:
        self.queue = self.LAYOUT.queue_of(METER)
        self.dlq = self.queue + ".dlq"
        super().setUp()  # deletes the queues an earlier test left
        self.out = self.tmp / "out"

    def delete_queues(self, meters: int = 16, queues: Sequence[str] = ()) -> None:
        partitions = self.LAYOUT.partition_queues if self.LAYOUT.partitioned else []
        super().delete_queues(meters, [*queues, *partitions])

    def config(self, fsync: str = "batch") -> Path:
        # A buffer as long as the stream: a paced meter (real-time rules) would otherwise drop
        # its oldest readings during a broker outage, as designed, and the check would see gaps.
        layout = ({"layout": "partitioned", "partitions": self.LAYOUT.partitions}
                  if self.LAYOUT.partitioned else {})
        return self.write_config(f"faults-{fsync}.ini", output={"fsync": fsync},
                                 meter={"buffer_s": READINGS * INTERVAL_S}, broker=layout)

    def start_meter(self, conf: Path, start: str, readings: int = READINGS,
                    speed: int = 0) -> Proc:
        """The meter, as fast as possible, or paced at ``speed`` for faults that must land
        mid-stream: a rabbitmqctl call takes about a second, and an unpaced stream of
        12,000 readings is over by then."""
        return self.launch(
            "demo_meter.py", "-conf", str(conf), "-nb", "1", "--speed", str(speed),
            "--interval", str(INTERVAL_S), "--duration", str(readings * INTERVAL_S),
            "--start", start, "--seed", str(SEED))

    def start_pv(self, conf: Path, *extra: str, out: Path | None = None) -> Proc:
        ids = () if self.LAYOUT.partitioned else ("-ids", METER)
        return self.launch(
            "demo_pv_service.py", "-conf", str(conf), *ids,
            "--output-dir", str(out or self.out), *extra)

    def launch(self, script: str, *args: str) -> Proc:
        """Start a CLI with a summary file of its own, collecting its stderr."""
        summary_file = self.tmp / f"summary-{len(self.processes)}.json"
        return Proc(script, self.start(script, *args, "--summary-file", str(summary_file)),
                    summary_file)

    def drain(self, conf: Path, out: Path | None = None) -> tuple[int, list[Proc]]:
        """Run fresh PV services until the queue is empty after a clean stop.

        Returns:
            The rows they wrote, and the services.
        """
        drainers: list[Proc] = []
        written = 0
        for _ in range(3):
            if self.queue_depth(self.queue) == 0:
                break
            pv = self.start_pv(conf, out=out)

            def empty(pv: Proc = pv) -> bool:
                if not pv.running:
                    raise AssertionError(f"draining PV service exited: {pv.tail}")
                return self.queue_depth(self.queue) == 0

            wait_until(empty, 60, "a PV service to empty the queue", interval_s=0.1)
            self.stop_pv(pv)
            drainers.append(pv)
            written += pv.summary()["written"]
        return written, drainers

    def wait_rows(self, count: int, timeout_s: float, alive: Sequence[Proc] = (),
                  out: Path | None = None) -> int:
        """Poll until the CSV has ``count`` rows; fail at once if an ``alive`` process exits."""
        directory = out or self.out

        def reached() -> bool:
            for proc in alive:
                if not proc.running:
                    raise AssertionError(f"{proc.name} exited with {proc.popen.returncode} "
                                         f"while it should run; stderr:\n{proc.tail}")
            return row_count(directory) >= count

        wait_until(reached, timeout_s, f"{count} rows in {directory}", interval_s=0.01)
        return row_count(directory)

    def published(self, meter: Proc, timeout_s: float = 120) -> tuple[int, int]:
        """Wait for the meter's clean exit; (readings published, reconnects)."""
        code = meter.wait(timeout_s)
        self.assertEqual(code, 0, meter.tail)
        self.assertNotIn("Traceback", meter.err)
        summary = meter.summary()
        published, dropped, reconnects = summary["published"], summary["dropped"], summary["reconnects"]
        self.assertEqual(dropped, 0, meter.tail)
        return published, reconnects

    def stop_pv(self, pv: Proc, sig: int = signal.SIGINT, timeout_s: float = 10) -> float:
        """Stop the PV service with ``sig``; it must exit 0 without traceback. Seconds taken."""
        began = time.monotonic()
        pv.send(sig)
        code = pv.wait(timeout_s)
        taken = time.monotonic() - began
        self.assertEqual(code, 0, pv.tail)
        self.assertNotIn("Traceback", pv.err)
        return taken

    def reference(self, start: str) -> dict[int, Row]:
        """Rows of an undisturbed run from ``start`` (run once per start, then cached)."""
        if start not in _REFERENCE:
            out = self.tmp / "reference"
            conf = self.config()
            meter = self.start_meter(conf, start)
            pv = self.start_pv(conf, out=out)
            published, _ = self.published(meter)
            self.assertEqual(published, READINGS)
            self.wait_rows(READINGS, 60, alive=[pv], out=out)
            self.stop_pv(pv)
            rows = rows_of(out, METER)
            self.assertEqual(len(rows), READINGS)
            reference = {time_key(row["time_s"]): tuple(row[c] for c in COLUMNS) for row in rows}
            self.assertEqual(list(reference), tick_keys(start, READINGS),
                             "the undisturbed reference run is not the meter's tick series")
            _REFERENCE[start] = reference
            self.delete_queues(1)
        return _REFERENCE[start]

    def settle_and_check(self, name: str, began: float, start: str, conf: Path, meter: Proc,
                         pv: Proc, expected: int | None = None, history: Sequence[Proc] = (),
                         min_pv_reconnects: int = 0, min_meter_reconnects: int = 0,
                         **figures: object) -> Verdict:
        """Let the run finish and check exactly-once (the ``FAULT`` line is printed first).

        The meter must exit 0 having published ``expected`` readings (all by default), the
        surviving PV service must write them all itself and stop cleanly on SIGINT; a fresh
        PV service then drains whatever is left, and the CSV must hold exactly the first
        ``expected`` ticks, with the reference run's values. ``history`` are the PV services
        that ran before ``pv``, for the count of duplicates skipped and torn lines repaired.
        """
        reference = self.reference(start)
        published, meter_reconnects = self.published(meter)
        count = READINGS if expected is None else expected
        caught_up = True
        try:
            self.wait_rows(count, 60, alive=[pv])
        except AssertionError as exc:
            caught_up = False
            print(f"FAULT {name}: the surviving PV service did not catch up: {exc}", flush=True)
        pv_running = pv.running
        if pv_running:
            self.stop_pv(pv)
        pv_reconnects = pv.summary()["reconnects"] if pv_running else 0
        drained, drainers = self.drain(conf)
        services = [*history, pv, *drainers]
        skipped = sum(proc.summary()["duplicates_skipped"] for proc in services
                      if proc.summary_file.exists())
        torn = sum(proc.err.count("cut a torn last line") for proc in services)
        depth, dead = self.queue_depth(self.queue), self.queue_depth(self.dlq)
        rows = rows_of(self.out, METER)
        verdict = analyse(rows, tick_keys(start, count), reference)
        extra = "".join(f" {key}={value}" for key, value in figures.items())
        print(f"\nFAULT {name}: {verdict.figures()} published={published}{extra} "
              f"meter_reconnects={meter_reconnects} pv_reconnects={pv_reconnects} "
              f"duplicates_skipped={skipped} torn_lines_repaired={torn} "
              f"drained_after={drained} left_in_queue={depth} dead_lettered={dead} "
              f"runtime={time.monotonic() - began:.1f}s", flush=True)
        self.assertEqual(published, count, "the meter did not publish every reading")
        self.assertEqual(verdict.faults, dict.fromkeys(verdict.faults, 0), verdict.figures())
        self.assertEqual(verdict.rows, count)
        self.assertTrue(caught_up, "the PV service that lived through the fault stopped "
                                   "writing before all readings were in the CSV")
        self.assertTrue(pv_running, f"the PV service exited by itself:\n{pv.tail}")
        self.assertEqual((depth, dead), (0, 0), "readings left in the queue or dead-lettered")
        self.assertGreaterEqual(meter_reconnects, min_meter_reconnects,
                                "the meter never saw the fault")
        self.assertGreaterEqual(pv_reconnects, min_pv_reconnects,
                                "the PV service never saw the fault")
        check_rows(self, rows)
        return verdict


class StreamFaultTest(FaultTestCase):
    """Kills, restarts and signals in the middle of a 12,000-reading stream."""

    @parameterized.expand([("live_fsync_batch", "batch", DAWN, True),
                           ("live_fsync_always", "always", NIGHT, True),
                           ("backlog_fsync_batch", "batch", NIGHT, False)], doc_func=_doc)
    def test_kill_pv_three_times(self, name: str, fsync: str, start: str, live: bool) -> None:
        """SIGKILL the PV service at three seeded random row counts, restarting it each time.

        ``live``: the meter publishes while the PV service runs (the service mostly waits);
        otherwise the meter has published everything first and the service works through a
        backlog in full batches when it is killed.
        """
        self.reference(start)
        began = time.monotonic()
        rng = random.Random(f"kill_pv-{name}")
        moments = [rng.randint(1000, 3500), rng.randint(5000, 7500), rng.randint(8500, 11000)]
        conf = self.config(fsync)
        meter = self.start_meter(conf, start)
        if not live:
            self.published(meter)
        pv = self.start_pv(conf)
        killed_at: list[int] = []
        meter_running: list[bool] = []
        history: list[Proc] = []
        for moment in moments:
            self.wait_rows(moment, 60, alive=[pv])
            meter_running.append(meter.running)
            pv.kill9()
            killed_at.append(row_count(self.out))
            history.append(pv)
            pv = self.start_pv(conf)
        self.settle_and_check(
            f"kill_pv[{name}]", began, start, conf, meter, pv, history=history,
            restarts=len(killed_at),
            kill_moments=moments, rows_at_kill=killed_at, meter_running_at_kill=meter_running)
        self.assertTrue(all(rows < READINGS for rows in killed_at),
                        f"a kill came after the stream had ended: {killed_at}")

    def test_close_all_connections_twice(self) -> None:
        """The broker closes every connection of the virtual host, twice, mid-stream."""
        self.reference(DAWN)
        began = time.monotonic()
        rng = random.Random("close_all")
        conf = self.config("always")  # one fsync per row: the PV service is mid-stream for 3 s
        meter = self.start_meter(conf, DAWN, speed=PACED_SPEED)
        pv = self.start_pv(conf)
        closed_at: list[int] = []
        meter_running: list[bool] = []
        next_moment = rng.randint(300, 1500)
        for _ in range(2):
            self.wait_rows(next_moment, 60, alive=[pv])
            meter_running.append(meter.running)
            rabbitmqctl("close_all_connections", "--vhost", self.vhost, "test")
            closed_at.append(row_count(self.out))
            next_moment = closed_at[-1] + rng.randint(500, 2500)
        self.settle_and_check("close_all_connections", began, DAWN, conf, meter, pv,
                              min_pv_reconnects=2, min_meter_reconnects=1, closes=2,
                              rows_at_close=closed_at, meter_running_at_close=meter_running)
        self.assertTrue(all(rows < READINGS for rows in closed_at),
                        f"a close came after the PV service had written everything: {closed_at}")

    def test_kill_meter_leaves_a_gap_free_prefix(self) -> None:
        """SIGKILL the meter mid-stream: what it had committed arrives once, with no gap."""
        reference = self.reference(DAWN)
        began = time.monotonic()
        conf = self.config()
        meter = self.start_meter(conf, DAWN, speed=PACED_SPEED)
        pv = self.start_pv(conf)
        moment = random.Random("kill_meter").randint(3000, 7000)
        seen = 0

        def enough() -> bool:
            nonlocal seen
            if not pv.running:
                raise AssertionError(f"PV service exited: {pv.tail}")
            seen = row_count(self.out) + self.queue_depth(self.queue)
            return seen >= moment

        wait_until(enough, 60, f"{moment} readings published", interval_s=0.01)
        was_running = meter.running
        meter.kill9()
        wait_until(lambda: self.queue_depth(self.queue) == 0, 30, "the PV service to empty the queue")
        self.stop_pv(pv)
        drained, _ = self.drain(conf)
        rows = rows_of(self.out, METER)
        count = len(rows)
        verdict = analyse(rows, tick_keys(DAWN, count), reference)
        print(f"\nFAULT kill_meter: {verdict.figures()} kill_moment={moment} "
              f"seen_at_kill={seen} meter_running_at_kill={was_running} "
              f"drained_after={drained} runtime={time.monotonic() - began:.1f}s", flush=True)
        self.assertTrue(was_running, "the meter had finished before the kill")
        self.assertEqual(meter.popen.returncode, -signal.SIGKILL)
        self.assertEqual(verdict.faults, dict.fromkeys(verdict.faults, 0), verdict.figures())
        self.assertGreaterEqual(count, seen, "readings the broker held at the kill are missing")
        self.assertLess(count, READINGS, "the kill came after the last reading")
        self.assertEqual((self.queue_depth(self.queue), self.queue_depth(self.dlq)), (0, 0))
        check_rows(self, rows)

    def test_sigint_pv_mid_stream(self) -> None:
        """SIGINT stops the PV service in seconds; a restart then gives exactly once."""
        self.reference(DAWN)
        began = time.monotonic()
        conf = self.config()
        meter = self.start_meter(conf, DAWN)
        pv = self.start_pv(conf)
        moment = random.Random("sigint_pv").randint(2000, 8000)
        self.wait_rows(moment, 60, alive=[pv])
        taken = self.stop_pv(pv)
        rows_at_stop = row_count(self.out)
        self.assertIn("SIGINT received", pv.err)
        first, pv = pv, self.start_pv(conf)
        self.settle_and_check("sigint_pv", began, DAWN, conf, meter, pv, history=[first],
                              stop_moment=moment,
                              rows_at_stop=rows_at_stop, stop_s=f"{taken:.2f}")
        self.assertLess(taken, 5.0)

    def test_sigterm_meter_mid_stream(self) -> None:
        """SIGTERM stops the meter in seconds; what it published arrives exactly once."""
        self.reference(DAWN)
        began = time.monotonic()
        conf = self.config()
        meter = self.start_meter(conf, DAWN)
        pv = self.start_pv(conf)
        moment = random.Random("sigterm_meter").randint(1000, 4000)
        self.wait_rows(moment, 60, alive=[pv])
        was_running = meter.running
        stopped = time.monotonic()
        meter.send(signal.SIGTERM)
        published, _ = self.published(meter, timeout_s=10)
        taken = time.monotonic() - stopped
        self.assertIn("SIGTERM received", meter.err)
        self.settle_and_check("sigterm_meter", began, DAWN, conf, meter, pv, expected=published,
                              stop_moment=moment, meter_running_at_stop=was_running,
                              stop_s=f"{taken:.2f}")
        self.assertTrue(was_running, "the meter had finished before SIGTERM")
        self.assertLess(published, READINGS, "SIGTERM came after the last reading")
        self.assertLess(taken, 5.0)

    def test_double_sigint_pv_exits_at_once(self) -> None:
        """A second SIGINT during the graceful stop exits at once; a restart gives exactly once."""
        self.reference(DAWN)
        began = time.monotonic()
        conf = self.config("always")  # one fsync per row: the graceful stop takes a while
        meter = self.start_meter(conf, DAWN)
        pv = self.start_pv(conf)
        moment = random.Random("double_sigint").randint(2000, 6000)
        self.wait_rows(moment, 60, alive=[pv])
        pv.send(signal.SIGINT)
        wait_until(lambda: "SIGINT received" in pv.err or not pv.running, 10,
                   "the PV service to log the first SIGINT", 0.005)
        second = time.monotonic()
        pv.send(signal.SIGINT)
        code = pv.wait(10)
        taken = time.monotonic() - second
        self.assertEqual(code, 0, pv.tail)
        self.assertNotIn("Traceback", pv.err)
        self.assertIn("stopping now", pv.err)
        rows_at_stop = row_count(self.out)
        first, pv = pv, self.start_pv(conf)
        self.settle_and_check("double_sigint_pv", began, DAWN, conf, meter, pv, history=[first],
                              stop_moment=moment, rows_at_stop=rows_at_stop,
                              second_sigint_exit_s=f"{taken:.2f}")
        self.assertLess(taken, 1.0)


class RedeclareTest(FaultTestCase):
    """A PV service of many meters, in a virtual host of its own (it leaves 4000 queues)."""

    def test_close_all_connections_while_pv_redeclares(self) -> None:
        """Connections closed again while the PV service re-declares its queues: it reconnects.

        Serving 2,000 meters, the PV service takes under a second to declare its queues
        (pipelined) and start its consumers (one round trip each) after a reconnect, about
        as long as a rabbitmqctl call: the pair of closes is tried again until the second
        lands in that window (the test fails if it never does).
        """
        self.reference(DAWN)
        began = time.monotonic()
        conf = self.config()
        ids = [f"Meter_{i}" for i in range(2000)]
        pv = self.launch(
            "demo_pv_service.py", "-conf", str(conf), "-ids", *ids, "--output-dir", str(self.out))

        def logged(text: str, times: int = 1) -> Callable[[], bool]:
            def check() -> bool:
                if not pv.running:
                    raise AssertionError(f"PV service exited with {pv.popen.returncode}; "
                                         f"stderr:\n{pv.tail}")
                return pv.err.count(text) >= times
            return check

        wait_until(logged("PV service consuming"), 60, "the PV service to consume")
        closes = attempts = 0
        in_window = False
        while not in_window and attempts < 8:
            attempts += 1
            connected = pv.err.count("connected to amqp")
            consuming = pv.err.count("reconnected; consuming")
            rabbitmqctl("close_all_connections", "--vhost", self.vhost, "test")
            wait_until(logged("connected to amqp", connected + 1), 60, "the PV service to reconnect", 0.01)
            rabbitmqctl("close_all_connections", "--vhost", self.vhost, "test")
            closes += 2
            in_window = pv.err.count("reconnected; consuming") == consuming
            wait_until(logged("reconnected; consuming", consuming + 1), 60,
                       "the PV service to consume again after the closes")
        self.assertTrue(in_window, f"no second close of {attempts} landed while the queues were "
                                   "re-declared: the test needs more meter ids to hit the window")
        meter = self.start_meter(conf, DAWN)
        self.settle_and_check("close_during_redeclare", began, DAWN, conf, meter, pv,
                              min_pv_reconnects=2, closes=closes, attempts=attempts,
                              meter_ids_served=len(ids), second_close_during_redeclare=in_window)


class BrokerRestartTest(FaultTestCase):
    """``rabbitmqctl stop_app`` / ``start_app`` of the shared broker with both services running.

    This stops the broker for everyone; unittest runs test classes one after another, and
    the broker is started again in a ``finally`` and in a cleanup, whatever happens.
    """

    OUTAGE_S = 1.0  # how long the broker stays down: the fault's length, not a synchronisation

    def broker_up(self) -> None:
        """Start the broker application (idempotent) and wait for it to accept our logins."""
        rabbitmqctl("start_app")
        rabbitmqctl("await_startup")
        wait_until(self.accepts_connections, 60, "the broker to accept connections", 0.2)

    def accepts_connections(self) -> bool:
        try:
            connection = pika.BlockingConnection(pika.ConnectionParameters(
                host=HOST, port=PORT, virtual_host=self.vhost, connection_attempts=1,
                socket_timeout=2))
        except pika.exceptions.AMQPError:
            return False
        connection.close()
        return True

    def test_broker_restart_mid_stream(self) -> None:
        """The broker application restarts mid-stream; both services reconnect and go on."""
        self.reference(NIGHT)
        began = time.monotonic()
        conf = self.config()
        meter = self.start_meter(conf, NIGHT, speed=PACED_SPEED)
        pv = self.start_pv(conf)
        moment = random.Random("broker_restart").randint(200, 1500)
        self.wait_rows(moment, 60, alive=[pv])
        meter_running = meter.running
        self.addCleanup(self.broker_up)
        down = time.monotonic()
        try:
            rabbitmqctl("stop_app")
            rows_at_stop = row_count(self.out)
            time.sleep(self.OUTAGE_S)
        finally:
            self.broker_up()
        downtime = time.monotonic() - down
        self.settle_and_check("broker_restart", began, NIGHT, conf, meter, pv,
                              min_pv_reconnects=1, min_meter_reconnects=1, restarts=1,
                              restart_moment=moment, rows_at_stop=rows_at_stop,
                              meter_running_at_stop=meter_running,
                              downtime_s=f"{downtime:.1f}")


class MalformedTest(FaultTestCase):
    """Malformed bodies interleaved with valid readings go to the dead-letter queue."""

    VALID = 10_000

    def test_malformed_corpus_is_dead_lettered(self) -> None:
        """Every body of MALFORMED ends in Meter_0.dlq; the valid readings around are written."""
        began = time.monotonic()
        rng = random.Random("malformed")
        connection = self.connection()
        channel = connection.channel()
        channel.queue_declare(DLQ, durable=True)
        channel.queue_declare(METER, durable=True, arguments=queue_arguments(METER))
        keys = tick_keys(DAWN, self.VALID)
        powers = [f"{rng.uniform(0, 9000):.3f}" for _ in keys]
        encode = ReadingEncoder(METER)
        bodies = [encode(key / 1000, float(power)) for key, power in zip(keys, powers, strict=True)]
        slots = sorted(rng.sample(range(1, self.VALID), len(MALFORMED)))
        for offset, (slot, (_, body, _)) in enumerate(zip(slots, MALFORMED, strict=True)):
            bodies.insert(slot + offset, body)
        channel.tx_select()
        persistent = pika.BasicProperties(delivery_mode=pika.DeliveryMode.Persistent)
        for body in bodies:
            channel.basic_publish("", METER, body, persistent)
        channel.tx_commit()
        connection.close()
        self.assertEqual(self.queue_depth(METER), self.VALID + len(MALFORMED))

        pv = self.start_pv(self.config())
        self.wait_rows(self.VALID, 60, alive=[pv])
        wait_until(lambda: self.queue_depth(DLQ) >= len(MALFORMED) or not pv.running, 30,
                   "the malformed bodies in the dead-letter queue")
        still_running = pv.running
        self.stop_pv(pv)
        dead = self._take_dead_letters()
        rows = rows_of(self.out, METER)
        verdict = analyse(rows, keys, {})
        power_of = dict(zip(keys, powers, strict=True))
        wrong_power = sum(1 for row in rows
                          if power_of.get(time_key(row["time_s"])) != row["meter_power_value_w"])
        rejected = pv.summary()["rejected"]
        print(f"\nFAULT malformed: {verdict.figures()} malformed={len(MALFORMED)} "
              f"dead_lettered={len(dead)} rejected={rejected} wrong_power={wrong_power} "
              f"runtime={time.monotonic() - began:.1f}s", flush=True)
        self.assertTrue(still_running, "the PV service exited on malformed input")
        self.assertEqual(verdict.faults, dict.fromkeys(verdict.faults, 0), verdict.figures())
        self.assertEqual(verdict.rows, self.VALID)
        self.assertEqual(wrong_power, 0)
        self.assertEqual(rejected, len(MALFORMED))
        self.assertEqual(Counter(body for body, _ in dead),
                         Counter(body for _, body, _ in MALFORMED))
        for _, headers in dead:
            death = headers["x-death"][0]
            self.assertEqual((death["reason"], death["queue"]), ("rejected", METER))
        self.assertEqual(self.queue_depth(METER), 0)
        logged = [line for line in pv.err.splitlines() if f"rejected a message on {METER}" in line]
        self.assertGreaterEqual(len(logged), 10, pv.tail)
        for line, (name, _, reason) in zip(logged, MALFORMED, strict=False):
            self.assertIn(reason, line, f"log line for {name}")
        check_rows(self, rows)

    def _take_dead_letters(self) -> list[tuple[bytes, dict[str, Any]]]:
        """Every message in the dead-letter queue: (body, headers), taken off the queue."""
        channel = self.connection().channel()
        taken: list[tuple[bytes, dict[str, Any]]] = []
        while True:
            method, properties, body = channel.basic_get(DLQ, auto_ack=True)
            if method is None:
                return taken
            taken.append((body, dict(properties.headers or {})))


def _free_port() -> int:
    """A local TCP port nothing listens on (bound and released again)."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


Case = Callable[["BadSetupTest"], tuple[list[str], list[str], list[str]]]


def _conf(**sections: dict[str, object]) -> Case:
    """A case whose configuration file has these extra keys."""
    def build(test: BadSetupTest) -> tuple[list[str], list[str], list[str]]:
        return ["-conf", str(test.write_config("bad.ini", **sections))], [], []
    return build


def _unreachable(test: BadSetupTest) -> tuple[list[str], list[str], list[str]]:
    port = _free_port()
    conf = test.write_config("bad.ini", broker={"port": port, "connection_attempts": 2,
                                                "retry_delay": 0.1})
    return ["-conf", str(conf)], [], [f"{HOST}:{port}"]


def _directory(test: BadSetupTest) -> tuple[list[str], list[str], list[str]]:
    (test.tmp / "adir.ini").mkdir()
    return ["-conf", str(test.tmp / "adir.ini")], [], ["adir.ini"]


def _pv_ids(*ids: str) -> Case:
    """A PV service case with these -ids (and a good configuration)."""
    def build(test: BadSetupTest) -> tuple[list[str], list[str], list[str]]:
        return ["-conf", str(test.write_config("good.ini"))], ["-ids", *ids], []
    return build


#: name, CLIs, how to build the arguments, exit code, what the error line names.
BAD_SETUPS: list[tuple[str, tuple[str, ...], Case, int, tuple[str, ...]]] = [
    ("missing_file", ("meter", "pv"), lambda t: (["-conf", "nope.ini"], [], []), 2,
     ("nope.ini", "not found")),
    ("directory", ("meter", "pv"), _directory, 2, ("is a directory",)),
    ("port_out_of_range", ("meter", "pv"), _conf(broker={"port": 70000}), 2, ("port", "70000")),
    ("port_not_a_number", ("meter", "pv"), _conf(broker={"port": "amqp"}), 2, ("port", "'amqp'")),
    ("unknown_key", ("meter", "pv"), _conf(broker={"colour": "red"}), 2,
     ("colour", "unknown key")),
    ("unknown_section", ("meter", "pv"), _conf(brokers={"host": HOST}), 2,
     ("[brokers]", "unknown section")),
    ("unreachable_broker", ("meter", "pv"), _unreachable, 1, ("no RabbitMQ broker answers",)),
    ("wrong_password", ("meter", "pv"), _conf(broker={"password": "not-the-password"}), 2,
     ("refused the login", "'guest'")),
    ("unknown_vhost", ("meter", "pv"), _conf(broker={"virtual_host": "pvtest-no-such-vhost"}), 2,
     ("pvtest-no-such-vhost",)),
    ("no_ids", ("pv",), _pv_ids(), 2, ("-ids",)),
    ("empty_id", ("pv",), _pv_ids(""), 2, ("''", "not a valid meter id")),
    ("path_id", ("pv",), _pv_ids("../etc"), 2, ("'../etc'", "not a valid meter id")),
    ("dlq_id", ("pv",), _pv_ids("Meter_0.dlq"), 2, ("'Meter_0.dlq'",)),
    ("bad_start", ("meter",), lambda t: (["-conf", str(t.write_config("good.ini"))],
                                         ["--start", "midsummer"], []), 2,
     ("--start", "'midsummer'")),
    ("negative_speed", ("meter",), lambda t: (["-conf", str(t.write_config("good.ini"))],
                                              ["--speed", "-1"], []), 2, ("--speed",)),
]


class BadSetupTest(FaultTestCase):
    """Bad configurations and arguments: one error line, the documented exit code, no traceback."""

    def run_case(self, cli: str, common: list[str], extra: list[str]) -> subprocess.CompletedProcess[str]:
        if cli == "meter":
            args = ["demo_meter.py", *common, "-nb", "1", "--speed", "0", "--duration", "5",
                    "--start", DAWN, "--seed", "1", *extra]
        else:
            ids = [] if "-ids" in extra else ["-ids", METER]
            args = ["demo_pv_service.py", *common, *ids, "--output-dir", str(self.out),
                    "--exit-when-idle", "1", *extra]
        return self.run_cli(*args, timeout=60)

    @parameterized.expand([(f"{name}_{cli}", cli, build, code, fragments)
                           for name, clis, build, code, fragments in BAD_SETUPS for cli in clis],
                          doc_func=_doc)
    def test_bad_setup(self, _name: str, cli: str, build: Case, code: int,
                       fragments: tuple[str, ...]) -> None:
        """The CLI fails with one error line naming what is wrong."""
        common, extra, more = build(self)
        result = self.run_case(cli, common, extra)
        self.assert_one_line_error(result.returncode, result.stderr, code, *fragments, *more)

    @parameterized.expand([("meter",), ("pv",)], doc_func=_doc)
    def test_queue_with_other_arguments(self, cli: str) -> None:
        """A Meter_0 queue declared without the dead-letter arguments: exit 1 with the 406."""
        self.connection().channel().queue_declare(METER, durable=True)
        result = self.run_case(cli, ["-conf", str(self.write_config("good.ini"))], [])
        self.assert_one_line_error(result.returncode, result.stderr, 1, "406",
                                   "PRECONDITION_FAILED", f"'{METER}'")


class PartitionedStreamFaultTest(StreamFaultTest):
    """The same kills, closes and signals with the partitioned layout: Meter_0 shares a
    partition queue, and the PV service serves every partition."""

    LAYOUT = Layout(partitions=4)


class PartitionedBrokerRestartTest(BrokerRestartTest):
    """The broker restart with the partitioned layout."""

    LAYOUT = Layout(partitions=4)


if __name__ == "__main__":
    import unittest
    unittest.main()
