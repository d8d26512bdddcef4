"""Deadlines for calls that wait on the broker, and the stop request that may end them.

A client library's blocking calls have no timeout of their own: a declare the broker never
answers would wait for ever, and a Ctrl-C during a wait would wait behind it. Each such call
runs inside :func:`blocking_wait`, which gives it a :class:`Wait`: due at its deadline, or a
grace after a stop request (:func:`interrupt_waits`), whichever comes first.

Two things end a wait that is due, and either suffices:

* the adapter's event loop calls :meth:`Wait.check` a few times a second while it waits
  (``pika_internals.every``), in whatever thread the wait is: a worker thread's wait ends as
  the main thread's does;
* on the main thread, a real-time interval timer (SIGALRM) at the same moment, for a wait with
  no event loop to tick it yet (opening the connection).

This module knows no broker and no client library: the CLI's stop handling talks to it, not
to the adapter.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

STOP_GRACE_S = 2.0
"""How long a waiting call may still finish after a stop request: a batch's confirms take
milliseconds, and interrupting the wait leaves its fate unknown."""

BROKER_ANSWER_TIMEOUT_S = 30.0
"""The longest a call waits for the broker's answer before the connection counts as lost."""

TICK_S = 0.1
"""How often an event loop checks its wait: the precision of deadlines and stop requests."""


class NoAnswer(Exception):
    """The broker did not answer a waiting call within its deadline."""


class WaitInterrupted(BaseException):
    """A stop request ended a waiting call the broker had not answered within the grace.

    A BaseException, like KeyboardInterrupt: code that handles the broker's errors must not
    swallow it.
    """


@dataclass
class Wait:
    """One call waiting on the broker: what it does, when it is due."""

    doing: str
    deadline_s: float
    stop_at_s: float | None = None

    def check(self) -> None:
        """Raise if the wait is due: :class:`WaitInterrupted` after a stop, else :class:`NoAnswer`."""
        now = time.monotonic()
        if self.stop_at_s is not None and now >= self.stop_at_s:
            raise WaitInterrupted(self.doing)
        if now >= self.deadline_s:
            raise NoAnswer(self.doing)

    def due_in_s(self) -> float:
        """Seconds until :meth:`check` raises."""
        due = self.deadline_s if self.stop_at_s is None else min(self.deadline_s, self.stop_at_s)
        return max(due - time.monotonic(), 0.0)


# Per thread, its waits innermost last. Only dict and list operations, each atomic under the
# GIL, and no lock: a signal handler reads this while the main thread may be changing it.
_waits: dict[int, list[Wait]] = {}


def waiting_on_broker() -> str | None:
    """What this thread waits for at the broker right now, if anything (for a stop request)."""
    waits = _waits.get(threading.get_ident())
    return waits[-1].doing if waits else None


@contextmanager
def blocking_wait(doing: str, timeout_s: float = BROKER_ANSWER_TIMEOUT_S) -> Iterator[Wait]:
    """Mark a call that waits for the broker's answer, and give it a deadline.

    The caller's event loop calls the yielded wait's :meth:`~Wait.check` while it waits; on
    the main thread an interval timer ends the wait too.
    """
    wait = Wait(doing, time.monotonic() + timeout_s)
    ident = threading.get_ident()
    stack = _waits.setdefault(ident, [])
    stack.append(wait)
    main = threading.current_thread() is threading.main_thread()
    if main:
        previous = signal.signal(signal.SIGALRM, _on_alarm)
        signal.setitimer(signal.ITIMER_REAL, max(timeout_s, 1e-3))
    try:
        yield wait
    finally:
        if main:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
        stack.pop()
        if not stack:
            _waits.pop(ident, None)


def interrupt_waits(grace_s: float = STOP_GRACE_S) -> None:
    """A stop was requested: every waiting call, in any thread, ends if still waiting ``grace_s`` later.

    Safe to call from a signal handler.
    """
    stop_at_s = time.monotonic() + grace_s
    for waits in list(_waits.values()):
        for wait in list(waits):
            if wait.stop_at_s is None:
                wait.stop_at_s = stop_at_s
    main_waits = _waits.get(threading.main_thread().ident or 0)
    if main_waits:
        signal.setitimer(signal.ITIMER_REAL, max(main_waits[-1].due_in_s(), 1e-3))


def _on_alarm(_signum: int, _frame: object) -> None:
    waits = _waits.get(threading.get_ident())
    if waits:
        waits[-1].check()
        signal.setitimer(signal.ITIMER_REAL, max(waits[-1].due_in_s(), 1e-3))
