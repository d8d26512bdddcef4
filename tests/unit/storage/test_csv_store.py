"""The dated per-meter CSV writer: new file, append, rollover, header, repair, duplicates."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from datetime import date, datetime
from pathlib import Path
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

from parameterized import parameterized

from pv_simulator.storage import csv_store
from pv_simulator.storage.csv_format import HEADER, csv_path, file_glob, format_row
from pv_simulator.storage.csv_store import CsvOutput, MeterLocked, OutputError, OutputFailed
from tests.helpers import read_csv

VIENNA = ZoneInfo("Europe/Vienna")


def epoch(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=VIENNA).timestamp()


class _WriterCase(unittest.TestCase):
    """A writer on a fresh folder, closed after the test."""

    def setUp(self) -> None:
        folder = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, folder, True)
        self.dir = folder / "out"
        self.out = CsvOutput(self.dir, VIENNA)
        self.addCleanup(self.out.close)


class OutTest(_WriterCase):
    def test_new_file_gets_header_and_row(self) -> None:
        self.assertTrue(self.out.write("Meter_0", epoch("2026-06-21T12:00"), 1500.0, 2.5))
        self.out.flush()
        path = self.dir / "Meter_0-2026-06-21.csv"
        lines = path.read_text().splitlines()
        self.assertEqual(lines[0], HEADER)
        row = read_csv(path)[0]
        self.assertEqual(row["meter_id"], "Meter_0")
        self.assertEqual(float(row["time_s"]), epoch("2026-06-21T12:00"))
        self.assertEqual(float(row["meter_power_value_w"]), 1500.0)
        self.assertEqual(float(row["pv_power_value_kw"]), 2.5)
        self.assertEqual(float(row["sum_meter_pv_w"]), 4000.0)

    def test_append_to_existing_file_keeps_one_header(self) -> None:
        self.out.write("Meter_0", epoch("2026-06-21T12:00"), 1.0, 0.0)
        self.out.close()
        again = CsvOutput(self.dir, VIENNA)
        again.write("Meter_0", epoch("2026-06-21T12:01"), 2.0, 0.0)
        again.close()
        lines = (self.dir / "Meter_0-2026-06-21.csv").read_text().splitlines()
        self.assertEqual(lines.count(HEADER), 1)
        self.assertEqual(len(lines), 3)

    def test_day_rollover_uses_local_date(self) -> None:
        self.out.write("Meter_1", epoch("2026-06-21T23:59:59"), 1.0, 0.0)
        self.out.write("Meter_1", epoch("2026-06-22T00:00:00"), 2.0, 0.0)
        self.out.flush()
        self.assertEqual(len(read_csv(self.dir / "Meter_1-2026-06-21.csv")), 1)
        self.assertEqual(len(read_csv(self.dir / "Meter_1-2026-06-22.csv")), 1)

    def test_meters_taking_turns_across_midnight_each_land_in_their_days_file(self) -> None:
        # The writer keeps the last local day it worked out for the next meter's first row.
        times = ["2026-06-21T23:59:58", "2026-06-22T00:00:00", "2026-06-21T23:59:59",
                 "2026-06-22T00:00:01", "2026-06-22T23:59:59", "2026-06-23T00:00:00"]
        for k, text in enumerate(times):
            self.out.write(f"Meter_{k % 2}", epoch(text), 1.0, 0.0)
        self.out.flush()
        for meter, day, count in (("Meter_0", "2026-06-21", 2), ("Meter_0", "2026-06-22", 1),
                                  ("Meter_1", "2026-06-22", 2), ("Meter_1", "2026-06-23", 1)):
            self.assertEqual(len(read_csv(self.dir / f"{meter}-{day}.csv")), count, (meter, day))
        self.assertFalse((self.dir / "Meter_1-2026-06-21.csv").exists())

    def test_dates_are_zero_padded(self) -> None:
        self.assertEqual(csv_path(Path("d"), "M", date(2026, 3, 5)).name, "M-2026-03-05.csv")

    def test_a_duplicate_is_a_time_the_file_holds_and_an_older_other_time_is_out_of_order(self) -> None:
        t = epoch("2026-06-21T12:00")
        for step in (0, 2, 4):
            self.assertTrue(self.out.write("Meter_0", t + step, 1.0, 0.0))
        self.assertFalse(self.out.write("Meter_0", t + 4, 1.0, 0.0))  # the last row
        self.assertFalse(self.out.write("Meter_0", t + 2, 1.0, 0.0))  # in the middle, unflushed
        self.assertFalse(self.out.write("Meter_0", t + 1, 1.0, 0.0))  # not in the file
        self.assertFalse(self.out.write("Meter_0", t - 1, 1.0, 0.0))  # before its first row
        self.assertTrue(self.out.write("Meter_0", t + 5, 1.0, 0.0))
        self.assertEqual((self.out.rows_written, self.out.duplicates_skipped, self.out.out_of_order),
                         (4, 2, 2))
        self.out.flush()
        self.assertEqual([float(r["time_s"]) for r in read_csv(self.dir / "Meter_0-2026-06-21.csv")],
                         [t, t + 2, t + 4, t + 5])

    def test_the_search_finds_every_row_of_a_long_file_and_no_other_time(self) -> None:
        t = epoch("2026-06-21T06:00")
        kept = [t + 0.5 * step for step in range(5000) if step % 3]
        for time_s in kept:
            self.out.write("Meter_0", time_s, 1.0, 0.0)
        self.out.close()
        again = CsvOutput(self.dir, VIENNA)
        self.addCleanup(again.close)
        for time_s in kept[::97]:
            self.assertFalse(again.write("Meter_0", time_s, 1.0, 0.0))
        self.assertEqual((again.duplicates_skipped, again.out_of_order), (len(kept[::97]), 0))
        missing = [t + 0.5 * step for step in range(0, 4998, 3)][::50]
        for time_s in missing:
            self.assertFalse(again.write("Meter_0", time_s, 1.0, 0.0))
        self.assertEqual(again.out_of_order, len(missing))

    def test_first_skip_per_file_is_logged_once(self) -> None:
        t = epoch("2026-06-21T12:00")
        self.out.write("Meter_0", t, 1.0, 0.0)
        with self.assertLogs("pv_simulator.storage.csv_store", "INFO") as logs:
            for _ in range(3):
                self.out.write("Meter_0", t, 1.0, 0.0)
        self.assertEqual(len(logs.output), 1)
        self.assertIn("Meter_0-2026-06-21.csv already holds the row at time_s", logs.output[0])

    def test_duplicates_are_found_after_a_restart(self) -> None:
        t = epoch("2026-06-21T12:00")
        for i in range(3):
            self.out.write("Meter_0", t + i, 1.0, 0.0)
        self.out.close()
        again = CsvOutput(self.dir, VIENNA)
        self.addCleanup(again.close)
        self.assertFalse(again.write("Meter_0", t + 2, 1.0, 0.0))
        self.assertTrue(again.write("Meter_0", t + 3, 1.0, 0.0))

    def test_torn_last_line_is_cut_and_logged(self) -> None:
        t = epoch("2026-06-21T12:00")
        self.out.write("Meter_0", t, 1.0, 0.0)
        self.out.close()
        path = self.dir / "Meter_0-2026-06-21.csv"
        with path.open("a") as handle:
            handle.write("Meter_0,17820")
        again = CsvOutput(self.dir, VIENNA)
        self.addCleanup(again.close)
        with self.assertLogs("pv_simulator.storage.csv_store", "WARNING") as logs:
            again.write("Meter_0", t + 1, 2.0, 0.0)
        again.flush()
        self.assertIn("torn last line", logs.output[0])
        rows = read_csv(path)
        self.assertEqual([float(r["time_s"]) for r in rows], [t, t + 1])

    def test_torn_header_is_rewritten(self) -> None:
        path = self.dir / "Meter_0-2026-06-21.csv"
        path.write_text(HEADER[:10])
        with self.assertLogs("pv_simulator.storage.csv_store", "WARNING"):
            self.out.write("Meter_0", epoch("2026-06-21T12:00"), 1.0, 0.0)
        self.out.flush()
        self.assertEqual(path.read_text().splitlines()[0], HEADER)
        self.assertEqual(len(read_csv(path)), 1)

    @parameterized.expand([("other_header", "a,b,c\n"), ("other_prefix", "meter,time\n"),
                           ("torn_other", "something")])
    def test_other_header_is_refused(self, _name: str, content: str) -> None:
        path = self.dir / "Meter_0-2026-06-21.csv"
        path.write_text(content)
        with self.assertRaises(OutputError) as caught:
            self.out.check_existing(["Meter_0"])
        self.assertIn(str(path), str(caught.exception))
        self.assertNotIsInstance(caught.exception, OutputFailed)
        with self.assertRaises(OutputError):
            self.out.write("Meter_0", epoch("2026-06-21T12:00"), 1.0, 0.0)
        self.assertEqual(path.read_text(), content)

    def test_other_meters_files_are_not_checked(self) -> None:
        (self.dir / "Meter_9-2026-06-21.csv").write_text("a,b\n")
        self.out.check_existing(["Meter_0"])

    def test_file_handles_are_bounded(self) -> None:
        out = CsvOutput(self.dir, VIENNA, max_open_files=3)
        self.addCleanup(out.close)
        t = epoch("2026-06-21T12:00")
        for round_ in range(2):
            for meter in range(10):
                out.write(f"M{meter}", t + round_, float(meter), 0.0)
        self.assertLessEqual(len(out._open), 3)
        out.close()
        for meter in range(10):
            self.assertEqual(len(read_csv(self.dir / f"M{meter}-2026-06-21.csv")), 2)

    def test_a_meters_rows_in_a_row_land_however_its_file_was_closed_between(self) -> None:
        """Rows of one meter in a row reuse its last file; closing, a new day and a release
        between them must each send the next row where a first row would go."""
        out = CsvOutput(self.dir, VIENNA, fsync="never", max_open_files=1)
        self.addCleanup(out.close)
        t = epoch("2026-06-21T23:00")
        for step in range(3):
            self.assertTrue(out.write("A", t + step, 1.0, 0.0))
        self.assertTrue(out.write("B", t, 2.0, 0.0))  # closes A's file
        self.assertTrue(out.write("A", t + 3, 1.0, 0.0))
        self.assertFalse(out.write("A", t + 3, 1.0, 0.0))
        self.assertTrue(out.write("A", t + 3600, 1.0, 0.0))  # the next local day
        out.release()
        self.assertTrue(out.write("A", t + 3601, 1.0, 0.0))
        self.assertFalse(out.write("A", t + 2, 1.0, 0.0))  # in the closed file of the day before
        out.close()
        first = [float(row["time_s"]) for row in read_csv(self.dir / "A-2026-06-21.csv")]
        self.assertEqual(first, [t, t + 1, t + 2, t + 3])
        self.assertEqual([float(row["time_s"]) for row in read_csv(self.dir / "A-2026-06-22.csv")],
                         [t + 3600, t + 3601])
        self.assertEqual((out.rows_written, out.duplicates_skipped), (7, 2))

    def opens_per_round(self, out: CsvOutput, rounds: list[list[str]]) -> list[int]:
        """Files opened (or reopened) in each round of writes, every meter of a round in turn."""
        opened: list[int] = []
        real_open = Path.open

        def counting_open(path: Path, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
            if mode == "ab":
                opened[-1] += 1
            return real_open(path, mode, *args, **kwargs)

        t = epoch("2026-06-21T12:00")
        with mock.patch.object(Path, "open", counting_open):
            for step, meters in enumerate(rounds):
                opened.append(0)
                for meter in meters:
                    out.write(meter, t + step, 1.0, 0.0)
        return opened

    def test_more_meters_than_open_files_keep_all_but_one_open(self) -> None:
        """Every meter in turn each tick: closing the least recent would reopen every file."""
        out = CsvOutput(self.dir, VIENNA, fsync="never", max_open_files=10)
        self.addCleanup(out.close)
        meters = [f"M{i}" for i in range(11)]
        opened = self.opens_per_round(out, [meters] * 20)
        self.assertEqual(opened[0], 11)
        self.assertLessEqual(max(opened[1:]), 2, opened)
        out.close()
        for meter in meters:
            self.assertEqual(len(read_csv(self.dir / f"{meter}-2026-06-21.csv")), 20)

    def test_files_of_meters_gone_quiet_are_closed_first(self) -> None:
        out = CsvOutput(self.dir, VIENNA, fsync="never", max_open_files=10)
        self.addCleanup(out.close)
        quiet = [f"Q{i}" for i in range(10)]
        busy = [f"B{i}" for i in range(10)]
        opened = self.opens_per_round(out, [quiet] + [busy] * 20)
        self.assertEqual(opened[-5:], [0] * 5, opened)

    @parameterized.expand([(mode, syncfs) for mode in ("batch", "always", "never")
                           for syncfs in (True, False)])
    def test_every_fsync_mode_writes_every_row(self, mode: str, syncfs: bool) -> None:
        """Also without syncfs (as off Linux), where files are fsynced one by one."""
        with mock.patch("pv_simulator.storage.csv_store._SYNCFS", csv_store._SYNCFS if syncfs else None):
            out = CsvOutput(self.dir, VIENNA, fsync=mode, max_open_files=2)
            t = epoch("2026-06-21T12:00")
            for step in range(3):
                for meter in range(5):
                    out.write(f"M{meter}", t + step, 100.0 * meter, 0.5)
                out.flush()
            out.close()
        for meter in range(5):
            rows = read_csv(self.dir / f"M{meter}-2026-06-21.csv")
            self.assertEqual([float(r["time_s"]) for r in rows], [t, t + 1, t + 2])

    def test_syncfs_is_found_on_linux(self) -> None:
        if sys.platform.startswith("linux"):
            self.assertIsNotNone(csv_store._SYNCFS)

    def test_an_output_dir_that_is_a_device_is_named_as_such(self) -> None:
        with self.assertRaises(OutputError) as caught:
            CsvOutput(Path("/dev/null"), VIENNA)
        self.assertEqual(str(caught.exception), "/dev/null: --output-dir is not a directory (it is "
                         "a character device): name a directory, or a path to create one at")

    def test_unwritable_directory(self) -> None:
        folder = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, folder, True)
        blocker = folder / "file"
        blocker.write_text("")
        with self.assertRaises(OutputError) as caught:
            CsvOutput(blocker / "sub", VIENNA)
        self.assertIn(str(blocker / "sub"), str(caught.exception))

    @parameterized.expand([(1234.5678, 1.234567), (0.0, 0.0), (9000.0, 3.3333335)])
    def test_sum_matches_its_printed_parts(self, meter_w: float, pv_kw: float) -> None:
        fields = format_row("M", 1.0, meter_w, pv_kw).strip().split(",")
        self.assertAlmostEqual(float(fields[4]), float(fields[2]) + float(fields[3]) * 1000,
                               delta=0.01)



class FullDiskHandle:
    """A file on a full disk: writes are buffered, every flush and close fails with ENOSPC."""

    def __init__(self, path: Path) -> None:
        # A real file of the test's own for fileno(): the writer fchmods it (never /dev/null).
        self._file = open(path, "wb")  # noqa: SIM115 - closed in close(); Path.open is patched
        self.closed_attempts = 0

    def write(self, data: bytes) -> int:
        return len(data)

    def tell(self) -> int:
        return 0

    def fileno(self) -> int:
        return self._file.fileno()

    def flush(self) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def close(self) -> None:
        self.closed_attempts += 1
        self._file.close()
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


class CleanupTest(unittest.TestCase):
    def test_a_full_disk_fails_close_once_and_every_file_is_still_closed(self) -> None:
        directory = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, directory, True)
        handles: list[FullDiskHandle] = []

        def full_disk_open(path: Path, _mode: str, buffering: int = -1) -> FullDiskHandle:
            handles.append(FullDiskHandle(directory / f"{path.name}.handle"))
            return handles[-1]

        out = CsvOutput(directory, VIENNA, fsync="never")
        with mock.patch.object(Path, "open", full_disk_open):
            out.write("Meter_0", epoch("2026-06-21T12:00"), 1.0, 0.0)
            out.write("Meter_1", epoch("2026-06-21T12:00"), 1.0, 0.0)
        with self.assertRaises(OutputFailed) as caught:
            out.close()
        self.assertIn("No space left on device", str(caught.exception))
        self.assertEqual([h.closed_attempts for h in handles], [1, 1])
        out.close()  # a second close has nothing left to fail on


    @unittest.skipUnless(Path("/dev/full").exists(), "needs /dev/full")
    def test_a_new_file_on_a_full_disk_is_one_output_error(self) -> None:
        directory = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, directory, True)
        out = CsvOutput(directory, VIENNA, fsync="always")
        self.addCleanup(out.close)
        path = directory / "Meter_0-2026-06-21.csv"
        path.symlink_to("/dev/full")  # every write fails with ENOSPC
        with self.assertRaises(OutputError) as caught:
            out.write("Meter_0", epoch("2026-06-21T12:00"), 1.0, 0.0)
        self.assertIn(f"{path}: cannot open for appending: No space left on device",
                      str(caught.exception))


class LockTest(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, self.dir, True)

    def test_a_second_writer_of_a_meter_in_the_same_directory_is_refused(self) -> None:
        first, second = CsvOutput(self.dir, VIENNA), CsvOutput(self.dir, VIENNA)
        self.addCleanup(first.close)
        self.addCleanup(second.close)
        first.write("Meter_0", epoch("2026-06-21T12:00"), 1.0, 0.0)
        with self.assertRaises(OutputError) as caught:
            second.write("Meter_0", epoch("2026-06-21T12:00:01"), 1.0, 0.0)
        message = str(caught.exception)
        self.assertIn(f"pid {os.getpid()}", message)
        self.assertIn("Meter_0", message)
        self.assertNotIsInstance(caught.exception, OutputFailed)
        self.assertTrue(second.write("Meter_1", epoch("2026-06-21T12:00"), 1.0, 0.0))
        first.close()
        self.assertTrue(second.write("Meter_0", epoch("2026-06-21T12:00:01"), 1.0, 0.0))
        second.flush()
        self.assertEqual(len(read_csv(self.dir / "Meter_0-2026-06-21.csv")), 2)

    def test_the_refusal_names_the_live_holder_not_the_pid_left_in_the_file(self) -> None:
        lock = self.dir / ".Meter_0.lock"
        lock.write_text("999999\n")  # left by a writer long gone
        holder = subprocess.Popen(
            [sys.executable, "-c", "import fcntl, os, sys, time\n"
             f"fd = os.open({str(lock)!r}, os.O_RDWR)\nfcntl.flock(fd, fcntl.LOCK_EX)\n"
             "print('locked', flush=True)\ntime.sleep(60)"], stdout=subprocess.PIPE, text=True)
        self.addCleanup(holder.wait)
        self.addCleanup(holder.kill)
        assert holder.stdout is not None
        self.assertEqual(holder.stdout.readline().strip(), "locked")
        out = CsvOutput(self.dir, VIENNA)
        self.addCleanup(out.close)
        if sys.platform.startswith("linux"):
            self.assertEqual(out.lock_holder("Meter_0"), holder.pid)
        with self.assertRaises(MeterLocked) as caught:
            out.write("Meter_0", epoch("2026-06-21T12:00"), 1.0, 0.0)
        expected = holder.pid if sys.platform.startswith("linux") else 999999
        self.assertIn(f"another process (pid {expected})", str(caught.exception))
        self.assertEqual(caught.exception.meter_id, "Meter_0")
        if sys.platform.startswith("linux"):  # what a standby asks before it counts idle time
            self.assertEqual(out.other_writer(None), ("Meter_0", holder.pid))
            self.assertEqual(out.other_writer(["Meter_1", "Meter_0"]), ("Meter_0", holder.pid))
            self.assertIsNone(out.other_writer(["Meter_1"]))
            self.assertIsNone(out.other_writer(None, lambda meter_id: meter_id != "Meter_0"))

    def test_the_pid_written_covers_a_longer_one_left_in_the_lock_file(self) -> None:
        lock = self.dir / ".Meter_0.lock"
        lock.write_text("4194303\n")  # Linux's largest pid, left by a writer long gone
        out = CsvOutput(self.dir, VIENNA)
        self.addCleanup(out.close)
        out.write("Meter_0", epoch("2026-06-21T12:00"), 1.0, 0.0)
        self.assertEqual(lock.read_text().strip(), str(os.getpid()))

    def test_release_gives_up_the_locks_and_forgets_the_files(self) -> None:
        first, second = CsvOutput(self.dir, VIENNA), CsvOutput(self.dir, VIENNA)
        self.addCleanup(first.close)
        self.addCleanup(second.close)
        t = epoch("2026-06-21T12:00")
        first.write("Meter_0", t, 1.0, 0.0)
        first.release()
        self.assertIsNone(second.lock_holder("Meter_0"))
        self.assertTrue(second.write("Meter_0", t + 1, 1.0, 0.0))
        second.release()
        self.assertTrue(first.write("Meter_0", t + 2, 1.0, 0.0))  # after the other's row, not before
        first.flush()
        self.assertEqual(len(read_csv(self.dir / "Meter_0-2026-06-21.csv")), 3)

    def test_many_open_files_with_small_buffers_lose_no_row(self) -> None:
        out = CsvOutput(self.dir, VIENNA, fsync="never", max_open_files=2000)
        self.addCleanup(out.close)
        base = epoch("2026-06-21T12:00")
        for tick in range(30):  # 30 rows of ~60 bytes: longer than one file's buffer
            for meter in range(1000):
                out.write(f"M{meter}", base + tick, 100.0 + tick, 0.5)
            out.flush()
        out.close()
        for meter in (0, 999):
            rows = read_csv(self.dir / f"M{meter}-2026-06-21.csv")
            self.assertEqual([float(r["meter_power_value_w"]) for r in rows],
                             [100.0 + tick for tick in range(30)])

    def test_the_lock_file_is_no_csv_the_tools_see(self) -> None:
        out = CsvOutput(self.dir, VIENNA)
        self.addCleanup(out.close)
        out.write("Meter_0", epoch("2026-06-21T12:00"), 1.0, 0.0)
        self.assertEqual(sorted(p.name for p in self.dir.glob(file_glob())), ["Meter_0-2026-06-21.csv"])
        self.assertTrue((self.dir / ".Meter_0.lock").exists())


if __name__ == "__main__":
    unittest.main()


class DayOrderTest(_WriterCase):
    """A meter's files reach the OS in time order, and its last rows are found in one listing."""

    def test_a_day_is_handed_to_the_os_before_the_next_days_rows(self) -> None:
        self.out.write("Meter_0", epoch("2026-06-21T23:50"), 100.0, 0.0)
        self.out.write("Meter_0", epoch("2026-06-22T00:00"), 200.0, 0.0)
        # No flush yet: a kill now leaves the first day whole, never the second alone.
        self.assertEqual(len(read_csv(self.dir / "Meter_0-2026-06-21.csv")), 1)

    def test_what_it_keeps_grows_with_the_meters_not_the_days(self) -> None:
        for day in range(1, 11):
            for meter in range(3):
                self.out.write(f"Meter_{meter}", epoch(f"2026-06-{day:02d}T12:00"), 100.0, 0.0)
        self.assertEqual(len(self.out._open), 3)
        self.assertEqual(len(self.out._last_time), 3)
        # A late reading of a closed day is still judged against the file.
        self.assertFalse(self.out.write("Meter_0", epoch("2026-06-04T12:00"), 100.0, 0.0))
        self.assertTrue(self.out.write("Meter_0", epoch("2026-06-04T13:00"), 100.0, 0.0))
        self.out.flush()
        self.assertEqual(len(read_csv(self.dir / "Meter_0-2026-06-04.csv")), 2)

    def test_last_rows_of_each_meter_from_its_newest_file_with_rows(self) -> None:
        self.out.write("Meter_0", epoch("2026-06-21T10:00"), 100.0, 0.0)
        self.out.write("Meter_0", epoch("2026-06-22T10:00"), 200.0, 0.0)
        self.out.write("Meter_1", epoch("2026-06-21T11:00"), 300.0, 0.0)
        self.out.close()
        (self.dir / "Meter_1-2026-06-22.csv").write_text(HEADER + "\n")  # a crash after midnight
        fresh = CsvOutput(self.dir, VIENNA)
        self.addCleanup(fresh.close)
        rows = fresh.last_rows(["Meter_0", "Meter_1", "Meter_2"])
        self.assertEqual(sorted(rows), ["Meter_0", "Meter_1"])
        self.assertEqual(rows["Meter_0"].time_s, epoch("2026-06-22T10:00"))
        self.assertEqual(rows["Meter_1"].meter_power_value_w, 300.0)
