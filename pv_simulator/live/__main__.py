"""``python -m pv_simulator.live`` (``pv-live``): watch the PV results in a browser as they stream in.

Exit codes: 0 stopped (Ctrl-C, SIGTERM); 1 the port cannot be listened on or the
broker has no such results exchange; 2 usage or configuration error, or the broker
refused the login or virtual host. Each error is one line on stderr. A broker that
does not answer is no error: the page says so and the view keeps trying.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType
from typing import NoReturn

from pv_simulator import arguments
from pv_simulator.config import ConfigError, load_config
from pv_simulator.live.aggregate import Aggregator
from pv_simulator.live.server import LiveServer, LiveState
from pv_simulator.live.source import ResultsSource, SourceError
from pv_simulator.messaging.rabbitmq import RabbitConnector, retry_policy

PROG = "pv-live"
LOOPBACK = ("localhost", "::1")

log = logging.getLogger(__name__)


class _Parser(argparse.ArgumentParser):
    """argparse, with one-line errors and exit code 2 like the services' command lines."""

    def error(self, message: str) -> NoReturn:
        _fail(f"{message} (see --help)", 2)


def _fail(message: str, code: int) -> NoReturn:
    sys.stderr.write(f"{PROG}: error: {message}\n")
    sys.exit(code)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description=(
        "Serve a live view of the PV service's results: per meter consumption, PV and grid "
        "power over the last hours of simulated time, and fleet totals."))
    parser.add_argument("-conf", "--configuration-file", metavar="FILE",
                        help="INI configuration file; its [broker] section says where RabbitMQ is "
                             "(default: broker.ini in the working directory, else defaults)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to serve the page on (default: 127.0.0.1, this machine only)")
    parser.add_argument("--port", type=arguments.port, default=8050,
                        help="port to serve the page on (default: 8050; 0: any free port)")
    parser.add_argument("--exchange",
                        help="topic exchange the PV service publishes results to (default: the "
                             "configuration's [output] results_exchange, amq.topic unless set)")
    parser.add_argument("--window-hours", type=arguments.hours, default=6.0, metavar="HOURS",
                        help="hours of simulated time shown, back from the latest result (default: 6)")
    parser.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"),
                        help="logging threshold (default: INFO)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=getattr(logging, args.log_level), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("pika").setLevel(logging.CRITICAL)
    try:
        config = load_config(args.configuration_file)
    except ConfigError as exc:
        _fail(str(exc), 2)
    aggregator = Aggregator(window_s=args.window_hours * 3600)
    timezone = config.site.timezone.key
    state = LiveState(aggregator, lambda: source.status,
                      timezone if "/" in timezone or timezone == "UTC" else None)
    stop = threading.Event()
    source = ResultsSource(RabbitConnector(config.broker, "pv-live"), retry_policy(config.broker),
                           args.exchange or config.output.results_exchange, state.on_body,
                           on_failure=stop.set)
    try:
        server = LiveServer((args.host, args.port), state)
    except OSError as exc:
        _fail(f"cannot serve on {args.host}:{args.port}: {exc.strerror or exc}", 1)
    try:
        source.connect_first()
    except SourceError as exc:
        server.server_close()
        _fail(str(exc), exc.exit_code)
    if not (args.host.startswith("127.") or args.host in LOOPBACK):
        log.warning("serving on %s: anyone who reaches it sees the live view (no login)", args.host)

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    source.start()
    threading.Thread(target=server.serve_forever, name="pv-live-http", daemon=True).start()
    print(f"{PROG}: serving http://{arguments.url_host(args.host)}:{server.server_port}/", flush=True)
    stop.wait()
    log.info("stopping")
    server.stop()
    source.stop()
    if source.failure is not None:
        _fail(source.failure, 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
