from __future__ import annotations

import unittest
from typing import ClassVar

from benchmarks.scenarios import written_share


class WrittenShareTest(unittest.TestCase):
    """One sampled meter, a tick a second from t=100; the first tick's row came late."""

    rows: ClassVar[list[tuple[float, float, float]]] = [(100.0, 105.0, 0.0), (101.0, 101.2, 0.0), (102.0, 102.2, 0.0)]
    due_at: ClassVar[list[float]] = [100.0, 101.0, 102.0]
    # Began at 102.5: only tick 0 is over 2 s old, unwritten. At 104: all three, tick 0 unwritten.
    polls: ClassVar[list[tuple[float, float]]] = [(102.5, 102.51), (104.0, 104.01), (106.0, 106.01)]

    def share(self, first_tick: int = 0) -> dict[str, float | int | None]:
        return written_share(self.rows, self.polls, 100.0, 1.0, self.due_at, 1, 200.0,
                             first_tick=first_tick)

    def test_the_worst_poll_is_the_one_that_saw_the_late_tick_missing(self) -> None:
        share = self.share()
        self.assertEqual(share["min_pct"], 0.0)
        self.assertEqual(share["min_at_s"], 2.5)
        self.assertEqual(share["polls"], 3)
        self.assertEqual(share["overall_pct"], round(100 * (0 + 2 + 3) / (1 + 3 + 3), 3))

    def test_ticks_before_the_first_counted_are_left_out(self) -> None:
        share = self.share(first_tick=1)
        self.assertEqual(share["min_pct"], 100.0)
        self.assertEqual(share["polls"], 2)  # the poll that saw only tick 0 due counts nothing

    def test_a_poll_that_began_after_until_is_not_counted(self) -> None:
        share = written_share(self.rows, self.polls, 100.0, 1.0, self.due_at, 1, 103.0)
        self.assertEqual(share["polls"], 1)
        self.assertEqual(share["min_pct"], 0.0)


if __name__ == "__main__":
    unittest.main()
