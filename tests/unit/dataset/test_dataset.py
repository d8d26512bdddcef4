"""The embedded pipeline over the in-memory broker: how meters are split, where a restart
resumes, and that a resumed or split run writes the files of one uninterrupted run."""

from __future__ import annotations

import dataclasses
import gc
import shutil
import tempfile
import unittest
from pathlib import Path
from unittest import mock

import pv_simulator.dataset
from pv_simulator.config import Config, load_config
from pv_simulator.dataset import (
    _COLLECTION_THRESHOLDS,
    EMBEDDED_READINGS_PER_MESSAGE,
    Span,
    embedded_config,
    resume_tick,
    run_share,
    split_meters,
)
from pv_simulator.services.clock import parse_start
from tests.helpers import files_of

START = "2026-03-28T12:00"  # the night of the spring clock change in Vienna lies in the span
INTERVAL_S = 600.0
DURATION_S = 2 * 86400.0


class SplitMetersTest(unittest.TestCase):
    def test_dealt_round_robin_each_meter_once(self) -> None:
        ids = [f"Meter_{i}" for i in range(7)]
        shares = split_meters(ids, 3)
        self.assertEqual(shares, [["Meter_0", "Meter_3", "Meter_6"], ["Meter_1", "Meter_4"],
                                  ["Meter_2", "Meter_5"]])

    def test_no_empty_share_with_more_processes_than_meters(self) -> None:
        self.assertEqual(split_meters(["A", "B"], 8), [["A"], ["B"]])

    def test_one_share_below_one_process(self) -> None:
        self.assertEqual(split_meters(["A", "B"], 0), [["A", "B"]])


class EmbeddedConfigTest(unittest.TestCase):
    def test_packs_at_least_the_embedded_count_and_keeps_a_larger_one(self) -> None:
        config = load_config(None)
        self.assertEqual(config.broker.readings_per_message, 1)
        self.assertEqual(embedded_config(config).broker.readings_per_message,
                         EMBEDDED_READINGS_PER_MESSAGE)
        larger = dataclasses.replace(config, broker=dataclasses.replace(
            config.broker, readings_per_message=EMBEDDED_READINGS_PER_MESSAGE + 50))
        self.assertEqual(embedded_config(larger).broker.readings_per_message,
                         EMBEDDED_READINGS_PER_MESSAGE + 50)
        self.assertEqual(embedded_config(config).site, config.site)


class ResumeTickTest(unittest.TestCase):
    span = Span(count=None, seed=1, start_s=1000.0, interval_s=10.0, duration_s=100.0)

    def test_fresh_output_starts_at_zero(self) -> None:
        self.assertEqual(resume_tick({}, ["A", "B"], self.span), 0)

    def test_the_meter_furthest_behind_decides(self) -> None:
        # A wrote ticks 0..4 (last at 1040), B ticks 0..7: tick 5 is A's next.
        self.assertEqual(resume_tick({"A": 1040.0, "B": 1070.0}, ["A", "B"], self.span), 5)

    def test_a_meter_without_rows_starts_over(self) -> None:
        self.assertEqual(resume_tick({"A": 1070.0}, ["A", "B"], self.span), 0)

    def test_rows_of_an_earlier_span_count_as_none(self) -> None:
        self.assertEqual(resume_tick({"A": 990.0}, ["A"], self.span), 0)

    def test_done_when_every_meter_reached_the_end(self) -> None:
        self.assertEqual(resume_tick({"A": 1090.0, "B": 5000.0}, ["A", "B"], self.span),
                         self.span.tick_count)

    def test_a_time_rounded_down_to_the_millisecond_resumes_at_that_tick(self) -> None:
        span = Span(count=None, seed=1, start_s=1000.0004, interval_s=10.0, duration_s=100.0)
        # Tick 3 is at 1030.0004, written as 1030.0: resuming at 3 again is safe (a duplicate).
        self.assertIn(resume_tick({"A": 1030.0}, ["A"], span), (3, 4))


class RunShareTest(unittest.TestCase):
    """Whole runs over the in-memory broker with a household, a fleet plant and a battery."""

    def setUp(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="pvtest-dataset-"))
        self.addCleanup(shutil.rmtree, self.tmp, True)
        fleet = self.tmp / "fleet.csv"
        fleet.write_text("meter_id,peak_power_kw,tilt_deg,azimuth_deg,annual_energy_kwh,battery_kwh\n"
                         "House_A,6.5,30,180,3500,\nHouse_B,4.0,25,120,2500,8\nHouse_C,0,,,1800,\n"
                         "House_D,6.5,30,180,4200,\n")
        ini = self.tmp / "fleet.ini"
        ini.write_text("[site]\ntimezone = Europe/Vienna\n[pv]\nmodel = solar\nsky = variable\n"
                       "[meter]\nmodel = household\n[fleet]\nfile = fleet.csv\n[output]\nfsync = never\n")
        self.config: Config = load_config(ini)
        self.span = Span(None, 7, parse_start(START, self.config.site.timezone), INTERVAL_S,
                         DURATION_S)
        self.ids = ["House_A", "House_B", "House_C", "House_D"]

    def run_into(self, out: Path, ids: list[str], stop_after: int | None = None) -> int:
        """Run a share; with ``stop_after``, ask it to stop once that many readings are done."""
        done = [0]

        def progress(count: int) -> None:
            done[0] = count

        def should_stop() -> bool:
            return stop_after is not None and done[0] >= stop_after

        run_share(self.config, self.span, ids, out, should_stop, progress, batch_readings=100)
        return done[0]

    def test_split_shares_write_the_files_of_one_run(self) -> None:
        whole, split = self.tmp / "whole", self.tmp / "split"
        self.run_into(whole, self.ids)
        for share in split_meters(self.ids, 3):
            self.run_into(split, share)
        expected = files_of(whole)
        self.assertEqual(len(expected), 4 * 3)  # 4 meters over 3 local days
        self.assertEqual(files_of(split), expected)
        rows = sum(len(content.splitlines()) - 1 for content in expected.values())
        self.assertEqual(rows, 4 * self.span.tick_count)

    def test_a_stopped_run_resumes_without_gap_or_duplicate(self) -> None:
        whole, resumed = self.tmp / "whole", self.tmp / "resumed"
        self.run_into(whole, self.ids)
        done = self.run_into(resumed, self.ids, stop_after=1)
        self.assertLess(done, 4 * self.span.tick_count)
        with self.assertLogs("pv_simulator.services.meter", "INFO") as logs:
            self.run_into(resumed, self.ids)
        self.assertTrue(any("resuming at tick" in line for line in logs.output), logs.output)
        self.assertEqual(files_of(resumed), files_of(whole))

    def test_a_run_cut_mid_file_resumes_from_each_meters_last_row(self) -> None:
        whole, cut = self.tmp / "whole", self.tmp / "cut"
        self.run_into(whole, self.ids)
        shutil.copytree(whole, cut)
        files = sorted(cut.glob("House_B-*.csv"))
        # As a kill -9 leaves it: House_B's last day gone, its second day torn in a row.
        files[-1].unlink()
        content = files[-2].read_bytes()
        files[-2].write_bytes(content[:len(content) // 2])
        self.run_into(cut, self.ids)
        self.assertEqual(files_of(cut), files_of(whole))

    def test_a_finished_run_again_writes_nothing(self) -> None:
        out = self.tmp / "out"
        self.run_into(out, self.ids)
        before = files_of(out)
        done = self.run_into(out, self.ids)
        self.assertEqual(done, 4 * self.span.tick_count)
        self.assertEqual(files_of(out), before)

    def test_packing_the_readings_changes_no_byte(self) -> None:
        packed, single = self.tmp / "packed", self.tmp / "single"
        self.run_into(packed, self.ids)
        with mock.patch.object(pv_simulator.dataset, "EMBEDDED_READINGS_PER_MESSAGE", 1):
            self.assertEqual(embedded_config(self.config).broker.readings_per_message, 1)
            self.run_into(single, self.ids)
        self.assertEqual(files_of(packed), files_of(single))
        self.assertEqual(len(files_of(packed)), 4 * 3)

    def test_the_run_keeps_what_was_built_out_of_collection_collects_less_and_gives_back(self) -> None:
        before, thresholds = gc.get_freeze_count(), gc.get_threshold()
        during: list[tuple[int, tuple[int, int, int]]] = []
        run_share(self.config, self.span, self.ids, self.tmp / "out", lambda: False,
                  lambda _count: during.append((gc.get_freeze_count(), gc.get_threshold())),
                  batch_readings=100)
        # The first call comes before the run; those after each batch come during it.
        self.assertEqual(during[0], (before, thresholds))
        self.assertTrue(all(count > before for count, _ in during[1:]), during)
        self.assertTrue(all(now == _COLLECTION_THRESHOLDS for _, now in during[1:]), during)
        self.assertGreater(len(during), 2)
        self.assertEqual((gc.get_freeze_count(), gc.get_threshold()), (before, thresholds))


if __name__ == "__main__":
    unittest.main()
