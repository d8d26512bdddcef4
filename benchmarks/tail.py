"""Tails the CSV files of a sample of meters and notes when each row appears.

Latency is measured from outside, as a consumer of the files would see it: the wall
time at which a row is readable minus the time its reading was taken. Tailing every
file of 5,000 meters would cost the two-core machine more than the service under test,
so only a random sample of meters is tailed (50 by default), each file polled every
``poll_s`` (which bounds the resolution: on average ``poll_s / 2`` is added).
"""

from __future__ import annotations

import os
import threading
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from pv_simulator.storage.csv_format import HEADER, CsvFormatError, csv_path, parse_row


class CsvTailer:
    """Polls ``<dir>/<meter>-YYYY-MM-DD.csv`` of ``meters`` and records (time_s, appeared, pv_kw).

    Readings are taken now (real time), so a row is in the file of today's local date in
    ``tz``, or of an adjacent one around midnight; those paths are polled by name (a glob
    of a directory of 5,000 files would cost more than the polling itself).
    """

    def __init__(self, directory: Path, meters: list[str], tz: ZoneInfo,
                 poll_s: float = 0.025) -> None:
        self.directory = directory
        self.meters = meters
        self.tz = tz
        self.poll_s = poll_s
        self.rows: list[tuple[float, float, float]] = []
        #: (began, ended) of every poll: a row seen by a poll was readable by its end.
        self.polls: list[tuple[float, float]] = []
        self.bad_lines = 0
        self._offsets: dict[Path, int] = {}
        self._partial: dict[Path, bytes] = {}
        self._files: list[Path] = []
        self._last_dates = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tailer", daemon=True)

    def start(self) -> CsvTailer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self._poll()  # whatever arrived since the last poll, stamped late rather than lost

    def _run(self) -> None:
        while not self._stop.wait(self.poll_s):
            self._poll()

    def _poll(self) -> None:
        now = time.time()
        if now - self._last_dates >= 1.0:
            self._last_dates = now
            days = sorted({datetime.fromtimestamp(now + d, self.tz).date() for d in (-600, 0, 600)})
            self._files = [csv_path(self.directory, m, day) for m in self.meters for day in days]
        for path in self._files:
            self._read_new(path)
        self.polls.append((now, time.time()))

    def _read_new(self, path: Path) -> None:
        offset = self._offsets.get(path, 0)
        try:
            if os.stat(path).st_size <= offset:
                return
            with open(path, "rb") as handle:
                handle.seek(offset)
                data = handle.read()
        except OSError:
            return
        appeared = time.time()
        self._offsets[path] = offset + len(data)
        data = self._partial.pop(path, b"") + data
        lines = data.split(b"\n")
        if lines[-1]:
            self._partial[path] = lines[-1]
        for line in lines[:-1]:
            text = line.decode(errors="replace")
            if not text or text == HEADER:
                continue
            try:
                row = parse_row(text, path)
            except CsvFormatError:
                self.bad_lines += 1
                continue
            self.rows.append((row.time_s, appeared, row.pv_power_value_kw))


def count_rows(directory: Path) -> tuple[int, int, float | None]:
    """Rows (lines less headers), files and the latest mtime (epoch s) over the directory's CSVs."""
    rows = files = 0
    latest: float | None = None
    for entry in os.scandir(directory):
        if not entry.name.endswith(".csv"):
            continue
        files += 1
        with open(entry.path, "rb") as handle:
            rows += max(0, handle.read().count(b"\n") - 1)
        mtime = entry.stat().st_mtime
        latest = mtime if latest is None else max(latest, mtime)
    return rows, files, latest
