"""The pika adapter's pure parts (no broker needed): how the pipelined declares are split, and the
bookkeeping of publisher confirms."""

from __future__ import annotations

import unittest

from pika.frame import Method
from pika.spec import Basic

from pv_simulator.messaging.rabbitmq import PublisherConfirms, declare_rounds


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


def _confirm(confirms: PublisherConfirms, tag: int, multiple: bool = False,
             nack: bool = False) -> None:
    kind = Basic.Nack if nack else Basic.Ack
    confirms.on_confirm(Method(1, kind(delivery_tag=tag, multiple=multiple)))


class PublisherConfirmsTest(unittest.TestCase):
    """A batch counts as published only once every one of its tags is confirmed, whichever
    mix of single and multiple confirms the broker sends."""

    def test_multiple_confirm_covers_every_tag_up_to_its_own(self) -> None:
        confirms = PublisherConfirms()
        confirms.published(5)
        _confirm(confirms, 3, multiple=True)
        self.assertEqual(confirms.outstanding, 2)
        _confirm(confirms, 5, multiple=True)
        self.assertEqual(confirms.outstanding, 0)

    def test_single_confirms_out_of_order(self) -> None:
        confirms = PublisherConfirms()
        confirms.published(4)
        for tag in (2, 4, 1):
            _confirm(confirms, tag)
        self.assertEqual(confirms.outstanding, 1)
        _confirm(confirms, 3)
        self.assertEqual(confirms.outstanding, 0)

    def test_multiple_after_singles_counts_each_tag_once(self) -> None:
        confirms = PublisherConfirms()
        confirms.published(6)
        _confirm(confirms, 2)
        _confirm(confirms, 5)
        _confirm(confirms, 4, multiple=True, nack=True)
        # Tags 1, 3 and 4 are refused by the multiple nack; 2 had been confirmed before it.
        self.assertEqual(confirms.take_nacked(), 3)
        self.assertEqual(confirms.take_nacked(), 0)
        self.assertEqual(confirms.outstanding, 1)
        _confirm(confirms, 6)
        self.assertEqual(confirms.outstanding, 0)

    def test_later_batches_continue_the_channel_s_tags(self) -> None:
        confirms = PublisherConfirms()
        confirms.published(2)
        _confirm(confirms, 2, multiple=True)
        confirms.published(3)
        self.assertEqual(confirms.outstanding, 3)
        _confirm(confirms, 5, multiple=True)
        self.assertEqual(confirms.outstanding, 0)


if __name__ == "__main__":
    unittest.main()
