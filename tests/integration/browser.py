"""A real headless Chromium driven over the Chrome DevTools Protocol, for tests of web pages.

Debian's ``chromium`` is the browser (``scripts/ensure_chromium.sh`` installs it);
``websocket-client`` carries the protocol. One websocket to the browser, one
page attached to it in flat mode: replies are matched by id, and every event
seen meanwhile is kept in :attr:`Chromium.events` for the console checks.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
from pathlib import Path
from typing import Any

import websocket

from tests.paths import ROOT

CHROMIUM = Path(os.environ.get("PV_CHROMIUM", "/usr/bin/chromium"))


def require_chromium(test: unittest.TestCase) -> None:
    """Install Chromium when missing; without it skip, except under CI where it fails the test."""
    if not CHROMIUM.exists():
        result = subprocess.run(["bash", str(ROOT / "scripts" / "ensure_chromium.sh")],
                                capture_output=True, text=True, timeout=900)
        if not CHROMIUM.exists():
            message = (f"{CHROMIUM} is missing and scripts/ensure_chromium.sh could not install it: "
                       f"{(result.stderr or result.stdout).strip()[-500:]}")
            if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
                test.fail(message)
            test.skipTest(message)


class Chromium:
    """One headless browser with a fresh profile, and one page in it.

    Args:
        width, height: the page's viewport in CSS pixels.
    """

    def __init__(self, width: int = 1280, height: int = 960, timeout_s: float = 60) -> None:
        self.profile = Path(tempfile.mkdtemp(prefix="pvtest-chromium-"))
        self.log = (self.profile / "chromium.log").open("w")
        self.process = subprocess.Popen(
            [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--disable-component-update", "--no-first-run",
             "--disable-sync", "--disable-dev-shm-usage", "--hide-scrollbars",
             f"--user-data-dir={self.profile}", "--remote-debugging-port=0", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=self.log, start_new_session=True)
        self.events: list[dict[str, Any]] = []
        self._next_id = 0
        try:
            self.ws = websocket.create_connection(self._browser_url(timeout_s), timeout=timeout_s,
                                                  suppress_origin=True)
            target = self.call("Target.createTarget", url="about:blank")["targetId"]
            self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
            for domain in ("Page", "Runtime", "Log"):
                self.page(f"{domain}.enable")
            self.page("Emulation.setDeviceMetricsOverride", width=width, height=height,
                      deviceScaleFactor=1, mobile=False)
        except BaseException:
            self.close()
            raise

    def _browser_url(self, timeout_s: float) -> str:
        """The browser's DevTools websocket, from the ``DevToolsActivePort`` file it writes at start."""
        port_file = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + timeout_s
        while True:
            lines = port_file.read_text().split() if port_file.exists() else []
            if len(lines) >= 2:
                return f"ws://127.0.0.1:{lines[0]}{lines[1]}"
            if self.process.poll() is not None:
                raise AssertionError(f"chromium exited ({self.process.returncode}): "
                                     f"{(self.profile / 'chromium.log').read_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"chromium wrote no {port_file} in {timeout_s:.0f} s")
            time.sleep(0.05)

    def call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        """Send one command and return its result; events read on the way are kept."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        self.ws.send(json.dumps(message))
        while True:
            reply = json.loads(self.ws.recv())
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise AssertionError(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result
            if "method" in reply:
                self.events.append(reply)

    def page(self, method: str, **params: Any) -> dict[str, Any]:
        return self.call(method, self.session, **params)

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (JSON-serialisable values only)."""
        result = self.page("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression!r} threw: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout_s: float, what: str) -> Any:
        """Poll ``expression`` until it is truthy; its value. Fails with ``what`` after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what} "
                                     f"(last value {value!r})")
            time.sleep(0.1)

    def console_errors(self) -> list[str]:
        """Console errors, uncaught exceptions and error log entries seen so far."""
        self.evaluate("0")  # read the events sent before now
        errors = []
        for event in self.events:
            params = event.get("params", {})
            if event["method"] == "Runtime.exceptionThrown":
                errors.append(json.dumps(params.get("exceptionDetails", {}))[:500])
            elif event["method"] == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                errors.append(json.dumps(params.get("args", []))[:500])
            elif event["method"] == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                errors.append(f"{params['entry'].get('url', '')}: {params['entry'].get('text', '')}")
        return errors

    def screenshot(self, path: Path) -> bytes:
        """The page as PNG, written to ``path``."""
        data = base64.b64decode(self.page("Page.captureScreenshot", format="png")["data"])
        path.write_bytes(data)
        return data

    def close(self) -> None:
        ws = getattr(self, "ws", None)
        if ws is not None:
            ws.close()
        # Its own session: the group holds the renderer and helper processes too.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self.log.close()
        shutil.rmtree(self.profile, ignore_errors=True)
