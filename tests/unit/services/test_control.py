"""Commands: every key's type and range, revert timers in the readings' time, the board's counts."""

from __future__ import annotations

import json
import unittest

from parameterized import parameterized

from pv_simulator.services.control import BadCommand, Control, ControlBoard, meter_of, parse_command

BAD_COMMANDS = [
    ("not_json", b"{pv_limit_pct: 30}", "invalid JSON"),
    ("not_utf8", b"\xff\xfe", "invalid JSON"),
    ("not_an_object", b"[30]", "invalid JSON"),
    ("unknown_key", b'{"pv_limit": 30}', "unknown key"),
    ("limit_as_text", b'{"pv_limit_pct": "30"}', "wrong type"),
    ("limit_as_boolean", b'{"pv_limit_pct": true}', "wrong type"),
    ("mode_as_number", b'{"battery_mode": 1}', "wrong type"),
    ("limit_above_100", b'{"pv_limit_pct": 100.5}', "out of range"),
    ("limit_below_0", b'{"pv_limit_pct": -1}', "out of range"),
    ("limit_nan", b'{"pv_limit_pct": NaN}', "out of range"),
    ("negative_export", b'{"export_limit_w": -1}', "out of range"),
    ("unknown_mode", b'{"battery_mode": "eco"}', "out of range"),
    ("huge_setpoint", b'{"battery_setpoint_w": 1e9}', "out of range"),
    ("zero_revert", b'{"pv_limit_pct": 30, "revert_after_s": 0}', "out of range"),
    ("empty", b"{}", "no setting"),
    ("only_revert", b'{"revert_after_s": 60}', "no setting"),
]


class ParseCommandTest(unittest.TestCase):
    def test_every_key(self) -> None:
        command = parse_command(json.dumps({
            "pv_limit_pct": 30, "export_limit_w": 0, "battery_mode": "setpoint",
            "battery_setpoint_w": -2500, "revert_after_s": 60}).encode())
        self.assertEqual(command.settings, {"pv_limit_pct": 30.0, "export_limit_w": 0.0,
                                            "battery_mode": "setpoint", "battery_setpoint_w": -2500.0})
        self.assertEqual(command.revert_after_s, 60.0)

    def test_edges_of_the_ranges_are_valid(self) -> None:
        self.assertEqual(parse_command(b'{"pv_limit_pct": 0}').settings["pv_limit_pct"], 0.0)
        self.assertEqual(parse_command(b'{"pv_limit_pct": 100}').settings["pv_limit_pct"], 100.0)
        self.assertIsNone(parse_command(b'{"export_limit_w": null}').settings["export_limit_w"])

    @parameterized.expand(BAD_COMMANDS)
    def test_bad_command_is_refused_by_kind(self, _: str, body: bytes, kind: str) -> None:
        with self.assertRaises(BadCommand) as caught:
            parse_command(body)
        self.assertEqual(caught.exception.kind, kind)

    def test_meter_of_the_routing_key(self) -> None:
        self.assertEqual(meter_of("pv.control.Meter_0"), "Meter_0")
        self.assertEqual(meter_of("pv.control.Site%2EA-1"), "Site.A-1")
        self.assertIsNone(meter_of("pv.results.Meter_0"))


class ControlTest(unittest.TestCase):
    def test_takes_effect_from_the_next_reading_and_lapses_after_the_timer(self) -> None:
        control = Control()
        control.at(100.0)
        control.receive(parse_command(b'{"pv_limit_pct": 30, "revert_after_s": 20}'))
        self.assertIsNone(control.pv_limit_pct)
        control.at(110.0)
        self.assertEqual(control.pv_limit_pct, 30.0)
        control.at(129.999)
        self.assertEqual(control.pv_limit_pct, 30.0)
        control.at(130.0)
        self.assertIsNone(control.pv_limit_pct)

    def test_renewal_moves_the_deadline(self) -> None:
        control = Control()
        control.receive(parse_command(b'{"pv_limit_pct": 30, "revert_after_s": 20}'))
        control.at(0.0)
        control.receive(parse_command(b'{"pv_limit_pct": 40, "revert_after_s": 20}'))
        control.at(15.0)
        control.at(25.0)
        self.assertEqual(control.pv_limit_pct, 40.0)
        control.at(35.0)
        self.assertIsNone(control.pv_limit_pct)

    def test_without_timer_a_setting_holds_and_clears_a_timer(self) -> None:
        control = Control()
        control.receive(parse_command(b'{"battery_mode": "idle", "revert_after_s": 5}'))
        control.at(0.0)
        control.receive(parse_command(b'{"battery_mode": "idle"}'))
        control.at(1.0)
        control.at(1e9)
        self.assertEqual(control.battery_mode, "idle")

    def test_export_limit_null_returns_to_the_configured_one(self) -> None:
        control = Control()
        control.receive(parse_command(b'{"export_limit_w": 0}'))
        control.at(0.0)
        self.assertTrue(control.export_limit_set)
        self.assertEqual(control.export_limit_w, 0.0)
        control.receive(parse_command(b'{"export_limit_w": null}'))
        control.at(1.0)
        self.assertFalse(control.export_limit_set)


class ControlBoardTest(unittest.TestCase):
    def board(self) -> ControlBoard:
        return ControlBoard(lambda meter_id: meter_id in ("A", "B"), lambda meter_id: meter_id == "A")

    def test_valid_command_is_queued_for_its_meter_and_counted(self) -> None:
        board = self.board()
        with self.assertLogs("pv_simulator.services.control", "INFO") as logs:
            board.on_message("pv.control.A", b'{"battery_mode": "idle"}')
        self.assertEqual((board.applied, board.rejected), (1, 0))
        self.assertEqual(len(logs.records), 1)
        board.control("A").at(0.0)
        self.assertEqual(board.control("A").battery_mode, "idle")

    def test_corpus_changes_nothing_is_counted_and_logged_once_per_kind(self) -> None:
        board = self.board()
        bodies = [body for _, body, _ in BAD_COMMANDS]
        with self.assertLogs("pv_simulator.services.control", "WARNING") as logs:
            for body in bodies * 2:
                board.on_message("pv.control.A", body)
            board.on_message("pv.control.Nobody", b'{"pv_limit_pct": 30}')
            board.on_message("pv.control.B", b'{"battery_mode": "idle"}')
        kinds = {kind for _, _, kind in BAD_COMMANDS} | {"unknown meter", "no battery"}
        self.assertEqual(board.rejected, 2 * len(bodies) + 2)
        self.assertEqual(board.applied, 0)
        self.assertEqual(len(logs.records), len(kinds))
        self.assertEqual(set(board.rejected_kinds), kinds)
        control = board.control("A")
        control.at(0.0)
        self.assertEqual((control.pv_limit_pct, control.battery_mode, control.export_limit_set),
                         (None, None, False))


if __name__ == "__main__":
    unittest.main()
