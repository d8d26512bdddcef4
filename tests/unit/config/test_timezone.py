"""The machine's time zone, the default of [site] timezone."""

from __future__ import annotations

import os
import unittest
from unittest import mock
from zoneinfo import ZoneInfo

from pv_simulator.config import local_timezone


class LocalTimezoneTest(unittest.TestCase):
    def test_tz_names_the_zone(self) -> None:
        with mock.patch.dict(os.environ, {"TZ": ":America/New_York"}):
            self.assertEqual(local_timezone(), ZoneInfo("America/New_York"))

    def test_a_tz_that_is_no_zone_warns_under_its_module(self) -> None:
        with mock.patch.dict(os.environ, {"TZ": "Mars/Olympus"}), \
                self.assertLogs("pv_simulator.config", "WARNING") as logs:
            self.assertIsInstance(local_timezone(), ZoneInfo)
        self.assertEqual(logs.records[0].name, "pv_simulator.config.timezone")
        self.assertIn("TZ='Mars/Olympus' is not an IANA time zone", logs.output[0])
