"""``dataset_<N>x<D>d``: a dataset of N houses at 15 minutes through the embedded pipeline
(``python -m pv_simulator.dataset``), against the partitioned broker pipeline (both CLIs, one PV
service over every partition) on the same fleet, configuration and interval over a shorter
span, measured in the same run.

The fleet is ``pv-fleet generate``'s neighbourhood of N houses around the configuration's site
(seed 1: each house its own position and plant, a third with PV), under the shipped models.
The embedded run's wall time is from its launch to its exit (start-up, every share's files
written and closed); its readings/s is rows over that. The share processes are sampled for
CPU and peak RSS (memory stays bounded: no share holds the year).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from benchmarks.broker_env import write_config
from benchmarks.clis import PYTHON
from benchmarks.layouts import PARTITIONED, BenchLayout
from benchmarks.procstat import ProcSampler
from benchmarks.scenarios import Env, Result, fast_forward
from pv_simulator.config import load_config
from pv_simulator.fleet.cli import write_fleet
from pv_simulator.fleet.generation import generate

DATASET_START = "2026-01-01"
INTERVAL_S = 900.0
DAY_S = 86400.0
#: The broker run's PV service waits this long for the meter's first reading: 1,000 households
#: take seconds to build on a busy machine.
BROKER_IDLE_S = 30.0


def _children(pid: int) -> list[int]:
    """The direct children of ``pid`` (Linux's /proc), none once it is gone."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(word) for word in text.split()]


def dataset_vs_broker(env: Env, name: str, houses: int, days: float, broker_days: float,
                      processes: int | None = None) -> Result:
    """The embedded run of ``days`` and the partitioned broker run of ``broker_days``, same fleet."""
    work = env.work / name
    work.mkdir(parents=True)
    site = load_config(env.source_conf).site
    fleet = work / "fleet.csv"
    with fleet.open("w", newline="") as handle:
        write_fleet(generate(houses, 1, site.latitude_deg, site.longitude_deg), handle)
    extra = {"fleet": {"file": str(fleet)}}
    broker = fast_forward(env, name=f"{name}_broker_part", meters=houses, interval_s=INTERVAL_S,
                          duration_s=broker_days * DAY_S, layout=BenchLayout(PARTITIONED),
                          extra_config=extra, idle_s=BROKER_IDLE_S)
    embedded = _embedded(env, work, write_config(env.source_conf, work / "dataset.ini", "/",
                                                 extra=extra), houses, days, processes)
    ratio = float(str(embedded["readings_per_s"])) / float(str(broker["readings_per_s"]))
    return {"name": name, "houses": houses, "interval_s": INTERVAL_S, "embedded": embedded,
            "broker_part": broker, "embedded_over_broker": round(ratio, 2)}


def _embedded(env: Env, work: Path, conf: Path, houses: int, days: float,
              processes: int | None) -> Result:
    out, summary = work / "out", work / "summary.json"
    expected = houses * round(days * DAY_S / INTERVAL_S)
    argv = [PYTHON, "-m", "pv_simulator.dataset", "-conf", str(conf), "-nb", str(houses),
            "--start", DATASET_START, "--duration", f"{days * DAY_S:g}", "--interval",
            f"{INTERVAL_S:g}", "--seed", "1", "--output-dir", str(out), "--summary-file",
            str(summary), "--stats-interval", "30"]
    if processes is not None:
        argv += ["--processes", str(processes)]
    sampler = ProcSampler()
    launched = time.time()
    cli = env.processes.start("dataset", argv, work)
    sampler.add("dataset", cli.pid)
    sampler.start()
    profile = env.profile(cli, work.name)
    shares: set[int] = set()
    deadline = time.monotonic() + 600 + expected / 1000
    while cli.process.poll() is None and time.monotonic() < deadline:
        for child in _children(cli.pid):
            if child not in shares:
                shares.add(child)
                sampler.add(f"share_{len(shares) - 1}", child)
        time.sleep(0.5)  # a sampling cadence, not a synchronisation: the exit is waited below
    code = cli.wait(max(1.0, deadline - time.monotonic()))
    wall_s = time.time() - launched
    procs = sampler.stop()
    env.finish_profiles()
    counts = json.loads(summary.read_text()) if summary.exists() else {}
    written = int(counts.get("written", 0))
    if code or written != expected:
        raise RuntimeError(f"dataset: exit {code}, {written} of {expected} rows: {cli.tail()}")
    files = sum(1 for entry in os.scandir(out) if entry.name.endswith(".csv"))
    share_stats = [stats for role, stats in procs.items() if role.startswith("share_")]
    cpu_s = sum(float(str(stats["cpu_s"])) for role, stats in procs.items()
                if role.startswith("share_") or role == "dataset")
    return {"days": days, "readings": expected, "rows": written, "files": files,
            "processes": len(share_stats) or 1, "wall_s": round(wall_s, 1),
            "readings_per_s": round(written / wall_s),
            "cpu_s": round(cpu_s, 1), "cpu_us_per_reading": round(cpu_s / written * 1e6, 1),
            "peak_rss_mb": max([float(str(s["peak_rss_mb"])) for s in share_stats]
                               + [float(str(procs["dataset"]["peak_rss_mb"]))]),
            "procs": procs, "profile": str(profile) if profile else None}
