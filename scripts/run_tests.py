"""Run the unittest suite (all of tests/, or the named folders or modules) and end with one count line.

`python -m unittest` runs the same tests; this adds the closing line
``LABEL: N passed, N failed, N skipped`` that CI reads to count them.

When the names hold more than one module, the unit suite and every other module (or class, for
BY_CLASS) each run in a subprocess of their own, ``--jobs`` at a time, the unit suite first (it
uses the CPU the broker tests mostly leave idle while they wait on real time; each broker test
class has a virtual host of its own, see tests/integration/support.py), and last the tests of
ALONE, one module at a time with nothing beside them. A line per finished module gives its
time and counts; a failed module's whole output follows its line. One module (or the unit
suite alone) runs in this process, with unittest's output as it goes.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
import unittest
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: Soak-length tests (minutes of real time or of simulated months): `make test-long` runs them,
#: `make test` leaves them out so that the everyday loop stays short; CI runs both.
LONG: tuple[str, ...] = (
    # Two minutes of a zero-export controller in real time.
    "tests.integration.test_sunspec.ZeroExportTest",
    # A command stream in real time, a June day with a battery, a kill -9 over a restart.
    "tests.integration.test_site",
    # Fast-forward months of both hemispheres through both CLIs.
    "tests.integration.test_households_sky",
)

#: Tests that change state of the whole shared broker, so that nothing of this run may be
#: beside them: a module or class name, or a test id.
ALONE: tuple[str, ...] = (
    # rabbitmqctl stop_app / start_app: every connection of every virtual host drops.
    "tests.integration.test_faults.BrokerRestartTest",
    "tests.integration.test_faults.PartitionedBrokerRestartTest",
    "tests.integration.test_misuse.AcceleratedRestartTest",
    # set_vm_memory_high_watermark 0: every publisher of the broker is blocked.
    "tests.integration.test_misuse.BlockedPublisherTest",
    "tests.integration.test_rabbitmq_contract.RabbitSessionContractTest."
    "test_a_blocked_broker_says_so_and_keeps_what_it_had",
)

#: Modules whose test classes are jobs of their own: as one job, each would end the run alone.
BY_CLASS: tuple[str, ...] = ("tests.integration.test_faults", "tests.integration.test_sunspec")

#: Jobs that take about a minute or more: started first, so that none of them ends the run alone.
LONGEST_FIRST: tuple[str, ...] = (
    # Two minutes of a zero-export controller in real time.
    "tests.integration.test_sunspec.ZeroExportTest",
    "tests.integration.test_sunspec.SunSpecTest",
    "tests.integration.test_faults.StreamFaultTest",
    "tests.integration.test_faults.PartitionedStreamFaultTest",
    "tests.integration.test_site",
    "tests.integration.test_weather_fleet",
    "tests.integration.test_households_sky",
    "tests.integration.test_misuse",
    "tests.integration.test_operator_mistakes_queues",
    "tests.integration.test_faults.RedeclareTest",
    "tests.integration.test_partitions",
    "tests.integration.test_pv_service",
)

UNIT_PREFIX = "tests.unit."
DEFAULT_JOBS = 3
#: The unit suite runs as this many subprocesses side by side, its modules dealt in turn: one
#: per core of the 2-core machine it is measured on.
UNIT_SHARES = 2


@dataclass
class Job:
    """The tests one subprocess runs: unittest names that load exactly them."""

    title: str
    names: list[str] = field(default_factory=list)


@dataclass
class Counts:
    passed: int = 0
    failed: int = 0
    skipped: int = 0

    def add(self, other: Counts) -> None:
        self.passed += other.passed
        self.failed += other.failed
        self.skipped += other.skipped

    def line(self, label: str) -> str:
        return f"{label}: {self.passed} passed, {self.failed} failed, {self.skipped} skipped"


def leaves(suite: unittest.TestSuite | unittest.TestCase) -> Iterator[unittest.TestCase]:
    if isinstance(suite, unittest.TestCase):
        yield suite
    else:
        for test in suite:
            yield from leaves(test)


def load(names: list[str]) -> unittest.TestSuite:
    """Folders (tests/unit, or as a package: tests.unit) are discovered, anything else is loaded
    by its dotted name."""
    loader = unittest.defaultTestLoader
    suite = unittest.TestSuite()
    for name in names:
        folder = ROOT / name.replace(".", "/") if "/" not in name else ROOT / name
        suite.addTests(loader.discover(str(folder), top_level_dir=str(ROOT)) if folder.is_dir()
                       else loader.loadTestsFromName(name))
    return suite


def module_of(test: unittest.TestCase) -> str:
    """The test's module; for a module that failed to import or skipped itself, its name."""
    module = type(test).__module__
    return str(getattr(test, "_testMethodName", module)) if module == "unittest.loader" else module


def entry_of(entries: tuple[str, ...], test_id: str) -> str | None:
    """The entry (module, class or test id) of ``entries`` that ``test_id`` falls under."""
    return next((entry for entry in entries
                 if test_id == entry or test_id.startswith(entry + ".")), None)


def alone_entry(test_id: str) -> str | None:
    return entry_of(ALONE, test_id)


def select_long(suite: unittest.TestSuite, which: str) -> unittest.TestSuite:
    """The suite with (``include``), without (``exclude``) or with only (``only``) the LONG tests."""
    if which == "include":
        return suite
    keep = which == "only"
    return unittest.TestSuite(test for test in leaves(suite)
                              if (entry_of(LONG, test.id()) is not None) == keep)


def compact(module: str, ids: list[str]) -> list[str]:
    """The shortest names that load exactly ``ids`` of ``module``: the module, classes, ids."""
    if not ids[0].startswith(module + "."):  # a module that failed to load: its name fails again
        return [module]
    every = {test.id() for test in leaves(unittest.defaultTestLoader.loadTestsFromName(module))}
    if set(ids) == every:
        return [module]
    names: list[str] = []
    for class_name in dict.fromkeys(test_id.rpartition(".")[0] for test_id in ids):
        in_class = [test_id for test_id in ids if test_id.rpartition(".")[0] == class_name]
        whole = {test_id for test_id in every if test_id.rpartition(".")[0] == class_name}
        names.extend([class_name] if set(in_class) == whole else in_class)
    return names


def plan(suite: unittest.TestSuite) -> tuple[list[Job], list[Job], list[Job]]:
    """The unit jobs (its shares), the jobs of the parallel pool (longest first) and the jobs run alone."""
    groups: dict[tuple[str, bool], list[str]] = {}
    for test in leaves(suite):
        test_id = test.id()
        groups.setdefault((module_of(test), alone_entry(test_id) is not None), []).append(test_id)
    unit, pool, alone = Job("unit"), [], []
    for (module, is_alone), ids in groups.items():
        names = compact(module, ids)
        if module.startswith(UNIT_PREFIX) and not is_alone:
            unit.names.extend(names)
        elif is_alone:
            alone.append(Job(f"{module} (alone)", names))
        elif module in BY_CLASS:
            for class_name in dict.fromkeys(test_id.rpartition(".")[0] for test_id in ids):
                pool.append(Job(class_name, compact(module, [
                    test_id for test_id in ids if test_id.rpartition(".")[0] == class_name])))
        else:
            pool.append(Job(module, names))
    rank = {module: index for index, module in enumerate(LONGEST_FIRST)}
    pool.sort(key=lambda job: rank.get(job.title, len(rank)))
    shares = [Job(f"unit {index + 1} of {UNIT_SHARES}", unit.names[index::UNIT_SHARES])
              for index in range(UNIT_SHARES)] if len(unit.names) >= UNIT_SHARES else [unit]
    return [job for job in shares if job.names], pool, alone


def run_here(names: list[str], label: str) -> int:
    """Every named test in this process, with unittest's verbose output."""
    result = unittest.TextTestRunner(verbosity=2).run(load(names))
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    skipped = len(result.skipped)
    print(Counts(result.testsRun - failed - skipped, failed, skipped).line(label), flush=True)
    return 0 if result.wasSuccessful() and result.testsRun > 0 else 1


def run_job(job: Job, logs: Path) -> tuple[Counts, float, str, bool]:
    """``job`` in a subprocess of this script: its counts, seconds, output and success."""
    log = logs / f"{job.title.replace(' ', '_')}.log"
    began = time.monotonic()
    with log.open("w") as out:
        code = subprocess.run([sys.executable, __file__, "--here", "--label", job.title, *job.names],
                              stdout=out, stderr=subprocess.STDOUT, cwd=ROOT).returncode
    seconds = time.monotonic() - began
    output = log.read_text(errors="replace")
    pattern = rf"^{re.escape(job.title)}: (\d+) passed, (\d+) failed, (\d+) skipped$"
    found = re.findall(pattern, output, flags=re.M)
    # No count line: the subprocess died before the end; one failure stands for it.
    counts = Counts(*map(int, found[-1])) if found else Counts(failed=1)
    return counts, seconds, output, code == 0 and counts.failed == 0


def report(job: Job, outcome: tuple[Counts, float, str, bool], done: int, total: int) -> None:
    counts, seconds, output, ok = outcome
    print(f"[{done:>2}/{total}] {'ok  ' if ok else 'FAIL'} {job.title:<46} {seconds:6.1f} s  "
          f"{counts.line('').removeprefix(': ')}", flush=True)
    if not ok:
        print(f"----- output of {job.title} -----\n{output.rstrip()}\n----- end of {job.title} -----",
              flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", default="tests", help="word before the count line")
    parser.add_argument("--jobs", type=int, default=int(os.environ.get("PV_TEST_JOBS", DEFAULT_JOBS)),
                        help=f"modules run at the same time (default: $PV_TEST_JOBS or {DEFAULT_JOBS})")
    parser.add_argument("--long", choices=("include", "exclude", "only"), default="include",
                        help="the soak-length tests of LONG: with the others (default), left out, "
                             "or alone (make test-long)")
    parser.add_argument("--here", action="store_true",
                        help="run every named test in this process (what each subprocess does)")
    parser.add_argument("names", nargs="*",
                        help="test folders (tests/unit) or modules (tests.integration.test_cluster)")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    names = args.names or ["tests"]
    if args.here:
        return run_here(names, args.label)
    unit, pool, alone = plan(select_long(load(names), args.long))
    if len(unit + pool + alone) <= 1 and args.long == "include":
        return run_here(names, args.label)
    total_jobs = len(unit + pool + alone)
    print(f"{len(unit)} unit share(s) and {len(pool)} modules {args.jobs} at a time, "
          f"{len(alone)} alone after them", flush=True)
    totals, all_ok, done = Counts(), True, 0
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="pvtest-logs-") as folder:
        logs = Path(folder)

        def finish(job: Job, outcome: tuple[Counts, float, str, bool]) -> None:
            nonlocal all_ok, done
            done += 1
            totals.add(outcome[0])
            all_ok = all_ok and outcome[3]
            report(job, outcome, done, total_jobs)

        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as executor:
            futures = {executor.submit(run_job, job, logs): job for job in unit + pool}
            for future in as_completed(futures):
                finish(futures[future], future.result())
        for job in alone:
            finish(job, run_job(job, logs))
    print(f"all {total_jobs} jobs in {time.monotonic() - began:.1f} s", flush=True)
    print(totals.line(args.label), flush=True)
    ran = totals.passed + totals.failed + totals.skipped
    return 0 if all_ok and ran > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
