#!/usr/bin/env python3
"""``make bench``: every figure of the performance issue, taken on this machine in one run.

Prints a table with PASS/FAIL per target and writes ``bench-results.json`` in the repo root.
Each scenario gets a RabbitMQ virtual host of its own (made with rabbitmqctl, deleted at
the end, even on failure) and a temporary directory; every process it starts is killed
before it ends. Only loopback traffic. ``--quick`` shrinks every size so that CI can show
the suite works in well under a minute; its figures are not the targets' figures.

These are measurements, not tests: a missed target prints FAIL and still exits 0; only a
scenario that could not run (a CLI failed, rows are missing) makes the exit code 1.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import model_cost  # noqa: E402
from benchmarks.baseline import run_baseline  # noqa: E402
from benchmarks.broker_env import parameters, virtual_host  # noqa: E402
from benchmarks.clis import Processes  # noqa: E402
from benchmarks.fanout import run_fanout  # noqa: E402
from benchmarks.report import format_table, targets  # noqa: E402
from benchmarks.scenarios import Env, fast_forward, meter_start, real_time  # noqa: E402

Result = dict[str, object]


def _ff(env: Env, **kwargs: Any) -> Result:
    return fast_forward(env, **kwargs)


def _rt(env: Env, **kwargs: Any) -> Result:
    return real_time(env, **kwargs)


def plan(args: argparse.Namespace) -> list[tuple[str, Callable[[Env], object]]]:
    """The scenarios of this run, by name, in order (cheap and independent ones first)."""
    quick = args.quick
    steps: list[tuple[str, Callable[[Env], object]]] = []
    count = 5_000 if quick else 86_400

    def baseline(env: Env) -> Result:
        with virtual_host("baseline") as vhost:
            return {"ack_each": run_baseline(parameters(vhost), count, env.work / "baseline"),
                    "batch_fsync": run_baseline(parameters(vhost), count, env.work / "baseline",
                                                batch=50)}

    def fanout(env: Env) -> Result:
        with virtual_host("fanout") as vhost:
            return run_fanout(parameters(vhost), 50 if quick else 2_000, 2 if quick else 5)

    steps.append(("model_cost", lambda env: model_cost.measure(quick)))
    steps.append(("baseline", baseline))
    steps.append(("fanout", fanout))
    day = 3_600 if quick else 86_400
    for meters, interval in ((1, 1.0), (10, 10.0)):
        name = f"ff_{meters}x{int(day / interval)}"
        steps.append((name, partial(_ff, name=name, meters=meters, interval_s=interval,
                                    duration_s=day)))
    # The results stream's cost: the same day with --publish (nobody bound: as a user starts).
    name = f"ff_publish_1x{int(day)}"
    steps.append((name, partial(_ff, name=name, meters=1, interval_s=1.0, duration_s=day,
                                service_args=("--publish",))))
    sizes = [50] if quick else args.rt_sizes
    rt_duration = 5.0 if quick else 60.0
    for meters in sizes:
        name = f"rt_{meters}"
        steps.append((name, partial(_rt, name=name, meters=meters, interval_s=1.0,
                                    duration_s=rt_duration, sample_size=args.sample)))
    ids = 200 if quick else 10_000
    name = f"ids_{ids}"
    steps.append((name, partial(_rt, name=name, meters=ids, interval_s=1.0 if quick else 10.0,
                                duration_s=3.0 if quick else 30.0, sample_size=args.sample)))
    steps.append((f"start_{ids}", partial(meter_start, name=f"start_{ids}", meters=ids)))
    if args.only:
        wanted = [w.strip() for w in args.only.split(",") if w.strip()]
        steps = [(n, f) for n, f in steps if any(n == w or n.startswith(w) for w in wanted)]
    return steps


def code_version() -> dict[str, object]:
    """The commit and whether the package differs from it: the code under test may change
    between scenarios while others work in the tree, so each scenario records its own."""
    def git(*command: str) -> str:
        return subprocess.run(["git", *command], cwd=ROOT, capture_output=True,
                              text=True).stdout.strip()
    return {"commit": git("rev-parse", "--short", "HEAD"),
            "package_modified": bool(git("status", "--porcelain", "--", "pv_simulator"))}


def _meta(args: argparse.Namespace) -> Result:
    return {"started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "quick": args.quick, **code_version(),
            "python": platform.python_version(), "cpus": os.cpu_count(),
            "machine": platform.machine(), "config": str(args.conf),
            "sample_meters": args.sample}


def _terminate(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through every cleanup (vhosts, processes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes, seconds in all: shows the suite works (CI)")
    parser.add_argument("--json", type=Path, default=ROOT / "bench-results.json",
                        help="where the results go (default: bench-results.json in the repo)")
    parser.add_argument("--only", help="comma-separated scenario names or prefixes, e.g. "
                                       "baseline,ff_1,rt_2000 (default: all)")
    parser.add_argument("--rt-sizes", type=lambda t: [int(x) for x in t.split(",")],
                        default=[100, 1_000, 2_000, 5_000],
                        help="meter counts of the real-time scenarios (default: 100,1000,2000,5000)")
    parser.add_argument("--sample", type=int, default=50,
                        help="meters whose CSVs are tailed for latency (default: 50)")
    parser.add_argument("--conf", type=Path, default=ROOT / "broker.ini",
                        help="INI whose models and output settings the CLIs run with; only "
                             "its broker address is replaced (default: broker.ini)")
    parser.add_argument("--profile-dir", type=Path,
                        help="attach py-spy to every CLI and write raw stacks here "
                             "(summarise with benchmarks/profile_top.py); slows the run")
    parser.add_argument("--py-spy", default=shutil.which("py-spy") or "/tmp/benchvenv/bin/py-spy",
                        help="py-spy executable for --profile-dir")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (CSVs, logs)")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)

    results: Result = {"meta": _meta(args), "scenarios": {}, "errors": {}}
    scenarios: dict[str, object] = results["scenarios"]  # type: ignore[assignment]
    errors: dict[str, str] = results["errors"]  # type: ignore[assignment]
    versions: dict[str, object] = {}
    results["meta"]["code_by_scenario"] = versions  # type: ignore[index]
    work = Path(tempfile.mkdtemp(prefix="pvbench-"))
    env = Env(work=work, source_conf=args.conf, processes=Processes(),
              profile_dir=args.profile_dir, py_spy=args.py_spy if args.profile_dir else None)
    began = time.monotonic()
    try:
        with env.processes:
            for name, step in plan(args):
                print(f"bench: {name} ...", file=sys.stderr, flush=True)
                started = time.monotonic()
                versions[name] = code_version()
                try:
                    scenarios[name] = step(env)
                except Exception as exc:  # one failed scenario must not hide the others
                    errors[name] = f"{type(exc).__name__}: {exc}"
                    traceback.print_exc()
                print(f"bench: {name} done in {time.monotonic() - started:.1f} s",
                      file=sys.stderr, flush=True)
    finally:
        if args.keep:
            print(f"bench: work directory kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    results["meta"]["seconds"] = round(time.monotonic() - began, 1)  # type: ignore[index]
    results["targets"] = targets(scenarios, args.quick)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(format_table(results))
    print(f"\nresults written to {args.json}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
