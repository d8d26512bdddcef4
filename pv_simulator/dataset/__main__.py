"""``python -m pv_simulator.dataset`` (``pv-dataset``): a dataset's CSV files without RabbitMQ.

The meter's and PV service's options keep their names and meaning; ``--processes`` splits the
meters over processes, each writing its own meters' files (:mod:`pv_simulator.dataset`). Exit
codes as the services': 0 finished or stopped, 1 runtime failure (output not writable), 2 usage
or configuration error. Stopped (Ctrl-C, SIGTERM) or killed, the same command continues where
each meter's files end.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.context import ForkContext, SpawnContext
from pathlib import Path
from types import FrameType
from typing import Any

from pv_simulator import arguments
from pv_simulator.cli import (
    EXIT_CODES,
    EXIT_RUNTIME,
    EXIT_USAGE,
    Parser,
    Stopper,
    UsageError,
    common_options,
    fail,
    meter_count,
    meter_options,
    run_body,
    setup_logging,
    start_of,
    write_summary,
)
from pv_simulator.composition import meter_members
from pv_simulator.config import Config, ConfigError, load_config
from pv_simulator.dataset import ShareResult, Span, check_output, run_share, split_meters
from pv_simulator.dataset.progress import Progress
from pv_simulator.storage.csv_store import OutputError, OutputFailed

log = logging.getLogger("pv_simulator.dataset")

PROG = "pv-dataset"
#: Linux's prctl option that sends a signal to a process when its parent dies.
_PR_SET_PDEATHSIG = 1


class ShareFailed(Exception):
    """A share's process failed; its one line and exit code, reported once by the parent."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class _Job:
    """What every share's process needs."""

    config: Config
    span: Span
    output_dir: Path


def main(argv: Sequence[str] | None = None) -> int:
    parser = Parser(
        prog=PROG,
        description="Simulate N household meters and their PV plants over a span as fast as the "
                    "machine goes, meter and PV service in one process over the in-memory broker, "
                    "into <output-dir>/<METER_ID>-<YYYY>-<MM>-<DD>.csv: the files pv-meter and "
                    "pv-service write for the same configuration and seed.",
        epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    common_options(parser)
    meter_options(parser)
    parser.add_argument("--duration", type=arguments.positive, required=True, metavar="SECONDS",
                        help="simulated seconds (required: a dataset ends), e.g. 31536000 for a year")
    parser.add_argument("--output-dir", type=Path, default=Path("."), metavar="DIR",
                        help="where the CSV files go (default: working directory; created if missing)")
    parser.add_argument("--processes", type=arguments.positive_int, default=os.cpu_count() or 1,
                        metavar="N", help="processes the meters are split over, each writing its "
                                          "own meters' files (default: the machine's cores)")
    parser.add_argument("--broker", choices=("memory",), default="memory",
                        help="the broker between meter and PV service: memory, the in-memory broker "
                             "in this process (as [broker] transport = memory; over RabbitMQ run "
                             "pv-meter and pv-service)")
    args = parser.parse_args(argv)
    setup_logging(args.log_level)
    stopper = Stopper()
    stopper.install()

    def body() -> None:
        started = time.monotonic()
        config = load_config(args.configuration_file)
        count = meter_count(args)
        start_s = start_of(args, config)
        span = Span(count, args.seed, time.time() if start_s is None else start_s, args.interval,
                    args.duration)
        ids = [member.meter_id for member in meter_members(config, count)]
        check_output(config, args.output_dir, ids)
        shares = split_meters(ids, args.processes)
        log.info("dataset: %d meter(s), %d reading(s) each every %g s, in %d process(es), into %s",
                 len(ids), span.tick_count, span.interval_s, len(shares), args.output_dir)
        progress = Progress(len(ids) * span.tick_count, args.stats_interval, sys.stderr)
        job = _Job(config, span, args.output_dir)
        stopper.started()
        try:
            if len(shares) == 1:
                results = [run_share(config, span, shares[0], args.output_dir, stopper, progress.update)]
            else:
                results = _run_processes(job, shares, stopper, progress)
        finally:
            progress.close()
        _report(results, time.monotonic() - started, stopper(), args.summary_file)

    try:
        return run_body(PROG, body)
    except ShareFailed as exc:
        fail(PROG, str(exc), exc.code)


def _report(results: Sequence[ShareResult], wall_s: float, stopped: bool,
            summary_file: Path | None) -> None:
    published = sum(result.published for result in results)
    written = sum(result.written for result in results)
    resumed = sum(1 for result in results if result.first_tick > 0)
    log.info("%s %d row(s) of %d meter(s) in %.1f s (%.0f readings/s)%s%s",
             "stopped: wrote" if stopped else "wrote", written,
             sum(result.meters for result in results), wall_s, published / max(wall_s, 1e-9),
             f"; {resumed} share(s) resumed after their meters' last rows" if resumed else "",
             "; the same command continues" if stopped else "")
    write_summary(summary_file, {
        "meters": sum(result.meters for result in results), "published": published,
        "written": written, "duplicates_skipped": sum(r.duplicates_skipped for r in results),
        "outside_weather": sum(r.outside_weather for r in results), "stopped": stopped,
        "wall_s": round(wall_s, 3), "resumed_shares": resumed})


def _context() -> ForkContext | SpawnContext:
    """fork where there is one (no re-import, no pickling of the configuration); spawn elsewhere."""
    if "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _run_processes(job: _Job, shares: list[list[str]], stopper: Stopper,
                   progress: Progress) -> list[ShareResult]:
    """Each share in a process of its own; the first failure stops the others and is raised."""
    context = _context()
    done = context.Array("q", len(shares), lock=False)
    results: Any = context.SimpleQueue()
    processes = [context.Process(target=_share_main, name=f"pv-dataset-{index}",
                                 args=(index, job, shares[index], done, results, os.getpid()))
                 for index in range(len(shares))]
    for process in processes:
        process.start()
    outcomes: dict[int, tuple[int, str, ShareResult | None]] = {}
    stopping = False
    try:
        while len(outcomes) < len(processes):
            multiprocessing.connection.wait([p.sentinel for p in processes], timeout=0.5)
            while not results.empty():
                index, code, message, result = results.get()
                outcomes[index] = (code, message, result)
                if code and not stopping:
                    stopping = True
                    _stop_all(processes)
            if stopper() and not stopping:
                stopping = True
                _stop_all(processes)
            progress.update(sum(done))
            for index, process in enumerate(processes):
                if index not in outcomes and process.exitcode is not None and results.empty():
                    outcomes[index] = (EXIT_RUNTIME, f"share {index} ended with exit code "
                                       f"{process.exitcode} before reporting", None)
    finally:
        for process in processes:
            process.join()
    failures = [(code, message) for code, message, _ in outcomes.values() if code]
    if failures:
        # A usage or configuration error first: it is the one the user can act on.
        code, message = min(failures)
        raise ShareFailed(message, code)
    return [result for _, _, result in (outcomes[i] for i in range(len(shares))) if result is not None]


def _stop_all(processes: Sequence[multiprocessing.process.BaseProcess]) -> None:
    """Ask every share still running to stop at its next tick (it writes what it took)."""
    for process in processes:
        if process.exitcode is None and process.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGTERM)


def _share_main(index: int, job: _Job, meter_ids: list[str], done: Any, results: Any,
                parent_pid: int) -> None:
    """A share's process: run it, report its result or its one-line error to the parent."""
    _die_with_parent(parent_pid)
    stop = _StopFlag()
    code, message, result = 0, "", None
    try:
        result = run_share(job.config, job.span, meter_ids, job.output_dir, stop,
                           lambda count: done.__setitem__(index, count))
    except (ConfigError, UsageError, OutputError) as exc:
        code = EXIT_RUNTIME if isinstance(exc, OutputFailed) else EXIT_USAGE
        message = str(exc)
    except OSError as exc:
        code, message = EXIT_RUNTIME, f"{exc.filename + ': ' if exc.filename else ''}{exc.strerror or exc}"
    except KeyboardInterrupt:
        pass
    results.put((index, code, message, result))


class _StopFlag:
    """A share's stop request: SIGINT (Ctrl-C reaches the whole process group) or SIGTERM from
    the parent; the share ends at its next tick and writes what it took."""

    def __init__(self) -> None:
        self.requested = False
        signal.signal(signal.SIGINT, self._handle)
        signal.signal(signal.SIGTERM, self._handle)

    def _handle(self, _signum: int, _frame: FrameType | None) -> None:
        self.requested = True

    def __call__(self) -> bool:
        return self.requested


def _die_with_parent(parent_pid: int) -> None:
    """A share dies with its parent, even killed with -9: no orphan goes on writing (and holding
    its meters' locks) under a restarted command. Linux only; elsewhere a no-op."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent_pid:
        os._exit(EXIT_RUNTIME)  # the parent died before the request took hold


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
