"""``make bench``: every figure of the performance issue, taken on this machine in one run.

Prints a table with PASS/FAIL per target and writes ``bench-results.json`` in the repo root.
Each scenario gets a RabbitMQ virtual host of its own (made with rabbitmqctl, deleted at
the end, even on failure) and a temporary directory; every process it starts is killed
before it ends. Only loopback traffic. ``--quick`` shrinks every size so that CI can show
the suite works in about a minute and a half; its figures are not the targets' figures.

These are measurements, not tests: a missed target prints FAIL and still exits 0; only a
scenario that could not run (a CLI failed, rows are missing) makes the exit code 1.

Every end-to-end scenario runs once per layout of ``--layouts`` (``queue_per_meter`` and
``partitioned``, back to back so that both see the same machine), the partitioned one named
with ``_part`` (``rt_2000_part``); see ``benchmarks/layouts.py``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
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

from benchmarks import model_cost
from benchmarks.baseline import run_baseline
from benchmarks.broker_env import deletion_failures, finish_deletions, parameters, virtual_host
from benchmarks.clis import Processes
from benchmarks.dataset import dataset_vs_broker
from benchmarks.fanout import run_fanout
from benchmarks.layouts import (
    BENCH_READINGS_PER_MESSAGE,
    DEFAULT_PARTITIONS,
    NAMES,
    BenchLayout,
    parse_layouts,
)
from benchmarks.modbus_poll import free_port_pair
from benchmarks.report import format_table, targets
from benchmarks.scenarios import Env, fast_forward, meter_start, real_time

ROOT = Path(__file__).resolve().parent.parent

Result = dict[str, object]
#: Real-time fleets, ``meters`` or ``meters@interval_s``: the cost table's sizes, 10,000 every 2 s.
FULL_RT_SIZES = "100,1000,2000,5000,10000@2"
QUICK_RT_SIZES = "50,100@2"  # 3 s of schedule: 3 ticks, 2 ticks
#: The fleets of issue 24, in the partitioned layout only: a queue per meter at 10,000 readings a
#: second is no target (its broker spends 0.22-0.26 CPU-ms a reading, run G), and would add minutes.
FULL_RT_PART_SIZES = "10000,20000@2"
QUICK_RT_PART_SIZES = "200"
#: The most open files a PV service raises its own limit to (composition.raise_open_file_limit).
OPEN_FILES_CAP = 65536
YEAR_READINGS = 525_600  # a year at 60 s
QUICK_YEAR_READINGS = YEAR_READINGS // 100  # 3.65 days: the path, in about a second
#: The dataset scenario: (houses, embedded days, partitioned broker days) at 15 minutes.
FULL_DATASET = (1000, 365.0, 3.0)
QUICK_DATASET = (20, 2.0, 1.0)


def dataset_name(houses: int, days: float) -> str:
    return f"dataset_{houses}y" if days == 365.0 else f"dataset_{houses}x{days:g}d"


def rt_sizes(text: str) -> list[tuple[int, float]]:
    """``100,1000,10000@2`` as (meters, interval s) pairs."""
    sizes = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        meters, _, interval = part.partition("@")
        sizes.append((int(meters), float(interval) if interval else 1.0))
        if sizes[-1][0] < 1 or sizes[-1][1] <= 0:
            raise argparse.ArgumentTypeError(f"{part!r}: meters >= 1, interval > 0")
    return sizes


def pv_services_for(meters: int) -> int:
    """PV services that can hold every meter's files open: each needs two files a meter (its
    lock and its day's file) within the open-file limit it can raise itself to (20,000 here),
    so 20,000 meters take two, each serving half the partitions (``--partition``)."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    limit = OPEN_FILES_CAP if hard == resource.RLIM_INFINITY else min(hard, OPEN_FILES_CAP)
    return max(1, math.ceil(2 * meters / limit))


def rt_name(meters: int, interval_s: float) -> str:
    return f"rt_{meters}" if interval_s == 1.0 else f"rt_{meters}_{interval_s:g}s"


def _ff(env: Env, **kwargs: Any) -> Result:
    return fast_forward(env, **kwargs)


def best_of(repeats: int, run: Callable[[int], Result], rate: str) -> Result:
    """The run with the highest ``rate`` of ``repeats``, with every run's rate beside it.

    The ratio target compares two pipelines measured seconds apart on a shared machine; one
    sample of each moved the baseline by 40 % between quiet runs, so each side is its best.
    """
    runs = [run(i) for i in range(max(1, repeats))]
    best = max(runs, key=lambda r: float(str(r[rate])))
    return {**best, f"repeats_{rate}": [r[rate] for r in runs]}


def _ff_best(env: Env, repeats: int, name: str, **kwargs: Any) -> Result:
    """A fast-forward scenario, best of ``repeats`` (each in its own virtual host and folder)."""
    result = best_of(repeats, lambda i: fast_forward(env, name=f"{name}-{i}", **kwargs),
                     "readings_per_s")
    return {**result, "name": name}


#: The site scenario's battery: a typical home one (docs/site.md).
SITE_BATTERY = {"battery": {"capacity_kwh": "10", "max_charge_kw": "5", "max_discharge_kw": "5"}}


def _ff_site(env: Env, repeats: int, name: str, **kwargs: Any) -> Result:
    """The same fast-forward day without and with a battery and control (issue 19's target:
    the site's rate at least 0.8 x the plain one's), each best of ``repeats``, alternating."""
    plain = _ff_best(env, repeats, f"{name}-plain", **kwargs)
    site = _ff_best(env, repeats, f"{name}-site", service_args=("--control",),
                    extra_config=SITE_BATTERY, **kwargs)
    ratio = float(str(site["readings_per_s"])) / float(str(plain["readings_per_s"]))
    return {"name": name, "plain": plain, "site": site, "site_over_plain": round(ratio, 3)}


def _rt(env: Env, **kwargs: Any) -> Result:
    return real_time(env, **kwargs)


def _rt_modbus(env: Env, name: str, **kwargs: Any) -> Result:
    """The same real-time fleet without and then with SunSpec, every unit polled at 1 Hz (issue
    20's targets: response p99, and the readings' latency p99 within 10 % of the run without)."""
    plain = real_time(env, name=f"{name}-plain", **kwargs)
    modbus = real_time(env, name=f"{name}-modbus", modbus_port=free_port_pair(), **kwargs)
    # After the warm-up where the schedule has one (--quick's is shorter than it).
    latency = "latency_after_warmup" if _nested(plain, "latency_after_warmup", "n") else "latency"
    plain_p99 = _nested(plain, latency, "p99_s")
    modbus_p99 = _nested(modbus, latency, "p99_s")
    ratio = (round(modbus_p99 / plain_p99, 3)
             if isinstance(plain_p99, float) and isinstance(modbus_p99, float) and plain_p99 else None)
    return {"name": name, "plain": plain, "modbus": modbus,
            "response_p99_ms": _nested(modbus, "modbus", "response_p99_ms"),
            "latency_of": latency, "latency_p99_plain_s": plain_p99, "latency_p99_modbus_s": modbus_p99,
            "latency_p99_modbus_over_plain": ratio}


def _nested(data: Any, *path: str) -> Any:
    for key in path:
        data = data.get(key) if isinstance(data, dict) else None
    return data


def _start(env: Env, **kwargs: Any) -> Result:
    return meter_start(env, **kwargs)


def stand_ins(args: argparse.Namespace) -> dict[str, str]:
    """The scenario (without layout suffix) that each target of ``report.py`` is judged on.

    In a full run, the targets' own sizes; in ``--quick``, the tiny ones stand in (the largest
    1 Hz fleet for rt_2000 and rt_5000, the largest slower one for rt_10000_2s)."""
    if not args.quick:
        return {}
    sizes = args.rt_sizes or rt_sizes(QUICK_RT_SIZES)
    hz = [m for m, i in sizes if i == 1.0]
    slow = [(m, i) for m, i in sizes if i != 1.0]
    names = {"ff_day": "ff_1x3600", "ff_10": "ff_10x360", "ff_publish": "ff_publish_1x3600",
             "site": "site_1x3600", "ids": "ids_200", "start": "start_200",
             "dataset": dataset_name(*QUICK_DATASET[:2]), "modbus": "modbus_20"}
    if hz:
        names["rt_2000"] = names["rt_5000"] = rt_name(max(hz), 1.0)
    if slow:
        names["rt_10000_2s"] = rt_name(*max(slow))
    if args.rt_sizes is None:
        # The partitioned-only fleet of --quick stands in for both of issue 24's.
        names["rt_10000"] = names["rt_20000_2s"] = rt_name(*rt_sizes(QUICK_RT_PART_SIZES)[0])
    return names


def plan(args: argparse.Namespace) -> list[tuple[str, Callable[[Env], object]]]:
    """The scenarios of this run, by name, in order (cheap and independent ones first), every
    end-to-end one once per layout, back to back."""
    quick = args.quick
    steps: list[tuple[str, Callable[[Env], object]]] = []
    count = 5_000 if quick else 86_400
    layouts: list[BenchLayout] = args.layouts

    def each_layout(base: str, run: Callable[..., Result], first_only: bool = False,
                    **kwargs: Any) -> None:
        for layout in layouts[:1] if first_only else layouts:
            name = base + layout.suffix
            steps.append((name, partial(run, name=name, layout=layout, **kwargs)))

    def baseline(env: Env) -> Result:
        with virtual_host("baseline") as vhost:
            def variant(batch: int | None) -> Result:
                def once(_repeat: int) -> Result:
                    return dict(run_baseline(parameters(vhost), count, env.work / "baseline",
                                             batch=batch))
                return best_of(args.repeats, once, "end_to_end_per_s")
            return {"ack_each": variant(None), "batch_fsync": variant(50)}

    def fanout(env: Env) -> Result:
        with virtual_host("fanout") as vhost:
            return run_fanout(parameters(vhost), 50 if quick else 2_000, 2 if quick else 5)

    steps.append(("model_cost", lambda env: model_cost.measure(quick)))
    steps.append(("baseline", baseline))
    steps.append(("fanout", fanout))
    day = 3_600 if quick else 86_400
    # The day of one meter is the ratio target's: best of --repeats, as the baseline is.
    each_layout(f"ff_1x{int(day)}", _ff_best, repeats=args.repeats, meters=1, interval_s=1.0,
                duration_s=day)
    each_layout(f"ff_10x{int(day / 10)}", _ff, meters=10, interval_s=10.0, duration_s=day)
    # The results stream's cost: the same day with --publish (nobody bound: as a user starts).
    # The stream is the service's output, the same in either layout: measured in the first.
    each_layout(f"ff_publish_1x{int(day)}", _ff, first_only=True, meters=1, interval_s=1.0,
                duration_s=day, service_args=("--publish",))
    # The site's cost: a battery in self-consumption and control on, against the same day.
    each_layout(f"site_1x{int(day)}", _ff_site, first_only=True, repeats=args.repeats,
                meters=1, interval_s=1.0, duration_s=day)
    # A year of one meter at 60 s, end to end (quick: a hundredth of it).
    year = QUICK_YEAR_READINGS if quick else YEAR_READINGS
    each_layout("year_60", _ff, meters=1, interval_s=60.0, duration_s=year * 60.0)
    schedule_s = 3.0 if quick else 60.0

    def rt(meters: int, interval: float, partitioned_only: bool = False) -> None:
        # About ``schedule_s`` of readings, at least 2 ticks.
        duration = interval * max(2, round(schedule_s / interval))
        if partitioned_only:
            for layout in (layout for layout in layouts if layout.partitioned):
                name = rt_name(meters, interval) + layout.suffix
                steps.append((name, partial(_rt, name=name, layout=layout, meters=meters,
                                            interval_s=interval, duration_s=duration,
                                            sample_size=args.sample,
                                            services=pv_services_for(meters))))
        else:
            each_layout(rt_name(meters, interval), _rt, meters=meters, interval_s=interval,
                        duration_s=duration, sample_size=args.sample)

    for meters, interval in args.rt_sizes or rt_sizes(QUICK_RT_SIZES if quick else FULL_RT_SIZES):
        rt(meters, interval)
    if args.rt_sizes is None:
        for meters, interval in rt_sizes(QUICK_RT_PART_SIZES if quick else FULL_RT_PART_SIZES):
            rt(meters, interval, partitioned_only=True)
    ids = 200 if quick else 10_000
    each_layout(f"ids_{ids}", _rt, meters=ids, interval_s=1.0 if quick else 10.0,
                duration_s=3.0 if quick else 30.0, sample_size=args.sample)
    each_layout(f"start_{ids}", _start, meters=ids)
    # SunSpec over Modbus: 100 meters polled at 1 Hz each, against the same fleet without.
    modbus_meters = 20 if quick else 100
    each_layout(f"modbus_{modbus_meters}", _rt_modbus, first_only=True, meters=modbus_meters,
                interval_s=1.0, duration_s=4.0 if quick else 60.0, sample_size=args.sample)
    # Last: a year writes 365,000 files (1.7 GB), after which file creates were slow for minutes
    # (benchmarks/RESULTS.md, run K); the latency scenarios, whose first tick creates two files
    # per meter, are measured before it. (Run L's slow first ticks came with it last too.)
    houses, days, broker_days = QUICK_DATASET if quick else FULL_DATASET
    steps.append((dataset_name(houses, days), partial(
        dataset_vs_broker, name=dataset_name(houses, days), houses=houses, days=days,
        broker_days=broker_days)))
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
            "sample_meters": args.sample,
            "layouts": [layout.name for layout in args.layouts],
            "partitions": args.partitions,
            "readings_per_message": args.readings_per_message,
            "layout_suffixes": [layout.suffix for layout in args.layouts],
            "stand_ins": stand_ins(args)}


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
    parser.add_argument("--rt-sizes", type=rt_sizes,
                        help="real-time fleets, METERS or METERS@INTERVAL_S, comma-separated, "
                             f"about 60 s of schedule each (default: {FULL_RT_SIZES}; "
                             f"--quick: {QUICK_RT_SIZES}, about 3 s)")
    parser.add_argument("--layouts", default=",".join(NAMES),
                        help="broker layouts every end-to-end scenario runs in, comma-separated: "
                             f"{' and/or '.join(NAMES)} (default: both; a partitioned scenario's "
                             "name ends in _part)")
    parser.add_argument("--partitions", type=int, default=DEFAULT_PARTITIONS,
                        help="[broker] partitions of the partitioned layout (default: "
                             f"{DEFAULT_PARTITIONS}, the package's; another count names the "
                             "scenarios _part<N>)")
    parser.add_argument("--readings-per-message", type=int, default=BENCH_READINGS_PER_MESSAGE,
                        help="[broker] readings_per_message of the partitioned layout (default: "
                             f"{BENCH_READINGS_PER_MESSAGE}; another count names the scenarios "
                             "_part_pack<N>)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="runs of the baseline and of the one-meter fast-forward day, the "
                             "best of each compared (default: 3; --quick: 1)")
    parser.add_argument("--sample", type=int, default=50,
                        help="meters whose CSVs are tailed for latency (default: 50)")
    parser.add_argument("--conf", type=Path, default=ROOT / "broker.ini",
                        help="INI whose models and output settings the CLIs run with; only "
                             "its broker address is replaced (default: broker.ini)")
    parser.add_argument("--profile-dir", type=Path,
                        help="attach py-spy to every CLI and write raw stacks here "
                             "(summarise with python -m benchmarks.profile_top); slows the run")
    parser.add_argument("--py-spy", default=shutil.which("py-spy") or shutil.which(
                            "py-spy", path=str(Path(sys.executable).parent)) or "/tmp/benchvenv/bin/py-spy",
                        help="py-spy executable for --profile-dir")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (CSVs, logs)")
    parser.add_argument("--list", action="store_true",
                        help="print the scenarios this run would measure, in order, and exit")
    args = parser.parse_args(argv)
    if args.repeats is None:
        args.repeats = 1 if args.quick else 3
    try:
        args.layouts = parse_layouts(args.layouts, args.partitions, args.readings_per_message)
    except ValueError as exc:
        parser.error(str(exc))
    if args.list:
        print("\n".join(name for name, _ in plan(args)))
        return 0
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
        finish_deletions()  # no virtual host of the run outlives it
        for failure in deletion_failures:
            errors[f"delete_vhost {failure.split(':', 1)[0]}"] = failure
        if args.keep:
            print(f"bench: work directory kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    results["meta"]["seconds"] = round(time.monotonic() - began, 1)  # type: ignore[index]
    meta = results["meta"]
    results["targets"] = targets(scenarios, args.quick, meta["layout_suffixes"],  # type: ignore[index]
                                 meta["stand_ins"])  # type: ignore[index]
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(format_table(results))
    print(f"\nresults written to {args.json}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
