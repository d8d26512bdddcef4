"""The live view's HTTP side: the page, its static files, a JSON snapshot and a Server-Sent Events stream.

Stdlib only (``ThreadingHTTPServer``): one thread per request, and a stream
request keeps its thread, pushing a snapshot every ``push_interval_s``. The
page never gets a message per reading: with 1,000 meters at 1 Hz that would be
1,000 pushes a second; a snapshot a second carries the same picture.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlsplit

from pv_simulator.live.aggregate import Aggregator
from pv_simulator.live.source import LinkStatus

log = logging.getLogger(__name__)

#: Meters whose series every snapshot carries, for the page's small multiples.
SMALL_MULTIPLES = 6
#: Most meters a client may ask for beyond those (``?meters=a,b``), to bound a snapshot's size.
MAX_EXTRA_METERS = 12

CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                 ".css": "text/css; charset=utf-8", ".png": "image/png", ".svg": "image/svg+xml"}


class LiveState:
    """The aggregator behind a lock, and the broker status beside it: what every request reads.

    Args:
        aggregator: fed by the consumer thread through :meth:`on_body`.
        status: the broker link's current status.
        timezone: IANA name the page labels simulated time in (``None``: the browser's own).
    """

    def __init__(self, aggregator: Aggregator, status: Callable[[], LinkStatus],
                 timezone: str | None) -> None:
        self.aggregator = aggregator
        self.status = status
        self.timezone = timezone
        self._lock = threading.Lock()

    def on_body(self, body: bytes) -> None:
        with self._lock:
            self.aggregator.ingest_body(body)

    def snapshot(self, extra_meters: list[str]) -> dict[str, Any]:
        """The aggregator's snapshot for the first meters and ``extra_meters``, with the link status."""
        with self._lock:
            ids = self.aggregator.meter_ids()[:SMALL_MULTIPLES]
            wanted = ids + [m for m in extra_meters[:MAX_EXTRA_METERS] if m not in ids]
            snapshot = self.aggregator.snapshot(wanted)
        status = self.status()
        snapshot["broker"] = {"state": status.state, "reason": status.reason, "since": status.since}
        snapshot["timezone"] = self.timezone
        snapshot["small_multiples"] = SMALL_MULTIPLES
        snapshot["server_time"] = time.time()
        return snapshot


def load_static() -> dict[str, tuple[bytes, str]]:
    """The page's files, read once from the package: name -> (content, content type).

    Serving only these names means no request path ever reaches the file system.
    """
    files: dict[str, tuple[bytes, str]] = {}
    for entry in resources.files("pv_simulator.live").joinpath("static").iterdir():
        suffix = "." + entry.name.rpartition(".")[2]
        if entry.is_file() and suffix in CONTENT_TYPES:
            files[entry.name] = (entry.read_bytes(), CONTENT_TYPES[suffix])
    return files


class LiveServer(ThreadingHTTPServer):
    """Serves one :class:`LiveState`; :meth:`stop` ends the streams as well as the server."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], state: LiveState, push_interval_s: float = 1.0) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.state = state
        self.push_interval_s = push_interval_s
        self.static = load_static()
        self.stopping = threading.Event()
        super().__init__(address, _Handler)

    def stop(self) -> None:
        self.stopping.set()
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: LiveServer
    server_version = "pv-live"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        meters = [m for value in parse_qs(url.query).get("meters", []) for m in value.split(",") if m]
        if url.path == "/":
            self._static("index.html")
        elif url.path.startswith("/static/"):
            self._static(url.path.removeprefix("/static/"))
        elif url.path == "/api/snapshot":
            self._send(HTTPStatus.OK, json.dumps(self.server.state.snapshot(meters)).encode(),
                       "application/json")
        elif url.path == "/events":
            self._stream(meters)
        else:
            self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain; charset=utf-8")

    def _static(self, name: str) -> None:
        found = self.server.static.get(name)
        if found is None:
            self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain; charset=utf-8")
        else:
            self._send(HTTPStatus.OK, *found)

    def _send(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.wfile.write(body)

    def _stream(self, meters: list[str]) -> None:
        """Push a snapshot now and every interval until the client leaves or the server stops."""
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        try:
            # The browser reconnects by itself after a drop; ask it to try again after 1 s.
            self.wfile.write(b"retry: 1000\n\n")
            while not self.server.stopping.is_set():
                data = json.dumps(self.server.state.snapshot(meters), separators=(",", ":"))
                self.wfile.write(f"event: snapshot\ndata: {data}\n\n".encode())
                self.wfile.flush()
                self.server.stopping.wait(self.server.push_interval_s)
        except (BrokenPipeError, ConnectionResetError):
            log.debug("event stream client %s left", self.address_string())
