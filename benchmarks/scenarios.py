"""The end-to-end scenarios: both CLIs as subprocesses, on a broker virtual host of their own.

* :func:`fast_forward`: one simulated stretch as fast as possible (``--speed 0``); the wall time
  runs from the meter's launch to the last row's write (the newest file mtime), so the
  service's idle wait before exiting is not counted.
* :func:`real_time`: N meters paced by the wall clock (``--speed 1``); latency of a random
  sample of meters (see ``tail.py``), the share of their readings older than 2 s already
  written, backlog when the meter finishes, throughput, CPU per 1,000 readings, and the
  memory and open files of both processes. The 10,000-id scenario is the same procedure at a
  low rate.
* :func:`meter_start`: the meter alone in a new virtual host, launch to its first reading.

Every scenario takes a :class:`~benchmarks.layouts.BenchLayout`: its ``[broker] layout`` and
``partitions`` go into the scenario's INI, the partitioned PV service is started without
``-ids``, and the CLIs' log lines are checked to show that layout.

Latency is measured from when a reading was *due* on the meter's clock. The meter starts its
clock once its queues are declared and logs "clock started", so that line's time (ms
resolution) is the anchor: tick k was due at ``anchor + k * interval``. The raw
``appeared - time_s`` is reported as well; it also counts the meter's startup (launch to
clock, declares included), since ``--start`` is the launch time. A meter that falls behind
its clock shows as latency in both.
"""

from __future__ import annotations

import contextlib
import math
import random
import threading
import time
from bisect import bisect_right
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from benchmarks.broker_env import DepthProbe, queue_backlog, virtual_host, write_config
from benchmarks.clis import Cli, Processes, meter_ids
from benchmarks.layouts import BenchLayout
from benchmarks.modbus_poll import ModbusPollers
from benchmarks.procstat import ProcSampler, broker_pid
from benchmarks.tail import CsvTailer, count_rows
from pv_simulator.config import load_config
from pv_simulator.sunspec.register_map import UNITS_PER_PORT

#: A summer day, so the solar model computes the full chain for about 16 of the 24 hours.
FF_START = "2026-06-21T00:00"
FF_IDLE_S = 2.0
WARMUP_S = 10.0
#: "Readings older than this already written": the freshness figure of real-time scenarios.
FRESH_AGE_S = 2.0

Result = dict[str, object]


@dataclass
class Env:
    """What every scenario needs: where to work, the shipped config, the process registry."""

    work: Path
    source_conf: Path
    processes: Processes
    profile_dir: Path | None = None
    py_spy: str | None = None

    def profile(self, cli: Cli, scenario: str) -> Path | None:
        """Attach py-spy to a started CLI when profiling; it writes its file when the CLI exits."""
        if self.profile_dir is None or self.py_spy is None:
            return None
        self.profile_dir.mkdir(parents=True, exist_ok=True)
        path = self.profile_dir / f"{scenario}-{cli.role}.txt"
        self.processes.start(f"py-spy-{cli.role}", [
            self.py_spy, "record", "--pid", str(cli.pid), "--rate", "100", "--idle",
            "--format", "raw", "--output", str(path)], self.work)
        return path

    def finish_profiles(self) -> None:
        """Let the attached py-spy processes write their files (their targets have exited)."""
        for cli in self.processes.started:
            if cli.role.startswith("py-spy") and cli.process.poll() is None:
                try:
                    cli.wait(30)
                except RuntimeError:
                    cli.interrupt(30)


@dataclass
class _Setup:
    name: str
    work: Path
    conf: Path
    out: Path
    vhost: str
    sampler: ProcSampler
    layout: BenchLayout


def _scenario(env: Env, name: str, vhost: str, layout: BenchLayout,
              extra_config: dict[str, dict[str, str]] | None = None) -> _Setup:
    work = env.work / name
    work.mkdir(parents=True)
    sampler = ProcSampler()
    sampler.add("broker", broker_pid())
    return _Setup(name, work, write_config(env.source_conf, work / "bench.ini", vhost, layout,
                                           extra_config),
                  work / "out", vhost, sampler, layout)


def _check_layout(s: _Setup, meters: int, service: Cli | None, meter: Cli) -> int | None:
    """Raise unless both CLIs logged the scenario's layout; the PV service's queue count."""
    s.layout.check_meter(s.name, meter.find("layout partitioned"), meter.find("readings of one queue packed"))
    if service is None:
        return None
    return s.layout.check_service(s.name, meters, service.find("PV service consuming"))


def _published(meter: Cli) -> int | None:
    """The meter's own count, from its closing log line (the last one that says it)."""
    line = meter.find_last("published ")
    try:
        return int(line.split("published ", 1)[1].split()[0]) if line else None
    except (IndexError, ValueError):
        return None


def _percentiles(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"n": 0, "p50_s": None, "p99_s": None, "max_s": None}
    ordered = sorted(values)

    def pct(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)], 3)

    return {"n": len(ordered), "p50_s": pct(0.50), "p99_s": pct(0.99),
            "max_s": round(ordered[-1], 3)}


def fast_forward(env: Env, name: str, meters: int, interval_s: float,
                 duration_s: float, service_args: tuple[str, ...] = (),
                 layout: BenchLayout | None = None,
                 extra_config: dict[str, dict[str, str]] | None = None,
                 idle_s: float = FF_IDLE_S) -> Result:
    """One simulated stretch as fast as possible through both CLIs, all guarantees on.

    ``service_args``: more options of the PV service (``--publish`` costs the results stream);
    ``extra_config``: INI keys the scenario adds (a battery); ``idle_s``: the PV service's
    ``--exit-when-idle``, longer than the meter's start-up (a fleet of 1,000 households takes
    seconds to build before its first reading; the wall time is not counted from the service).
    """
    with virtual_host(name) as vhost, env.processes:
        return _fast_forward(env, _scenario(env, name, vhost, layout or BenchLayout(),
                                            extra_config),
                             meters, interval_s, duration_s, service_args, idle_s)


def _fast_forward(env: Env, s: _Setup, meters: int, interval_s: float,
                  duration_s: float, service_args: tuple[str, ...] = (),
                  idle_s: float = FF_IDLE_S) -> Result:
    ids = meter_ids(meters)
    expected = meters * math.ceil(duration_s / interval_s - 1e-9)
    service = env.processes.service(s.conf, s.work, s.layout.service_ids(ids),
                                    "--output-dir", str(s.out),
                                    "--exit-when-idle", f"{idle_s:g}", *service_args)
    s.sampler.add("service", service.pid)
    service.wait_for("PV service consuming", 120)
    profiles = [env.profile(service, s.name)]
    launched = time.time()
    meter = env.processes.meter(s.conf, s.work, "-nb", str(meters), "--speed", "0",
                                "--interval", f"{interval_s:g}", "--duration", f"{duration_s:g}",
                                "--start", FF_START, "--seed", "1")
    s.sampler.add("meter", meter.pid)
    s.sampler.start()
    profiles.append(env.profile(meter, s.name))
    timeout = 600 + expected / 100
    meter_code = meter.wait(timeout)
    meter_done = meter.ended_at or time.time()
    service_code = service.wait(timeout)
    service_done = service.ended_at or time.time()
    procs = s.sampler.stop()
    env.finish_profiles()
    rows, files, last_write = count_rows(s.out)
    if meter_code or service_code or rows != expected or last_write is None:
        raise RuntimeError(f"{s.name}: meter exit {meter_code}, service exit {service_code}, "
                           f"{rows} of {expected} rows: {meter.tail()} || {service.tail()}")
    service_queues = _check_layout(s, meters, service, meter)
    wall_s = last_write - launched
    return {
        "name": s.name, **s.layout.as_dict(), "service_queues": service_queues,
        "meters": meters, "interval_s": interval_s, "duration_s": duration_s,
        "readings": expected, "rows": rows, "files": files,
        "wall_s": round(wall_s, 3),
        "readings_per_s": round(rows / wall_s),
        "meter_exit_s": round(meter_done - launched, 3),
        "service_exit_less_idle_s": round(service_done - idle_s - launched, 3),
        "published": _published(meter),
        "processes": procs,
        "profiles": [str(p) for p in profiles if p],
    }


class _DepthSeries:
    """Ready messages of the sampled queues every ``every_s``, on its own connection and thread."""

    def __init__(self, vhost: str, queues: list[str], every_s: float = 2.0) -> None:
        self.vhost, self.queues, self.every_s = vhost, queues, every_s
        self.points: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="depth", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        probe = DepthProbe(self.vhost, self.queues)
        try:
            while not self._stop.wait(self.every_s):
                self.points.append((time.time(), probe.ready()))
        finally:
            probe.close()

    def stop(self) -> list[tuple[float, int]]:
        self._stop.set()
        self._thread.join(timeout=30)
        return self.points


def real_time(env: Env, name: str, meters: int, interval_s: float, duration_s: float,
              sample_size: int, drain_limit_s: float = 120.0,
              layout: BenchLayout | None = None, modbus_port: int | None = None,
              services: int = 1) -> Result:
    """N meters at wall-clock pace; latency of a sample, backlog, throughput, RSS, open files.

    ``modbus_port``: the PV service serves SunSpec there, and every meter's unit is polled once
    a second, all its models, from the meter's clock start to its end (``modbus`` in the result:
    the response times). ``services``: PV services sharing the partitions (``--partition``), in
    the partitioned layout; their CPU is counted together.
    """
    with virtual_host(name) as vhost, env.processes:
        return _real_time(env, _scenario(env, name, vhost, layout or BenchLayout()), meters,
                          interval_s, duration_s, sample_size, drain_limit_s, modbus_port,
                          services)


def written_share(rows: list[tuple[float, float, float]], polls: list[tuple[float, float]],
                  start_epoch: float, interval_s: float, due_at: list[float], meters: int,
                  until: float, first_tick: int = 0) -> dict[str, float | int | None]:
    """Of the sampled meters' readings due more than ``FRESH_AGE_S`` before a tail poll, the
    share already readable by that poll's end, at every poll that began before ``until``.

    ``rows``: the tailer's (time_s, appeared, pv), tick k at ``start_epoch + k * interval_s``;
    ``due_at``: when tick k was due (sorted); ``meters``: sampled meters (each has every tick);
    ``first_tick``: the ticks before it are left out (the warm-up the p99 leaves out).
    ``min_pct`` is the worst poll (what a reader of the files saw at the worst moment),
    ``overall_pct`` all polls pooled (written / due summed over polls).
    """
    seen: dict[int, list[float]] = {}
    for time_s, appeared, _pv in rows:
        tick = round((time_s - start_epoch) / interval_s)
        if 0 <= tick < len(due_at):
            seen.setdefault(tick, []).append(appeared)
    for times in seen.values():
        times.sort()
    worst: tuple[float, float] | None = None  # (share, poll began)
    due_sum = written_sum = polls_used = 0
    for began, ended in polls:
        if began > until:
            break
        ticks_due = bisect_right(due_at, began - FRESH_AGE_S)
        if ticks_due <= first_tick:
            continue
        due = (ticks_due - first_tick) * meters
        written = sum(min(meters, bisect_right(seen.get(k, []), ended))
                      for k in range(first_tick, ticks_due))
        polls_used += 1
        due_sum += due
        written_sum += written
        if worst is None or written / due < worst[0]:
            worst = (written / due, began)
    anchor = due_at[0] if due_at else 0.0
    return {"older_than_s": FRESH_AGE_S, "polls": polls_used,
            "min_pct": round(100 * worst[0], 2) if worst else None,
            "min_at_s": round(worst[1] - anchor, 2) if worst else None,
            "overall_pct": round(100 * written_sum / due_sum, 3) if due_sum else None}


def _per_thousand(window: dict[str, float], readings: int) -> dict[str, float | int | None]:
    """CPU seconds per 1,000 readings of each process over a window of the run (of every PV
    service together, ``service`` and ``service_1``... when there are several)."""
    roles = ("meter", "service", "broker", "others")
    services = [role for role in window if role == "service" or role.startswith("service_")]
    if services:
        window = {**window, "service": sum(window[role] for role in services)}
    return {"readings": readings, "window_s": window.get("s"),
            **{role: round(1000 * window[role] / readings, 4) if readings and role in window
               else None for role in roles}}


def _real_time(env: Env, s: _Setup, meters: int, interval_s: float, duration_s: float,
               sample_size: int, drain_limit_s: float, modbus_port: int | None = None,
               services: int = 1) -> Result:
    ids = meter_ids(meters)
    sample = sorted(random.Random(7).sample(ids, min(sample_size, meters)))
    ticks = math.ceil(duration_s / interval_s - 1e-9)
    service_launched = time.time()
    modbus_args = ("--modbus-port", str(modbus_port)) if modbus_port is not None else ()
    shares = s.layout.shares(services)
    pv_services = []
    for k, share in enumerate(shares):
        role = "service" if k == 0 else f"service_{k}"
        pv_services.append(env.processes.service(
            s.conf, s.work, s.layout.service_ids(ids), "--output-dir", str(s.out), *modbus_args,
            *(("--partition", *map(str, share)) if share is not None else ()), role=role))
        s.sampler.add(role, pv_services[-1].pid)
    s.sampler.start()
    service_ready = max(pv.wait_for("PV service consuming", 900) for pv in pv_services)
    service_queues = sum(s.layout.check_service(s.name, meters, pv.find("PV service consuming"), share)
                         for pv, share in zip(pv_services, shares, strict=True))
    profiles = [env.profile(pv, s.name) for pv in pv_services]
    tailer = CsvTailer(s.out, sample, load_config(s.conf).site.timezone).start()
    start_epoch = round(time.time(), 3)
    start_iso = datetime.fromtimestamp(start_epoch, timezone.utc).isoformat(timespec="milliseconds")
    meter = env.processes.meter(s.conf, s.work, "-nb", str(meters), "--speed", "1",
                                "--interval", f"{interval_s:g}", "--duration", f"{duration_s:g}",
                                "--start", start_iso, "--seed", "1")
    s.sampler.add("meter", meter.pid)
    profiles.append(env.profile(meter, s.name))
    anchor = meter.wait_for("clock started", 300)
    s.sampler.mark("clock")  # the queues exist, the service consumes: the running cost from here
    _check_layout(s, meters, None, meter)  # the service's was checked once it consumed
    depth_queues = s.layout.queues_of(sample)
    depth = _DepthSeries(s.vhost, depth_queues)
    pollers = (ModbusPollers("127.0.0.1", [(modbus_port + i // UNITS_PER_PORT, i % UNITS_PER_PORT + 1)
                                           for i in range(meters)]).start()
               if modbus_port is not None else None)
    # One interval after the last tick was due, every reading should be written: what is
    # not is the backlog, wherever it waits (the meter's buffer, the queues, the service).
    schedule_end = anchor + ticks * interval_s
    with contextlib.suppress(RuntimeError):
        meter.wait(max(0.0, schedule_end - time.time()))
    time.sleep(max(0.0, schedule_end - time.time()))
    rows_at_schedule_end = count_rows(s.out)[0]
    meter_code = meter.wait(duration_s + 900)
    meter_done = meter.ended_at or time.time()
    depth_points = depth.stop()
    modbus = pollers.stop() if pollers is not None else None
    backlog_at_end = backlog = queue_backlog(s.vhost)
    rows_at_end = count_rows(s.out)[0]
    # Until nothing is ready or unacknowledged (each look is a rabbitmqctl call, ~1 s here).
    drained_after = None
    while True:
        if backlog["ready"] + backlog["unacked"] == 0:
            drained_after = round(time.time() - meter_done, 1)
            break
        if time.time() - meter_done >= drain_limit_s:
            break
        time.sleep(0.5)
        backlog = queue_backlog(s.vhost)
    s.sampler.mark("drained")
    rows_drained = count_rows(s.out)[0]
    backlog_at_stop = backlog
    service_code = max(pv.interrupt(120) for pv in pv_services)
    tailer.stop()
    procs = s.sampler.stop()
    env.finish_profiles()
    rows, files, _ = count_rows(s.out)
    if meter_code or service_code:
        raise RuntimeError(f"{s.name}: meter exit {meter_code}, service exit {service_code}: "
                           f"{meter.tail()} || {' || '.join(pv.tail() for pv in pv_services)}")

    first_tick: list[float] = []
    due: list[float] = []
    raw: list[float] = []
    steady: list[float] = []
    windows: dict[int, list[float]] = {}
    for time_s, appeared, _pv in tailer.rows:
        offset_s = time_s - start_epoch
        latency = appeared - (anchor + offset_s)
        due.append(latency)
        raw.append(appeared - time_s)
        if offset_s >= WARMUP_S:
            steady.append(latency)
        if offset_s < interval_s:
            first_tick.append(latency)
        windows.setdefault(int(offset_s // 10) * 10, []).append(latency)
    elapsed = meter_done - anchor
    due_at = [anchor + k * interval_s for k in range(ticks)]
    window = s.sampler.between("clock", "drained")
    return {
        "name": s.name, **s.layout.as_dict(), "service_queues": service_queues,
        "pv_services": len(pv_services),
        "meters": meters, "interval_s": interval_s, "duration_s": duration_s,
        "offered_per_s": round(meters / interval_s, 1),
        "expected_readings": meters * ticks,
        "published": _published(meter),
        "rows_at_meter_end": rows_at_end,
        "unwritten_at_schedule_end": meters * ticks - rows_at_schedule_end,
        "meter_lag_at_end_s": round(meter_done - (anchor + (ticks - 1) * interval_s), 2),
        "rows_final": rows, "files": files,
        # Rows readable when the meter ends, over the run's span (the duration, or longer
        # when the meter fell behind its clock).
        "readings_per_s": round(rows_at_end / max(elapsed, duration_s), 1),
        "service_startup_s": round(service_ready - service_launched, 2),
        "meter_launch_to_clock_s": round(anchor - start_epoch, 3),
        # The meter declares its queues after its clock started: the first tick shows it.
        "first_tick_latency_s": round(max(first_tick), 3) if first_tick else None,
        "meter_run_s": round(elapsed, 2),
        "latency": _percentiles(due),
        "latency_after_warmup": _percentiles(steady),
        "latency_raw_vs_time_s": _percentiles(raw),
        "latency_p99_by_10s": {str(k): _percentiles(v)["p99_s"] for k, v in sorted(windows.items())},
        # Until 2 s after the schedule's end: by then every reading is older than 2 s.
        "written_older_than_2s": written_share(tailer.rows, tailer.polls, start_epoch,
                                               interval_s, due_at, len(sample),
                                               schedule_end + FRESH_AGE_S),
        # The same of the readings due after the first 10 s (the first tick creates two files a
        # meter, 40,000 at 20,000 meters): beside the whole run's, which the target judges.
        "written_older_than_2s_after_warmup": written_share(
            tailer.rows, tailer.polls, start_epoch, interval_s, due_at, len(sample),
            schedule_end + FRESH_AGE_S, first_tick=math.ceil(WARMUP_S / interval_s - 1e-9)),
        # From the meter's clock start (queues made, service consuming) to the queues drained:
        # the running cost, without either process's startup.
        "cpu_running": window,
        "cpu_per_1000_readings": _per_thousand(window, rows_drained),
        "sample_meters": len(sample),
        "sample_rows": len(tailer.rows),
        "sample_rows_with_pv": sum(1 for row in tailer.rows if row[2] > 0),
        "backlog_at_meter_end": backlog_at_end,
        "backlog_at_stop": backlog_at_stop,
        "drained_after_s": drained_after,
        "sample_ready_series": [(round(t - anchor, 1), n) for t, n in depth_points],
        "sample_ready_queues": len(depth_queues),
        "processes": procs,
        "profiles": [str(p) for p in profiles if p],
        **({"modbus": modbus} if modbus is not None else {}),
    }


def meter_start(env: Env, name: str, meters: int, layout: BenchLayout | None = None) -> Result:
    """The meter alone in a new virtual host: launch to its clock (queues created) and to its
    first tick published, the startup a fleet of thousands of meters waits for."""
    with virtual_host(name) as vhost, env.processes:
        s = _scenario(env, name, vhost, layout or BenchLayout())
        launched = time.time()
        start_iso = datetime.fromtimestamp(launched, timezone.utc).isoformat(timespec="milliseconds")
        meter = env.processes.meter(s.conf, s.work, "-nb", str(meters), "--speed", "1",
                                    "--interval", "1", "--duration", "1", "--start", start_iso,
                                    "--seed", "1")
        s.sampler.add("meter", meter.pid)
        s.sampler.start()
        profiles = [env.profile(meter, s.name)]
        clock = meter.wait_for("clock started", 300)
        code = meter.wait(300)
        done = meter.ended_at or time.time()
        procs = s.sampler.stop()
        env.finish_profiles()
        published = _published(meter)
        if code or published != meters:
            raise RuntimeError(f"{name}: meter exit {code}, published {published} of {meters}: "
                               f"{meter.tail()}")
        _check_layout(s, meters, None, meter)
        return {"name": name, **s.layout.as_dict(), "meters": meters,
                "launch_to_clock_s": round(clock - launched, 2),
                # The exit follows the first tick's commit: an upper bound of launch to first
                # reading published.
                "launch_to_published_s": round(done - launched, 2),
                "queues": queue_backlog(vhost)["queues"],
                "processes": procs, "profiles": [str(p) for p in profiles if p]}
