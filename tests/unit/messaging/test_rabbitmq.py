"""The RabbitMQ adapter's pure parts: how the pipelined declares are split."""

from __future__ import annotations

import unittest

from pv_simulator.messaging.rabbitmq import declare_rounds


class DeclareRoundsTest(unittest.TestCase):
    def test_every_id_once_in_order(self) -> None:
        """Each id is declared exactly once, and the rounds keep the given order."""
        ids = [f"M{i}" for i in range(1000)]
        rounds = declare_rounds(ids, channels=16, per_channel=7)
        flat = [meter for parts in rounds for part in parts for meter in part]
        self.assertEqual(flat, ids)

    def test_rounds_are_bounded(self) -> None:
        """No round uses more channels, and no part more ids, than allowed: each barrier
        waits for a bounded amount of work, so its deadline means something."""
        rounds = declare_rounds([f"M{i}" for i in range(300)], channels=4, per_channel=32)
        self.assertEqual([len(parts) for parts in rounds], [4, 4, 2])
        self.assertTrue(all(1 <= len(part) <= 32 for parts in rounds for part in parts))

    def test_fewer_ids_than_channels(self) -> None:
        self.assertEqual(declare_rounds(["A", "B"], channels=16, per_channel=128), [[["A", "B"]]])

    def test_no_ids(self) -> None:
        self.assertEqual(declare_rounds([], channels=16, per_channel=128), [])


if __name__ == "__main__":
    unittest.main()
