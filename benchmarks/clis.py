"""Running the two CLIs as a user does, reading their logs, and never leaving one behind.

Every process the benchmark starts is registered in a :class:`Processes`; leaving its
``with`` block (normally, by an exception, Ctrl-C or SIGTERM) kills whatever still runs,
by its own pid only.
"""

from __future__ import annotations

import contextlib
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
METER = ROOT / "demo_meter.py"
SERVICE = ROOT / "demo_pv_service.py"

_STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ")


def log_time(line: str) -> float | None:
    """Epoch seconds of a log line's ``asctime`` (local time, millisecond resolution)."""
    match = _STAMP.match(line)
    if match is None:
        return None
    return datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()


class Cli:
    """One started CLI; its stderr is drained by a thread (a full pipe would stall it) and kept.

    Args:
        role: ``meter``, ``service`` or a helper name, for reports.
        argv: the command.
        cwd: working directory.
    """

    def __init__(self, role: str, argv: Sequence[str], cwd: Path) -> None:
        self.role = role
        self.started_at = time.time()
        self.process = subprocess.Popen(list(argv), cwd=cwd, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                        text=True, errors="replace", start_new_session=True)
        self.pid = self.process.pid
        self.lines: list[tuple[float, str]] = []  # (arrival epoch, line)
        self.ended_at: float | None = None  # stderr closed: the process has exited
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, name=f"stderr-{role}", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            with self._changed:
                self.lines.append((time.time(), line.rstrip("\n")))
                self._changed.notify_all()
        with self._changed:
            self.ended_at = time.time()
            self._changed.notify_all()

    def wait_for(self, fragment: str, timeout_s: float) -> float:
        """Wait for a log line containing ``fragment``; its logged time (epoch s).

        Raises:
            RuntimeError: the process ended first or the time ran out (with its last lines).
        """
        deadline = time.monotonic() + timeout_s
        seen = 0
        with self._changed:
            while True:
                for arrived, line in self.lines[seen:]:
                    if fragment in line:
                        return log_time(line) or arrived
                seen = len(self.lines)
                if self.process.poll() is not None and not self._reader.is_alive():
                    raise RuntimeError(f"{self.role} exited ({self.process.returncode}) before "
                                       f"logging {fragment!r}: {self.tail()}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RuntimeError(f"{self.role} did not log {fragment!r} in {timeout_s:.0f} s: "
                                       f"{self.tail()}")
                self._changed.wait(min(left, 0.5))

    def find(self, fragment: str) -> str | None:
        """The first log line containing ``fragment``, if any yet."""
        with self._changed:
            return next((line for _, line in self.lines if fragment in line), None)

    def find_last(self, fragment: str) -> str | None:
        """The last log line containing ``fragment``, if any."""
        with self._changed:
            return next((line for _, line in reversed(self.lines) if fragment in line), None)

    def tail(self, count: int = 5) -> str:
        with self._changed:
            return " | ".join(line[:300] for _, line in self.lines[-count:])

    def wait(self, timeout_s: float) -> int:
        """Wait for the exit; the exit code. Raises RuntimeError on timeout (the process stays)."""
        try:
            code = self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"{self.role} still running after {timeout_s:.0f} s: "
                               f"{self.tail()}") from None
        self._reader.join(timeout=5)
        return code

    def interrupt(self, timeout_s: float = 60) -> int:
        """Ctrl-C as a user would: graceful stop; the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        return self.wait(timeout_s)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=10)


class Processes:
    """Registry of what the benchmark started; ``with`` it and nothing outlives the block."""

    def __init__(self) -> None:
        self.started: list[Cli] = []

    def start(self, role: str, argv: Sequence[str], cwd: Path) -> Cli:
        cli = Cli(role, argv, cwd)
        self.started.append(cli)
        return cli

    def meter(self, conf: Path, cwd: Path, *args: str) -> Cli:
        return self.start("meter", [PYTHON, str(METER), "-conf", str(conf), *args], cwd)

    def service(self, conf: Path, cwd: Path, ids: Sequence[str] | None, *args: str,
                role: str = "service") -> Cli:
        """The PV service; ``ids`` None starts it without ``-ids`` (the partitioned layout)."""
        return self.start(role, [PYTHON, str(SERVICE), "-conf", str(conf),
                                      "--log-level", "INFO", *args,
                                      *(["-ids", *ids] if ids is not None else [])], cwd)

    def kill_all(self) -> None:
        for cli in reversed(self.started):
            cli.kill()

    def __enter__(self) -> Processes:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.kill_all()


def meter_ids(count: int) -> list[str]:
    return [f"Meter_{i}" for i in range(count)]
