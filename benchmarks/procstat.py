"""Peak memory, open files and CPU time of running processes, read from /proc.

A process's figures must be read while it lives (VmHWM is gone once it exits), so a
sampler thread polls every registered pid and keeps the last and the largest values.
The broker's Erlang VM is sampled too: on two cores it competes with both CLIs.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import asdict, dataclass, field

_TICK = os.sysconf("SC_CLK_TCK")


@dataclass
class ProcStats:
    """What one process used; ``None``s until the first sample."""

    role: str
    pid: int
    peak_rss_mb: float = 0.0
    last_rss_mb: float = 0.0
    max_open_fds: int = 0
    cpu_s: float = 0.0
    samples: int = 0
    _cpu_start: float | None = field(default=None, repr=False)

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        data.pop("_cpu_start")
        data["peak_rss_mb"] = round(self.peak_rss_mb, 1)
        data["last_rss_mb"] = round(self.last_rss_mb, 1)
        data["cpu_s"] = round(self.cpu_s, 2)
        return data


def _self_cpu_s() -> float:
    times = os.times()
    return times.user + times.system


def read_status_kb(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a process in kB (empty when it is gone)."""
    values: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    key, value = line.split(":", 1)
                    values[key] = int(value.split()[0])
    except OSError:
        pass
    return values


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU seconds of a process so far."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / _TICK


def open_fds(pid: int) -> int | None:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def machine_cpu_s() -> tuple[float, float]:
    """Busy and idle CPU seconds of the whole machine since boot (all cores)."""
    with open("/proc/stat") as handle:
        values = [int(v) for v in handle.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / _TICK, idle / _TICK


def _listening_inodes(port: int) -> set[str]:
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as handle:
                next(handle)
                for line in handle:
                    fields = line.split()
                    if fields[1].endswith(f":{port:04X}") and fields[3] == "0A":
                        inodes.add(fields[9])
        except OSError:
            continue
    return inodes


def broker_pid(port: int = 5672) -> int | None:
    """The Erlang VM (beam.smp) listening on ``port``: on two cores it competes with the CLIs.

    Matched by its listening socket, since other RabbitMQ nodes may run beside it.
    """
    wanted = {f"socket:[{inode}]" for inode in _listening_inodes(port)}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/comm") as handle:
                if handle.read().strip() != "beam.smp":
                    continue
            fd_dir = f"/proc/{entry}/fd"
            if any(os.readlink(f"{fd_dir}/{fd}") in wanted for fd in os.listdir(fd_dir)):
                return int(entry)
        except OSError:
            continue
    return None


class ProcSampler:
    """Polls registered processes every ``interval_s`` in a daemon thread.

    CPU time is counted from registration, so the broker's figure covers only the scenario.
    The machine's busy time over the same span is kept too: whatever it shows beyond the
    sampled processes and the benchmark itself was done by others (other users' tests on
    a shared machine disturb the figures, and this says by how much).
    """

    def __init__(self, interval_s: float = 0.25) -> None:
        self.interval_s = interval_s
        self.stats: dict[str, ProcStats] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="procstat", daemon=True)
        self._machine_start = machine_cpu_s()
        self._self_start = _self_cpu_s()
        self.marks: dict[str, dict[str, float]] = {}

    def add(self, role: str, pid: int | None) -> None:
        if pid is None:
            return
        stats = ProcStats(role, pid)
        self._sample(stats)
        with self._lock:
            self.stats[role] = stats

    def start(self) -> ProcSampler:
        self._thread.start()
        return self

    def stop(self) -> dict[str, dict[str, object]]:
        """Stop polling, take a last sample; the figures by role."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        with self._lock:
            for stats in self.stats.values():
                self._sample(stats)
            result: dict[str, dict[str, object]] = {
                role: stats.as_dict() for role, stats in self.stats.items()}
        busy, idle = machine_cpu_s()
        busy -= self._machine_start[0]
        idle -= self._machine_start[1]
        ours = sum(float(s.cpu_s) for s in self.stats.values()) + _self_cpu_s() - self._self_start
        result["machine"] = {"busy_cpu_s": round(busy, 1), "idle_cpu_s": round(idle, 1),
                             "bench_cpu_s": round(_self_cpu_s() - self._self_start, 1),
                             "others_cpu_s": round(max(0.0, busy - ours), 1)}
        return result

    def mark(self, label: str) -> None:
        """Note every process's CPU time now (sampled on the spot), and the machine's, under
        ``label``: :meth:`between` two marks is the CPU of one phase of a scenario."""
        with self._lock:
            for stats in self.stats.values():
                self._sample(stats)
            mark = {role: stats.cpu_s for role, stats in self.stats.items()}
        mark["_at"] = time.time()
        mark["_machine_busy"] = machine_cpu_s()[0]
        mark["_bench"] = _self_cpu_s()
        self.marks[label] = mark

    def between(self, start: str, end: str) -> dict[str, float]:
        """CPU seconds of each process between two marks, and of others on the machine
        (``others``: busy time used by none of them nor the benchmark), and the span (``s``).

        A process that exited between the marks counts up to its last sample (0.25 s apart).
        """
        a, b = self.marks[start], self.marks[end]
        roles = [role for role in b if not role.startswith("_")]
        used = {role: b[role] - a.get(role, 0.0) for role in roles}
        bench = b["_bench"] - a["_bench"]
        busy = b["_machine_busy"] - a["_machine_busy"]
        return {"s": round(b["_at"] - a["_at"], 2),
                **{role: round(value, 2) for role, value in used.items()},
                "bench": round(bench, 2),
                "others": round(max(0.0, busy - sum(used.values()) - bench), 2)}

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            with self._lock:
                for stats in self.stats.values():
                    self._sample(stats)

    @staticmethod
    def _sample(stats: ProcStats) -> None:
        status = read_status_kb(stats.pid)
        if not status:
            return
        stats.samples += 1
        stats.last_rss_mb = status.get("VmRSS", 0) / 1024
        stats.peak_rss_mb = max(stats.peak_rss_mb, status.get("VmHWM", 0) / 1024,
                                stats.last_rss_mb)
        fds = open_fds(stats.pid)
        if fds is not None:
            stats.max_open_fds = max(stats.max_open_fds, fds)
        cpu = cpu_seconds(stats.pid)
        if cpu is not None:
            if stats._cpu_start is None:
                stats._cpu_start = cpu if stats.role == "broker" else 0.0
            stats.cpu_s = cpu - stats._cpu_start
