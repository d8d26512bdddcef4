"""Dated per-meter CSV output: ``<dir>/<METER_ID>-<YYYY>-<MM>-<DD>.csv`` (see ``csv_format``).

The writer is what makes redelivery harmless: each file's rows are in time order, and a
reading is written only when its time is after the file's last row (one comparison against a
remembered time, read from the file's last line when the file is first opened; a last line torn
by a crash is cut off at that moment too). A reading not after it is a *duplicate* only if the
file holds a row of that very ``time_s`` (a binary search of the sorted file): it was written
before and came again (redelivered) and is skipped. Otherwise it is *out of order* (a meter
started again at an earlier time, readings left in a queue of another layout): it is not
written either, since the files only ever grow at their end (the live view and the energy
counters read them so), and is counted in ``out_of_order`` for the PV service to dead-letter.

Meters with a site (battery, export limit or control) get files with the longer
``SITE_HEADER``; their last written row is where the site's state continues after a
restart (:meth:`CsvOutput.last_row`).
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import logging
import os
import stat
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import BinaryIO
from zoneinfo import ZoneInfo

from pv_simulator.storage.csv_format import (
    COLUMNS,
    HEADER,
    LOCK_SUFFIX,
    SITE_COLUMNS,
    SITE_HEADER,
    CsvFormatError,
    Row,
    csv_path,
    format_row,
    format_site_row,
    lock_path,
    meter_files,
    parse_row,
)

log = logging.getLogger(__name__)

_HEADER_LINE = (HEADER + "\n").encode()
_SITE_HEADER_LINE = (SITE_HEADER + "\n").encode()
_TAIL_CHUNK = 4096
#: Write buffer per open file. A batch holds a row or two per meter in real time, and the
#: default 8 KB each would cost ten thousand open files most of their memory; a longer batch
#: of one meter is written in more, still few, system calls (benchmarks/RESULTS.md, "Figures behind the code").
_FILE_BUFFER = 1024
#: Rounds through every open file within which the least recently used counts as still in use.
_CYCLING_ROUNDS = 4
#: Characters of the pid in a lock file: Linux's pid_max is at most 2**22 (7 digits).
_PID_WIDTH = 10
FILE_MODE = 0o644


def _syncfs() -> Callable[[int], int] | None:
    """Linux's syncfs(2), which Python's os module does not offer; None elsewhere."""
    try:
        function: Callable[[int], int] = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        return None
    return function


_SYNCFS = _syncfs()


class OutputError(Exception):
    """An output file or directory the service cannot use as asked: the user must change something
    (another header, an unwritable directory)."""


class MeterLocked(OutputError):
    """Another live process holds a meter's lock in this output directory: it writes the files.

    Attributes:
        meter_id: the meter.
        holder: the pid holding the lock, None where the system does not tell.
    """

    def __init__(self, message: str, meter_id: str, holder: int | None) -> None:
        super().__init__(message)
        self.meter_id = meter_id
        self.holder = holder


class OutputFailed(OutputError):
    """Writing failed on the way (disk full, I/O error); a restart may succeed once that is fixed."""


@dataclass
class _DayFile:
    path: Path
    handle: BinaryIO
    dirty: bool = False
    #: The writer's use count when the file was last written (see ``CsvOutput._file``).
    used: int = 0


@dataclass
class _Day:
    """The local day a meter's recent readings fall in, so most rows skip date arithmetic."""

    start_s: float
    end_s: float
    path: Path


class CsvOutput:
    """Appends rows to the dated per-meter files, skipping readings already written.

    Args:
        output_dir: where the files go; created if missing.
        tz: time zone of the file dates.
        fsync: ``batch`` (to disk on each :meth:`flush`), ``always`` (after each row) or
            ``never`` (leave it to the OS).
        max_open_files: file handles kept open at once; the least recently used is closed.
        site_meters: whether a meter's files have the site columns; None for no meter.

    Raises:
        OutputError: the directory cannot be created or written to.
    """

    def __init__(self, output_dir: Path, tz: ZoneInfo, fsync: str = "batch",
                 max_open_files: int = 256,
                 site_meters: Callable[[str], bool] | None = None) -> None:
        self.output_dir = output_dir
        self.tz = tz
        self.fsync = fsync
        self.max_open_files = max(1, max_open_files)
        self._open: OrderedDict[Path, _DayFile] = OrderedDict()
        #: Files asked for so far: how long ago a file was last used.
        self._uses = 0
        self._last_time: dict[Path, float] = {}
        self._days: dict[str, _Day] = {}
        self._last_day: tuple[float, float, date] | None = None
        #: The meter, day and open file of the last row's target: a PV service that takes a
        #: batch meter by meter writes each meter's rows in a row, into one file.
        self._last_target: tuple[str, _Day, _DayFile] | None = None
        self.rows_written = 0
        self.duplicates_skipped = 0
        #: Readings not written because they are older than their file's last row and not in it.
        self.out_of_order = 0
        self._unsynced = False
        self._skip_noted: set[Path] = set()
        self._locks: dict[str, int] = {}
        self._site_meters = site_meters
        #: The header line of each path seen, by whether its meter is a site's.
        self._headers: dict[Path, bytes] = {}
        check_output_dir(output_dir)
        try:
            output_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"{output_dir}: cannot create output directory: "
                              f"{exc.strerror}") from None
        if not os.access(output_dir, os.W_OK | os.X_OK):
            raise OutputError(f"{output_dir}: output directory is not writable")
        self._dir_fd = os.open(output_dir, os.O_RDONLY)

    def check_existing(self, meter_ids: list[str] | None) -> None:
        """Refuse to start when a file of one of these meters (None: of any) has another header.

        Raises:
            OutputError: naming the first such file.
        """
        wanted = None if meter_ids is None else set(meter_ids)
        for meter_id, _day, path in meter_files(self.output_dir):
            if wanted is None or meter_id in wanted:
                _check_header(path, self._header_line(meter_id))

    def write(self, meter_id: str, time_s: float, meter_power_w: float,
              pv_power_kw: float) -> bool:
        """Append one reading's row unless the file already has it.

        Returns:
            True if written, False if skipped as already written.

        Raises:
            OutputError: the file has another header or cannot be written.
        """
        time_s = round(time_s, 3)
        target = self._target(meter_id, time_s)
        if target is None:
            return False
        return self._append(*target, time_s,
                            format_row(meter_id, time_s, meter_power_w, pv_power_kw).encode())

    def write_site(self, meter_id: str, time_s: float, meter_power_w: float, pv_power_kw: float,
                   grid_power_w: float, battery_power_w: float, soc_pct: float,
                   pv_available_kw: float) -> bool:
        """:meth:`write` for a site's row, with the site columns.

        Raises:
            OutputError: the file has another header or cannot be written.
        """
        time_s = round(time_s, 3)
        target = self._target(meter_id, time_s)
        if target is None:
            return False
        return self._append(*target, time_s, format_site_row(
            meter_id, time_s, meter_power_w, pv_power_kw, grid_power_w, battery_power_w, soc_pct,
            pv_available_kw).encode())

    def _target(self, meter_id: str, time_s: float) -> tuple[Path, _DayFile] | None:
        """The meter's file of ``time_s`` to append its row to if it is after the file's last
        row; None, counted a duplicate or out of order, otherwise. The row is formatted only
        then (no closure per row: the writer's hot path)."""
        last = self._last_target
        if last is not None and last[0] == meter_id and last[1].start_s <= time_s < last[1].end_s:
            path, day_file = last[1].path, last[2]
        else:
            path = self._path_for(meter_id, time_s)
            day_file = self._file(path)
            self._last_target = (meter_id, self._days[meter_id], day_file)
        if time_s <= self._last_time[path]:
            self._not_after(path, day_file, time_s)
            return None
        return path, day_file

    def meters_with_files(self) -> set[str]:
        """The meter ids that have a file in the output directory."""
        return {meter_id for meter_id, _day, _path in meter_files(self.output_dir)}

    def lock_holder(self, meter_id: str) -> int | None:
        """The pid of another live process holding ``meter_id``'s lock here; None if none does
        (or the system does not tell: only Linux lists flock(2) holders)."""
        if meter_id in self._locks:
            return None
        return _flock_holder(lock_path(self.output_dir, meter_id))

    def other_writer(self, meter_ids: Iterable[str] | None,
                     wanted: Callable[[str], bool] = lambda _meter_id: True) -> tuple[str, int] | None:
        """A meter of ``meter_ids`` (None: of every lock file here that ``wanted`` accepts) whose
        lock another live process holds, and that process's pid; None if there is none."""
        holders = _flock_holders()
        if not holders:
            return None
        if meter_ids is None:
            meter_ids = [path.name[1:-len(LOCK_SUFFIX)] for path in self.output_dir.glob(f".*{LOCK_SUFFIX}")]
        for meter_id in meter_ids:
            if meter_id in self._locks or not wanted(meter_id):
                continue
            pid = holders.get(_device_key(lock_path(self.output_dir, meter_id)) or "")
            if pid is not None:
                return meter_id, pid
        return None

    def release(self) -> None:
        """Flush and close every file, give up every meter's lock and forget what the files held.

        For a standby that met the active service's lock: the other writes the files meanwhile,
        so nothing remembered of them stays true.

        Raises:
            OutputFailed: a file could not be written (its rows were never acknowledged).
        """
        try:
            self.flush()
        finally:
            for day_file in self._open.values():
                with contextlib.suppress(OSError):  # flushed above, or that failure is raised
                    day_file.handle.close()
            self._open.clear()
            self._last_target = None
            for fd in self._locks.values():
                os.close(fd)
            self._locks.clear()
            self._last_time.clear()
            self._days.clear()
            self._skip_noted.clear()

    def last_row(self, meter_id: str) -> Row | None:
        """The last row written of ``meter_id``, in its newest file; None if it has none.

        A site continues its state of charge from it after a restart. Files of earlier days
        are searched back when the newest holds no row yet (a crash just after midnight).

        Raises:
            OutputError: a file has another header or cannot be read.
        """
        return self._last_rows([meter_id], meter_id).get(meter_id)

    def last_rows(self, meter_ids: Collection[str]) -> dict[str, Row]:
        """:meth:`last_row` of each of ``meter_ids`` that has one, from one listing of the
        folder: a year of 1,000 meters is 365,000 files, which a glob per meter would list
        a thousand times.

        Raises:
            OutputError: a file has another header or cannot be read.
        """
        return self._last_rows(meter_ids, None)

    def _last_rows(self, meter_ids: Collection[str], listed: str | None) -> dict[str, Row]:
        """:meth:`last_rows` from a listing of ``listed``'s files (None: of every meter's)."""
        wanted = set(meter_ids)
        dated: dict[str, list[tuple[date, Path]]] = {meter_id: [] for meter_id in wanted}
        for meter_id, day, path in meter_files(self.output_dir, listed):
            if meter_id in wanted:
                dated[meter_id].append((day, path))
        rows: dict[str, Row] = {}
        for meter_id, files in dated.items():
            if meter_id not in self._locks:
                self._lock(meter_id)
            header = self._header_line(meter_id)
            for _day, path in sorted(files, reverse=True):
                row = _prepare(path, header)
                if row is not None:
                    rows[meter_id] = row
                    break
        return rows

    def _not_after(self, path: Path, day_file: _DayFile, time_s: float) -> None:
        """Count a reading not after its file's last row: a duplicate if the file holds its
        time_s, out of order if not."""
        if time_s == self._last_time[path] or self._holds(day_file, time_s):
            self.duplicates_skipped += 1
            if path not in self._skip_noted:
                self._skip_noted.add(path)
                log.info("%s already holds the row at time_s %s: skipping readings it holds "
                         "(redelivered)", path, f"{time_s:.3f}".rstrip("0").rstrip("."))
        else:
            self.out_of_order += 1

    def _holds(self, day_file: _DayFile, time_s: float) -> bool:
        """Whether the file has a row at ``time_s``: a binary search of its time-ordered rows.

        Only for a reading not after the last row, which is rare but for redelivery.
        """
        try:
            day_file.handle.flush()
            with day_file.path.open("rb") as handle:
                return _sorted_file_holds(handle, time_s)
        except OSError as exc:
            raise OutputFailed(f"{day_file.path}: cannot read: {exc.strerror}") from None

    def _append(self, path: Path, day_file: _DayFile, time_s: float, line: bytes) -> bool:
        try:
            day_file.handle.write(line)
            if self.fsync == "always":
                day_file.handle.flush()
                os.fsync(day_file.handle.fileno())
            else:
                day_file.dirty = True
        except OSError as exc:
            raise OutputFailed(f"{path}: cannot write: {exc.strerror}") from None
        self._last_time[path] = time_s
        self.rows_written += 1
        return True

    def written_up_to(self, meter_id: str, time_s: float) -> tuple[Path, float]:
        """The file a reading at ``time_s`` goes to, and the time of its last row (-inf if none).

        :meth:`write` skips the reading when its rounded time is not after that, so the
        results stream can tell beforehand which rows a batch will write.

        Raises:
            OutputError: the file has another header or cannot be read.
        """
        path = self._path_for(meter_id, round(time_s, 3))
        if path not in self._last_time:
            self._last_time[path] = _last_time(_prepare(path, self._headers[path]))
        return path, self._last_time[path]

    def flush(self) -> None:
        """Push written rows to the OS, and with ``fsync = batch`` to disk.

        Raises:
            OutputError: a file cannot be written.
        """
        for day_file in self._open.values():
            if day_file.dirty:
                self._write_out(day_file)
        if self._unsynced:
            self._sync_disk()

    def close(self) -> None:
        """Flush and close every open file, all of them whatever fails.

        Raises:
            OutputFailed: the first file that could not be written (a full disk fails the
                flush and then each close again); rows it held were never acknowledged.
        """
        failure: OutputError | None = None
        try:
            self.flush()
        except OutputError as exc:
            failure = exc
        for day_file in self._open.values():
            try:
                day_file.handle.close()
            except OSError as exc:
                failure = failure or OutputFailed(f"{day_file.path}: cannot write: {exc.strerror}")
        self._open.clear()
        self._last_target = None
        for fd in self._locks.values():
            os.close(fd)
        self._locks.clear()
        if self._dir_fd >= 0:
            os.close(self._dir_fd)
            self._dir_fd = -1
        if failure is not None:
            raise failure

    def _write_out(self, day_file: _DayFile) -> None:
        try:
            day_file.handle.flush()
        except OSError as exc:
            raise OutputFailed(f"{day_file.path}: cannot write: {exc.strerror}") from None
        day_file.dirty = False
        if self.fsync == "batch":
            self._unsynced = True

    def _sync_disk(self) -> None:
        """Make every row handed to the OS since the last call durable.

        A batch of a thousand meters touches a thousand files, and one fsync costs
        milliseconds, so on Linux one syncfs of the output's file system does it all
        (files closed since, and new directory entries, included). Elsewhere each
        open file and the directory are fsynced; files are then fsynced before
        they are closed (see ``_evict``).
        """
        try:
            if _SYNCFS is not None:
                if _SYNCFS(self._dir_fd) != 0:
                    raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
            else:
                for day_file in self._open.values():
                    os.fsync(day_file.handle.fileno())
                os.fsync(self._dir_fd)
        except OSError as exc:
            raise OutputFailed(f"{self.output_dir}: cannot sync to disk: {exc.strerror}") from None
        self._unsynced = False

    def _evict(self, day_file: _DayFile) -> None:
        self._last_target = None
        if day_file.dirty:
            self._write_out(day_file)
        try:
            if self._unsynced and _SYNCFS is None:
                os.fsync(day_file.handle.fileno())
            day_file.handle.close()
        except OSError as exc:
            raise OutputFailed(f"{day_file.path}: cannot write: {exc.strerror}") from None

    def _lock(self, meter_id: str) -> None:
        """Become the one writer of ``meter_id``'s files in this directory, until :meth:`close`.

        Two writers of one meter's files interleave rows and skip each other's readings as
        already written, after acknowledging them: lost. The broker's single active consumer
        prevents that within one queue; this lock also when the other writer consumes from
        another broker or virtual host. The kernel releases it when the process dies.

        Raises:
            OutputError: another process holds it.
        """
        path = lock_path(self.output_dir, meter_id)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
        except OSError as exc:
            raise OutputFailed(f"{path}: cannot create lock file: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = _flock_holder(path)
            # The pid in the file is the last one to take the lock, which may be long gone.
            written = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise MeterLocked(f"{path}: another process (pid {holder or written}) is writing "
                              f"{meter_id}'s files in {self.output_dir}: serve each meter id from "
                              "one PV service per output directory", meter_id, holder) from None
        os.fchmod(fd, FILE_MODE)
        # Padded to a width no pid exceeds, so it covers whatever pid is there: no truncate
        # call for each of 20,000 meters' first readings.
        os.pwrite(fd, f"{os.getpid():<{_PID_WIDTH}}\n".encode(), 0)
        self._locks[meter_id] = fd

    def _path_for(self, meter_id: str, time_s: float) -> Path:
        """The file of ``meter_id``'s reading at ``time_s``, this process being its one writer.

        Every way to a meter's files (writing, and asking where a file stands) comes through
        here, so no file is read or written before the meter's lock is held.
        """
        if meter_id not in self._locks:
            self._lock(meter_id)
        day = self._days.get(meter_id)
        if day is None or not day.start_s <= time_s < day.end_s:
            if day is not None:
                self._day_done(day.path)
            start_s, end_s, local = self._local_day(time_s)
            day = _Day(start_s, end_s, csv_path(self.output_dir, meter_id, local))
            self._days[meter_id] = day
            self._headers.setdefault(day.path, self._header_line(meter_id))
        return day.path

    def _local_day(self, time_s: float) -> tuple[float, float, date]:
        """The local day holding ``time_s``: its start and end (time_s) and its date.

        Every meter's first reading, and each at midnight, asks for the same day: the last
        answer is kept.
        """
        span = self._last_day
        if span is not None and span[0] <= time_s < span[1]:
            return span
        local = datetime.fromtimestamp(time_s, self.tz).date()
        start = datetime(local.year, local.month, local.day, tzinfo=self.tz)
        span = (start.timestamp(), (start + timedelta(days=1)).timestamp(), local)
        self._last_day = span
        return span

    def _day_done(self, path: Path) -> None:
        """Close a meter's file of one day before its next day's rows, and forget it.

        Its files then reach the OS in time order, so after a crash the newest row is where the
        meter stands, with no gap in an earlier file (the dataset command resumes from there).
        And what the writer keeps grows with the meters, not with the days: a year of 1,000
        meters is 365,000 files. A reading of that day that comes again reopens the file and
        reads its last row, as after a restart.
        """
        day_file = self._open.pop(path, None)
        if day_file is not None:
            self._evict(day_file)
        self._last_time.pop(path, None)
        self._headers.pop(path, None)
        self._skip_noted.discard(path)

    def _header_line(self, meter_id: str) -> bytes:
        site = self._site_meters is not None and self._site_meters(meter_id)
        return _SITE_HEADER_LINE if site else _HEADER_LINE

    def _file(self, path: Path) -> _DayFile:
        self._uses += 1
        day_file = self._open.get(path)
        if day_file is not None:
            self._open.move_to_end(path)
            day_file.used = self._uses
            return day_file
        if len(self._open) >= self.max_open_files:
            # Every meter writes every tick, in turn: with more meters than open files the least
            # recently used is the next one wanted, and closing it closed every file once a tick
            # (10,000 meters, 9,936 files). While the least recent was still used within a few
            # rounds, the most recent other is closed instead, so all but one file stay open;
            # a file unused for longer (a meter gone quiet) goes first as before.
            oldest = next(iter(self._open.values()))
            recent = self._uses - oldest.used <= _CYCLING_ROUNDS * self.max_open_files
            self._evict(self._open.popitem(last=recent)[1])
        header = self._headers[path]
        try:
            handle = path.open("ab", buffering=_FILE_BUFFER)
        except OSError as exc:
            raise OutputError(f"{path}: cannot open for appending: {exc.strerror}") from None
        try:
            # Opened first, so a new file (every meter's first reading, and each at midnight)
            # costs no look whether it exists; one with rows is checked (header, torn tail)
            # before anything is appended, unless this process wrote it before.
            size = handle.tell()
            if size > 0 and path not in self._last_time:
                self._last_time[path] = _last_time(_prepare(path, header))
                size = os.fstat(handle.fileno()).st_size  # 0 if a torn header was cut away
            if size == 0:
                # Readable by the tools that consume the files, whatever the umask.
                os.fchmod(handle.fileno(), FILE_MODE)
                handle.write(header)
                if self.fsync == "always":
                    handle.flush()
                    os.fsync(handle.fileno())
                    os.fsync(self._dir_fd)
                self._last_time.setdefault(path, float("-inf"))
        except (OSError, OutputError) as exc:
            # Closing flushes the header again, which fails as its write did (a full disk).
            with contextlib.suppress(OSError):
                handle.close()
            if isinstance(exc, OutputError):
                raise
            raise OutputError(f"{path}: cannot open for appending: {exc.strerror}") from None
        day_file = _DayFile(path, handle, dirty=True, used=self._uses)
        self._open[path] = day_file
        return day_file


def check_output_dir(output_dir: Path) -> None:
    """Refuse an output directory that exists as something else (``/dev/null``, a file).

    Cheap and creating nothing, so the PV service says it before it reads a large weather file.

    Raises:
        OutputError: naming what it is.
    """
    if output_dir.exists() and not output_dir.is_dir():
        raise OutputError(f"{output_dir}: --output-dir is not a directory (it is "
                          f"{_kind_of(output_dir)}): name a directory, or a path to create one at")


def _kind_of(path: Path) -> str:
    mode = path.stat().st_mode
    for test, kind in ((stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISREG, "a file")):
        if test(mode):
            return kind
    return "no directory"


def _device_key(path: Path) -> str | None:
    """``path``'s device and inode as /proc/locks spells them; None if it does not exist."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return f"{os.major(info.st_dev):02x}:{os.minor(info.st_dev):02x}:{info.st_ino}"


def _flock_holders() -> dict[str, int]:
    """The pid holding each flock(2) lock of other processes, by device key, from Linux's
    /proc/locks (empty elsewhere)."""
    try:
        with open("/proc/locks", encoding="ascii", errors="replace") as handle:
            table = handle.read()
    except OSError:
        return {}
    holders: dict[str, int] = {}
    for line in table.splitlines():
        fields = line.split()
        # "1: FLOCK  ADVISORY  WRITE 15645 fe:00:2146456 0 EOF"; a blocked waiter's has "->".
        if len(fields) >= 6 and fields[1] == "FLOCK":
            try:
                pid = int(fields[4])
            except ValueError:
                continue
            if pid != os.getpid():
                holders[fields[5]] = pid
    return holders


def _flock_holder(path: Path) -> int | None:
    """The pid of another process holding a flock(2) lock on ``path``; None if none or unknown."""
    key = _device_key(path)
    return None if key is None else _flock_holders().get(key)


def _sorted_file_holds(handle: BinaryIO, time_s: float) -> bool:
    """Whether a file of rows sorted by time_s (after one header line) has a row at ``time_s``."""
    start = len(handle.readline())
    size = handle.seek(0, os.SEEK_END)

    def line_from(offset: int) -> bytes:
        """The first whole line starting at or after ``offset``."""
        if offset <= start:
            handle.seek(start)
        else:
            handle.seek(offset - 1)
            handle.readline()
        return handle.readline()

    def time_of(line: bytes) -> float:
        try:
            return round(float(line.split(b",", 2)[1]), 3)
        except (IndexError, ValueError):
            return float("-inf")

    low, high = start, size
    while low < high:
        middle = (low + high) // 2
        line = line_from(middle)
        if not line or time_of(line) >= time_s:
            high = middle
        else:
            low = middle + 1
    line = line_from(low)
    return bool(line) and time_of(line) == time_s


def _check_header(path: Path, header_line: bytes) -> None:
    try:
        with path.open("rb") as handle:
            first = handle.readline()
    except OSError as exc:
        raise OutputError(f"{path}: cannot read: {exc.strerror}") from None
    header = header_line.rstrip(b"\n")
    # A first line without newline is a header torn by a crash, repaired on opening.
    matches = (first.rstrip(b"\r\n") == header if first.endswith(b"\n")
               else header.startswith(first))
    if not matches:
        raise OutputError(f"{path}: existing file has another header "
                          f"({first.decode(errors='replace').strip()[:80]!r}); expected "
                          f"{header.decode()!r} (a site with battery, export limit or control "
                          "has the longer one): move it away or choose another --output-dir")


def _last_time(row: Row | None) -> float:
    """A file's last time_s, -inf for a file without rows."""
    return float("-inf") if row is None else round(row.time_s, 3)


def _prepare(path: Path, header_line: bytes) -> Row | None:
    """Check an existing file's header, cut a torn last line, and return its last row.

    Returns:
        The last row, or None when the file is new or has no rows.

    Raises:
        OutputError: the header differs or the file cannot be read.
    """
    if not path.exists():
        return None
    _check_header(path, header_line)
    try:
        with path.open("r+b") as handle:
            size = handle.seek(0, os.SEEK_END)
            if size == 0:
                return None
            start = max(0, size - _TAIL_CHUNK)
            handle.seek(start)
            tail = handle.read()
            while b"\n" not in tail[:-1] and start > 0:
                start = max(0, start - _TAIL_CHUNK)
                handle.seek(start)
                tail = handle.read()
            if not tail.endswith(b"\n"):
                cut = tail.rfind(b"\n") + 1
                handle.truncate(start + cut)
                log.warning("%s: cut a torn last line of %d bytes left by an interrupted write",
                            path, len(tail) - cut)
                tail = tail[:cut]
    except OSError as exc:
        raise OutputError(f"{path}: cannot repair or read: {exc.strerror}") from None
    lines = tail.splitlines()
    if not lines or lines[-1] + b"\n" == header_line:
        return None
    last = lines[-1].decode(errors="replace")
    try:
        return parse_row(last, path, columns=SITE_COLUMNS if header_line == _SITE_HEADER_LINE
                         else COLUMNS)
    except CsvFormatError as exc:
        raise OutputError(f"{exc}, in its last row {last[:80]!r}") from None
