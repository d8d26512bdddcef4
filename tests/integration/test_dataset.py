"""The dataset command as a user runs it: the files of the real CLIs over the real RabbitMQ, byte
for byte; a kill -9 and a restart that continues without gap or duplicate; one-line errors."""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
import tempfile
import unittest
from pathlib import Path

from tests.helpers import files_of, wait_until
from tests.integration.support import PYTHON, BrokerTestCase
from tests.paths import ROOT

FLEET = ("meter_id,peak_power_kw,tilt_deg,azimuth_deg,annual_energy_kwh,battery_kwh\n"
         "House_A,6.5,30,180,3500,\n"
         "House_B,4.0,25,120,2500,8\n"
         "House_C,0,,,1800,\n"
         "House_D,6.5,30,180,4200,\n")
HOUSES = ["House_A", "House_B", "House_C", "House_D"]
#: Two days across midnight and the spring clock change in Vienna, every 10 minutes.
SPAN = ("--start", "2026-03-28T12:00", "--duration", str(2 * 86400), "--interval", "600", "--seed", "7")
TICKS = 2 * 86400 // 600


def dataset_command(*args: str) -> list[str]:
    return [PYTHON, "-m", "pv_simulator.dataset", *args]


class DatasetMatchesTheBrokerRunTest(BrokerTestCase):
    """The same configuration and seed through pv-meter and pv-service, and through pv-dataset."""

    def test_a_fleet_with_houses_and_a_battery_gives_the_same_bytes(self) -> None:
        (self.tmp / "fleet.csv").write_text(FLEET)
        conf = self.write_config(pv={"model": "solar", "sky": "variable"},
                                 meter={"model": "household"}, fleet={"file": "fleet.csv"})
        self.assert_same_files(conf, ["-ids", *HOUSES], meters=4)

    def test_the_partitioned_layout_without_fleet_gives_the_same_bytes(self) -> None:
        conf = self.write_config(broker={"layout": "partitioned", "partitions": 3},
                                 pv={"model": "solar", "sky": "variable"})
        self.assert_same_files(conf, [], meters=5, count=["-nb", "5"])

    def assert_same_files(self, conf: Path, service_ids: list[str], meters: int,
                          count: tuple[str, ...] | list[str] = ()) -> None:
        broker_out, memory_out = self.tmp / "broker-out", self.tmp / "memory-out"
        service = self.start("demo_pv_service.py", "-conf", str(conf), *service_ids,
                             "--output-dir", str(broker_out), "--exit-when-idle", "4")
        meter = self.start("demo_meter.py", "-conf", str(conf), *count, *SPAN, "--speed", "0")
        self.assert_clean_exit(*self.finish(meter)[::2])
        self.assert_clean_exit(*self.finish(service)[::2])
        dataset = subprocess.run(dataset_command("-conf", str(conf), *count, *SPAN, "--output-dir",
                                                 str(memory_out), "--processes", "2"),
                                 cwd=self.tmp, text=True, capture_output=True, timeout=300)
        self.assert_clean_exit(dataset.returncode, dataset.stderr)
        expected = files_of(broker_out)
        self.assertEqual(len(expected), meters * 3, sorted(expected))  # three local days each
        rows = sum(len(content.splitlines()) - 1 for content in expected.values())
        self.assertEqual(rows, meters * TICKS)
        self.assertEqual(sorted(files_of(memory_out)), sorted(expected))
        for name, content in files_of(memory_out).items():
            self.assertEqual(content, expected[name], name)


class DatasetKillTest(unittest.TestCase):
    """kill -9 of the command mid-run: its share processes die with it, what was written stays,
    and the same command continues to the files of an uninterrupted run."""

    def setUp(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="pvtest-dataset-kill-"))
        self.addCleanup(shutil.rmtree, self.tmp, True)
        (self.tmp / "fleet.csv").write_text(FLEET)
        self.conf = self.tmp / "fleet.ini"
        self.conf.write_text("[site]\ntimezone = Europe/Vienna\n[pv]\nmodel = solar\nsky = variable\n"
                             "[meter]\nmodel = household\n[fleet]\nfile = fleet.csv\n")
        self.span = ("--start", "2026-01-01", "--duration", str(90 * 86400), "--interval", "300",
                     "--seed", "3")

    def run_dataset(self, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(dataset_command("-conf", str(self.conf), *self.span, "--output-dir",
                                              str(out), *extra),
                              cwd=self.tmp, text=True, capture_output=True, timeout=600)

    def test_kill_9_then_restart_continues_without_gap_or_duplicate(self) -> None:
        reference, out = self.tmp / "reference", self.tmp / "out"
        whole = self.run_dataset(reference, "--processes", "1")
        self.assertEqual(whole.returncode, 0, whole.stderr)

        with (self.tmp / "killed.log").open("w") as log:
            process = subprocess.Popen(dataset_command(
                "-conf", str(self.conf), *self.span, "--output-dir", str(out), "--processes", "2"),
                cwd=self.tmp, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.addCleanup(self.kill_group, process)
        wait_until(lambda: len(list(out.glob("*.csv"))) >= 4 * 20, 300, "20 days of files")
        self.assertIsNone(process.poll(), "the run ended before the kill")
        process.kill()  # the parent only: its shares must die with it
        process.wait(timeout=10)
        wait_until(lambda: self.unlocked(out), 30, "the share processes to die with their parent")
        before = {name: content[:content.rfind(b"\n") + 1] for name, content in files_of(out).items()}
        self.assertLess(len(before), len(files_of(reference)), "the kill came after the last file")

        again = self.run_dataset(out, "--processes", "2")
        self.assertEqual(again.returncode, 0, again.stderr)
        self.assertIn("resumed after their meters' last rows", again.stderr)
        after = files_of(out)
        for name, content in before.items():
            self.assertTrue(after[name].startswith(content), f"{name} lost rows it had")
        self.assertEqual(sorted(after), sorted(files_of(reference)))
        for name, content in files_of(reference).items():
            self.assertEqual(after[name], content, name)

    @staticmethod
    def kill_group(process: subprocess.Popen[bytes]) -> None:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    @staticmethod
    def unlocked(out: Path) -> bool:
        """Whether no process holds a meter's lock any more."""
        for lock in out.glob(".*.lock"):
            with lock.open("rb") as handle:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    return False
        return True


class DatasetBadInputTest(unittest.TestCase):
    """A user's mistake: one line naming the option, file or key, exit 2, nothing written."""

    def setUp(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="pvtest-dataset-bad-"))
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.conf = self.tmp / "plain.ini"
        self.conf.write_text("[site]\ntimezone = Europe/Vienna\n[pv]\nmodel = reference\n")

    def run_dataset(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(dataset_command(*args), cwd=self.tmp, text=True,
                              capture_output=True, timeout=120)

    def assert_one_line(self, result: subprocess.CompletedProcess[str], code: int,
                        *fragments: str) -> None:
        self.assertEqual(result.returncode, code, result.stderr)
        self.assertNotIn("Traceback", result.stderr)
        errors = [line for line in result.stderr.splitlines() if ": error: " in line]
        self.assertEqual(len(errors), 1, result.stderr)
        for fragment in fragments:
            self.assertIn(fragment, errors[0])

    def test_options(self) -> None:
        base = ("-conf", str(self.conf), "--output-dir", str(self.tmp / "out"))
        self.assert_one_line(self.run_dataset(*base), 2, "--duration")
        self.assert_one_line(self.run_dataset(*base, "--duration", "-5"), 2, "--duration", "'-5'")
        self.assert_one_line(self.run_dataset(*base, "--duration", "600", "--start", "June"), 2,
                             "--start", "'June'")
        self.assert_one_line(self.run_dataset(*base, "--duration", "600", "--processes", "0"), 2,
                             "--processes", "'0'")
        self.assert_one_line(self.run_dataset(*base, "--duration", "600", "--broker", "rabbitmq"), 2,
                             "--broker")
        self.assertFalse((self.tmp / "out").exists())

    def test_files(self) -> None:
        missing = self.tmp / "missing.ini"
        self.assert_one_line(self.run_dataset("-conf", str(missing), "--duration", "600"), 2,
                             str(missing))
        fleet_conf = self.tmp / "fleet.ini"
        fleet_conf.write_text("[fleet]\nfile = fleet.csv\n")
        (self.tmp / "fleet.csv").write_text("meter_id,peak_power_kw\nA,lots\n")
        self.assert_one_line(self.run_dataset("-conf", str(fleet_conf), "--duration", "600"), 2,
                             "fleet.csv", "peak_power_kw")

    def test_an_output_that_cannot_be_used_is_named_once_whatever_the_processes(self) -> None:
        taken = self.tmp / "taken"
        taken.write_text("a file, not a folder\n")
        result = self.run_dataset("-conf", str(self.conf), "-nb", "4", "--duration", "600",
                                  "--output-dir", str(taken), "--processes", "2")
        self.assert_one_line(result, 2, str(taken))
        out = self.tmp / "out"
        out.mkdir()
        (out / "Meter_1-2026-06-21.csv").write_text("time,power\n")
        result = self.run_dataset("-conf", str(self.conf), "-nb", "4", "--duration", "600",
                                  "--start", "2026-06-21T10:00", "--output-dir", str(out),
                                  "--processes", "2")
        self.assert_one_line(result, 2, "Meter_1-2026-06-21.csv", "another header")
        self.assertEqual(sorted(path.name for path in out.glob("*.csv")), ["Meter_1-2026-06-21.csv"])

    def test_the_services_refuse_the_memory_transport(self) -> None:
        conf = self.tmp / "memory.ini"
        conf.write_text("[broker]\ntransport = memory\n")
        for script, args in (("demo_meter.py", ()), ("demo_pv_service.py", ("-ids", "Meter_0"))):
            result = subprocess.run([PYTHON, str(ROOT / script), "-conf", str(conf), *args],
                                    cwd=self.tmp, text=True, capture_output=True, timeout=60)
            self.assert_one_line(result, 2, "[broker] transport = memory", "pv-dataset")


if __name__ == "__main__":
    unittest.main()
