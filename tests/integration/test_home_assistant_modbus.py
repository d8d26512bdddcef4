"""Home Assistant 2024.3's own ``modbus`` integration pointed at a simulated site with the
configuration.yaml of docs/sunspec.md, taken from the page (only its port is this test's), so that
the snippet users copy is the one run here: HA's sensors show the rows the PV service wrote,
SunSpec's sign of the grid power, the energy counters, and its scripts cap the inverter and lift
the cap.

Opt-in with the other HA tests: ``make test-ha`` (``PV_HA_TESTS=1``).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from pv_simulator.storage.csv_format import Row
from tests.helpers import wait_until
from tests.integration.home_assistant import HomeAssistant, opt_in, require_hass
from tests.integration.test_sunspec import SunSpecCase, energy_wh, grid_w, scan
from tests.paths import ROOT

DOCS = ROOT / "docs" / "sunspec.md"
#: The port the page's examples use; the test serves on a free one instead.
DOCS_PORT = 5020
#: SunSpecCase's 10 kWp plant: 8.33 kW AC, SunSpec scale factor 0 as the snippet assumes.
INVERTER_AC_W = 10_000 / 1.2
#: Half a SunSpec integer at scale factor 0: the registers' resolution, W or Wh.
RESOLUTION = 0.5
#: HA's modbus polls every 15 s by default (the snippet keeps it): a value shows within two polls.
POLL_DEADLINE_S = 40.0
#: The real-time run's interval, s.
INTERVAL_S = 2.0

LIMIT = "Meter_0 PV limit"
LIMITED = "Meter_0 PV limited"
TEMPERATURE = "Meter_0 inverter temperature"


def docs_snippet(port: int) -> str:
    """The ``configuration.yaml`` block of the page's Home Assistant paragraph, on ``port``."""
    after = DOCS.read_text(encoding="utf-8").split("**Home Assistant**", 1)[1]
    match = re.search(r"```yaml\n(.*?)```", after, re.DOTALL)
    if match is None:
        raise AssertionError(f"{DOCS}: no yaml block after the Home Assistant paragraph")
    snippet, count = re.subn(rf"^(\s+port:) {DOCS_PORT}$", rf"\g<1> {port}", match.group(1), flags=re.MULTILINE)
    if count != 1:
        raise AssertionError(f"{DOCS}: the Home Assistant snippet names port {DOCS_PORT} {count} times, not once")
    return snippet


def entity_ids(snippet: str) -> dict[str, str]:
    """The entity ids HA makes of the snippet's sensors and binary sensors, by name."""
    ids: dict[str, str] = {}
    domain = ""
    for line in snippet.splitlines():
        if line.strip() in ("sensors:", "binary_sensors:"):
            domain = line.strip()[:-2]
        elif match := re.fullmatch(r"\s+- name: (Meter_0 [^#]*?)\s*(?:#.*)?", line):
            ids[match.group(1)] = f"{domain}.{re.sub(r'[^a-z0-9]+', '_', match.group(1).lower())}"
    return ids


#: Each sensor of the snippet: the value of the rows written up to now that it must show.
EXPECTED: dict[str, Callable[[list[Row]], float]] = {
    "Meter_0 PV power": lambda rows: rows[-1].pv_power_value_kw * 1000.0,
    "Meter_0 grid power": lambda rows: grid_w(rows[-1]),
    "Meter_0 PV energy": lambda rows: energy_wh(rows)[0],
    "Meter_0 grid import": lambda rows: energy_wh(rows)[1],
    "Meter_0 grid export": lambda rows: energy_wh(rows)[2],
}


@opt_in
class HomeAssistantModbusTest(SunSpecCase):
    @classmethod
    def setUpClass(cls) -> None:
        require_hass()
        super().setUpClass()

    def setUp(self) -> None:
        super().setUp()
        snippet = docs_snippet(self.port)
        self.entities = entity_ids(snippet)
        self.ha = HomeAssistant(self.tmp / "ha", extra_config=snippet)
        self.addCleanup(self.ha.stop)

    def states(self) -> dict[str, str]:
        """The snippet's sensors' states by name (those HA has)."""
        states = self.ha.states()
        return {name: states[entity]["state"] for name, entity in self.entities.items() if entity in states}

    def shows(self, rows: list[Row]) -> bool:
        """Every sensor shows the value of ``rows``, to the registers' resolution."""
        states = self.states()
        try:
            return all(
                abs(float(states[name]) - value(rows)) <= RESOLUTION for name, value in EXPECTED.items())
        except (KeyError, ValueError):  # not there yet, "unknown", "unavailable"
            return False

    def wait_for_ha(self, condition: Callable[[], bool], what: str) -> None:
        """``condition`` within two of HA's polls; else the failure shows HA's states and log."""
        try:
            wait_until(condition, POLL_DEADLINE_S, what)
        except AssertionError as error:
            log = (self.ha.config_dir / "hass.out").read_text(errors="replace")[-3000:]
            raise AssertionError(f"{error}; HA shows {self.states()}; HA's log: {log}") from None

    def test_the_docs_snippet_in_home_assistant_shows_the_rows(self) -> None:
        self.assertEqual(sorted(self.entities), sorted([*EXPECTED, LIMIT, LIMITED, TEMPERATURE]),
                         "every sensor of the snippet checked")
        conf = self.config(modbus={"control": "true"})
        service = self.service(conf, 1)
        self.ha.start()
        self.assertIsNone(service.poll(), self.log_tail(service))

        # No reading yet: SunSpec's "not implemented" in the power registers, which must not read as
        # -32768 W. update_entity returns once HA has polled them.
        self.ha.request("POST", "/api/services/homeassistant/update_entity",
                        {"entity_id": list(self.entities.values())})
        self.assertEqual(self.states(), {"Meter_0 PV power": "unavailable", "Meter_0 grid power": "unavailable",
                                         "Meter_0 PV energy": "0", "Meter_0 grid import": "0",
                                         "Meter_0 grid export": "0", LIMIT: "100.00", LIMITED: "off",
                                         TEMPERATURE: "unavailable"})

        # A morning to noon in fast-forward: imports early, exports at noon; then no more rows,
        # so the registers hold the last row's values and HA's next poll must show them.
        meter = self.run_cli("demo_meter.py", "-conf", str(conf), "--speed", "0", "--seed", "5",
                             "--start", "2026-06-21T05:00", "--interval", "60", "--duration", str(7 * 3600))
        self.assert_clean_exit(meter.returncode, meter.stderr)
        wait_until(lambda: len(self.rows()) == 7 * 60, 60, "the fast-forward rows")
        rows = self.rows()
        self.wait_for_ha(lambda: self.shows(rows), f"the last row's {({n: v(rows) for n, v in EXPECTED.items()})}")
        # The heat sink's temperature is the server's model, not a column: pysunspec2 is its oracle.
        temperature_c = scan(self.port, 1)[103]["TmpCab"]
        self.wait_for_ha(lambda: self.states()[TEMPERATURE] == f"{temperature_c:.1f}", f"{temperature_c} deg C")
        self.assertGreater(temperature_c, 30.0, "a noon's losses heat the inverter above the 20 deg C air")
        states = self.states()
        self.assertLess(grid_w(rows[-1]), -1000.0, "a clear noon exports")
        self.assertLess(float(states["Meter_0 grid power"]), -1000.0, "exporting reads negative")
        self.assertGreater(float(states["Meter_0 grid import"]), 100.0, "the early morning imported")
        self.assertGreater(float(states["Meter_0 grid export"]), 100.0)
        attributes = self.ha.states()[self.entities["Meter_0 grid export"]]["attributes"]
        self.assertEqual((attributes["device_class"], attributes["state_class"], attributes["unit_of_measurement"]),
                         ("energy", "total_increasing", "Wh"))
        self.assertEqual(self.ha.states()[self.entities["Meter_0 grid power"]]["attributes"]["unit_of_measurement"],
                         "W")
        self.assertEqual((states[LIMIT], states[LIMITED]), ("100.00", "off"), "no limit written")

        # In real time, the snippet's script caps the inverter through HA's modbus.write_register.
        self.start("demo_meter.py", "-conf", str(conf), "--seed", "5", "--start", "2026-06-21T12:00",
                   "--interval", str(INTERVAL_S), "--duration", "120", log=True)
        wait_until(lambda: len(self.rows()) >= len(rows) + 3, 30, "the real-time rows")
        before_s = self.rows()[-1].time_s
        self.ha.request("POST", "/api/services/script/meter_0_pv_limit", {"percent": 30})
        limit_w = 0.3 * INVERTER_AC_W

        def capped() -> list[Row]:
            return [row for row in self.rows()
                    if row.time_s > before_s and abs(row.pv_power_value_kw * 1000.0 - limit_w) < 0.01]

        wait_until(lambda: bool(capped()), 30, "a row at 30 % of the AC rating")
        self.assertLessEqual(capped()[0].time_s, before_s + 2 * INTERVAL_S)
        self.assertGreater((capped()[-1].pv_available_kw or 0.0) * 1000.0, limit_w)
        self.assertIn("command for Meter_0: pv_limit_pct 30.0", self.log_tail(service, 1000))

        def shows_the_limit() -> bool:
            states = self.states()
            recent = self.rows()[-int(POLL_DEADLINE_S / INTERVAL_S):]
            try:
                return ((states[LIMIT], states[LIMITED]) == ("30.00", "on")
                        and abs(float(states["Meter_0 PV power"]) - limit_w) <= RESOLUTION
                        and any(abs(float(states["Meter_0 grid power"]) - grid_w(row)) <= RESOLUTION
                                for row in recent))
            except (KeyError, ValueError):
                return False

        self.wait_for_ha(shows_the_limit, "the limit, the capped PV and a recent row's grid power")

        before_s = self.rows()[-1].time_s
        self.ha.request("POST", "/api/services/script/meter_0_pv_limit_off", {})
        wait_until(lambda: any(row.time_s > before_s and row.pv_power_value_kw > limit_w / 1000.0 + 1.0
                               for row in self.rows()), 30, "a row above the limit once it is lifted")
        self.wait_for_ha(lambda: self.states()[LIMITED] == "off" and float(self.states()["Meter_0 PV power"]) > limit_w,
                         "no limit in force")
        self.assertEqual(self.states()[LIMIT], "30.00", "the last written")
