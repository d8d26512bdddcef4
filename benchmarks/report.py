"""The targets of the performance issues, judged on measured figures, and the printed tables.

Targets are judged only on the full-size scenarios; in ``--quick`` runs the figures are shown
with the verdict "quick" (too small to mean anything against a target). Which scenario stands
for which target is the run's own ``stand_ins`` (``run.py``: in ``--quick``, the tiny sizes
stand in for the full ones); every target is judged once per layout of the run, on the
scenarios whose names end in that layout's suffix (``_part`` for partitioned).

Issue 13 ("Scale") comes first in the table:

* ``rt_2000``: p99 <= 1 s, and >= 99.5 % of readings older than 2 s already written, judged on
  the worst tail poll (``min_pct``; all polls pooled is shown beside it);
* ``rt_5000``, and ``rt_10000_2s`` (10,000 meters, one reading every 2 s): p99 <= 1 s (2 s),
  and nothing left behind: one interval after the last tick was due at most that last tick
  is unwritten (<= meters readings), and in the end every reading is written;
* the PV service for 10,000 meters (``ids_10000``) launch to consuming <= 10 s; the meter
  ``-nb 10000`` in a new virtual host (``start_10000``) launch to first reading <= 10 s;
* ``ff_1x86400`` >= 1.0 x the bare-pika fsync + multiple ack / 50 baseline of the same run;
* ``year_60`` (one meter, 525,600 readings at 60 s) meter launch to last row written <= 60 s;
* the meter's and the PV service's peak RSS < 150 MB in every 10,000-meter scenario
  (``ids_10000``, ``rt_10000_2s``, ``start_10000``; the broker is not ours).

Issue 24 ("Scale, round two"): ``dataset_1000y`` (a year of 1,000 houses at 15 minutes through
the embedded pipeline, ``benchmarks/dataset.py``) launch to exit <= 6 minutes, and its
readings/s >= 5 x the partitioned broker pipeline's on the same fleet, same run; and in the
partitioned layout only, ``rt_10000`` (10,000 meters at 1 Hz) and ``rt_20000_2s`` (20,000 every
2 s): p99 <= 1 s after the first 10 s, >= 99.5 % of readings older than 2 s written (worst
poll), nothing left behind.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Scenarios = dict[str, Any]
RSS_LIMIT_MB = 150.0
STARTUP_LIMIT_S = 10.0
FRESH_LIMIT_PCT = 99.5
#: Open files of the PV service per meter: the meter's lock file and its day's CSV file, kept
#: open while the open-file limit allows; plus a fixed allowance for sockets, stdio and Python.
OPEN_FILES_PER_METER = 2
OPEN_FILES_FIXED = 100
#: The scenario of each target in a full run (``run.py`` gives its own, the quick ones too).
SITE_RATIO_MIN = 0.8
DATASET_LIMIT_S = 360.0
DATASET_RATIO_MIN = 5.0
#: Issue 20 (SunSpec over Modbus TCP): polled at 1 Hz, the answers' p99 and the readings' cost.
MODBUS_RESPONSE_P99_MS = 20.0
MODBUS_LATENCY_RATIO = 1.1
FULL_STAND_INS = {"ff_day": "ff_1x86400", "ff_10": "ff_10x8640", "ff_publish": "ff_publish_1x86400",
                  "site": "site_1x86400", "dataset": "dataset_1000y",
                  "year": "year_60", "rt_2000": "rt_2000", "rt_5000": "rt_5000",
                  "rt_10000_2s": "rt_10000_2s", "ids": "ids_10000", "start": "start_10000",
                  "modbus": "modbus_100", "rt_10000": "rt_10000", "rt_20000_2s": "rt_20000_2s"}
#: Issue 24's fleets (``rt_10000``, ``rt_20000_2s``): the latency after the warm-up.
FLEET_P99_LIMIT_S = 1.0


def _get(data: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def _ratio(s: Scenarios, ff: str, variant: str = "ack_each") -> float | None:
    """A fast-forward scenario's readings/s over a baseline variant's end to end, same run."""
    rate = _get(s, ff, "readings_per_s")
    base = _get(s, "baseline", variant, "end_to_end_per_s")
    return round(rate / base, 2) if rate and base else None


def _left_behind(s: Scenarios, rt: str) -> tuple[int, int, int, int] | None:
    """(unwritten one interval after the last tick was due, meters, rows written, expected)."""
    r = s.get(rt)
    if not isinstance(r, dict):
        return None
    return (r["unwritten_at_schedule_end"], r["meters"], r["rows_final"], r["expected_readings"])


def _peak_rss(s: Scenarios, names: list[str], role: str) -> tuple[float, str] | None:
    """The largest peak RSS of ``role`` over the scenarios that ran, and which one it was."""
    found = [(_get(s, n, "processes", role, "peak_rss_mb"), n) for n in names]
    found = [(mb, n) for mb, n in found if mb is not None]
    return max(found) if found else None


def targets(s: Scenarios, quick: bool, layouts: list[str] | None = None,
            stand_ins: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Each target with its measured value and PASS, FAIL, SKIP (not run) or quick.

    ``layouts``: the name suffixes of the run's layouts (``""`` queue per meter, ``"_part"``);
    ``stand_ins``: the scenario of each target (default: the full run's).
    """
    rows: list[dict[str, Any]] = []

    def add(target: str, value: Any, ok: Callable[[Any], bool], unit: str = "",
            shown: str | None = None) -> None:
        if any(row["target"] == target for row in rows):
            return  # one scenario standing in for two targets (--quick): said once
        if value is None:
            verdict = "SKIP"
        elif quick:
            verdict = "quick"
        else:
            verdict = "PASS" if ok(value) else "FAIL"
        if value is None:
            shown = "-"
        elif shown is None:
            shown = f"{value}{unit}"
        rows.append({"target": target, "measured": shown, "verdict": verdict})

    names = {**FULL_STAND_INS, **(stand_ins or {})}
    for suffix in layouts if layouts is not None else [""]:
        _scale_targets(s, add, {key: name + suffix for key, name in names.items()})
    for suffix in (layouts or []):
        if suffix.startswith("_part"):
            _fleet_targets(s, add, {key: name + suffix for key, name in names.items()})
    for i, suffix in enumerate(layouts if layouts is not None else [""]):
        _other_targets(s, add, {key: name + suffix for key, name in names.items()}, i == 0)
    _dataset_targets(s, add, names["dataset"])
    for cadence in ("1s_day", "300s_month"):
        add(f"model_cost: weather replay per reading ({cadence}) <= 2 x clear sky",
            _get(s, "model_cost", f"pv_weather_{cadence}_x_clear"), lambda v: v <= 2.0, " x")
    # The default variable sky against the clear sky: 1.2 x what the regime sky it replaced
    # cost in these same loops (1.45 x clear at 1 s, 2.15 x in the 5-minute month; best of 3,
    # CPU time on the shared machine, 2026-12-03).
    def at_most(limit: float) -> Callable[[float], bool]:
        return lambda v: v <= limit
    for key, cadence, limit in (("day", "1s_day", 1.75), ("300s_month", "300s_month", 2.6)):
        add(f"model_cost: variable sky per reading ({cadence}) <= {limit} x clear sky",
            _get(s, "model_cost", f"pv_solar_variable_{key}_x_clear"), at_most(limit), " x")
    return rows


Add = Callable[..., None]


def _scale_targets(s: Scenarios, add: Add, n: dict[str, str]) -> None:
    """Issue 13, "Scale": each figure of its table, for one layout."""
    rt = n["rt_2000"]
    add(f"{rt}: latency p99 <= 1 s", _get(s, rt, "latency", "p99_s"), lambda v: v <= 1.0, " s")
    fresh = _get(s, rt, "written_older_than_2s")
    add(f"{rt}: >= {FRESH_LIMIT_PCT:g} % of readings older than 2 s written (worst tail poll)",
        _get(fresh, "min_pct"), lambda v: v >= FRESH_LIMIT_PCT,
        shown=f"{_get(fresh, 'min_pct')} % (all polls {_get(fresh, 'overall_pct')} %)")
    for key, limit in (("rt_5000", 1.0), ("rt_10000_2s", 2.0)):
        rt = n[key]
        add(f"{rt}: latency p99 <= {limit:g} s", _get(s, rt, "latency", "p99_s"),
            lambda v, limit=limit: v <= limit, " s")
        left = _left_behind(s, rt)
        add(f"{rt}: nothing left behind (<= 1 tick unwritten 1 interval after the last, all written)",
            left, lambda v: v[0] <= v[1] and v[2] == v[3],
            shown=f"{left[0]:,} unwritten, {left[2]:,}/{left[3]:,}" if left else None)
    ids, start, ff1, year = n["ids"], n["start"], n["ff_day"], n["year"]
    add(f"{ids}: PV service launch to consuming <= {STARTUP_LIMIT_S:g} s",
        _get(s, ids, "service_startup_s"), lambda v: v <= STARTUP_LIMIT_S, " s")
    add(f"{start}: meter launch to first reading, new vhost <= {STARTUP_LIMIT_S:g} s",
        _get(s, start, "launch_to_clock_s"), lambda v: v <= STARTUP_LIMIT_S, " s")
    add(f"{ff1}: readings/s >= 1.0 x baseline fsync + multiple ack / 50",
        _ratio(s, ff1, "batch_fsync"), lambda v: v >= 1.0, " x")
    readings = _get(s, year, "readings")
    add(f"{year}: one meter, {readings or 525_600:,} readings at 60 s, launch to last row <= 60 s",
        _get(s, year, "wall_s"), lambda v: v <= 60.0, " s")
    fleet = [n["ids"], n["rt_10000_2s"], n["start"]]
    for role in ("meter", "service"):
        peak = _peak_rss(s, fleet, role)
        add(f"{'/'.join(fleet)}: {role} peak RSS < {RSS_LIMIT_MB:g} MB (largest)", peak,
            lambda v: v[0] < RSS_LIMIT_MB, shown=f"{peak[0]} MB ({peak[1]})" if peak else None)


def _fleet_targets(s: Scenarios, add: Add, n: dict[str, str]) -> None:
    """Issue 24, real time at 10,000 readings a second, for a partitioned layout."""
    for key in ("rt_10000", "rt_20000_2s"):
        rt = n[key]
        add(f"{rt}: latency p99 after the first 10 s <= {FLEET_P99_LIMIT_S:g} s",
            _get(s, rt, "latency_after_warmup", "p99_s"), lambda v: v <= FLEET_P99_LIMIT_S, " s")
        fresh = _get(s, rt, "written_older_than_2s")
        warm = _get(s, rt, "written_older_than_2s_after_warmup")
        add(f"{rt}: >= {FRESH_LIMIT_PCT:g} % of readings older than 2 s written (worst tail poll)",
            _get(fresh, "min_pct"), lambda v: v >= FRESH_LIMIT_PCT,
            shown=f"{_get(fresh, 'min_pct')} % (all polls {_get(fresh, 'overall_pct')} %; due "
                  f"after the first 10 s: worst {_get(warm, 'min_pct')} %)")
        left = _left_behind(s, rt)
        add(f"{rt}: nothing left behind (<= 1 tick unwritten 1 interval after the last, all written)",
            left, lambda v: v[0] <= v[1] and v[2] == v[3],
            shown=f"{left[0]:,} unwritten, {left[2]:,}/{left[3]:,}" if left else None)


def _dataset_targets(s: Scenarios, add: Add, name: str) -> None:
    """Issue 24: the embedded dataset's wall time, and its rate over the broker pipeline's."""
    houses = _get(s, name, "houses")
    days = _get(s, name, "embedded", "days")
    add(f"{name}: {_fmt(houses)} houses x {_fmt(days)} days at 15 min embedded, launch to exit "
        f"<= {DATASET_LIMIT_S:g} s", _get(s, name, "embedded", "wall_s"),
        lambda v: v <= DATASET_LIMIT_S, " s")
    add(f"{name}: readings/s >= {DATASET_RATIO_MIN:g} x the partitioned broker pipeline (same "
        "fleet, same run)", _get(s, name, "embedded_over_broker"),
        lambda v: v >= DATASET_RATIO_MIN, " x")


def _other_targets(s: Scenarios, add: Add, n: dict[str, str], first: bool) -> None:
    """The earlier issues' targets, for one layout (``first``: the run's first layout, where
    the results stream's cost is measured)."""
    ff1, ff10, rt, ids = n["ff_day"], n["ff_10"], n["rt_2000"], n["ids"]
    add(f"{ff10}: readings/s >= 0.7 x baseline ack each", _ratio(s, ff10), lambda v: v >= 0.7, " x")
    add(f"{ff1}: one meter's day in <= 20 s", _get(s, ff1, "wall_s"), lambda v: v <= 20, " s")
    publish = n["ff_publish"]
    plain_rate, publish_rate = _get(s, ff1, "readings_per_s"), _get(s, publish, "readings_per_s")
    if first or publish in s:
        add(f"{publish}: readings/s with --publish >= 0.3 x without (same run)",
            round(publish_rate / plain_rate, 2) if publish_rate and plain_rate else None,
            lambda v: v >= 0.3, " x")
    site = n["site"]
    if first or site in s:
        add(f"{site}: readings/s with a battery and --control >= {SITE_RATIO_MIN:g} x without "
            "(same run, best of --repeats each)", _get(s, site, "site_over_plain"),
            lambda v: v >= SITE_RATIO_MIN, " x")
    modbus = n["modbus"]
    if first or modbus in s:
        add(f"{modbus}: Modbus response p99 <= {MODBUS_RESPONSE_P99_MS:g} ms (every unit polled at 1 Hz, "
            "all models)", _get(s, modbus, "response_p99_ms"), lambda v: v <= MODBUS_RESPONSE_P99_MS,
            " ms")
        add(f"{modbus}: readings' latency p99 with Modbus <= {MODBUS_LATENCY_RATIO:g} x without "
            "(same run)", _get(s, modbus, "latency_p99_modbus_over_plain"),
            lambda v: v <= MODBUS_LATENCY_RATIO, " x")
    offered = _get(s, rt, "offered_per_s")
    rate = _get(s, rt, "readings_per_s")
    add(f"{rt}: rows/s >= 95 % of offered {_fmt(offered)}/s", rate,
        lambda v: v >= 0.95 * offered, "/s")
    meters = _get(s, rt, "meters")
    add(f"{rt}: unwritten 1 s after the schedule's end <= 2 ticks ({_fmt(meters and 2 * meters)})",
        _get(s, rt, "unwritten_at_schedule_end"), lambda v: v <= 2 * meters)
    for role in ("meter", "service"):
        add(f"{rt}: {role} peak RSS < {RSS_LIMIT_MB:g} MB",
            _get(s, rt, "processes", role, "peak_rss_mb"), lambda v: v < RSS_LIMIT_MB, " MB")
    expected = _get(s, ids, "expected_readings")
    add(f"{ids}: service writes every row ({_fmt(expected)})", _get(s, ids, "rows_final"),
        lambda v: v == expected)
    meters = _get(s, ids, "meters") or 0
    limit = OPEN_FILES_PER_METER * meters + OPEN_FILES_FIXED
    add(f"{ids}: service open files <= {limit:,} ({OPEN_FILES_PER_METER} per meter + {OPEN_FILES_FIXED})",
        _get(s, ids, "processes", "service", "max_open_fds"), lambda v: v <= limit)
    start = n["start"]
    add(f"{start}: meter launch to first tick published <= {STARTUP_LIMIT_S:g} s",
        _get(s, start, "launch_to_published_s"), lambda v: v <= STARTUP_LIMIT_S, " s")


def _fmt(value: Any, spec: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, (int, float)) and spec:
        return format(value, spec)
    return str(value)


def _table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    body = ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
            for r in rows]
    return "\n".join([line, "-" * len(line), *body])


def _cost_table(s: Scenarios) -> list[str]:
    """CPU per 1,000 readings of each process and latency, by layout and fleet size, from the
    real-time scenarios (each one's window from the meter's clock start to the queues drained)."""
    rts = [r for k, r in s.items() if k.startswith("rt_") and isinstance(r, dict)
           and isinstance(r.get("cpu_per_1000_readings"), dict)]
    if not rts:
        return []
    order = {"queue_per_meter": 0, "partitioned": 1}
    rts.sort(key=lambda r: (order.get(r.get("layout", "queue_per_meter"), 2), r.get("partitions") or 0,
                            r["meters"], r["interval_s"]))
    rows = []
    for r in rts:
        c, lat = r["cpu_per_1000_readings"], r["latency"]
        layout = r.get("layout", "queue_per_meter")
        if r.get("partitions"):
            layout += f" ({r['partitions']})"
        rows.append([layout, r["name"], _fmt(r["meters"], ","), _fmt(r["interval_s"], "g"),
                     _fmt(c["readings"], ","), _fmt(c["meter"], ".3f"), _fmt(c["service"], ".3f"),
                     _fmt(c["broker"], ".3f"), _fmt(c["others"], ".3f"),
                     f"{_fmt(lat['p50_s'])}/{_fmt(lat['p99_s'])}"])
    return ["", "Cost by layout and fleet: CPU s per 1,000 readings from the meter's clock start "
                "(queues made, service consuming) to the queues drained, startup excluded; "
                "others = the rest of the machine (other users, rabbitmqctl); rt_N_2s: N meters "
                "every 2 s (N/2 readings/s), the others 1 Hz",
            _table(["layout (partitions)", "scenario", "meters", "every s", "readings",
                    "meter", "service", "broker", "others", "lat p50/p99 s"], rows)]


def format_table(results: dict[str, Any]) -> str:
    """The whole run as plain-text tables."""
    s: Scenarios = results["scenarios"]
    meta = results["meta"]
    out: list[str] = [f"pv-simulator benchmark ({'quick' if meta['quick'] else 'full'}"
                      f", commit {meta['commit']}, {meta['cpus']} CPUs, "
                      f"layouts {', '.join(meta.get('layouts', ['queue_per_meter']))}, "
                      f"{meta.get('seconds', '?')} s)"]
    base = s.get("baseline")
    if base:
        labels = {"ack_each": "ack each, fsync at end", "batch_fsync": "fsync + multiple ack / 50"}
        rows = [[f"bare pika, {labels.get(name, name)} ({b['messages']:,} msgs)",
                 _fmt(b["publish_per_s"], ","), _fmt(b["consume_per_s"], ","),
                 _fmt(b["end_to_end_per_s"], ",")] for name, b in base.items()]
        out += ["", "Baseline (readings/s)",
                _table(["variant", "publish", "consume", "end to end"], rows)]

    fan = s.get("fanout")
    if fan:
        rows = [[name, _fmt(f.get("queues")), _fmt(f.get("messages_per_s"), ","),
                 _fmt(f.get("commit_ms")), _fmt(f.get("broker_cpu_us_per_message")),
                 f.get("error", "")[:60]]
                for name, f in fan.items() if isinstance(f, dict)]
        out += ["", f"Broker cost of the meter's real-time pattern: {fan['meters']} messages per "
                    f"transaction, {fan['ticks']} transactions, bare pika, nothing consuming",
                _table(["mode", "queues", "msgs/s", "commit ms", "broker us/msg", "error"], rows)]

    ff = [v for k, v in s.items() if k.startswith(("ff_", "year_"))]
    if ff:
        rows = []
        for r in ff:
            p = r["processes"]
            rows.append([r["name"], _fmt(r.get("readings"), ","), _fmt(r["wall_s"], ".1f"),
                         _fmt(r["readings_per_s"], ","),
                         _fmt(_ratio(s, r["name"])), _fmt(_ratio(s, r["name"], "batch_fsync")),
                         _fmt(r["meter_exit_s"], ".1f"),
                         f"{_fmt(_get(p, 'meter', 'cpu_s'), '.1f')}/"
                         f"{_fmt(_get(p, 'service', 'cpu_s'), '.1f')}/"
                         f"{_fmt(_get(p, 'broker', 'cpu_s'), '.1f')}/"
                         f"{_fmt(_get(p, 'machine', 'others_cpu_s'), '.1f')}",
                         f"{_fmt(_get(p, 'meter', 'peak_rss_mb'), '.0f')}/"
                         f"{_fmt(_get(p, 'service', 'peak_rss_mb'), '.0f')}"])
        out += ["", "Fast-forward (--speed 0), meter launch to last row written; x base = over the "
                    "baseline's end to end (ack each / fsync + multiple ack / 50)",
                _table(["scenario", "readings", "wall s", "readings/s", "x ack each", "x fsync/50",
                        "meter done s", "CPU s m/s/broker/other", "RSS MB m/s"], rows)]

    datasets = [v for k, v in s.items() if k.startswith("dataset_")]
    if datasets:
        rows = []
        for r in datasets:
            e, b = r["embedded"], r["broker_part"]
            rows.append([r["name"], f"{r['houses']:,} x {e['days']:g} d", _fmt(e["readings"], ","),
                         _fmt(e["processes"]), _fmt(e["wall_s"], ".1f"), _fmt(e["readings_per_s"], ","),
                         _fmt(e["cpu_us_per_reading"]), _fmt(e["peak_rss_mb"], ".0f"),
                         f"{_fmt(b['readings'], ',')} in {_fmt(b['wall_s'], '.1f')} s",
                         _fmt(b["readings_per_s"], ","), _fmt(r["embedded_over_broker"]),
                         _fmt(_get(e, "procs", "machine", "others_cpu_s"), ".0f")])
        out += ["", "Datasets at 15 min: embedded (pv-dataset, launch to exit) against the partitioned "
                    "broker pipeline (both CLIs, same fleet, shorter span, same run); CPU us = the "
                    "shares' CPU per reading; other = CPU s others used meanwhile",
                _table(["scenario", "houses x span", "readings", "procs", "wall s", "readings/s",
                        "CPU us", "RSS MB", "broker part", "broker/s", "x broker", "other CPU s"],
                       rows)]

    rt = [v for k, v in s.items() if k.startswith(("rt_", "ids_"))]
    if rt:
        rows = []
        for r in rt:
            p, lat, warm, b = r["processes"], r["latency"], r["latency_after_warmup"], \
                r["backlog_at_meter_end"]
            fresh = r.get("written_older_than_2s") or {}
            rows.append([r["name"], _fmt(r["offered_per_s"], ",.0f"),
                         _fmt(r["readings_per_s"], ",.0f"),
                         f"{_fmt(lat['p50_s'])}/{_fmt(lat['p99_s'])}/{_fmt(lat['max_s'])}",
                         _fmt(warm["p99_s"]),
                         f"{_fmt(fresh.get('min_pct'))}/{_fmt(fresh.get('overall_pct'))}",
                         _fmt(r["unwritten_at_schedule_end"], ","),
                         _fmt(b["ready"] + b["unacked"], ","), _fmt(r["meter_lag_at_end_s"]),
                         _fmt(r["drained_after_s"]),
                         f"{_fmt(r['service_startup_s'])}/{_fmt(r.get('first_tick_latency_s'))}",
                         f"{_fmt(_get(p, 'meter', 'peak_rss_mb'), '.0f')}/"
                         f"{_fmt(_get(p, 'service', 'peak_rss_mb'), '.0f')}",
                         f"{_fmt(_get(p, 'meter', 'max_open_fds'))}/"
                         f"{_fmt(_get(p, 'service', 'max_open_fds'))}",
                         f"{_fmt(_get(p, 'meter', 'cpu_s'), '.0f')}/"
                         f"{_fmt(_get(p, 'service', 'cpu_s'), '.0f')}/"
                         f"{_fmt(_get(p, 'broker', 'cpu_s'), '.0f')}/"
                         f"{_fmt(_get(p, 'machine', 'others_cpu_s'), '.0f')}"])
        out += ["", "Real time (--speed 1): latency = row readable - reading due (sampled meters); "
                    ">2s written = of the sampled readings due over 2 s before a tail poll, the share "
                    "readable by then, worst poll / all polls pooled; "
                    "unwritten = readings due but not in a file one interval after the schedule's end; "
                    "queued = ready + unacked when the meter exits; meter lag = meter exit - "
                    "last tick due; m = meter, s = service",
                _table(["scenario", "offered/s", "rows/s", "lat p50/p99/max s", "p99 >10s",
                        ">2s written %", "unwritten", "queued", "meter lag s", "drain s", "svc start/1st tick s",
                        "RSS MB m/s", "fds m/s",
                        "CPU s m/s/broker/other"], rows)]

    out += _cost_table(s)

    starts = [v for k, v in s.items() if k.startswith("start_")]
    if starts:
        rows = [[r["name"], _fmt(r["meters"], ","), _fmt(r["queues"], ","),
                 _fmt(r["launch_to_clock_s"]), _fmt(r["launch_to_published_s"]),
                 _fmt(_get(r["processes"], "meter", "cpu_s"), ".1f"),
                 _fmt(_get(r["processes"], "broker", "cpu_s"), ".1f"),
                 _fmt(_get(r["processes"], "meter", "peak_rss_mb"), ".0f")] for r in starts]
        out += ["", "Meter startup in a new virtual host (it creates every queue)",
                _table(["scenario", "meters", "queues", "launch to clock s",
                        "launch to published s", "meter CPU s", "broker CPU s", "RSS MB"], rows)]

    cost = s.get("model_cost")
    if cost:
        rows = [[k.removesuffix("_us"), _fmt(v, ".2f")] for k, v in cost.items()]
        out += ["", "Model and format cost (best of repeats)", _table(["call", "us"], rows)]

    out += ["", "Targets", _table(["target", "measured", "verdict"],
                                  [[t["target"], t["measured"], t["verdict"]]
                                   for t in results["targets"]])]
    for name, error in results.get("errors", {}).items():
        out.append(f"ERROR {name}: {error}")
    return "\n".join(out)
