"""What the integration tests share: the real broker, isolated virtual hosts, the real CLIs.

Each test class that needs the broker gets a virtual host of its own, made
with ``rabbitmqctl`` and deleted afterwards, so tests never see each other's
queues. A broker that cannot be reached fails the tests; it never skips them.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest
import uuid
from collections.abc import Sequence
from pathlib import Path

import pika

from tests.paths import ROOT

PYTHON = sys.executable
HOST = "localhost"
PORT = 5672


def rabbitmqctl(*args: str, timeout: float = 120) -> str:
    """Run rabbitmqctl (through sudo when not root); raise with its output on failure."""
    command = ["rabbitmqctl", "-q", *args]
    if os.geteuid() != 0:
        command = ["sudo", "-n", *command]
    env = dict(os.environ, PATH=os.environ.get("PATH", "") + ":/usr/sbin")
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}): "
                           f"{result.stderr.strip() or result.stdout.strip()}")
    return result.stdout


def new_vhost(label: str) -> str:
    """A fresh virtual host on the default node with full permissions for guest."""
    vhost = f"pvtest-{label}-{uuid.uuid4().hex[:8]}"
    rabbitmqctl("add_vhost", vhost)
    rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    return vhost


class BrokerTestCase(unittest.TestCase):
    """A test class with its own virtual host on the real broker and a temp directory per test."""

    vhost: str
    #: AMQP ports of the nodes whose meter queues each test starts without.
    queue_ports: tuple[int, ...] = (PORT,)
    #: A virtual host per test instead of per class, for tests that read state the broker keeps
    #: beyond queues (MQTT retained messages live per virtual host and outlast the test).
    vhost_per_test: bool = False

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        cls.vhost = cls.provision_broker()

    @classmethod
    def provision_broker(cls) -> str:
        """The class's broker: a virtual host of its own on the default node, deleted after.

        Classes with brokers of their own (TLS nodes, a cluster) override this, start
        them, set ``queue_ports`` and register their teardown as a class cleanup.

        Returns:
            The virtual host the class's tests use.
        """
        vhost = new_vhost(cls.__name__)
        cls.addClassCleanup(rabbitmqctl, "delete_vhost", vhost)
        return vhost

    def setUp(self) -> None:
        super().setUp()
        self.tmp = Path(tempfile.mkdtemp(prefix="pvtest-"))
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.processes: list[subprocess.Popen[str]] = []
        self.logs: dict[int, Path] = {}
        self.addCleanup(self._kill_processes)
        if self.vhost_per_test:
            self.vhost = new_vhost(f"{type(self).__name__}-{self._testMethodName[:40]}")
            self.addCleanup(rabbitmqctl, "delete_vhost", self.vhost)
        self.delete_queues()

    def delete_queues(self, meters: int = 16, queues: Sequence[str] = ()) -> None:
        """Delete the queues an earlier test or run may have left (Meter_0.., ``queues``, and
        their DLQs), on a connection of its own: some tests close every connection."""
        names = [*(f"Meter_{i}" for i in range(meters)), *queues]
        for port in self.queue_ports:
            connection = pika.BlockingConnection(pika.ConnectionParameters(
                host=HOST, port=port, virtual_host=self.vhost))
            try:
                channel = connection.channel()
                for name in names:
                    channel.queue_delete(name)
                    channel.queue_delete(name + ".dlq")
            finally:
                connection.close()

    def _kill_processes(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)

    def write_config(self, name: str = "broker.ini", **sections: dict[str, object]) -> Path:
        """An INI file for this class's virtual host, with extra keys per section."""
        values: dict[str, dict[str, object]] = {
            "broker": {"host": HOST, "port": PORT, "virtual_host": self.vhost,
                       "connection_attempts": 3, "retry_delay": 0.2},
            "site": {"timezone": "Europe/Vienna"},
            "pv": {"model": "reference"},
            "meter": {"model": "random-walk"},
        }
        for section, keys in sections.items():
            values.setdefault(section, {}).update(keys)
        path = self.tmp / name
        path.write_text("".join(
            f"[{section}]\n" + "".join(f"{key} = {value}\n" for key, value in keys.items())
            for section, keys in values.items()))
        return path

    def start(self, script: str, *args: str, cwd: Path | None = None,
              log: bool = False) -> subprocess.Popen[str]:
        """Start ``demo_meter.py`` or ``demo_pv_service.py`` as a user would.

        ``log``: its output goes to a file instead of a pipe, for a long run whose output
        nobody reads until it ends (a full pipe would block the service); :meth:`finish`
        returns it as its stderr.
        """
        if log:
            path = self.tmp / f"{Path(script).stem}-{len(self.processes)}.log"
            with path.open("w") as handle:
                process = subprocess.Popen(
                    [PYTHON, str(ROOT / script), *args], cwd=cwd or self.tmp, text=True,
                    stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
            self.logs[process.pid] = path
        else:
            process = subprocess.Popen(
                [PYTHON, str(ROOT / script), *args], cwd=cwd or self.tmp, text=True,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        self.processes.append(process)
        return process

    def log_tail(self, process: subprocess.Popen[str], lines: int = 30) -> str:
        """The last lines a ``log=True`` process wrote so far, for failure messages."""
        path = self.logs.get(process.pid)
        return "\n".join(path.read_text().splitlines()[-lines:]) if path else ""

    def run_cli(self, script: str, *args: str, timeout: float = 120,
                cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        """Run a CLI to its end."""
        return subprocess.run([PYTHON, str(ROOT / script), *args], cwd=cwd or self.tmp,
                              text=True, capture_output=True, timeout=timeout)

    def finish(self, process: subprocess.Popen[str], timeout: float = 120) -> tuple[int, str, str]:
        """Wait for a started CLI; its exit code, stdout and stderr."""
        path = self.logs.get(process.pid)
        if path is not None:
            process.wait(timeout=timeout)
            return process.returncode, "", path.read_text()
        out, err = process.communicate(timeout=timeout)
        return process.returncode, out, err

    def interrupt(self, process: subprocess.Popen[str], sig: int = signal.SIGINT,
                  timeout: float = 30) -> tuple[int, str, str]:
        """Send ``sig`` as Ctrl-C would and wait for the process to end."""
        process.send_signal(sig)
        return self.finish(process, timeout)

    def connection(self) -> pika.BlockingConnection:
        connection = pika.BlockingConnection(pika.ConnectionParameters(
            host=HOST, port=PORT, virtual_host=self.vhost))
        self.addCleanup(lambda: connection.is_open and connection.close())
        return connection

    def queue_depth(self, queue: str) -> int:
        """Messages ready in ``queue`` (0 when it does not exist yet)."""
        connection = pika.BlockingConnection(pika.ConnectionParameters(
            host=HOST, port=PORT, virtual_host=self.vhost))
        try:
            channel = connection.channel()
            return int(channel.queue_declare(queue, passive=True).method.message_count)
        except pika.exceptions.ChannelClosedByBroker:
            return 0
        finally:
            if connection.is_open:
                connection.close()

    def assert_clean_exit(self, code: int, err: str) -> None:
        self.assertEqual(code, 0, err)
        self.assertNotIn("Traceback", err)

    def assert_one_line_error(self, code: int, err: str, expected_code: int,
                              *fragments: str) -> None:
        """Exit ``expected_code``, no traceback, and an error line naming ``fragments``."""
        self.assertEqual(code, expected_code, err)
        self.assertNotIn("Traceback", err)
        errors = [line for line in err.splitlines() if ": error: " in line]
        self.assertEqual(len(errors), 1, err)
        for fragment in fragments:
            self.assertIn(fragment, errors[0])


def check_rows(test: unittest.TestCase, rows: Sequence[dict[str, str]]) -> None:
    """The invariants every written row holds: bounds, the sum identity, rising time."""
    previous = float("-inf")
    for row in rows:
        meter_w = float(row["meter_power_value_w"])
        pv_kw = float(row["pv_power_value_kw"])
        test.assertGreaterEqual(meter_w, 0.0)
        test.assertLessEqual(meter_w, 9000.0)
        test.assertGreaterEqual(pv_kw, 0.0)
        test.assertAlmostEqual(float(row["sum_meter_pv_w"]), meter_w + pv_kw * 1000, delta=0.01)
        time_s = float(row["time_s"])
        test.assertGreater(time_s, previous)
        previous = time_s
