"""A real Home Assistant for the end-to-end test: its own venv (scripts/ensure_home_assistant.sh),
a config folder in the test's temp dir, an owner made through the onboarding API, a token, and
the MQTT integration added through the REST config flow, all on loopback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import unittest
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import websocket

from tests.helpers import wait_until
from tests.paths import ROOT

HA_VENV = ROOT / ".venv-ha"
HASS = HA_VENV / "bin" / "hass"

#: The HA test classes' opt-in: HA takes a venv of its own and half a minute to start.
opt_in = unittest.skipUnless(
    os.environ.get("PV_HA_TESTS") == "1",
    "Home Assistant takes its own venv and a minute: run it with `make test-ha` (PV_HA_TESTS=1)")


def require_hass() -> None:
    """Opted in, a missing HA is a failure (CI must not pass by skipping), not a skip."""
    if not HASS.exists():
        raise AssertionError(f"no {HASS}: run scripts/ensure_home_assistant.sh (make test-ha does)")

CONFIGURATION = """\
homeassistant:
  name: pv-simulator test
  latitude: 48.2
  longitude: 16.4
  elevation: 0
  unit_system: metric
  time_zone: UTC
  country: AT
http:
  server_host: 127.0.0.1
  server_port: {port}
api:
config:
onboarding:
logger:
  default: warning
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class HomeAssistant:
    """One HA process; :meth:`start` brings it up with an owner and a token, :meth:`stop` ends it."""

    def __init__(self, config_dir: Path, recorder: bool = False, extra_config: str = "") -> None:
        self.config_dir = config_dir
        #: With HA's recorder (its SQLite database in the config folder), for long-term statistics.
        self.recorder = recorder
        #: More of configuration.yaml (a ``modbus:`` section, scripts), appended as it is.
        self.extra_config = extra_config
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = ""
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 240) -> None:
        self.config_dir.mkdir(parents=True, exist_ok=True)
        (self.config_dir / "configuration.yaml").write_text(
            CONFIGURATION.format(port=self.port) + ("recorder:\n  commit_interval: 1\n" if self.recorder else "")
            + self.extra_config)
        self.log = (self.config_dir / "hass.out").open("wb")
        self.process = subprocess.Popen([str(HASS), "-c", str(self.config_dir), "--skip-pip"],
                                        stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_until(self._answers, timeout_s, f"Home Assistant on {self.url} (log {self.config_dir}/hass.out)",
                   interval_s=0.5)
        client_id = self.url + "/"
        code = self.request("POST", "/api/onboarding/users", {
            "client_id": client_id, "name": "Owner", "username": "owner", "password": "owner-pass",
            "language": "en"}, auth=False)["auth_code"]
        body = f"grant_type=authorization_code&code={code}&client_id={client_id}".encode()
        token = urllib.request.Request(self.url + "/auth/token", data=body, method="POST",
                                       headers={"Content-Type": "application/x-www-form-urlencoded"})
        with urllib.request.urlopen(token, timeout=30) as response:
            self.token = json.loads(response.read())["access_token"]

    def _answers(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"Home Assistant exited {self.process.returncode}: "
                                 f"{(self.config_dir / 'hass.out').read_text()[-3000:]}")
        try:
            self.request("GET", "/api/onboarding", auth=False)
            return True
        except (OSError, urllib.error.URLError):
            return False

    def request(self, method: str, path: str, body: object = None, auth: bool = True) -> Any:
        headers = {"Content-Type": "application/json"}
        if auth:
            headers["Authorization"] = f"Bearer {self.token}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read()
        return json.loads(text) if text else None

    def add_mqtt(self, host: str, port: int, username: str, password: str) -> dict[str, Any]:
        """The MQTT integration through the config flow: its broker step, then the created entry."""
        flow = self.request("POST", "/api/config/config_entries/flow", {"handler": "mqtt"})
        result: dict[str, Any] = self.request("POST", f"/api/config/config_entries/flow/{flow['flow_id']}", {
            "broker": host, "port": port, "username": username, "password": password})
        if result.get("type") != "create_entry":
            raise AssertionError(f"MQTT config flow: {result}")
        return result

    def states(self) -> dict[str, dict[str, Any]]:
        return {state["entity_id"]: state for state in self.request("GET", "/api/states")}

    def template(self, template: str) -> str:
        request = urllib.request.Request(
            self.url + "/api/template", data=json.dumps({"template": template}).encode(), method="POST",
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return str(response.read().decode())

    def websocket(self, command: dict[str, Any]) -> Any:
        """One command over HA's WebSocket API, authenticated with the token; its result."""
        connection = websocket.create_connection(
            self.url.replace("http://", "ws://") + "/api/websocket", timeout=30)
        try:
            connection.recv()
            connection.send(json.dumps({"type": "auth", "access_token": self.token}))
            if json.loads(connection.recv()).get("type") != "auth_ok":
                raise AssertionError("HA refused the test's token")
            connection.send(json.dumps({"id": 1, **command}))
            reply = json.loads(connection.recv())
        finally:
            connection.close()
        if not reply.get("success"):
            raise AssertionError(f"HA refused {command['type']}: {reply}")
        return reply["result"]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self.process is not None:
            self.log.close()
