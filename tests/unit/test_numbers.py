"""The one reading of a number from text that every file format shares."""

from __future__ import annotations

import unittest

from parameterized import parameterized

from pv_simulator.numbers import NotAFiniteNumber, finite_float


class FiniteFloatTest(unittest.TestCase):
    @parameterized.expand([("1.5", 1.5), (" -2 ", -2.0), ("1e3", 1000.0)])
    def test_numbers_are_read(self, text: str, expected: float) -> None:
        self.assertEqual(finite_float(text), expected)

    @parameterized.expand([("abc", "not a number"), ("9,5", "not a number"), ("nan", "not a finite number"),
                           ("-inf", "not a finite number")])
    def test_the_reason_is_the_message(self, text: str, reason: str) -> None:
        with self.assertRaises(NotAFiniteNumber) as caught:
            finite_float(text)
        self.assertEqual(str(caught.exception), reason)
        self.assertIsInstance(caught.exception, ValueError)


if __name__ == "__main__":
    unittest.main()
