"""Command lines of the two services: options, logging, signals and exit codes.

Exit codes: 0 stopped or finished, 1 runtime failure (broker unreachable, a
queue refused, a file that cannot be written), 2 usage or configuration error
(bad option, configuration file or value, login or virtual host refused).
Every error is one line on stderr; a user's mistake never shows a traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import NoReturn

from pv_simulator import arguments
from pv_simulator.composition import (
    MeterOptions,
    PvServiceOptions,
    build_meter_service,
    build_pv_service,
    layout_of,
)
from pv_simulator.config import Config, ConfigError, load_config
from pv_simulator.messaging.deadlines import STOP_GRACE_S, WaitInterrupted, interrupt_waits
from pv_simulator.messaging.port import (
    METER_ID_RULE,
    AccessRefused,
    BrokerError,
    Layout,
    is_meter_id,
)
from pv_simulator.services.clock import parse_start
from pv_simulator.services.energy import energy_summary
from pv_simulator.services.layouts import StrandedReadings
from pv_simulator.services.metrics import Metrics
from pv_simulator.storage.csv_store import OutputError, OutputFailed
from pv_simulator.sunspec.register_map import units_csv
from pv_simulator.sunspec.server import ModbusUnavailable, SunSpecServer

log = logging.getLogger(__name__)

EXIT_RUNTIME = 1
EXIT_USAGE = 2


EXIT_CODES = """exit codes:
  0  stopped (Ctrl-C, SIGTERM) or finished
  1  runtime failure: broker unreachable, a queue refused, output not writable
  2  usage or configuration error, the broker refused the login or virtual host, or
     queues of the other [broker] layout still hold readings"""


WEATHER_HELP = """weather and fleet (configuration file):
  [pv] weather = FILE replays a weather file (EPW, TMY3, PVGIS csv/json/epw, generic CSV);
  it replaces [pv] sky, air_temperature_c and wind_speed_m_s (the last two apply only where a
  generic file has no such column) and gives [site] its position unless [site] sets it.
  Outside a generic file's span PV is written as 0, logged once per day and counted
  ("outside weather N" in the stats line, outside_weather in --summary-file).
  [fleet] file = FILE gives each meter its own plant, site and weather."""


class UsageError(Exception):
    """A command-line value the tool cannot use."""


class Parser(argparse.ArgumentParser):
    """argparse, but its errors are one line (no usage dump) and exit code 2."""

    def error(self, message: str) -> NoReturn:
        fail(self.prog, f"{message} (see --help)", EXIT_USAGE)


def fail(prog: str, message: str, code: int) -> NoReturn:
    sys.stderr.write(f"{prog}: error: {message}\n")
    sys.exit(code)


class StartupInterrupted(BaseException):
    """A stop was requested before the service ran: nothing was taken yet, so start-up just ends."""


class Stopper:
    """First SIGINT or SIGTERM asks for a graceful stop; a second one exits at once.

    Until :meth:`started`, a first signal ends start-up there and then (reading a large weather
    file, building thousands of households): nothing has been taken from the broker yet.

    A first signal that arrives while the process is blocked on the broker (a declare it
    does not answer, a publish under a memory alarm) ends that wait if it is still waiting
    a grace later (:func:`~pv_simulator.messaging.deadlines.interrupt_waits`), instead of waiting behind it.
    Exiting at once is safe: rows are acknowledged only after they are flushed, so
    what the broker still holds comes back on the next start.
    """

    def __init__(self, grace_s: float = STOP_GRACE_S) -> None:
        self.requested = False
        self.grace_s = grace_s
        self.starting = True

    def started(self) -> None:
        """The service runs: from now on a first signal asks its loop to stop."""
        self.starting = False

    def install(self) -> None:
        signal.signal(signal.SIGINT, self._handle)
        signal.signal(signal.SIGTERM, self._handle)

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if self.requested:
            sys.stderr.write("stopping now\n")
            os._exit(0)
        self.requested = True
        log.info("%s received: stopping (again to stop at once)", signal.Signals(signum).name)
        if self.starting:
            raise StartupInterrupted()
        interrupt_waits(self.grace_s)

    def __call__(self) -> bool:
        return self.requested


def common_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-conf", "--configuration-file", metavar="FILE",
                        help="INI configuration file (default: broker.ini in the working "
                             "directory; defaults apply when it is absent)")
    parser.add_argument("--log-level", default="INFO",
                        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
                        help="logging threshold (default: INFO; DEBUG logs every reading)")
    parser.add_argument("--stats-interval", type=arguments.non_negative, default=10.0, metavar="SECONDS",
                        help="log one statistics line this often (default: 10; 0: never)")
    parser.add_argument("--summary-file", type=Path, metavar="FILE",
                        help="at exit, write the run's counts as JSON to FILE (for scripts)")


def _parse_and_prepare(parser: argparse.ArgumentParser,
                       argv: Sequence[str] | None) -> tuple[argparse.Namespace, Stopper]:
    """Add the options both services end with, parse, set up logging and the signal handlers."""
    parser.add_argument("--metrics-port", type=arguments.port, metavar="PORT",
                        help="serve Prometheus metrics on http://HOST:PORT/metrics (default: off)")
    parser.add_argument("--metrics-host", default="127.0.0.1", metavar="HOST",
                        help="address the metrics endpoint listens on (default: 127.0.0.1)")
    args = parser.parse_args(argv)
    setup_logging(args.log_level)
    stopper = Stopper()
    stopper.install()
    return args, stopper


def _serve_metrics(metrics: Metrics, host: str, port: int) -> None:
    try:
        bound = metrics.serve(host, port)
    except (OSError, OverflowError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise UsageError(f"argument --metrics-port: cannot listen on {host}:{port}: {reason}") from None
    log.info("metrics on http://%s:%d/metrics", arguments.url_host(host), bound)


def setup_logging(level: str) -> None:
    logging.basicConfig(level=getattr(logging, level), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("pika").setLevel(logging.CRITICAL)
    # pymodbus logs each client's mistakes; the SunSpec server answers them with exceptions.
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)


def _serve_modbus(server: SunSpecServer, map_file: Path | None) -> None:
    """Start the SunSpec server; one log line per port with its units; the map as CSV if asked."""
    try:
        server.start()
    except ModbusUnavailable as exc:
        raise UsageError(str(exc)) from None
    writes = "taken as commands" if server.inbox is not None else "refused ([modbus] control = false)"
    for port in server.ports:
        units = [unit for unit in server.units if unit.port == port]
        log.info("Modbus TCP on %s:%d, SunSpec at 40000, writes %s: units %s", arguments.url_host(server.host),
                 port, writes, ", ".join(f"{unit.unit_id}={unit.meter_id}" for unit in units))
    if map_file is not None:
        try:
            map_file.write_text(units_csv(server.units), encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"argument --modbus-map: cannot write {map_file}: {exc.strerror}") from None


def run_body(prog: str, body: Callable[[], None]) -> int:
    """Run a service body, turning the errors users can meet into one line and an exit code."""
    try:
        body()
    except (BrokerError, OutputFailed) as exc:
        fail(prog, str(exc), EXIT_USAGE if isinstance(exc, (AccessRefused, StrandedReadings))
             else EXIT_RUNTIME)
    except (ConfigError, UsageError, OutputError) as exc:
        fail(prog, str(exc), EXIT_USAGE)
    except OSError as exc:
        # The environment failed under us (a file vanished, a disk failed): still one line.
        fail(prog, f"{exc.filename + ': ' if exc.filename else ''}{exc.strerror or exc}", EXIT_RUNTIME)
    except WaitInterrupted as exc:
        log.info("stopped while %s; unacknowledged readings stay queued", exc)
    except StartupInterrupted:
        log.info("stopped during start-up")
    except KeyboardInterrupt:
        pass
    return 0


def _id_list(meter_ids: Sequence[str], shown: int = 10) -> str:
    """The ids as a list, abbreviated past ``shown``: 10,000 ids are 139,000 characters."""
    if len(meter_ids) <= shown:
        return str(list(meter_ids))
    head = ", ".join(repr(meter_id) for meter_id in meter_ids[:shown - 2])
    tail = ", ".join(repr(meter_id) for meter_id in meter_ids[-2:])
    return f"[{head}, ..., {tail}] ({len(meter_ids)} meters)"


def meter_options(parser: argparse.ArgumentParser) -> None:
    """The meter's options that the dataset command shares: which meters, when, how often, seed."""
    parser.add_argument("-nb", "--nb-meter", type=int, metavar="N",
                        help="number of meters: the first N of [fleet] file's, or Meter_0.. "
                             "without a fleet (default: all of the fleet, or 1)")
    parser.add_argument("--interval", type=arguments.positive, default=1.0, metavar="SECONDS",
                        help="simulated seconds between readings (default: 1)")
    parser.add_argument("--start", metavar="DATETIME",
                        help="simulated start, ISO 8601; without offset local time of "
                             "[site] timezone (default: now)")
    parser.add_argument("--seed", type=int, help="random seed: same seed, same readings")


def meter_count(args: argparse.Namespace) -> int | None:
    """``--nb-meter``: None for "all of the fleet, or 1"; a count below 1 is 1, with a warning."""
    count: int | None = args.nb_meter
    if count is not None and count <= 0:
        log.warning("--nb-meter %d is not a positive count: using 1 meter", count)
        count = 1
    return count


def start_of(args: argparse.Namespace, config: Config) -> float | None:
    """``--start`` as epoch seconds (None: now).

    Raises:
        UsageError: not an ISO 8601 date-time.
    """
    if args.start is None:
        return None
    try:
        return parse_start(args.start, config.site.timezone)
    except ValueError:
        raise UsageError(f"argument --start: {args.start!r} is not an ISO 8601 "
                         "date-time such as 2026-06-21T00:00") from None


def refuse_memory_transport(config: Config) -> None:
    """The meter and PV service are separate processes: the in-memory broker joins them only
    in the dataset command.

    Raises:
        ConfigError: naming the key.
    """
    if config.broker.transport == "memory":
        raise ConfigError(f"{config.where}: [broker] transport = memory: the in-memory broker runs "
                          "the meter and the PV service in one process, as python -m "
                          "pv_simulator.dataset (pv-dataset) does; this service needs rabbitmq")


def meter_main(argv: Sequence[str] | None = None) -> int:
    """``demo_meter.py``: publish N meters' readings."""
    parser = Parser(
        description="Mock N household meters and publish their consumption readings (W) "
                    "to RabbitMQ, one queue per meter (Meter_0, Meter_1, ...), or on the "
                    "queues of [broker] layout = partitioned.",
        epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    common_options(parser)
    meter_options(parser)
    parser.add_argument("--speed", type=arguments.non_negative, default=1.0, metavar="FACTOR",
                        help="simulated seconds per wall-clock second; 0 = as fast as "
                             "possible (default: 1, real time)")
    parser.add_argument("--duration", type=arguments.non_negative, metavar="SECONDS",
                        help="stop after this many simulated seconds (default: run until stopped)")
    parser.add_argument("--metrics-linger", type=arguments.non_negative, default=0.0, metavar="SECONDS",
                        help="with --metrics-port and --duration: after the run, keep serving until the "
                             "next scrape has read the final counts, at most this long (default: 0, exit at once)")
    args, stopper = _parse_and_prepare(parser, argv)

    def body() -> None:
        config = load_config(args.configuration_file)
        refuse_memory_transport(config)
        count = meter_count(args)
        meter = build_meter_service(config, MeterOptions(
            count=count, seed=args.seed, start_s=start_of(args, config), interval_s=args.interval,
            speed=args.speed, duration_s=args.duration, stats_interval_s=args.stats_interval,
            metrics=args.metrics_port is not None), stopper)
        count = len(meter.meter_ids)
        if meter.metrics is not None:
            _serve_metrics(meter.metrics, args.metrics_host, args.metrics_port)
        try:
            log.info("Meter created: %s", _id_list(meter.meter_ids))
            _log_layout(meter.layout)
            stopper.started()
            meter.service.run()
            if meter.metrics is not None and args.metrics_linger > 0 and not stopper():
                log.info("run done: serving the final counts until the next scrape (at most %.0f s)",
                         args.metrics_linger)
                meter.metrics.wait_for_scrape(args.metrics_linger, stopper)
        finally:
            meter.connection.close()
            result = meter.service.result()
            log.info("published %d reading(s) of %d meter(s); %d dropped, %d reconnect(s)",
                     result.published, count, result.dropped, result.reconnects)
            write_summary(args.summary_file, {"meters": count, **dataclasses.asdict(result)})

    return run_body(parser.prog, body)


def service_main(argv: Sequence[str] | None = None) -> int:
    """``demo_pv_service.py``: consume meters' readings, add PV, write the CSV files."""
    parser = Parser(
        description="Consume meter readings from RabbitMQ, add the PV plant's power at each "
                    "reading's time and append rows to <output-dir>/<METER_ID>-<YYYY>-<MM>-<DD>.csv.",
        epilog=f"{WEATHER_HELP}\n\n{EXIT_CODES}", formatter_class=argparse.RawDescriptionHelpFormatter)
    common_options(parser)
    parser.add_argument("-ids", "--meter-ids", nargs="+", metavar="ID",
                        help="meter ids to serve, e.g. Meter_0 Meter_2 (required, except with "
                             "[broker] layout = partitioned)")
    parser.add_argument("--partition", nargs="+", type=arguments.non_negative_int, metavar="K",
                        help="with [broker] layout = partitioned: the partitions to serve, "
                             "0 to partitions-1 (default: all of them)")
    parser.add_argument("--output-dir", type=Path, default=Path("."), metavar="DIR",
                        help="where the CSV files go (default: working directory; created "
                             "if missing)")
    parser.add_argument("--exit-when-idle", type=arguments.positive, metavar="SECONDS",
                        help="stop once no reading arrived for this long (default: run "
                             "until stopped)")
    parser.add_argument("--publish", action="store_true",
                        help="publish each written row as a JSON result on [output] "
                             "results_exchange, routing key pv.results.<METER_ID> (as [output] "
                             "publish = true)")
    parser.add_argument("--home-assistant", action="store_true",
                        help="Home Assistant MQTT discovery, retained states and energy counters "
                             "(as [output] home_assistant = true)")
    parser.add_argument("--control", action="store_true",
                        help="take commands on amq.topic, routing key pv.control.<METER_ID> (as "
                             "[control] enabled = true; see docs/site.md for who may send them)")
    parser.add_argument("--modbus-port", type=arguments.port, metavar="PORT",
                        help="serve each meter as a SunSpec device over Modbus TCP: unit ids 1-247 in "
                             "serving order on PORT, the next 247 on PORT+1... (as [modbus] port; "
                             "host, and whether writes command the sites: [modbus]; docs/sunspec.md)")
    parser.add_argument("--modbus-map", type=Path, metavar="FILE",
                        help="write which meter is where as CSV: meter_id,port,unit_id")
    args, stopper = _parse_and_prepare(parser, argv)

    def body() -> None:
        config = load_config(args.configuration_file)
        refuse_memory_transport(config)
        layout = layout_of(config.broker)
        meter_ids, queues = _served(args.meter_ids, args.partition, layout)
        if args.modbus_port == 0:
            raise UsageError("argument --modbus-port: 0 is not in 1..65535 (the ports after it "
                             "serve the 248th meter on)")
        if args.modbus_map is not None and args.modbus_port is None and config.modbus.port is None:
            raise UsageError("argument --modbus-map: needs --modbus-port (or [modbus] port)")
        pv = build_pv_service(config, PvServiceOptions(
            meter_ids=meter_ids, queues=queues, output_dir=args.output_dir,
            exit_when_idle_s=args.exit_when_idle, stats_interval_s=args.stats_interval,
            publish=args.publish, metrics=args.metrics_port is not None,
            home_assistant=args.home_assistant, control=args.control,
            summary=args.summary_file is not None, modbus_port=args.modbus_port), stopper)
        _log_layout(layout, queues)
        if pv.metrics is not None:
            _serve_metrics(pv.metrics, args.metrics_host, args.metrics_port)
        if pv.modbus is not None:
            _serve_modbus(pv.modbus, args.modbus_map)
        if pv.mqtt is not None:
            pv.mqtt.connect()
        try:
            stopper.started()
            pv.service.run()
        finally:
            try:
                pv.output.close()
            finally:
                pv.connection.close()
                if pv.mqtt is not None:
                    pv.mqtt.close()
                if pv.modbus is not None:
                    pv.modbus.stop()
            result = pv.service.result()
            log.info("wrote %d row(s); %d duplicate(s) skipped, %d out of order (dead-lettered), "
                     "%d rejected, %d reconnect(s)%s", result.written, result.duplicates_skipped,
                     result.out_of_order, result.rejected, result.reconnects,
                     f"; published results {result.published_results}" if pv.results else "")
            write_summary(args.summary_file, {**dataclasses.asdict(result), **energy_summary(pv.energy)})

    return run_body(parser.prog, body)


def write_summary(path: Path | None, counts: Mapping[str, object]) -> None:
    """The exit summary as JSON, for scripts and tests that must not parse log lines."""
    if path is None:
        return
    try:
        path.write_text(json.dumps(counts, sort_keys=True) + "\n", encoding="utf-8")
    except OSError as exc:
        log.error("--summary-file %s: cannot write: %s", path, exc.strerror)


def _log_layout(layout: Layout, served: Sequence[str] | None = None) -> None:
    if layout.partitioned:
        log.info("layout partitioned: readings on %d queues %s to %s%s", layout.partitions,
                 layout.partition_queue(0), layout.partition_queue(layout.partitions - 1),
                 f"; serving {', '.join(served)}" if served is not None else "")


def _served(ids: Sequence[str] | None, partitions: Sequence[int] | None,
            layout: Layout) -> tuple[list[str] | None, list[str]]:
    """The meters (None: any, as the partitioned layout's readings say) and the queues a PV
    service serves, from its -ids and --partition."""
    if not layout.partitioned:
        if partitions is not None:
            raise UsageError("argument --partition: only with [broker] layout = partitioned")
        if not ids:
            raise UsageError("the following arguments are required: -ids/--meter-ids")
        meter_ids = _checked_ids(ids)
        return meter_ids, meter_ids
    if ids:
        raise UsageError("argument -ids/--meter-ids: not used with [broker] layout = "
                         "partitioned, where a PV service serves whole partitions "
                         "(--partition)")
    queues: list[str] = []
    for index in range(layout.partitions) if partitions is None else partitions:
        if index >= layout.partitions:
            raise UsageError(f"argument --partition: {index} is not one of 0..{layout.partitions - 1} "
                             f"([broker] partitions = {layout.partitions})")
        queue = layout.partition_queue(index)
        if queue not in queues:
            queues.append(queue)
    return None, queues


def _checked_ids(ids: Sequence[str]) -> list[str]:
    """Valid, distinct meter ids; an id becomes a queue and a file name, so it is strict."""
    seen: list[str] = []
    for meter_id in ids:
        if not is_meter_id(meter_id):
            raise UsageError(f"argument -ids/--meter-ids: {meter_id!r} is not a valid meter id "
                             f"({METER_ID_RULE})")
        if meter_id in seen:
            log.warning("meter id %s given twice: serving it once", meter_id)
            continue
        seen.append(meter_id)
    return seen


def meter_entry() -> None:
    sys.exit(meter_main())


def service_entry() -> None:
    sys.exit(service_main())
