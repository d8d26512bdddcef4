"""``python -m pv_simulator.live`` end to end: the real broker, the real command, a real browser.

A fast-forward day of three meters runs through both services with ``--publish`` and
the page draws it (its screenshot is the README's). Another test publishes a day of
results itself, to know every value it must see in ``/api/snapshot`` and in a headless
Chromium, then takes the broker away, brings it back, and drops the page's event stream
by stopping the server and starting it again.
"""

from __future__ import annotations

import json
import math
import os
import selectors
import shutil
import signal
import socket
import subprocess
import urllib.request
from typing import Any
from zoneinfo import ZoneInfo

import pika

from pv_simulator.storage.csv_store import CsvOutput
from tests.helpers import wait_until
from tests.integration.browser import Chromium, require_chromium
from tests.integration.support import PYTHON, BrokerTestCase, rabbitmqctl
from tests.paths import ROOT

METERS = ("Meter_0", "Meter_1", "Meter_2")
#: 2026-06-21 00:00 in Vienna (CEST): the day the fast-forward run covers, one reading a minute.
DAY_START_S = 1782000000.0 - 1782000000.0 % 86400 - 7200
STEP_S = 60
#: Readings of Meter_0 published twice, as a redelivering publisher would.
DUPLICATED = 60
SCREENSHOT = ROOT / "docs" / "images" / "live-view.png"


def result(meter: int, index: int) -> dict[str, Any]:
    """Meter ``meter``'s result at minute ``index``: a PV half-sine from 06:00 to 20:00, a wavy load."""
    hour = index * STEP_S / 3600
    pv_kw = round((3.0 + meter) * math.sin(math.pi * (hour - 6) / 14), 3) if 6 < hour < 20 else 0.0
    meter_w = round(500 + 250 * meter + 300 * math.sin(index / 40 + meter) ** 2, 1)
    return {"meter_id": METERS[meter], "time_s": DAY_START_S + index * STEP_S, "meter_power_w": meter_w,
            "pv_power_kw": pv_kw, "sum_meter_pv_w": round(meter_w + pv_kw * 1000, 1),
            "grid_power_w": round(meter_w - pv_kw * 1000, 1)}


class LiveTestCase(BrokerTestCase):
    """Starts the live view against the class's virtual host."""

    def setUp(self) -> None:
        super().setUp()
        self.conf = self.write_config()

    def start_live(self, *args: str) -> tuple[subprocess.Popen[str], str]:
        """Start the live view on loopback as a user would; it and the URL it serves on."""
        log = (self.tmp / "live.log").open("a")
        self.addCleanup(log.close)
        process = subprocess.Popen(
            [PYTHON, "-m", "pv_simulator.live", "-conf", str(self.conf), *args], cwd=self.tmp, text=True,
            stdout=subprocess.PIPE, stderr=log, env=dict(os.environ, PYTHONPATH=str(ROOT)),
            start_new_session=True)
        self.processes.append(process)
        assert process.stdout is not None
        self.addCleanup(process.stdout.close)
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            ready = selector.select(timeout=60)
        line = process.stdout.readline() if ready else ""
        if not line.startswith("pv-live: serving http://"):
            raise AssertionError(f"live view did not start: {line!r} {(self.tmp / 'live.log').read_text()}")
        return process, line.split()[-1]

    def open_page(self, url: str, *, locale: str | None = None) -> Chromium:
        """A headless Chromium showing ``url`` (in ``locale`` if given), closed after the test."""
        browser = Chromium()
        self.addCleanup(browser.close)
        if locale is not None:
            browser.page("Emulation.setLocaleOverride", locale=locale)
        browser.page("Page.navigate", url=url)
        return browser

    def snapshot(self, url: str, query: str = "") -> dict[str, Any]:
        with urllib.request.urlopen(url + "api/snapshot" + query, timeout=10) as response:
            data: dict[str, Any] = json.load(response)
            return data

class PublishesADay(LiveTestCase):
    """Publishes a known day of results itself, as the PV service would."""

    def publish_day(self) -> None:
        """A simulated day for three meters, persistent and confirmed, as the PV service publishes it."""
        channel = self.connection().channel()
        channel.confirm_delivery()
        for index in range(86400 // STEP_S):
            for meter in range(len(METERS)):
                body = result(meter, index)
                copies = 2 if meter == 0 and index < DUPLICATED else 1
                for _ in range(copies):
                    channel.basic_publish(
                        "amq.topic", f"pv.results.{body['meter_id']}", json.dumps(body).encode(),
                        pika.BasicProperties(content_type="application/json", delivery_mode=2,
                                             message_id=f"{body['meter_id']}:{body['time_s']}"))


class LiveViewTest(PublishesADay):
    def live_connections(self) -> list[str]:
        """The broker's ids of the live view's connections into this class's virtual host."""
        rows = [line.split("\t", 2) for line in
                rabbitmqctl("list_connections", "pid", "vhost", "client_properties").splitlines()]
        return [row[0] for row in rows
                if len(row) == 3 and row[1] == self.vhost and '{"connection_name","pv-live"}' in row[2]]

    def test_a_fast_forward_day_in_the_browser(self) -> None:
        require_chromium(self)
        live, url = self.start_live("--port", "0", "--window-hours", "24")
        self.assertTrue(url.startswith("http://127.0.0.1:"), url)
        self.publish_day()
        total = 86400 // STEP_S * len(METERS)
        wait_until(lambda: self.snapshot(url)["counters"]["accepted"] >= total, 60, f"{total} readings")
        # Meter_2 is among the first six meters every snapshot carries; asking for it changes nothing.
        snap = self.snapshot(url, "?meters=Meter_2")
        counters = snap["counters"]
        self.assertEqual(counters["accepted"], total)
        self.assertEqual(counters["duplicates"], DUPLICATED)
        self.assertEqual(counters["meters_seen"], 3)
        self.assertEqual(counters["last_time_s"], DAY_START_S + 86400 - STEP_S)
        self.assertEqual(snap["meter_ids"], list(METERS))
        self.assertEqual(snap["broker"]["state"], "connected")
        for meter, series in enumerate(snap["meters"][m] for m in METERS):
            self.assertLessEqual(len(series["t"]), 301)
            self.assertGreater(len(series["t"]), 250)
            peak = max(range(len(series["t"])), key=lambda i: series["pv_kw"][i])
            peak_hour = (series["t"][peak] - DAY_START_S) / 3600
            self.assertAlmostEqual(peak_hour, 13, delta=0.5)
            self.assertAlmostEqual(series["pv_kw"][peak], 3.0 + meter, delta=0.05)
            self.assertEqual(series["pv_kw"][0], 0.0)  # midnight
        fleet = snap["fleet"]
        self.assertAlmostEqual(max(fleet["pv_kw"]), 3 + 4 + 5, delta=0.1)
        self.assertEqual(max(fleet["meters"]), 3)

        browser = self.open_page(url)
        shown = browser.wait_for(
            "window.liveState && liveState.meterIds.length === 3 && "
            "document.querySelectorAll('#multiples canvas').length === 3 && "
            "(liveState.charts['meter-Meter_2'] || {}).pvPoints > 0 && "
            "{ids: liveState.meterIds, charts: liveState.charts, broker: document.body.dataset.broker, "
            " counters: document.getElementById('counters').textContent}",
            60, "the page to draw three meters with a PV curve")
        self.assertEqual(shown["ids"], list(METERS))
        self.assertEqual(shown["broker"], "connected")
        self.assertIn("3 meters seen", shown["counters"])
        self.assertIn("60 duplicates ignored", shown["counters"])
        for chart in ("fleet-chart", "meter-chart", *(f"meter-{m}" for m in METERS)):
            self.assertGreater(shown["charts"][chart]["points"], 250, chart)
            self.assertGreater(shown["charts"][chart]["pvPoints"], 100, chart)
        self.assertAlmostEqual(shown["charts"]["fleet-chart"]["pvMax"], 12, delta=0.1)
        # Something was drawn: the PV curve's colour is on the fleet canvas.
        self.assertTrue(browser.evaluate(
            "(() => { const c = document.getElementById('fleet-chart');"
            " const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
            " for (let i = 0; i < d.length; i += 4) if (d[i] === 0xe0 && d[i+1] === 0xa1 && d[i+2] === 0)"
            " return true; return false; })()"))
        self.assertEqual(browser.console_errors(), [])
        png = browser.screenshot(self.tmp / "live-view.png")
        self.assertEqual(png[:8], b"\x89PNG\r\n\x1a\n")
        self.assertGreater(len(png), 20_000)

        # The broker takes the live view's access away: the page says so, then recovers with it.
        rabbitmqctl("clear_permissions", "-p", self.vhost, "guest")
        connections = self.live_connections()
        self.assertEqual(len(connections), 1, connections)
        for pid in connections:
            rabbitmqctl("close_connection", pid, "pv-live test: broker away")
        away = browser.wait_for(
            "document.body.dataset.broker === 'away' && !document.getElementById('broker-banner').hidden && "
            "document.getElementById('broker-banner').textContent", 30, "the broker-away banner")
        self.assertIn("Broker away", away)
        self.assertEqual(self.snapshot(url)["broker"]["state"], "away")
        rabbitmqctl("set_permissions", "-p", self.vhost, "guest", ".*", ".*", ".*")
        browser.wait_for("document.body.dataset.broker === 'connected' && "
                         "document.getElementById('broker-banner').hidden", 30, "the broker back")

        # The server goes away: the stream banner shows; a server on the same port is found again.
        port = url.rstrip("/").rpartition(":")[2]
        live.kill()
        live.wait(timeout=30)
        browser.wait_for("document.body.dataset.stream !== 'open' && "
                         "!document.getElementById('stream-banner').hidden", 30, "the stream-dropped banner")
        before = browser.evaluate("liveState.snapshots")
        self.start_live("--port", port)
        browser.wait_for(f"document.body.dataset.stream === 'open' && liveState.snapshots > {before} && "
                         "document.getElementById('stream-banner').hidden", 30, "the stream back")


class ServicesFeedTheLiveViewTest(LiveTestCase):
    """The real chain: meter fast-forward, PV service with --publish, the live view, a browser."""

    def test_a_fast_forward_day_through_both_services_in_the_browser(self) -> None:
        require_chromium(self)
        live, url = self.start_live("--port", "0", "--window-hours", "24")
        service = self.start("demo_pv_service.py", "-conf", str(self.conf), "-ids", *METERS,
                             "--output-dir", "out", "--publish", "--exit-when-idle", "3")
        meter = self.start("demo_meter.py", "-conf", str(self.conf), "-nb", str(len(METERS)),
                           "--speed", "0", "--interval", "60", "--duration", "86400",
                           "--start", "2026-06-21T00:00", "--seed", "3")
        self.assertEqual(self.finish(meter)[0], 0)
        self.assertEqual(self.finish(service)[0], 0)
        rows = 86400 // 60 * len(METERS)
        wait_until(lambda: self.snapshot(url)["counters"]["accepted"] >= rows, 60, f"{rows} results")
        snap = self.snapshot(url)
        self.assertEqual(snap["meter_ids"], list(METERS))
        self.assertEqual(snap["counters"]["accepted"], rows)
        self.assertGreater(max(snap["fleet"]["pv_kw"]), 0.5)

        browser = self.open_page(url)
        shown = browser.wait_for(
            "window.liveState && liveState.meterIds.length === 3 && "
            "(liveState.charts['fleet-chart'] || {}).pvPoints > 0 && "
            "{ids: liveState.meterIds, charts: liveState.charts}",
            60, "the page to draw the three meters with a PV curve")
        self.assertEqual(shown["ids"], list(METERS))
        self.assertGreater(shown["charts"]["fleet-chart"]["pvPoints"], 50)
        self.assertEqual(browser.console_errors(), [])
        png = browser.screenshot(self.tmp / "live-view.png")
        self.assertEqual(png[:8], b"\x89PNG\r\n\x1a\n")
        if os.environ.get("PV_SAVE_SCREENSHOT") == "1":
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.tmp / "live-view.png", SCREENSHOT)
        live.terminate()
        live.wait(timeout=30)


class CatchUpAndNewRunTest(PublishesADay):
    """A view started after the rows were written, with a short window and a German browser, that then
    sees a new run starting a day earlier."""

    def test_catches_up_from_the_files_and_follows_an_earlier_run(self) -> None:
        require_chromium(self)
        output = CsvOutput(self.tmp / "out", ZoneInfo("Europe/Vienna"))
        later = [result(0, index) for index in range(86400 // STEP_S)]
        for body in later:
            output.write("Meter_0", body["time_s"] + 86400, body["meter_power_w"], body["pv_power_kw"])
        output.close()
        live, url = self.start_live("--port", "0", "--window-hours", "0.25", "--output-dir", "out")
        snap = self.snapshot(url)
        self.assertEqual(snap["meter_ids"], ["Meter_0"])
        self.assertEqual(snap["counters"]["last_time_s"], later[-1]["time_s"] + 86400)
        self.assertEqual(snap["counters"]["accepted"], 0.25 * 3600 // STEP_S + 1)

        browser = self.open_page(url, locale="de-DE")
        shown = browser.wait_for(
            "window.liveState && (liveState.charts['fleet-chart'] || {}).points > 0 && "
            "{locale: liveState.locale, labels: liveState.charts['fleet-chart'].timeLabels, "
            "counters: document.getElementById('counters').textContent}",
            60, "the page to draw the caught-up rows")
        self.assertTrue(shown["locale"].startswith("de"), shown)
        self.assertRegex(shown["counters"], r"22\.06\.2026", "the last time as a German date")
        self.assertGreaterEqual(shown["labels"], 2, "a 15-minute window keeps its time labels")

        self.publish_day()  # the same day's results, but a day before the rows above: a new run
        wait_until(lambda: self.snapshot(url)["counters"]["new_runs"] == 1, 60, "the new run followed")
        earlier_end = DAY_START_S + 86400 - STEP_S
        wait_until(lambda: self.snapshot(url)["counters"]["last_time_s"] == earlier_end, 60,
                   "the earlier run's last time")
        browser.wait_for(f"liveState.lastSnapshot && liveState.lastSnapshot.counters.last_time_s === {earlier_end}"
                         " && liveState.meterIds.length === 3", 30, "the page to show the earlier run")
        self.assertEqual(browser.console_errors(), [])
        live.terminate()
        live.wait(timeout=30)


class LiveCliTest(LiveTestCase):
    """Ctrl-C stops the view cleanly; what a user gets wrong is one line on stderr and an exit code."""

    def test_ctrl_c_stops_cleanly(self) -> None:
        live, url = self.start_live("--port", "0")
        self.assertEqual(self.snapshot(url)["broker"]["state"], "connected")
        live.send_signal(signal.SIGINT)
        self.assertEqual(live.wait(timeout=30), 0)
        log = (self.tmp / "live.log").read_text()
        self.assertNotIn("Traceback", log)
        self.assertIn("stopping", log)

    def run_live(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([PYTHON, "-m", "pv_simulator.live", *args], cwd=self.tmp, text=True,
                              capture_output=True, timeout=60, env=dict(os.environ, PYTHONPATH=str(ROOT)))

    def test_missing_configuration_file(self) -> None:
        result = self.run_live("-conf", "missing.ini", "--port", "0")
        self.assert_one_line_error(result.returncode, result.stderr, 2, "missing.ini", "not found")

    def test_bad_window(self) -> None:
        result = self.run_live("--window-hours", "-1")
        self.assert_one_line_error(result.returncode, result.stderr, 2, "--window-hours")

    def test_port_in_use(self) -> None:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            result = self.run_live("-conf", str(self.write_config()), "--port", str(port))
        self.assert_one_line_error(result.returncode, result.stderr, 1, f"127.0.0.1:{port}", "in use")

    def test_broker_unreachable_at_start_serves_the_page_with_the_broker_away(self) -> None:
        with socket.socket() as closed:
            closed.bind(("127.0.0.1", 0))
            port = closed.getsockname()[1]
        self.conf = self.write_config(broker={"port": port, "connection_attempts": 1})
        live, url = self.start_live("--port", "0")
        broker = self.snapshot(url)["broker"]
        self.assertEqual(broker["state"], "away")
        self.assertIn(f"localhost:{port}", broker["reason"])
        live.terminate()
        self.assertEqual(live.wait(timeout=30), 0)
        self.assertNotIn("Traceback", (self.tmp / "live.log").read_text())

    def test_missing_exchange_fails_as_the_pv_service_does(self) -> None:
        result = self.run_live("-conf", str(self.write_config()), "--port", "0",
                               "--exchange", "pv.no-such-exchange")
        self.assert_one_line_error(result.returncode, result.stderr, 1, "pv.no-such-exchange")

    def test_unknown_virtual_host(self) -> None:
        conf = self.write_config(broker={"virtual_host": self.vhost + "-missing"})
        result = self.run_live("-conf", str(conf), "--port", "0")
        self.assert_one_line_error(result.returncode, result.stderr, 2, "virtual host")

