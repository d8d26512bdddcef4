"""Deadlines of waiting calls and the stop requests that end them, on the main thread (an interval
timer) and on any thread (the event loop's ticks, here a loop that checks as the adapter's does)."""

from __future__ import annotations

import os
import signal
import threading
import time
import unittest

from pv_simulator.cli import StartupInterrupted, Stopper
from pv_simulator.messaging.deadlines import (
    NoAnswer,
    Wait,
    WaitInterrupted,
    blocking_wait,
    interrupt_waits,
    waiting_on_broker,
)

#: The stop grace in these tests: the mechanism is the same as with STOP_GRACE_S, only quicker.
GRACE_S = 0.3


class BlockingWaitTest(unittest.TestCase):
    def test_a_wait_past_its_deadline_is_ended(self) -> None:
        began = time.monotonic()
        with self.assertRaises(NoAnswer), blocking_wait("declaring queue 'Meter_0\\n'", timeout_s=0.1):
            threading.Event().wait(5)
        self.assertLess(time.monotonic() - began, 2)
        self.assertIsNone(waiting_on_broker())

    def test_the_wait_is_known_while_it_lasts(self) -> None:
        with blocking_wait("committing", timeout_s=5):
            self.assertEqual(waiting_on_broker(), "committing")
        self.assertIsNone(waiting_on_broker())

    def test_a_first_signal_ends_a_blocked_wait_after_the_grace(self) -> None:
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
        self.addCleanup(lambda: [signal.signal(sig, handler) for sig, handler in previous.items()])
        stopper = Stopper(grace_s=GRACE_S)
        stopper.install()
        stopper.started()
        threading.Timer(0.1, os.kill, (os.getpid(), signal.SIGTERM)).start()
        began = time.monotonic()
        with self.assertRaises(WaitInterrupted) as caught, blocking_wait("publishing", timeout_s=30):
            threading.Event().wait(10)
        self.assertGreaterEqual(time.monotonic() - began, GRACE_S - 0.05)
        self.assertLess(time.monotonic() - began, GRACE_S + 1.5)
        self.assertTrue(stopper())
        self.assertEqual(str(caught.exception), "publishing")

    def test_a_wait_that_ends_within_the_grace_is_not_interrupted(self) -> None:
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
        self.addCleanup(lambda: [signal.signal(sig, handler) for sig, handler in previous.items()])
        stopper = Stopper(grace_s=GRACE_S)
        stopper.install()
        stopper.started()
        threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGTERM)).start()
        with blocking_wait("committing", timeout_s=30):
            threading.Event().wait(GRACE_S / 3)  # a commit that answers in time
        threading.Event().wait(GRACE_S + 0.3)  # nothing fires once the wait is over
        self.assertTrue(stopper())

    def test_outside_a_broker_wait_a_first_signal_only_asks_for_a_stop(self) -> None:
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
        self.addCleanup(lambda: [signal.signal(sig, handler) for sig, handler in previous.items()])
        stopper = Stopper(grace_s=GRACE_S)
        stopper.install()
        stopper.started()
        with self.assertLogs("pv_simulator", "INFO") as logs:
            os.kill(os.getpid(), signal.SIGTERM)  # the handler runs before kill returns to us
        self.assertTrue(stopper())
        self.assertIn("SIGTERM received: stopping", logs.output[0])




class StartupStopTest(unittest.TestCase):
    def test_a_first_signal_during_start_up_ends_it_at_once(self) -> None:
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
        self.addCleanup(lambda: [signal.signal(sig, handler) for sig, handler in previous.items()])
        stopper = Stopper(grace_s=GRACE_S)
        stopper.install()
        with self.assertRaises(StartupInterrupted):
            os.kill(os.getpid(), signal.SIGTERM)  # the handler runs before kill returns to us
            self.fail("start-up went on after the signal")
        self.assertTrue(stopper())


def ticking_loop(wait: Wait, limit_s: float, tick_s: float = 0.02) -> None:
    """An event loop that, like the adapter's, checks its wait between polls until ``limit_s``."""
    until = time.monotonic() + limit_s
    while time.monotonic() < until:
        threading.Event().wait(tick_s)  # a poll with nothing to read
        wait.check()


class WorkerThreadTest(unittest.TestCase):
    def run_in_a_thread(self, body: object) -> list[object]:
        outcome: list[object] = []

        def run() -> None:
            try:
                assert callable(body)
                body()
                outcome.append("finished")
            except (NoAnswer, WaitInterrupted) as exc:
                outcome.append(exc)

        worker = threading.Thread(target=run)
        worker.start()
        worker.join(timeout=10)
        self.assertFalse(worker.is_alive())
        return outcome

    def test_a_deadline_ends_a_worker_threads_wait(self) -> None:
        def body() -> None:
            with blocking_wait("declaring", timeout_s=0.1) as wait:
                ticking_loop(wait, 5)

        began = time.monotonic()
        outcome = self.run_in_a_thread(body)
        self.assertIsInstance(outcome[0], NoAnswer)
        self.assertLess(time.monotonic() - began, 2)

    def test_a_stop_request_ends_a_worker_threads_wait_after_the_grace(self) -> None:
        waiting = threading.Event()

        def body() -> None:
            with blocking_wait("publishing", timeout_s=30) as wait:
                waiting.set()
                ticking_loop(wait, 10)

        def stop_when_waiting() -> None:
            waiting.wait(5)
            self.assertIsNone(waiting_on_broker())  # this thread waits for nothing
            interrupt_waits(GRACE_S)

        threading.Thread(target=stop_when_waiting).start()
        began = time.monotonic()
        outcome = self.run_in_a_thread(body)
        self.assertIsInstance(outcome[0], WaitInterrupted)
        self.assertEqual(str(outcome[0]), "publishing")
        self.assertGreaterEqual(time.monotonic() - began, GRACE_S - 0.05)
        self.assertLess(time.monotonic() - began, GRACE_S + 2)

    def test_a_wait_that_ends_in_time_is_not_interrupted(self) -> None:
        def body() -> None:
            with blocking_wait("committing", timeout_s=5) as wait:
                interrupt_waits(GRACE_S)
                ticking_loop(wait, GRACE_S / 3)

        self.assertEqual(self.run_in_a_thread(body), ["finished"])

    def test_waits_nest_and_each_thread_sees_its_own(self) -> None:
        seen: list[str | None] = []

        def body() -> None:
            with blocking_wait("outer", timeout_s=5), blocking_wait("inner", timeout_s=5):
                seen.append(waiting_on_broker())
            seen.append(waiting_on_broker())

        with blocking_wait("main", timeout_s=5):
            self.assertEqual(self.run_in_a_thread(body), ["finished"])
            self.assertEqual(waiting_on_broker(), "main")
        self.assertEqual(seen, ["inner", None])


if __name__ == "__main__":
    unittest.main()
