"""Security end to end through both CLIs: TLS towards the broker, and where passwords come from.

TLS runs against the three private TLS nodes of tests/rabbit_nodes.py (valid, expired and
wrong-host server certificates, all signed by the test CA), started once for the class. The
password tests need no TLS and use the default node in a virtual host of their own.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from unittest import mock
from urllib.parse import quote

from parameterized import parameterized

from pv_simulator.config import PASSWORD_ENV
from tests.helpers import rows_of, wait_until
from tests.integration import rabbit_nodes
from tests.integration.support import BrokerTestCase, check_rows, rabbitmqctl

READINGS = 200
METER_RUN = ("--speed", "0", "--duration", str(READINGS), "--start", "2026-06-21T12:00")
# A short run of each CLI, bounded even if it connected when it must not.
SHORT_RUN = {"demo_meter.py": ("--speed", "0", "--duration", "1"),
             "demo_pv_service.py": ("-ids", "Meter_0", "--exit-when-idle", "0.5")}
SECRET = "hunter2-secret"
# Without the fatal path for certificate errors, 5 attempts at retry_delay 2 take over 15 s.
FAIL_FAST_S = 5.0
MODEL_SECTIONS: dict[str, dict[str, object]] = {
    "site": {"timezone": "Europe/Vienna"},
    "pv": {"model": "reference"},
    "meter": {"model": "random-walk"},
}


def write_ini(path: Path, broker: Mapping[str, object]) -> Path:
    """A configuration file with exactly these [broker] keys and the tests' model sections.

    Readable by its owner only, as a file that may hold a password should be.
    """
    sections = {"broker": broker, **MODEL_SECTIONS}
    path.write_text("".join(
        f"[{section}]\n" + "".join(f"{key} = {value}\n" for key, value in keys.items())
        for section, keys in sections.items()))
    path.chmod(0o600)
    return path


class TlsTest(BrokerTestCase):
    """Both CLIs over amqps:// to the private TLS nodes, in their virtual host "/"."""

    nodes: dict[str, rabbit_nodes.TlsNode]

    @classmethod
    def provision_broker(cls) -> str:
        """The private TLS nodes, in their virtual host "/"; stopped after the class."""
        # Registered first, so that the nodes of a half-failed start are stopped too.
        cls.addClassCleanup(rabbit_nodes.stop_tls_nodes)
        cls.nodes = rabbit_nodes.ensure_tls_nodes()
        cls.queue_ports = tuple(node.amqp_port for node in cls.nodes.values())
        return "/"

    def tls_config(self, server_cert: str, **broker: object) -> Path:
        """tls = true towards the node serving ``server_cert``, trusting the test CA."""
        node = self.nodes[server_cert]
        return write_ini(self.tmp / "tls.ini", {
            "tls": "true", "host": node.host, "port": node.tls_port, "ca_file": node.ca_file,
            "connection_attempts": 2, "retry_delay": 0.2, **broker})

    def peer_cert_subjects(self, node: rabbit_nodes.TlsNode) -> list[str]:
        """The client certificate subject of each TLS connection the node holds.

        Plain connections (the queue cleanup's, which may still be closing) do not count.
        """
        lines = rabbitmqctl("-n", node.node_name, "list_connections", "ssl",
                            "peer_cert_subject").splitlines()[1:]
        return [line.partition("\t")[2] for line in lines if line.startswith("true")]

    @parameterized.expand([
        ("ca_file", "server", {}, ""),
        ("client_certificate", "server",
         {"cert_file": "{dir}/client.pem", "key_file": "{dir}/client.key"},
         "CN=pv-simulator-client"),
        ("server_hostname_override", "wrong_host_server",
         {"server_hostname": "not-this-host.example"}, ""),
    ])
    def test_meter_and_service_over_tls(self, _name: str, server_cert: str,
                                        extra: dict[str, str], subject: str) -> None:
        node = self.nodes[server_cert]
        conf = self.tls_config(server_cert, **{key: value.format(dir=node.cert_dir)
                                               for key, value in extra.items()})
        self.run_and_check(conf, node, subject)

    def test_amqps_url(self) -> None:
        node = self.nodes["server"]
        conf = write_ini(self.tmp / "url.ini", {
            "url": f"amqps://localhost:{node.tls_port}", "ca_file": node.ca_file,
            "connection_attempts": 2, "retry_delay": 0.2})
        self.run_and_check(conf, node, "")

    def run_and_check(self, conf: Path, node: rabbit_nodes.TlsNode, subject: str) -> None:
        """The meter publishes READINGS readings, the service writes them all, over TLS.

        ``subject``: the client certificate subject the node must have verified ("" for none).
        """
        out = self.tmp / "out"
        service = self.start("demo_pv_service.py", "-conf", str(conf), "-ids", "Meter_0",
                             "--output-dir", str(out))
        meter = self.run_cli("demo_meter.py", "-conf", str(conf), *METER_RUN)
        self.assert_clean_exit(meter.returncode, meter.stderr)
        self.assertIn(f"connected to amqps://guest:***@localhost:{node.tls_port}/", meter.stderr)
        self.assertIn(f"published {READINGS} reading(s)", meter.stderr)
        wait_until(lambda: len(rows_of(out, "Meter_0")) >= READINGS, 30, f"{READINGS} rows")
        # The meter's connection, closed as it exited, may still be listed for a moment.
        wait_until(lambda: self.peer_cert_subjects(node) == [subject], 30,
                   f"the PV service's TLS connection alone, with client subject {subject!r}",
                   interval_s=0.5)
        code, _, err = self.interrupt(service)
        self.assert_clean_exit(code, err)
        self.assertIn(f"connected to amqps://guest:***@localhost:{node.tls_port}/", err)
        rows = rows_of(out, "Meter_0")
        self.assertEqual(len(rows), READINGS)
        check_rows(self, rows)

    @parameterized.expand([
        (script, server_cert, cause)
        for script in SHORT_RUN
        for server_cert, cause in (
            ("server", "self-signed certificate in certificate chain"),  # wrong CA, see below
            ("expired_server", "certificate has expired"),
            ("wrong_host_server", "Hostname mismatch"),
        )
    ], name_func=lambda func, _num, p: f"{func.__name__}_{p.args[1]}_{p.args[0][:-3]}")
    def test_refused_certificate_is_one_fast_line(self, script: str, server_cert: str,
                                                  cause: str) -> None:
        node = self.nodes[server_cert]
        # For the valid node the client trusts another CA. The node sends its CA along,
        # so OpenSSL names an untrusted root rather than "unable to get local issuer".
        ca_file = node.wrong_ca_file if server_cert == "server" else node.ca_file
        conf = self.tls_config(server_cert, ca_file=ca_file, connection_attempts=5, retry_delay=2)
        started = time.monotonic()
        result = self.run_cli(script, "-conf", str(conf), *SHORT_RUN[script])
        elapsed = time.monotonic() - started
        self.assert_one_line_error(result.returncode, result.stderr, 2, "TLS to amqps://",
                                   f"localhost:{node.tls_port}", cause)
        self.assertLess(elapsed, FAIL_FAST_S, "a refused certificate must not be retried")
        self.assertNotIn("retrying", result.stderr)


class PasswordTest(BrokerTestCase):
    """Password sources and masking on the default node; a wrong password is never shown."""

    def url_config(self, password: str) -> Path:
        return write_ini(self.tmp / "url.ini", {
            "url": f"amqp://guest:{password}@localhost:5672/{quote(self.vhost, safe='')}",
            "connection_attempts": 1})

    def password_file(self, text: str) -> Path:
        path = self.tmp / "password"
        path.write_text(text)
        path.chmod(0o600)
        return path

    @parameterized.expand([
        ("password_key_meter", "demo_meter.py", "password"),
        ("password_key_service", "demo_pv_service.py", "password"),
        ("url_meter", "demo_meter.py", "url"),
        ("password_file_meter", "demo_meter.py", "password_file"),
        ("env_service", "demo_pv_service.py", "env"),
    ])
    def test_wrong_password_is_masked(self, _name: str, script: str, source: str) -> None:
        if source == "url":
            conf = self.url_config(SECRET)
        elif source == "password_file":
            conf = self.write_config(broker={"password_file": self.password_file(SECRET + "\n")})
        else:
            conf = self.write_config(broker={"password": SECRET} if source == "password" else {})
        env = {PASSWORD_ENV: SECRET} if source == "env" else {}
        with mock.patch.dict(os.environ, env):
            result = self.run_cli(script, "-conf", str(conf), *SHORT_RUN[script],
                                  "--log-level", "DEBUG")
        self.assert_one_line_error(result.returncode, result.stderr, 2, "guest:***@localhost:5672",
                                   "refused the login of user 'guest'")
        self.assertNotIn(SECRET, result.stderr + result.stdout)

    def test_password_in_a_bad_url_is_masked(self) -> None:
        conf = write_ini(self.tmp / "url.ini", {"url": f"amqp://guest:{SECRET}@localhost:notaport/"})
        result = self.run_cli("demo_meter.py", "-conf", str(conf), *SHORT_RUN["demo_meter.py"])
        self.assert_one_line_error(result.returncode, result.stderr, 2, "[broker] url",
                                   "'amqp://guest:***@localhost:notaport/' is not an amqp://")
        self.assertNotIn(SECRET, result.stderr + result.stdout)

    @parameterized.expand([("env",), ("password_file",)])
    def test_password_source_end_to_end(self, source: str) -> None:
        if source == "env":
            # The environment wins over the (wrong) password in the file.
            conf = self.write_config(broker={"password": SECRET})
            conf.chmod(0o600)
            env = {PASSWORD_ENV: "guest"}
        else:
            # The file's trailing newline is not part of the password.
            conf = self.write_config(broker={"password_file": self.password_file("guest\n")})
            env = {}
        out = self.tmp / "out"
        with mock.patch.dict(os.environ, env):
            meter = self.run_cli("demo_meter.py", "-conf", str(conf), *METER_RUN,
                                 "--log-level", "DEBUG")
            service = self.run_cli("demo_pv_service.py", "-conf", str(conf), "-ids", "Meter_0",
                                   "--output-dir", str(out), "--exit-when-idle", "0.5",
                                   "--log-level", "DEBUG")
        for result in (meter, service):
            self.assert_clean_exit(result.returncode, result.stderr)
            self.assertIn("guest:***@localhost:5672", result.stderr)
            self.assertNotIn(SECRET, result.stderr + result.stdout)
        self.assertEqual(len(rows_of(out, "Meter_0")), READINGS)

    @parameterized.expand([
        ("password_readable_by_others", "password", 0o644, True),
        ("password_owner_only", "password", 0o600, False),
        ("url_password_readable_by_group", "url", 0o640, True),
        ("password_file_readable_by_others", "password_file", 0o644, False),
    ])
    def test_readable_config_with_password_warns(self, _name: str, source: str, mode: int,
                                                 warns: bool) -> None:
        if source == "url":
            conf = self.url_config("guest")
        elif source == "password_file":
            conf = self.write_config(broker={"password_file": self.password_file("guest")})
        else:
            conf = self.write_config(broker={"password": "guest"})
        conf.chmod(mode)
        result = self.run_cli("demo_meter.py", "-conf", str(conf), *SHORT_RUN["demo_meter.py"])
        self.assert_clean_exit(result.returncode, result.stderr)
        warning = f"{conf} holds a broker password and is readable by others: chmod 600 it"
        self.assertEqual(warning in result.stderr, warns, result.stderr)
